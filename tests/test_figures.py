"""Tests of pandas_clusters.report.figures and its Snakemake adapter."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import astropy.units as u
import matplotlib.image
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import SkyCoord

from pandas_clusters.core.geometry import M31, deprojected_radius_kpc, projected_radius_kpc
from pandas_clusters.core.io import save_figure, write_parquet
from pandas_clusters.learn.datasets import synthetic_stamps
from pandas_clusters.report.figures import (
    FigureSettings,
    disk_ellipse_deg,
    gallery_order,
    plot_gallery,
    plot_skymap,
    rproj_circle_deg,
    write_report_figures,
)

REPO = Path(__file__).resolve().parents[1]
SIZE = 12
BANDS = ("g", "i")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIELDS = {7: (11.08, 41.67), 9: (10.29, 40.97)}


def _ids(field: int, n: int) -> np.ndarray:
    return field * 10_000 + np.arange(n, dtype=np.int64) * 3 + 1


@pytest.fixture
def survey(tmp_path):
    """Two fields of sources and stamps, and a cross-matched candidates table."""
    rng = np.random.default_rng(5)
    stamps_paths, sources_paths, stamps_by_id, frames = {}, {}, {}, []
    for field, (ra0, dec0) in FIELDS.items():
        n = 40
        ids = _ids(field, n)
        ra = ra0 + rng.uniform(-0.1, 0.1, n)
        dec = dec0 + rng.uniform(-0.1, 0.1, n)
        sources = pd.DataFrame({"source_id": ids, "ra": ra, "dec": dec})
        sources_paths[field] = write_parquet(sources, tmp_path / f"sources/{field}.parquet")
        x = synthetic_stamps(np.arange(n) % 2, n_bands=2, size=SIZE, seed=field, nan_fraction=0.3)
        stamp = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 2 * SIZE * SIZE)
        table = pa.table({"source_id": ids, "stamp": stamp, "flags": np.zeros(n, np.int32)})
        stamps_paths[field] = write_parquet(
            table,
            tmp_path / f"stamps/{field}.parquet",
            metadata={"bands": list(BANDS), "size": SIZE},
            row_group_size=8,
        )
        stamps_by_id.update(zip(ids.tolist(), x, strict=True))
        take = np.arange(0, n, 4)  # 10 candidates per field
        frames.append(
            pd.DataFrame(
                {
                    "source_id": ids[take],
                    "field": np.int32(field),
                    "ra": ra[take],
                    "dec": dec[take],
                    "gmag": rng.uniform(17.0, 22.0, len(take)),
                    "imag": rng.uniform(16.0, 21.5, len(take)),
                    "prob_mean": rng.uniform(0.67, 1.0, len(take)),
                }
            )
        )
    cand = pd.concat(frames, ignore_index=True)
    cand.loc[3, "imag"] = np.nan
    cand["c09"] = ""
    cand["w23"] = ""
    cand.loc[[0, 5, 11], "c09"] = ["B001", "B017", "B230"]
    cand.loc[[5, 12], "w23"] = ["41", "1093"]
    cand["new"] = (cand["c09"] == "") & (cand["w23"] == "")
    cand_path = write_parquet(cand, tmp_path / "candidates.parquet")
    return SimpleNamespace(
        candidates=cand,
        candidates_path=cand_path,
        stamps_paths=stamps_paths,
        sources_paths=sources_paths,
        stamps=stamps_by_id,
        out=tmp_path / "figures",
    )


def _outputs(folder: Path) -> dict[str, Path]:
    return {k: folder / f"{k}.png" for k in ("skymap", "magnitudes", "gallery")}


def _check_png(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_MAGIC
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert img.std() > 0  # not a blank canvas
    return img


def test_write_report_figures(survey):
    out = _outputs(survey.out)
    written = write_report_figures(
        survey.candidates_path,
        survey.stamps_paths,
        **out,
        settings=FigureSettings.from_config(gallery_size=5, gallery_columns=3),
        sources_paths=survey.sources_paths,
    )
    assert written == out
    for path in out.values():
        _check_png(path)
    # no temporary files left beside the outputs
    assert sorted(p.name for p in survey.out.iterdir()) == sorted(p.name for p in out.values())


def test_empty_candidates_still_give_figures(survey, tmp_path):
    empty = survey.candidates.iloc[:0]
    path = write_parquet(empty, tmp_path / "empty.parquet")
    out = _outputs(tmp_path / "empty_figs")
    write_report_figures(path, {}, **out, settings=FigureSettings.from_config())
    for p in out.values():
        _check_png(p)
    fig = plot_skymap(empty, settings=FigureSettings.from_config())
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "no candidates" in texts


def test_gallery_limited_to_n_and_shows_the_right_stamps(survey):
    n = 7
    top = gallery_order(survey.candidates, n)
    assert len(top) == n
    probs = top["prob_mean"].to_numpy()
    assert (np.diff(probs) <= 0).all()
    assert probs[-1] >= np.sort(survey.candidates["prob_mean"].to_numpy())[-n]
    settings = FigureSettings.from_config(gallery_size=n, gallery_columns=4)
    fig = plot_gallery(top, survey.stamps, bands=BANDS, settings=settings)
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == n * len(BANDS)
    # first candidate, band i: the displayed pixels are the stamp's, NaN masked
    shown = image_axes[1].images[0].get_array()
    raw = survey.stamps[int(top["source_id"].iloc[0])][1]
    np.testing.assert_array_equal(np.ma.getmaskarray(shown), np.isnan(raw))
    titles = [ax.get_title(loc="left") for ax in image_axes[:: len(BANDS)]]
    assert [int(t.split("\n")[0]) for t in titles] == top["source_id"].tolist()


def test_gallery_reads_the_stamps_from_the_files(survey, tmp_path):
    """Through the files: the gallery of every candidate equals one drawn from the arrays."""
    n = len(survey.candidates)
    settings = FigureSettings.from_config(gallery_size=n, gallery_columns=5, dpi=40)
    out = _outputs(tmp_path / "a")
    write_report_figures(survey.candidates_path, survey.stamps_paths, **out, settings=settings)
    ref = plot_gallery(
        gallery_order(survey.candidates, n), survey.stamps, bands=BANDS, settings=settings
    )
    save_figure(ref, tmp_path / "ref.png", dpi=40, fmt="png")
    np.testing.assert_array_equal(
        matplotlib.image.imread(out["gallery"]), matplotlib.image.imread(tmp_path / "ref.png")
    )


def test_skymap_marks_new_and_known(survey):
    fig = plot_skymap(survey.candidates, settings=FigureSettings.from_config())
    ax = fig.axes[0]
    counts = sorted(len(c.get_offsets()) for c in ax.collections)
    n_new = int(survey.candidates["new"].sum())
    assert counts == sorted([n_new, len(survey.candidates) - n_new])
    assert ax.get_xlim()[0] > ax.get_xlim()[1]  # east to the left


def test_missing_stamps_are_errors(survey, tmp_path):
    out = _outputs(tmp_path / "x")
    with pytest.raises(ValueError, match="field 9"):
        write_report_figures(
            survey.candidates_path,
            {7: survey.stamps_paths[7]},
            **out,
            settings=FigureSettings.from_config(gallery_size=50),
        )
    with pytest.raises(ValueError, match="lacks source_id"):
        write_report_figures(
            survey.candidates_path,
            {7: survey.stamps_paths[9], 9: survey.stamps_paths[9]},
            **out,
            settings=FigureSettings.from_config(gallery_size=50),
        )


def test_stamp_length_mismatch_is_an_error(survey, tmp_path):
    table = pq.read_table(survey.stamps_paths[7])
    bad = write_parquet(table, tmp_path / "bad.parquet", metadata={"bands": ["g"], "size": SIZE})
    with pytest.raises(ValueError, match="does not match bands"):
        write_report_figures(
            survey.candidates_path,
            {7: bad, 9: survey.stamps_paths[9]},
            **_outputs(tmp_path / "y"),
            settings=FigureSettings.from_config(gallery_size=50),
        )


def test_missing_column_is_named(survey, tmp_path):
    path = write_parquet(survey.candidates.drop(columns="imag"), tmp_path / "c.parquet")
    with pytest.raises(ValueError, match="imag"):
        write_report_figures(
            path, survey.stamps_paths, **_outputs(tmp_path), settings=FigureSettings.from_config()
        )


def test_overlay_geometry():
    xi, eta = disk_ellipse_deg(25.0)
    frame = M31.centre.skyoffset_frame()
    sky = SkyCoord(lon=xi * u.deg, lat=eta * u.deg, frame=frame).icrs
    np.testing.assert_allclose(deprojected_radius_kpc(sky.ra.deg, sky.dec.deg), 25.0, rtol=1e-6)
    xi, eta = rproj_circle_deg(30.0)
    sky = SkyCoord(lon=xi * u.deg, lat=eta * u.deg, frame=frame).icrs
    np.testing.assert_allclose(projected_radius_kpc(sky.ra.deg, sky.dec.deg), 30.0, rtol=1e-9)
    # major axis at position angle 38 deg east of north
    k = np.argmax(np.hypot(*disk_ellipse_deg(25.0)))
    xi, eta = disk_ellipse_deg(25.0)
    pa = np.rad2deg(np.arctan2(xi[k], eta[k])) % 180.0
    assert pa == pytest.approx(38.0, abs=1.0)


def test_settings():
    s = FigureSettings.from_config({"gallery_size": 9}, rproj_max_kpc=25.0)
    assert (s.gallery_size, s.rproj_max_kpc, s.gallery_columns) == (9, 25.0, 6)
    with pytest.raises(ValueError, match="gallery_size"):
        FigureSettings.from_config(gallery_size=0)
    with pytest.raises(ValueError, match="rproj_max_kpc"):
        FigureSettings.from_config(rproj_max_kpc=-1.0)


def test_snakemake_adapter(survey, tmp_path):
    out = _outputs(tmp_path / "adapter")
    fake = SimpleNamespace(
        input=SimpleNamespace(
            candidates=str(survey.candidates_path),
            stamps=[str(p) for p in survey.stamps_paths.values()],
            sources=[str(p) for p in survey.sources_paths.values()],
        ),
        output=SimpleNamespace(**{k: str(v) for k, v in out.items()}),
        params=SimpleNamespace(figures={"gallery_size": 4, "dpi": 40}, rproj_max_kpc=30.0),
        log=[str(tmp_path / "logs/figures.log")],
    )
    runpy.run_path(str(REPO / "workflow/scripts/figures.py"), init_globals={"snakemake": fake})
    for p in out.values():
        _check_png(p)
    assert "gallery_size': 4" in (tmp_path / "logs/figures.log").read_text()
