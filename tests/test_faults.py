"""Fault injection: every bad input or fault becomes a clear error, never a wrong output.

One table of cases, ``(stage, corruption, expected message fragments)``, run as
parametrised tests over small fixtures (the shared mock field of
``conftest.py``, toy training sets, random-weight models). Each case copies a
good input, damages it the way a user, a disk or a network would, runs the
stage on it and asserts that

- the error names the damaged file (and the HDU, column or row where it can),
  says what is wrong, and fits on the lines the CLI prints;
- no output (nor a temporary file) is left behind.

A few cases are faults the pipeline recovers from (a corrupt or foreign
checkpoint, a killed training run): there the warning names the file and the
run ends with the right result. The README's reliability section states the
number of cases. Add a case for every new kind of bad input found.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import json
import pickle
import re
import resource
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import torch
from astropy.io import fits
from astropy.table import Table

from pandas_clusters.acquire.local import CatalogueSpec, fetch_local_catalogue
from pandas_clusters.catalogue.inference import InferenceSettings, predict_stamps
from pandas_clusters.catalogue.selection import SelectionSettings, write_candidates
from pandas_clusters.cli import main
from pandas_clusters.core.config import validate_config
from pandas_clusters.core.io import write_parquet
from pandas_clusters.detect.sources import EmptyCCDWarning, SourceSettings, build_sources
from pandas_clusters.detect.stamps import StampSettings, cut_stamps
from pandas_clusters.learn.datasets import synthetic_stamps
from pandas_clusters.learn.models import build_model, save_weights
from pandas_clusters.learn.training import (
    CorruptCheckpointWarning,
    TrainSettings,
    previous_checkpoint_path,
    train,
)

SIZE = 16  # stamp size of the inference and training fixtures, px
FIELD = 1  # the conftest mock field


# --------------------------------------------------------------------------- fixtures


@dataclasses.dataclass
class World:
    """Good inputs of every stage, made once per module; cases damage copies."""

    root: Path
    images: dict[str, Path]  # 1-CCD mock field, per band
    images2: dict[str, Path]  # the same field as a 2-CCD mosaic (NEXTEND = 2)
    sources: Path
    stamps: Path
    weights: Path
    inference: Path
    trainset: Path
    n_sources: int


def _two_ccd_mosaic(src: Path, dst: Path) -> Path:
    """The 1-CCD image as a 2-CCD file: the CCD twice (CCDNUM 0 and 1), NEXTEND = 2."""
    with fits.open(src) as hdul:
        primary = fits.PrimaryHDU(header=hdul[0].header.copy())
        ccd0 = fits.ImageHDU(hdul[1].data.copy(), header=hdul[1].header.copy())
        ccd1 = fits.ImageHDU(hdul[1].data.copy(), header=hdul[1].header.copy())
    ccd1.header["CCDNUM"], ccd1.header["EXTNAME"] = 1, "ccd01"
    primary.header["NEXTEND"] = 2
    fits.HDUList([primary, ccd0, ccd1]).writeto(dst)
    return dst


def _toy_trainset(path: Path, n: int = 48) -> Path:
    """A training-set Parquet as training_set.write_trainset writes it, from toy stamps."""
    split = np.array(["train"] * (n // 2) + ["validation"] * (n // 4) + ["test"] * (n // 4))
    label = (np.arange(n) % 3 == 0).astype(np.int8)
    x = synthetic_stamps(label, n_bands=2, size=SIZE, seed=0)
    table = pa.table(
        {
            "source_id": np.arange(n, dtype=np.int64) + 1000,
            "gmag": np.linspace(17.0, 21.0, n),
            "label": label,
            "split": split,
            "stamp": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 2 * SIZE * SIZE),
        }
    )
    meta = {"bands": ["g", "i"], "size": SIZE, "mag_limit": 21.0, "class_balance": "none"}
    return write_parquet(table, path, metadata=meta)


@pytest.fixture(scope="module")
def world(mock_field_with_sources, tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("faults")
    images = dict(mock_field_with_sources["images"])
    images2 = {b: _two_ccd_mosaic(p, root / f"{b}2.fits") for b, p in images.items()}
    sources = mock_field_with_sources["path"]
    stamps = root / "stamps.parquet"
    cut_stamps(
        sources, images, out=stamps, settings=StampSettings.from_config(size=SIZE), field=FIELD
    )
    torch.manual_seed(0)
    meta = {"model": "resnet18", "in_channels": 2, "bands": ["g", "i"], "size": SIZE}
    weights = save_weights(
        build_model("resnet18", in_channels=2),
        root / "seed0.safetensors",
        metadata=meta | {"mag_limit": 22.0, "seed": 0},
    )
    inference = predict_stamps(
        stamps,
        [weights],
        settings=InferenceSettings.from_config(batch_size=256, device="cpu", mag_limit=None),
        output_path=root / "inference.parquet",
        progress=False,
    )
    return World(
        root=root,
        images=images,
        images2=images2,
        sources=sources,
        stamps=stamps,
        weights=weights,
        inference=inference,
        trainset=_toy_trainset(root / "trainset.parquet"),
        n_sources=len(mock_field_with_sources["sources"]),
    )


# --------------------------------------------------------------------------- damage


def _copy(src: Path, tmp: Path, name: str | None = None) -> Path:
    dst = tmp / (name or src.name)
    shutil.copyfile(src, dst)
    return dst


def _cut(path: Path, keep: int) -> Path:
    """Keep the first ``keep`` bytes (a negative value drops that many from the end)."""
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    return path


def _overwrite(path: Path, offset: int, junk: bytes) -> Path:
    with open(path, "r+b") as fh:
        fh.seek(offset if offset >= 0 else path.stat().st_size + offset)
        fh.write(junk)
    return path


def _edit_header(path: Path, hdu: int, **cards: Any) -> Path:
    """Set (value) or delete (``None``) header keywords of one HDU, in place."""
    with fits.open(path, mode="update") as hdul:
        for key, value in cards.items():
            if value is None:
                hdul[hdu].header.remove(key, ignore_missing=True)
            else:
                hdul[hdu].header[key] = value
    return path


def _html(path: Path) -> Path:
    path.write_bytes(b"<!DOCTYPE html><html><body>Please log in</body></html>\n" * 40)
    return path


def _hdu_start(path: Path, hdu: int) -> int:
    with fits.open(path) as hdul:
        return hdul.fileinfo(hdu)["hdrLoc"]


def _rewrite_parquet(src: Path, dst: Path, edit: Callable[[pa.Table], pa.Table]) -> Path:
    pq.write_table(edit(pq.read_table(src)), dst)
    return dst


def _with_metadata(table: pa.Table, **changes: Any) -> pa.Table:
    meta = json.loads(table.schema.metadata[b"pandas_clusters"]) | changes
    return table.replace_schema_metadata(
        {**table.schema.metadata, b"pandas_clusters": json.dumps(meta).encode()}
    )


class NotATensor:
    """An arbitrary Python object: what a pickle-based attack or a wrong file carries."""


# --------------------------------------------------------------------------- the table

CASES: list[Any] = []


def case(stage: str, *expect: str, error: type[BaseException] = ValueError, kind: str = "error"):
    """Register a case: ``fn(world, tmp) -> (run, bad)``; ``bad`` must appear in the message.

    ``kind``: ``"error"`` (``run()`` raises ``error``), ``"warning"`` (``run()``
    warns ``error`` and recovers; it asserts its own result), ``"cli"``
    (``run()`` returns the exit status; the message is read from stderr).
    """

    def register(fn):
        CASES.append(pytest.param(fn, kind, error, expect, id=f"{stage}-{fn.__name__}"))
        return fn

    return register


# -- local catalogues (acquire/local.py) ---------------------------------------------------------


def _catalogue(tmp: Path, rows: dict[str, list], *, ra="RA", dec="DE", name="catalogue.csv"):
    path = tmp / name
    pd.DataFrame(rows).to_csv(path, index=False)
    spec = CatalogueSpec(name_col="Name", ra_col=ra, dec_col=dec, file=str(path))

    def run():
        return fetch_local_catalogue(spec, tmp / "out" / "c09.parquet", catalogue="c09")

    return run, path


@case("catalogue", "column 'RA' mixes formats", "row 1 ('00:42:44.3') is sexagesimal")
def ra_mixes_decimal_and_sexagesimal(w, tmp):
    # once silently multiplied every decimal RA by 15 (7.84 became 117.6)
    rows = {"Name": ["a", "b", "c"], "RA": ["7.84", "00:42:44.3", "10.7"], "DE": [41.0] * 3}
    return _catalogue(tmp, rows)


@case("catalogue", "column 'DE' mixes formats", "row 2 ('41.3') is decimal")
def dec_mixes_sexagesimal_and_decimal(w, tmp):
    rows = {"Name": ["a", "b", "c"], "RA": [10.0] * 3, "DE": ["+41:16:09", "+41 00 00", "41.3"]}
    return _catalogue(tmp, rows)


@case("catalogue", "column 'RA' row 1", "not a sexagesimal angle")
def ra_unparseable_sexagesimal(w, tmp):
    rows = {"Name": ["a", "b"], "RA": ["00:42:44.3", "00:4x:00"], "DE": [41.0, 41.0]}
    return _catalogue(tmp, rows)


@case("catalogue", "outside [0, 360]", "row 1")
def ra_out_of_range(w, tmp):
    return _catalogue(tmp, {"Name": ["a", "b"], "RA": [10.0, 400.0], "DE": [41.0, 41.0]})


@case("catalogue", "outside [-90, 90]", "row 0")
def dec_out_of_range(w, tmp):
    return _catalogue(tmp, {"Name": ["a", "b"], "RA": [10.0, 11.0], "DE": [95.0, 41.0]})


@case("catalogue", "['RAJ2000'] not found", "columns present", error=KeyError)
def position_column_missing(w, tmp):
    rows = {"Name": ["a"], "RA": [10.0], "DE": [41.0]}
    return _catalogue(tmp, rows, ra="RAJ2000")


@case("catalogue", "without a name", "rows [1]")
def row_without_name(w, tmp):
    return _catalogue(tmp, {"Name": ["a", None], "RA": [10.0, 11.0], "DE": [41.0, 41.0]})


@case("catalogue", "not found", error=FileNotFoundError)
def catalogue_file_missing(w, tmp):
    run, path = _catalogue(tmp, {"Name": ["a"], "RA": [10.0], "DE": [41.0]})
    path.unlink()
    return run, path


@case("catalogue", "not found", "columns present", error=KeyError)
def html_saved_as_csv(w, tmp):
    run, path = _catalogue(tmp, {"Name": ["a"], "RA": [10.0], "DE": [41.0]})
    _html(path)
    return run, path


@case("catalogue", "cannot read catalogue file", "as fits")
def truncated_fits_table(w, tmp):
    path = tmp / "catalogue.fits"
    Table({"Name": ["a"] * 200, "RA": np.full(200, 10.0), "DE": np.full(200, 41.0)}).write(path)
    _cut(path, 3000)
    spec = CatalogueSpec(name_col="Name", ra_col="RA", dec_col="DE", file=str(path))
    return lambda: fetch_local_catalogue(spec, tmp / "out" / "c.parquet", catalogue="c"), path


# -- downloaded images (acquire/download.py: the check before a download is kept) -----------------


def _validate(path: Path):
    from pandas_clusters.acquire.download import validate_fits_image

    return lambda: validate_fits_image(path)


@case("download", "HDU 1 (ccd00): truncated")
def downloaded_image_cut_inside_the_data(w, tmp):
    g = _cut(_copy(w.images["g"], tmp), -20000)
    return _validate(g), g


@case("download", "is not a FITS file", "<!DOCTYPE")
def login_page_downloaded_as_fits(w, tmp):
    g = _html(tmp / "g.fits")
    return _validate(g), g


@case("download", "HDU 1 (ccd00): no celestial WCS")
def downloaded_image_without_wcs(w, tmp):
    g = _edit_header(_copy(w.images["g"], tmp), 1, CTYPE1=None, CTYPE2=None)
    return _validate(g), g


# -- images (detect/ccd.py through the sources stage) ------------------------------------------


def _sources(images: dict[str, Path], tmp: Path, *, field: int = FIELD, **settings):
    def run():
        return build_sources(
            images,
            field=field,
            out=tmp / "out" / "s.parquet",
            settings=SourceSettings.from_config(**settings),
        )

    return run


@case("sources", "[1]", "truncated", "download it again")
def image_cut_inside_the_data(w, tmp):
    g = _cut(_copy(w.images["g"], tmp), -20000)
    return _sources({"g": g, "i": w.images["i"]}, tmp), g


@case("sources", "NEXTEND = 2", "holds 1 extension", "delete it and download it again")
def g_image_cut_at_an_hdu_boundary(w, tmp):
    # once processed with half its sources (exit 0)
    g = _copy(w.images2["g"], tmp)
    _cut(g, _hdu_start(g, 2))
    return _sources({"g": g, "i": w.images2["i"]}, tmp), g


@case("sources", "NEXTEND = 2", "holds 1 extension")
def i_image_cut_at_an_hdu_boundary(w, tmp):
    i = _copy(w.images2["i"], tmp)
    _cut(i, _hdu_start(i, 2))
    return _sources({"g": w.images2["g"], "i": i}, tmp), i


@case("sources", "hold different CCDs", "only in band g: [1]")
def i_image_with_a_ccd_fewer_and_no_nextend(w, tmp):
    i = tmp / "i.fits"
    with fits.open(w.images2["i"]) as hdul:
        hdul[0].header.remove("NEXTEND")
        fits.HDUList([hdul[0], hdul[1]]).writeto(i)
    return _sources({"g": w.images2["g"], "i": i}, tmp), i


@case("sources", "[0]", "BAND says band 'i'", "given as band 'g'")
def g_and_i_images_swapped(w, tmp):
    # once flipped the sign of every colour (median g-i from +1.19 to -1.20)
    return _sources({"g": w.images["i"], "i": w.images["g"]}, tmp), w.images["i"]


@case("sources", "[0]", "FILTER says 'i.MP9702'", "given as band 'g'")
def images_swapped_with_filter_keyword_only(w, tmp):
    i = _copy(w.images["i"], tmp, "i.fits")
    g = _copy(w.images["g"], tmp, "g.fits")
    for path in (g, i):
        _edit_header(path, 0, BAND=None)
        _edit_header(path, 1, BAND=None)
    return _sources({"g": i, "i": g}, tmp), i


@case("sources", "[0]", "FIELD = 1", "given as field 2")
def image_of_another_field(w, tmp):
    return _sources(w.images, tmp, field=2), w.images["g"]


@case("sources", "[1]", "FIELD = 9", "given as field 1")
def ccd_of_another_field(w, tmp):
    g = _edit_header(_copy(w.images["g"], tmp), 1, FIELD=9)
    return _sources({"g": g, "i": w.images["i"]}, tmp), g


@case("sources", "[1]", "BAND says band 'i'", "given as band 'g'")
def ccd_of_another_band(w, tmp):
    g = _edit_header(_copy(w.images["g"], tmp), 1, BAND="i.MP9702")
    return _sources({"g": g, "i": w.images["i"]}, tmp), g


@case("sources", "[1]", "no celestial WCS")
def image_without_wcs(w, tmp):
    g = _edit_header(_copy(w.images["g"], tmp), 1, CTYPE1=None, CTYPE2=None)
    return _sources({"g": g, "i": w.images["i"]}, tmp), g


@case("sources", "[1]", "no photometric zero point", "MAGZPT")
def image_without_zero_point(w, tmp):
    i = _edit_header(_copy(w.images["i"], tmp), 1, MAGZPT=None)
    return _sources({"g": w.images["g"], "i": i}, tmp), i


@case("sources", "[1]", "MAGZPT = 'n/a' is not a number")
def zero_point_is_text(w, tmp):
    g = _edit_header(_copy(w.images["g"], tmp), 1, MAGZPT="n/a")
    return _sources({"g": g, "i": w.images["i"]}, tmp), g


@case("sources", "[1]", "GAIN = 'high' is not a number")
def gain_is_text(w, tmp):
    g = _edit_header(_copy(w.images["g"], tmp), 1, GAIN="high")
    return _sources({"g": g, "i": w.images["i"]}, tmp), g


@case("sources", "[1]", "PHOT_C is per second", "EXPTIME")
def per_second_zero_point_without_exposure_time(w, tmp):
    # the mock's stacks carry EXPTIME (their summed exposure): this HDU has none
    g = _edit_header(_copy(w.images["g"], tmp), 1, MAGZPT=None, PHOT_C=26.0, EXPTIME=None)
    run = _sources({"g": g, "i": w.images["i"]}, tmp, zero_point_keywords=("PHOT_C", "MAGZPT"))
    return run, g


@case("sources", "is not a FITS file", "<!DOCTYPE html>")
def html_saved_as_fits(w, tmp):
    g = _html(tmp / "g.fits")
    return _sources({"g": g, "i": w.images["i"]}, tmp), g


@case("sources", "is empty")
def empty_image_file(w, tmp):
    g = tmp / "g.fits"
    g.write_bytes(b"")
    return _sources({"g": g, "i": w.images["i"]}, tmp), g


@case("sources", "not found", error=FileNotFoundError)
def image_file_missing(w, tmp):
    return _sources({"g": tmp / "g.fits", "i": w.images["i"]}, tmp), tmp / "g.fits"


@case("sources", "has no 2-D image HDU")
def image_without_image_hdu(w, tmp):
    g = tmp / "g.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(Table({"a": [1, 2]}))]).writeto(g)
    return _sources({"g": g, "i": w.images["i"]}, tmp), g


@case("sources", "[1]", "all NaN", error=EmptyCCDWarning, kind="warning")
def all_nan_ccd(w, tmp):
    g, i = _copy(w.images["g"], tmp), _copy(w.images["i"], tmp)
    for path in (g, i):
        with fits.open(path, mode="update") as hdul:
            hdul[1].data[:] = np.nan
    build = _sources({"g": g, "i": i}, tmp)

    def run():
        frame = build()
        assert len(frame) == 0  # a field with no data: an empty table, and the warning says why
        return frame

    return run, g


# -- stamps (detect/stamps.py) -----------------------------------------------------------------


def _stamps(sources: Path, images: dict[str, Path], tmp: Path, *, field=FIELD, **settings):
    settings = {"size": SIZE} | settings

    def run():
        return cut_stamps(
            sources, images, out=tmp / "out" / "stamps.parquet",
            settings=StampSettings.from_config(**settings), field=field,
        )  # fmt: skip

    return run


@case("stamps", "is of field 2", "stamps of field 1")
def sources_of_another_field(w, tmp):
    src = _rewrite_parquet(w.sources, tmp / "s.parquet", lambda t: _with_metadata(t, field=2))
    return _stamps(src, w.images, tmp), src


@case("stamps", "[0]", "BAND says band 'i'")
def stamps_images_swapped(w, tmp):
    return _stamps(w.sources, {"g": w.images["i"], "i": w.images["g"]}, tmp), w.images["i"]


@case("stamps", "[1]", "FIELD = 3", "given as field 1")
def stamps_image_of_another_field(w, tmp):
    i = _edit_header(_copy(w.images["i"], tmp), 1, FIELD=3)
    return _stamps(w.sources, {"g": w.images["g"], "i": i}, tmp), i


@case("stamps", "sources table", "cannot be read as Parquet")
def sources_footer_overwritten(w, tmp):
    src = _overwrite(_copy(w.sources, tmp), -12, b"\0" * 12)
    return _stamps(src, w.images, tmp), src


@case("stamps", "missing column(s) x_i")
def sources_without_a_position_column(w, tmp):
    src = _rewrite_parquet(w.sources, tmp / "s.parquet", lambda t: t.drop_columns(["x_i"]))
    return _stamps(src, w.images, tmp), src


@case("stamps", "CCD(s) [5]", "does not hold")
def sources_on_a_ccd_the_image_lacks(w, tmp):
    def edit(t):
        ccd = pa.array(np.full(t.num_rows, 5, np.int16))
        return t.set_column(t.schema.get_field_index("ccd"), "ccd", ccd)

    src = _rewrite_parquet(w.sources, tmp / "s.parquet", edit)
    return _stamps(src, w.images, tmp), src


@case("stamps", "[1]", "truncated")
def stamps_image_cut_inside_the_data(w, tmp):
    g = _cut(_copy(w.images["g"], tmp), -20000)
    return _stamps(w.sources, {"g": g, "i": w.images["i"]}, tmp), g


@case("stamps", "[1]", "no photometric zero point")
def stamps_image_without_zero_point(w, tmp):
    g = _edit_header(_copy(w.images["g"], tmp), 1, MAGZPT=None)
    return _stamps(w.sources, {"g": g, "i": w.images["i"]}, tmp), g


@case("stamps", "File too large", error=OSError)
def disk_full_during_stamps(w, tmp):
    # a file-size limit fails the writes as a full disk does
    stamp_bytes = 2 * 32 * 32 * 4
    output = w.n_sources * stamp_bytes
    build = _stamps(w.sources, w.images, tmp, size=32, rows_per_group=16)

    def run():
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (output // 2, hard))
        try:
            return build()
        except OSError as exc:
            assert exc.errno == errno.EFBIG
            raise
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    return run, "stamps.parquet"  # the error names the output being written


# -- training (learn/training.py, learn/models.py) -----------------------------------------------


def _train_settings(**kw) -> TrainSettings:
    base = {
        "model": "mobilenet_v3_small",  # the lightest architecture: these cases test files
        "mag_limit": 21.0,
        "seed": 1,
        "max_epochs": 1,
        "batch_size": 24,
        "learning_rate": 1e-3,
        "device": "cpu",
        "patience": 10,
    }
    return TrainSettings.from_config(**(base | kw))


def _train(trainset: Path, folder: Path, **kw):
    out = {
        "weights_path": folder / "weights.safetensors",
        "history_path": folder / "history.csv",
        "settings_path": folder / "settings.json",
        "checkpoint_path": folder / "checkpoint.pt",
    }
    return lambda **more: train(
        trainset, settings=_train_settings(**kw), progress=False, **out, **more
    )


@case("training", "cannot be read as Parquet")
def trainset_overwritten(w, tmp):
    ts = _overwrite(_copy(w.trainset, tmp), -64, b"\xff" * 64)
    return _train(ts, tmp / "out"), ts


@case("training", "not found", error=FileNotFoundError)
def trainset_missing(w, tmp):
    return _train(tmp / "trainset.parquet", tmp / "out"), tmp / "trainset.parquet"


@case("training", "checkpoint", "renamed to", error=CorruptCheckpointWarning, kind="warning")
def corrupt_checkpoint_resumes_from_the_previous_one(w, tmp):
    folder = tmp / "run"
    first = _train(w.trainset, folder, max_epochs=2, keep_checkpoint=True)
    stop_after_two = _stop_at(2)
    with pytest.raises(KeyboardInterrupt):
        first(on_epoch_end=stop_after_two)  # killed after epoch 2: checkpoint + previous
    ckpt = folder / "checkpoint.pt"
    assert previous_checkpoint_path(ckpt).is_file()
    _overwrite(ckpt, 200, b"\x00garbage\xff" * 50)
    rerun = _train(w.trainset, folder, max_epochs=2, keep_checkpoint=True)

    def run():
        result = rerun()
        assert result.resumed_from_epoch == 1  # the last good checkpoint, not a fresh start
        assert (folder / "checkpoint.pt.corrupt").is_file()
        return result

    return run, ckpt


@case(
    "training", "holds objects other than tensors", error=CorruptCheckpointWarning, kind="warning"
)
def foreign_pickle_as_checkpoint(w, tmp):
    folder = tmp / "run"
    folder.mkdir()
    ckpt = folder / "checkpoint.pt"
    torch.save({"epoch": 3, "payload": NotATensor()}, ckpt)
    rerun = _train(w.trainset, folder)

    def run():
        result = rerun()
        assert result.resumed_from_epoch == 0  # nothing good to resume: starts over
        return result

    return run, ckpt


def _stop_at(epoch: int):
    def on_epoch_end(row):
        if row["epoch"] == epoch:
            raise KeyboardInterrupt

    return on_epoch_end


@case("training", error=KeyboardInterrupt, kind="killed")
def killed_training_resumes(w, tmp):
    folder = tmp / "run"
    run = _train(w.trainset, folder, max_epochs=2)

    def kill_then_rerun():
        with pytest.raises(KeyboardInterrupt):
            run(on_epoch_end=_stop_at(1))
        assert not (folder / "weights.safetensors").exists()
        result = run()
        assert result.resumed_from_epoch == 1 and result.epochs_run == 2
        assert not (folder / "checkpoint.pt").exists()
        assert not previous_checkpoint_path(folder / "checkpoint.pt").exists()

    return kill_then_rerun, folder


@case("training", "pretrained weights file", "cannot be read")
def pretrained_weights_truncated(w, tmp):
    path = _cut(_copy(w.weights, tmp, "resnet18.safetensors"), 4000)
    return lambda: build_model("resnet18", in_channels=2, pretrained_path=path), path


@case("training", "pretrained weights file", "holds objects other than tensors")
def pretrained_weights_with_a_pickled_object(w, tmp):
    path = tmp / "resnet18.pth"
    torch.save({"state_dict": {"conv1.weight": NotATensor()}}, path)
    return lambda: build_model("resnet18", in_channels=2, pretrained_path=path), path


# -- inference (catalogue/inference.py) ----------------------------------------------------------


def _predict(stamps: Path, weights: list[Path], tmp: Path, *, sources=None, mag_limit=None):
    settings = InferenceSettings.from_config(batch_size=256, device="cpu", mag_limit=mag_limit)

    def run():
        return predict_stamps(
            stamps, weights, settings=settings, output_path=tmp / "out" / "inf.parquet",
            sources_path=sources, progress=False,
        )  # fmt: skip

    return run


@case("inference", "weights file", "cannot be read")
def weights_truncated(w, tmp):
    path = _cut(_copy(w.weights, tmp), -5000)
    return _predict(w.stamps, [path], tmp), path


@case("inference", "weights file", "cannot be read")
def weights_header_length_absurd(w, tmp):
    # safetensors' first 8 bytes: the header length; once "SafetensorError: header too large"
    path = _overwrite(_copy(w.weights, tmp), 0, struct.pack("<Q", 2**40))
    return _predict(w.stamps, [path], tmp), path


@case("inference", "weights file", "cannot be read")
def html_saved_as_weights(w, tmp):
    return _predict(w.stamps, [_html(tmp / "seed0.safetensors")], tmp), tmp / "seed0.safetensors"


@case("inference", "not found", error=FileNotFoundError)
def weights_missing(w, tmp):
    return _predict(w.stamps, [tmp / "seed0.safetensors"], tmp), tmp / "seed0.safetensors"


@case("inference", "does not fit the resnet18")
def weights_of_another_architecture(w, tmp):
    path = tmp / "seed0.safetensors"
    meta = {"model": "resnet18", "in_channels": 2, "bands": ["g", "i"], "size": SIZE, "seed": 0}
    save_weights(build_model("resnet34", in_channels=2), path, metadata=meta)
    return _predict(w.stamps, [path], tmp), path


@case("inference", "cannot be read as Parquet", "magic bytes")
def stamps_footer_overwritten(w, tmp):
    path = _overwrite(_copy(w.stamps, tmp), -4, b"JUNK")
    return _predict(path, [w.weights], tmp), path


@case("inference", "not found", error=FileNotFoundError)
def stamps_missing(w, tmp):
    return _predict(tmp / "stamps.parquet", [w.weights], tmp), tmp / "stamps.parquet"


@case("inference", "are not in the sources file", "different fields")
def sources_of_another_field_at_inference(w, tmp):
    # once wrote an empty inference file with exit 0
    def shift(t):
        ids = pc.add(t.column("source_id"), 10**12)
        return t.set_column(t.schema.get_field_index("source_id"), "source_id", ids)

    src = _rewrite_parquet(w.sources, tmp / "other.parquet", shift)
    return _predict(w.stamps, [w.weights], tmp, sources=src, mag_limit=30.0), src


@case("inference", "sources file", "cannot be read as Parquet")
def sources_overwritten_at_inference(w, tmp):
    src = _overwrite(_copy(w.sources, tmp), -8, b"\0" * 8)
    return _predict(w.stamps, [w.weights], tmp, sources=src, mag_limit=22.0), src


@case("inference", "but the model was trained on bands", "size 32")
def stamps_of_another_size(w, tmp):
    path = tmp / "seed0.safetensors"
    meta = {"model": "resnet18", "in_channels": 2, "bands": ["g", "i"], "size": 32, "seed": 0}
    save_weights(build_model("resnet18", in_channels=2), path, metadata=meta)
    return _predict(w.stamps, [path], tmp), w.stamps


# -- selection (catalogue/selection.py) ----------------------------------------------------------


def _select(inference: Path, sources: Path, tmp: Path):
    settings = SelectionSettings.from_config(validate_config({})["selection"])
    return lambda: write_candidates(
        [inference], [sources], tmp / "out" / "candidates.parquet", settings=settings
    )


@case("selection", "inference file", "cannot be read as Parquet")
def inference_footer_overwritten(w, tmp):
    path = _overwrite(_copy(w.inference, tmp), -4, b"JUNK")
    return _select(path, w.sources, tmp), path


@case("selection", "missing column(s) prob_mean")
def inference_without_probabilities(w, tmp):
    path = _rewrite_parquet(w.inference, tmp / "i.parquet", lambda t: t.drop_columns(["prob_mean"]))
    return _select(path, w.sources, tmp), path


@case("selection", "prob_mean is not finite for source_id")
def inference_with_nan_probability(w, tmp):
    def edit(t):
        p = t.column("prob_mean").to_numpy().copy()
        p[3] = np.nan
        return t.set_column(t.schema.get_field_index("prob_mean"), "prob_mean", pa.array(p))

    path = _rewrite_parquet(w.inference, tmp / "i.parquet", edit)
    return _select(path, w.sources, tmp), path


@case("selection", "sources file", "cannot be read as Parquet")
def sources_overwritten_at_selection(w, tmp):
    src = _overwrite(_copy(w.sources, tmp), -8, b"\0" * 8)
    return _select(w.inference, src, tmp), src


@case("selection", "not found", error=FileNotFoundError)
def inference_missing(w, tmp):
    return _select(tmp / "inf.parquet", w.sources, tmp), tmp / "inf.parquet"


# -- configuration and command line (core/config.py, cli.py) -------------------------------------


def _cli(tmp: Path, config_text: str | None, *args: str):
    config = tmp / "config.yaml"
    if config_text is not None:
        config.write_text(config_text)
    return lambda: main(["--config", str(config), *args]), config


@case("config", "feilds: unknown key", "did you mean 'fields'", "allowed keys:", kind="cli")
def misspelt_top_level_key(w, tmp):
    # once printed about 2,000 lines (the whole schema)
    return _cli(tmp, "feilds: [248]\n", "validate")


@case("config", "seed: 'twenty' is not of type 'integer'", kind="cli")
def value_of_the_wrong_type(w, tmp):
    return _cli(tmp, "seed: twenty\n", "validate")


@case("config", "fields: field(s) [999]", "not in the mock field sheet", kind="cli")
def field_the_mock_does_not_define(w, tmp):
    return _cli(tmp, "fields: [248, 999]\n", "validate")


@case("config", "not found", kind="cli")
def config_file_missing(w, tmp):
    return _cli(tmp, None, "validate")


@case("cli", "not found", kind="cli")
def cli_input_missing(w, tmp):
    run, _ = _cli(
        tmp, "stamps: {size: 16}\n", "stamps", "--sources", str(tmp / "nope.parquet"),
        f"--image=g={w.images['g']}", f"--image=i={w.images['i']}",
        "--out", str(tmp / "out" / "st.parquet"),
    )  # fmt: skip
    return run, tmp / "nope.parquet"


@case("cli", "[0]", "BAND says band 'i'", kind="cli")
def cli_images_swapped(w, tmp):
    run, _ = _cli(
        tmp, "stamps: {size: 16}\n", "stamps", "--field", "1", "--sources", str(w.sources),
        f"--image=g={w.images['i']}", f"--image=i={w.images['g']}",
        "--out", str(tmp / "out" / "st.parquet"),
    )  # fmt: skip
    return run, w.images["i"]


# --------------------------------------------------------------------------- the test


def _message(exc: BaseException) -> str:
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _assert_nothing_left(tmp: Path) -> None:
    out = tmp / "out"
    left = sorted(p.name for p in out.rglob("*")) if out.exists() else []
    assert left == [], f"output left behind: {left}"


@pytest.mark.parametrize(("make", "kind", "error", "expect"), CASES)
def test_fault(make, kind, error, expect, world, tmp_path, capsys):
    run, bad = make(world, tmp_path)
    if kind == "error":
        with pytest.raises(error) as caught:
            run()
        message = _message(caught.value)
        _assert_nothing_left(tmp_path)
    elif kind == "warning":
        with pytest.warns(error) as record:
            run()
        message = " ".join(str(r.message) for r in record if issubclass(r.category, error))
    elif kind == "killed":
        run()  # a kill, then a rerun; asserts its own recovery
        return
    else:  # cli: exit status 2, one line per problem, no traceback
        assert run() == 2
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert lines[0].startswith("pandas-clusters: error: ")
        assert "Traceback" not in err and len(lines) <= 3, err
        message = err
        _assert_nothing_left(tmp_path)
    assert str(bad) in message, f"the message does not name {bad}: {message}"
    for fragment in expect:
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert "weights_only=False" not in message  # never the advice to unpickle


def test_compressed_images_are_read_not_refused(world, tmp_path):
    """The completeness check knows gzip and tile-compressed files (offsets differ there)."""
    from pandas_clusters.detect.ccd import list_ccds

    gz = tmp_path / "g.fits.gz"
    with open(world.images2["g"], "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    fz = tmp_path / "g.fits.fz"
    with fits.open(world.images2["g"]) as hdul:
        tiles = [fits.CompImageHDU(h.data, header=h.header) for h in hdul[1:]]
        fits.HDUList([fits.PrimaryHDU(header=hdul[0].header), *tiles]).writeto(fz)
    plain = list_ccds(world.images2["g"], band="g", field=FIELD)
    assert list_ccds(gz, band="g", field=FIELD) == plain
    assert [r.ccd for r in list_ccds(fz, band="g", field=FIELD)] == [r.ccd for r in plain]


def test_keywords_that_are_not_band_or_field_ids_are_not_judged():
    from pandas_clusters.detect.ccd import check_header_identity

    header = fits.Header({"FIELD": "M31 NE quadrant", "FILTER": "Clear", "NEXTEND": 36})
    check_header_identity(header, label="x.fits[0]", band="g", field=207)
    header["FILTER"] = "g.MP9401"
    check_header_identity(header, label="x.fits[0]", band="g", field=207)
    with pytest.raises(ValueError, match=r"x\.fits\[0\]: header FILTER says 'g\.MP9401'"):
        check_header_identity(header, label="x.fits[0]", band="i", field=207)


def test_the_table_is_large_enough_and_the_readme_says_how_large(repo):
    assert len(CASES) >= 40
    stated = re.search(r"\*\*(\d+)\s+fault-injection cases\*\*", (repo / "README.md").read_text())
    assert stated is not None and int(stated.group(1)) == len(CASES)


def test_no_pickle_advice_on_a_foreign_checkpoint(tmp_path):
    """The checkpoint reader refuses arbitrary objects without executing them."""
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(pickle.dumps({"model": NotATensor()}, protocol=2))
    from pandas_clusters.learn.training import read_checkpoint

    with pytest.warns(CorruptCheckpointWarning, match="holds objects other than tensors"):
        assert read_checkpoint(path) is None
    assert (tmp_path / "checkpoint.pt.corrupt").is_file() and not path.exists()
