"""Per-field image stamps: a C x S x S cutout of every usable source, streamed to Parquet.

:func:`cut_stamps` reads a sources table (:mod:`pandas_clusters.detect.sources`) and
the field's images and writes ``results/stamps/{field}.parquet``:
``source_id`` (int64), ``stamp`` (fixed-size list of float32, length
``C*S*S``, the ``(C, S, S)`` array in C order, bands in config order),
``flags`` (int32, bits below). The file metadata (``pandas_clusters`` key,
:func:`pandas_clusters.core.io.read_parquet_metadata`) records ``bands``,
``size``, ``pixel_scale_arcsec``, ``dtype``, ``scaling``, the centring
convention, the flag bits and the magnitude limit.

Which sources
-------------
Training and inference only ever read sources with ``gmag <= limit`` (the
grid's ``training.mag_limits`` and ``selection.mag_limit``). With
``StampSettings.mag_limit`` set (the workflow sets it to the largest of those
limits plus ``stamps.mag_margin``, unless ``stamps.all_sources`` or
``inference.all_sources``), only sources with a finite ``gmag <= mag_limit``
get a stamp: on a full-size field about a tenth of the sources
(``benchmarks/RESULTS.md``). ``mag_limit = None`` cuts every source.

Calibration
-----------
Stamps are stored sky-subtracted (sep background map of the CCD, the same
mesh as the sources stage) and scaled to a common AB zero point
(``zero_point_ab``, default 30): ``pixel = (ADU - background) *
10**(0.4 * (zero_point_ab - MAGZPT))``, so ``mag = zero_point_ab - 2.5
log10(sum of pixels)`` in every field and band. NaN marks pixels off the CCD,
in CCD gaps or bad columns.

Centring
--------
Each band's stamp is centred on the source's position **in that band's own
pixel grid** (``x_{band}``, ``y_{band}`` of the sources table, which come from
the same sky position through each band's WCS). The stamp covers pixels
``round(x) - S//2 ... round(x) + S - S//2 - 1`` (and likewise in y), so the
source lies within +-0.5 px of pixel ``(S//2, S//2)``. **No sub-pixel shift is
applied**: resampling would correlate the noise, blur resolved member stars
(the very cue that separates clusters from single stars) and cost an
interpolation per pixel; a +-0.5 px (+-0.09") offset is far below the seeing
(~3.5 px) and acts as a mild augmentation. The small g/i rotation
(~0.02 deg) displaces stamp corners by < 0.02 px and is ignored.

Edges
-----
Stamps crossing a CCD edge are padded with NaN and flagged ``EDGE``; any NaN
pixel (padding, gap, bad column) sets ``HAS_NAN``; a source whose centre lies
off a band's CCD gets an all-NaN band and ``OFF_IMAGE``. Infinite pixels and
pixels beyond :data:`MAX_ABS_PIXEL` (no sky source is that bright in one
pixel: they are corrupt data) are stored as NaN and flagged ``BAD_VALUE``
(and ``HAS_NAN``). Nothing is dropped: every selected source has a row.

Readers check the file (:func:`check_stamp_values`): a NaN in a stamp without
``HAS_NAN``, an infinite value or one beyond :data:`MAX_ABS_PIXEL` is an error
naming the file and the ``source_id``; Parquet page checksums (written by
default) catch corrupted bytes first.

Performance
-----------
Work proceeds CCD by CCD (all bands of that CCD in memory) and, inside a
CCD, in chunks of ``rows_per_group`` sources, each written as one Parquet
row group. The cutting kernel (:func:`extract_stamps`) is a vectorised
gather through a strided window view of the NaN-padded CCD, with no
per-source Python loop. The file is written by pyarrow's ``ParquetWriter``
(:class:`PlainStampWriter`); with two threads a row group is encoded while the
next one is cut. Memory is bounded by one CCD (all bands) plus two row
groups, whatever the number of sources.

Until stamps were limited to usable sources the encoding ran in a writer
process fed through shared memory, writing with ``O_DIRECT``: 1.7x faster
when every source of a field got a stamp. With the default limits a
full-size field has about a tenth of the stamps, and those mechanisms saved
under 10% of the field's sources + stamps + inference wall time
(``benchmarks/RESULTS.md``, section ``bench_field``), so they were removed.

Flags (``flags``, int32)
------------------------
=====  ==========  =====================================================
bit    name        meaning
=====  ==========  =====================================================
1      EDGE        stamp crosses the CCD border in some band (NaN-padded)
2      HAS_NAN     some pixel of the stamp is NaN (padding, gap, bad column)
4      OFF_IMAGE   source centre outside the CCD in some band (band all NaN)
8      BAD_VALUE   infinite or absurd (> MAX_ABS_PIXEL) pixels, set to NaN
=====  ==========  =====================================================
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pandas_clusters.core.background import background
from pandas_clusters.core.columns import (
    MAX_ABS_PIXEL,
    STAMP_FLAG_BAD_VALUE,
    STAMP_FLAG_BITS,
    STAMP_FLAG_EDGE,
    STAMP_FLAG_HAS_NAN,
    STAMP_FLAG_OFF_IMAGE,
    check_stamp_values,
)
from pandas_clusters.core.config import SHARED_WITH_STAMPS, StageSettings
from pandas_clusters.core.io import atomic_path, parquet_errors, read_parquet
from pandas_clusters.detect.ccd import (
    explicit_zero_point,
    list_ccds,
    pixel_scale_arcsec,
    read_ccd,
    read_wcs,
)

__all__ = [
    "MAX_ABS_PIXEL",
    "STAMP_FLAG_BAD_VALUE",
    "STAMP_FLAG_BITS",
    "STAMP_FLAG_EDGE",
    "STAMP_FLAG_HAS_NAN",
    "STAMP_FLAG_OFF_IMAGE",
    "PaddedImage",
    "StampSettings",
    "check_stamp_values",
    "cut_stamps",
    "extract_stamps",
    "read_stamps",
    "stamps_schema",
]

log = logging.getLogger(__name__)

#: Page checksums in the stamps file (always, but for ``benchmarks/bench_stamps.py``'s
#: measurement of what they cost).
_PAGE_CHECKSUM = True

#: Sources column that ``StampSettings.mag_limit`` applies to (the one training and
#: inference select on).
LIMIT_COLUMN = "gmag"

#: Flags of a stamp in a band whose image lacks the CCD.
_OFF_IMAGE_FLAGS = STAMP_FLAG_OFF_IMAGE | STAMP_FLAG_EDGE | STAMP_FLAG_HAS_NAN

#: Sources gathered per block inside the kernel (keeps the temporary in the CPU cache).
_BLOCK = 64


@dataclass(frozen=True)
class StampSettings(StageSettings):
    """Settings of the stamps stage (the ``stamps:`` config section).

    Attributes
    ----------
    bands : tuple of str
        Bands, in the order of the stamp's first axis.
    size : int
        Stamp side S, px (>= 2).
    zero_point_ab : float
        Common AB zero point of the stored pixels.
    rows_per_group : int
        Sources per Parquet row group (one row is ``4 C S^2`` bytes: 32 KiB
        for 2 x 64 x 64).
    compression : str
        Parquet codec (``none``, ``snappy``, ``zstd``, ``lz4``...); noise-dominated
        float32 pixels compress little, so the default favours speed.
    background_box : int
        Background mesh size, px (use the value of the sources stage).
    background_filter : int
        Median filter size over meshes.
    zero_points : mapping of str to float
        Explicit AB zero point per band; wins over the header.
    zero_point_keywords : tuple of str
        Header keywords tried, in order, for the zero point.
    mag_limit : float or None
        Cut stamps only for sources with a finite ``gmag <= mag_limit``; None
        cuts every source. Not a config key: the workflow derives it
        (:func:`pandas_clusters.core.config.stamps_params`).
    """

    _section: ClassVar[str] = "stamps"
    _defaults_from: ClassVar[Mapping[str, str]] = {
        "bands": "bands",
        **{key: f"sources.{key}" for key in SHARED_WITH_STAMPS},
    }
    #: ``mag_limit`` None cuts every source; the workflow passes the limit that
    #: :func:`pandas_clusters.core.config.stamps_params` derives from the grid's and the
    #: selection's magnitude limits (``stamps.all_sources`` / ``stamps.mag_margin``).
    _runtime: ClassVar[Mapping[str, Any]] = {"mag_limit": None}

    bands: tuple[str, ...]
    size: int
    zero_point_ab: float
    rows_per_group: int
    compression: str
    background_box: int
    background_filter: int
    zero_points: Mapping[str, float]
    zero_point_keywords: tuple[str, ...]
    mag_limit: float | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", tuple(self.bands))
        object.__setattr__(self, "zero_point_keywords", tuple(self.zero_point_keywords))
        object.__setattr__(self, "zero_points", dict(self.zero_points or {}))
        if not self.bands:
            msg = "stamps: bands must not be empty"
            raise ValueError(msg)
        if int(self.size) != self.size or self.size < 2:
            msg = f"stamps: size must be an integer >= 2, got {self.size!r}"
            raise ValueError(msg)
        if int(self.rows_per_group) != self.rows_per_group or self.rows_per_group < 1:
            msg = f"stamps: rows_per_group must be a positive integer, got {self.rows_per_group!r}"
            raise ValueError(msg)


def stamps_schema(n_bands: int, size: int) -> pa.Schema:
    """Arrow schema of a stamps table."""
    # every field required (NaN pixels are values, not nulls): no definition levels to
    # encode for them, ~13% less writer CPU than nullable fields (measured)
    pixel = pa.field("item", pa.float32(), nullable=False)
    return pa.schema(
        [
            pa.field("source_id", pa.int64(), nullable=False),
            pa.field("stamp", pa.list_(pixel, n_bands * size * size), nullable=False),
            pa.field("flags", pa.int32(), nullable=False),
        ]
    )


class PaddedImage:
    """A CCD image padded with NaN so that every S x S window exists.

    Parameters
    ----------
    data : numpy.ndarray
        2-D float32 image (already calibrated).
    size : int
        Stamp side S, px.
    bad : numpy.ndarray of bool, optional
        Pixels that held corrupt values (already NaN in ``data``): stamps
        touching one get ``BAD_VALUE``.

    Notes
    -----
    Holds one padded copy of the CCD (``(ny + 2S) x (nx + 2S)`` float32), a
    strided window view on it (no copy) and an integral image of the NaN
    count (int32), so that the NaN test of a stamp is four look-ups (and one
    of the ``bad`` count when some pixel is bad).
    """

    def __init__(self, data: np.ndarray, size: int, bad: np.ndarray | None = None) -> None:
        ny, nx = data.shape
        self.shape = (ny, nx)
        self.size = int(size)
        self.pad = pad = int(size)
        padded = np.full((ny + 2 * pad, nx + 2 * pad), np.nan, dtype=np.float32)
        padded[pad : pad + ny, pad : pad + nx] = data
        self.padded = padded
        self.windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size))
        self.nan_count = _integral(np.isnan(padded))
        self.bad_count = None
        if bad is not None and bad.any():
            padded_bad = np.zeros(padded.shape, dtype=bool)
            padded_bad[pad : pad + ny, pad : pad + nx] = bad
            self.bad_count = _integral(padded_bad)


def _integral(mask: np.ndarray) -> np.ndarray:
    """Integral image (int32, one row and column of zeros first) of a boolean mask."""
    count = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int32)
    inner = count[1:, 1:]
    inner[...] = mask
    np.cumsum(inner, axis=1, out=inner)
    # the running sum down the columns, one row at a time: each step is a contiguous
    # vector add, ~4x faster than ``np.cumsum(axis=0)``, which strides across rows
    for r in range(1, inner.shape[0]):
        np.add(inner[r], inner[r - 1], out=inner[r])
    return count


def _window_sum(count: np.ndarray, py0: np.ndarray, px0: np.ndarray, s: int) -> np.ndarray:
    return count[py0 + s, px0 + s] - count[py0, px0 + s] - count[py0 + s, px0] + count[py0, px0]


def extract_stamps(
    image: PaddedImage, x: np.ndarray, y: np.ndarray, *, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cut S x S stamps centred on the nearest pixel to (x, y).

    Parameters
    ----------
    image : PaddedImage
        The padded CCD.
    x, y : numpy.ndarray
        0-based pixel positions, px (NaN allowed: all-NaN stamp, ``OFF_IMAGE``).
    out : numpy.ndarray, optional
        Destination of shape ``(N, S, S)`` float32 (may be a strided view,
        e.g. one band of an ``(N, C, S, S)`` buffer).

    Returns
    -------
    stamps : numpy.ndarray
        ``(N, S, S)`` float32 (``out`` when given).
    flags : numpy.ndarray
        int32 stamp flags (:data:`STAMP_FLAG_BITS`).
    """
    s = image.size
    half = s // 2
    ny, nx = image.shape
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(x) & np.isfinite(y)
    ix = np.floor(np.where(finite, x, -1e9) + 0.5).astype(np.int64)
    iy = np.floor(np.where(finite, y, -1e9) + 0.5).astype(np.int64)
    off = ~finite | (ix < 0) | (ix >= nx) | (iy < 0) | (iy >= ny)
    x0 = ix - half  # first stamp column in CCD pixels
    y0 = iy - half
    edge = (x0 < 0) | (y0 < 0) | (x0 + s > nx) | (y0 + s > ny)
    # window origin in the padded image; off-image sources read a window of pure padding
    px0 = np.where(off, 0, x0 + image.pad)
    py0 = np.where(off, 0, y0 + image.pad)
    if out is None:
        out = np.empty((x.size, s, s), dtype=np.float32)
    # gather in blocks whose temporary (block x S x S) stays in cache before the copy into
    # ``out``; a loop over blocks of sources, not over sources
    for b0 in range(0, x.size, _BLOCK):
        b1 = b0 + _BLOCK
        out[b0:b1] = image.windows[py0[b0:b1], px0[b0:b1]]
    n_nan = _window_sum(image.nan_count, py0, px0, s)
    flags = np.zeros(x.size, dtype=np.int32)
    flags[edge] |= STAMP_FLAG_EDGE
    flags[n_nan > 0] |= STAMP_FLAG_HAS_NAN
    if image.bad_count is not None:
        flags[_window_sum(image.bad_count, py0, px0, s) > 0] |= STAMP_FLAG_BAD_VALUE
    flags[off] |= _OFF_IMAGE_FLAGS
    return out, flags


class PlainStampWriter:
    """The stamps file written by pyarrow's ``ParquetWriter``, in this process.

    Used as a context manager: ``buffer`` lends a row-group buffer to fill,
    ``write`` writes it as one row group. With ``slots=2`` a row group is
    encoded by a background thread (pyarrow releases the GIL while encoding)
    while the next one is cut into the other buffer; ``slots=1`` writes
    synchronously.

    Parameters
    ----------
    path : path-like
        Parquet file to write (the caller makes it atomic).
    schema : pyarrow.Schema
        :func:`stamps_schema` with the file metadata.
    rows, values : int
        Rows per row group and float32 values per row.
    slots : int
        1 or 2 row-group buffers.
    compression : str or None
        Parquet codec.
    page_checksum : bool
        CRC-32 of every data page (verified by the readers).
    """

    def __init__(
        self, path, schema, *, rows, values, slots=2, compression=None, page_checksum=True
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._schema = schema
        self._rows = int(rows)
        self._type = schema.field("stamp").type
        self._buffers = [np.empty((self._rows, int(values)), np.float32) for _ in range(slots)]
        self._next = 0
        self._pending = None
        self._pool = ThreadPoolExecutor(max_workers=1) if slots > 1 else None
        # no dictionary encoding and no statistics for the pixels: both cost a pass over
        # every value and gain nothing on noise-dominated float32 pixels
        self._writer = pq.ParquetWriter(
            path,
            schema,
            compression=compression,
            use_dictionary=False,
            write_statistics=["source_id", "flags"],
            write_page_checksum=page_checksum,
        )

    def buffer(self, n: int) -> tuple[int, np.ndarray]:
        """A free slot and its ``(n, values)`` float32 view."""
        slot = self._next
        self._next = (self._next + 1) % len(self._buffers)
        if self._pending is not None and self._pending[0] == slot:
            self._wait()
        return slot, self._buffers[slot][:n]

    def write(self, slot: int, source_id: np.ndarray, flags: np.ndarray) -> None:
        """Write the filled ``slot`` as one row group (``len(source_id)`` rows)."""
        n = len(source_id)
        pixels = self._buffers[slot][:n].reshape(-1)
        table = pa.Table.from_arrays(
            [
                pa.array(np.asarray(source_id, np.int64)),
                pa.FixedSizeListArray.from_arrays(pa.array(pixels), type=self._type),
                pa.array(np.asarray(flags, np.int32)),
            ],
            schema=self._schema,
        )
        self._wait()
        if self._pool is None:
            self._writer.write_table(table, row_group_size=self._rows)
        else:
            future = self._pool.submit(self._writer.write_table, table, row_group_size=self._rows)
            self._pending = (slot, future)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending[1].result()

    def __enter__(self) -> PlainStampWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._writer.close()


def _calibrated_ccd(
    path, ref, band: str, settings: StampSettings
) -> tuple[np.ndarray, np.ndarray | None]:
    """Sky-subtracted CCD scaled to ``zero_point_ab`` (float32, NaN where no data).

    Returns the image and the mask of its corrupt pixels (infinite, or beyond
    :data:`MAX_ABS_PIXEL` once scaled; set to NaN), or None when there is none.
    """
    img = read_ccd(
        path,
        ref,
        zero_point=explicit_zero_point(settings.zero_points, band),
        zero_point_keywords=settings.zero_point_keywords,
    )
    data = img.data
    mask = ~np.isfinite(data)
    if mask.all():
        return np.full(data.shape, np.nan, dtype=np.float32), None
    filled = np.where(mask, np.float32(0.0), data)
    back, _ = background(
        filled,
        mask,
        box=settings.background_box,
        filter_size=settings.background_filter,
        with_rms=False,
    )
    del filled
    data -= back  # NaN stays NaN
    data *= np.float32(10.0 ** (0.4 * (settings.zero_point_ab - img.zero_point)))
    with np.errstate(invalid="ignore"):
        bad = np.abs(data) > MAX_ABS_PIXEL  # inf included; NaN is not
    if not bad.any():
        return data, None
    log.warning(
        "%s[%d] (band %s): %d infinite or absurd pixels (|value| > %g at AB zero point %g) "
        "stored as NaN, their stamps flagged BAD_VALUE",
        path,
        ref.hdu,
        band,
        int(bad.sum()),
        MAX_ABS_PIXEL,
        settings.zero_point_ab,
    )
    data[bad] = np.nan
    return data, bad


def _read_positions(
    sources_path, bands: Sequence[str], mag_limit: float | None, field: int | None
) -> tuple[pd.DataFrame, int]:
    """Positions of the sources to cut, sorted by CCD, and the number of sources in the table."""
    cols = ["source_id", "ccd"] + [f"{a}_{b}" for b in bands for a in ("x", "y")]
    if mag_limit is not None:
        cols.append(LIMIT_COLUMN)
    with parquet_errors(sources_path, "sources table"):
        schema = pq.read_schema(sources_path)
    missing = [c for c in cols if c not in schema.names]
    if missing:
        msg = f"sources table {sources_path}: missing column(s) {', '.join(missing)}"
        raise ValueError(msg)
    meta = json.loads((schema.metadata or {}).get(b"pandas_clusters", b"{}"))
    if field is not None and meta.get("field") is not None and int(meta["field"]) != int(field):
        msg = (
            f"sources table {sources_path} is of field {meta['field']}, but stamps of field "
            f"{field} were asked for"
        )
        raise ValueError(msg)
    frame = read_parquet(sources_path, columns=cols, what="sources table").to_pandas()
    n_table = len(frame)
    if mag_limit is not None:
        mag = frame.pop(LIMIT_COLUMN).to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            frame = frame[np.isfinite(mag) & (mag <= mag_limit)]
    frame = frame.sort_values(["ccd", "source_id"], kind="stable").reset_index(drop=True)
    return frame, n_table


def _cut_all(writer, frame, starts, ends, refs, images, settings: StampSettings) -> int:
    """Cut the stamps of ``frame`` (sorted by CCD; CCD ``k`` is rows ``starts[k]:ends[k]``)."""
    bands, s, nb = settings.bands, settings.size, len(settings.bands)
    ccds = frame["ccd"].to_numpy()
    source_ids = frame["source_id"].to_numpy()
    xy = {b: (frame[f"x_{b}"].to_numpy(), frame[f"y_{b}"].to_numpy()) for b in bands}
    n_written = 0
    for a, z in zip(starts, ends, strict=True):
        ccd = int(ccds[a])
        padded: dict[str, PaddedImage | None] = {}
        for b in bands:
            ref = refs[b].get(ccd)
            if ref is None:
                padded[b] = None
                continue
            data, bad = _calibrated_ccd(images[b], ref, b, settings)
            padded[b] = PaddedImage(data, s, bad)
            del data, bad
        for c0 in range(a, z, settings.rows_per_group):
            c1 = min(c0 + settings.rows_per_group, z)
            slot, flat = writer.buffer(c1 - c0)
            buf = flat.reshape(c1 - c0, nb, s, s)
            flags = np.zeros(c1 - c0, dtype=np.int32)
            for k, b in enumerate(bands):
                if padded[b] is None:
                    buf[:, k] = np.nan
                    flags |= _OFF_IMAGE_FLAGS
                    continue
                x, y = xy[b]
                _, f = extract_stamps(padded[b], x[c0:c1], y[c0:c1], out=buf[:, k])
                flags |= f
            del buf, flat
            writer.write(slot, source_ids[c0:c1], flags)
            n_written += c1 - c0
        del padded
    return n_written


def _check_ccds(frame: pd.DataFrame, refs, images, sources_path) -> None:
    """Every CCD the sources table uses must be an image HDU of every band."""
    used = set(np.unique(frame["ccd"].to_numpy()).tolist())
    for band, by_ccd in refs.items():
        absent = sorted(used - set(by_ccd))
        if absent:
            msg = (
                f"sources table {sources_path} has sources on CCD(s) {absent}, which image "
                f"{images[band]} (band {band}) does not hold"
            )
            raise ValueError(msg)


def _ccd_ranges(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """First and end row of each CCD's run in ``frame`` (sorted by CCD)."""
    ccds = frame["ccd"].to_numpy()
    bounds = np.flatnonzero(np.diff(ccds)) + 1
    starts = np.concatenate([[0], bounds]) if len(frame) else np.zeros(0, dtype=np.int64)
    ends = np.concatenate([bounds, [len(frame)]]) if len(frame) else np.zeros(0, dtype=np.int64)
    return starts, ends


def _stamps_meta(sources_path, images, refs, n_table: int, settings: StampSettings) -> dict:
    """File metadata of a stamps file (pixel scales read from each band's first CCD)."""
    bands, s = settings.bands, settings.size
    scales: dict[str, float] = {}
    for b in bands:
        first = next(iter(refs[b].values()))
        scales[b] = pixel_scale_arcsec(read_wcs(images[b], first))
    return {
        "stage": "stamps",
        "bands": list(bands),
        "size": int(s),
        "shape": [len(bands), int(s), int(s)],
        "dtype": "float32",
        "pixel_scale_arcsec": float(np.mean(list(scales.values()))),
        "pixel_scale_arcsec_by_band": scales,
        "scaling": (
            f"(ADU - sep background) * 10**(0.4 * ({settings.zero_point_ab} - MAGZPT)); "
            f"AB zero point {settings.zero_point_ab}"
        ),
        "zero_point_ab": float(settings.zero_point_ab),
        "sky_subtracted": True,
        "centring": "nearest pixel in each band's own grid; source at pixel (S//2, S//2) +-0.5 px; no resampling",
        "fill_value": "NaN",
        "flag_bits": STAMP_FLAG_BITS,
        "rows_per_group": int(settings.rows_per_group),
        "mag_limit": settings.mag_limit,
        "mag_limit_column": LIMIT_COLUMN,
        "n_sources_table": int(n_table),
        "settings": settings.to_dict(),
        "sources": str(sources_path),
    }


def _write_stamps(
    out, schema: pa.Schema, frame, starts, ends, refs, images, settings: StampSettings, threads
) -> int:
    """Cut and write every stamp to ``out`` atomically; returns the number of rows."""
    s, nb = settings.size, len(settings.bands)
    compression = None if settings.compression in ("none", None) else settings.compression
    rows = min(settings.rows_per_group, max(len(frame), 1))
    per_group = settings.rows_per_group
    n_groups = max(1, sum(-(-(z - a) // per_group) for a, z in zip(starts, ends, strict=True)))
    try:
        with (
            atomic_path(out) as tmp,
            PlainStampWriter(
                tmp,
                schema,
                rows=rows,
                values=nb * s * s,
                slots=2 if threads > 1 and n_groups > 1 else 1,
                compression=compression,
                page_checksum=_PAGE_CHECKSUM,
            ) as writer,
        ):
            return _cut_all(writer, frame, starts, ends, refs, images, settings)
    except OSError as exc:
        if exc.errno is None or isinstance(exc, FileNotFoundError):
            raise
        # pyarrow's write errors (disk full, quota) do not name the file
        raise OSError(exc.errno, f"{exc.strerror or exc} (writing stamps)", os.fspath(out)) from exc


def cut_stamps(
    sources_path: str | os.PathLike,
    images: Mapping[str, str | os.PathLike],
    *,
    out: str | os.PathLike,
    settings: StampSettings,
    field: int | None = None,
    threads: int = 1,
) -> int:
    """Cut every source of a field in every band and stream the stamps to Parquet.

    Parameters
    ----------
    sources_path : str or path-like
        Sources table of the field (``source_id``, ``ccd``, ``x_{band}``,
        ``y_{band}``).
    images : mapping of str to path
        band -> multi-extension FITS of the field.
    out : str or path-like
        Output Parquet (written through a temporary file and renamed).
    settings : StampSettings
        Stage settings.
    field : int, optional
        The field asked for: the sources table's and the images' ``FIELD`` (where
        they record one) must agree with it.
    threads : int
        With 2 or more, Parquet encoding overlaps the cutting (a second thread or
        process); 1 keeps to one core.

    Returns
    -------
    int
        Number of rows written (the sources of the table within
        ``settings.mag_limit``).

    Raises
    ------
    ValueError
        Missing band image or sources column, missing WCS/zero point (naming
        file and HDU), images of another band or field, or a CCD of the sources
        table missing from an image.
    """
    bands = settings.bands
    missing = [b for b in bands if b not in images]
    if missing:
        msg = f"stamps: no image for band(s) {', '.join(missing)}"
        raise ValueError(msg)
    frame, n_table = _read_positions(sources_path, bands, settings.mag_limit, field)
    refs = {b: {r.ccd: r for r in list_ccds(images[b], band=b, field=field)} for b in bands}
    _check_ccds(frame, refs, images, sources_path)
    starts, ends = _ccd_ranges(frame)
    # file metadata is needed before the first row group: pixel scales come from the headers
    meta = _stamps_meta(sources_path, images, refs, n_table, settings)
    schema = stamps_schema(len(bands), settings.size).with_metadata(
        {b"pandas_clusters": json.dumps(meta, sort_keys=True).encode()}
    )
    n_written = _write_stamps(out, schema, frame, starts, ends, refs, images, settings, threads)
    log.info(
        "wrote %d stamps (of %d sources; %s) to %s",
        n_written,
        n_table,
        "all sources" if settings.mag_limit is None else f"gmag <= {settings.mag_limit}",
        out,
    )
    return n_written


def read_stamps(path: str | os.PathLike):
    """Read a stamps file: ``(source_id, stamps (N, C, S, S) float32, flags, metadata)``.

    Page checksums are verified and the values checked
    (:func:`check_stamp_values`).

    Parameters
    ----------
    path : str or path-like
        Stamps Parquet written by :func:`cut_stamps`.
    """
    from pandas_clusters.core.io import read_parquet_metadata

    meta = read_parquet_metadata(path)
    table = read_parquet(path)
    nb, s = len(meta["bands"]), int(meta["size"])
    col = table.column("stamp").combine_chunks()
    values = col.values.to_numpy(zero_copy_only=False) if len(col) else np.zeros(0, np.float32)
    stamps = values.reshape(len(col), nb, s, s)
    source_ids = table.column("source_id").to_numpy()
    flags = table.column("flags").to_numpy()
    check_stamp_values(stamps, flags, source_ids, path=path)
    return source_ids, stamps, flags, meta
