"""Per-field source lists: detection, band alignment on the sky, AB photometry.

One call, :func:`build_sources`, turns the multi-extension g/i images of one
field into ``results/sources/{field}.parquet`` (columns in
``docs/data-model.md``), CCD by CCD, so memory is bounded by one CCD per band.

Method (``SourceSettings.method = "detect"``)
----------------------------------------------
Detection and photometry use **sep** (Source Extractor as a library) rather
than photutils: its background meshes, filtered thresholding,
multi-threshold deblending and exact circular apertures are the Source
Extractor algorithms the PAndAS/CASU catalogues were built with, all in C and
vectorised over arrays of positions; photutils does the same science in
Python/numpy and is several times slower and heavier on memory for a
36-CCD field with ~10^5 sources per CCD.

Per CCD:

1. background and noise maps per band (sep meshes; NaN pixels masked);
2. a detection image on the grid of the first band (``bands[0]``): the
   signal-to-noise maps of the bands, the other bands **resampled** on that
   grid through their own WCS (bilinear, as ``reproject.reproject_interp``;
   the pixel mapping goes through the WCS on a 64 px grid of nodes only, see
   :func:`reproject_bilinear`), averaged as ``sum(S/N) / sqrt(n_valid)``;
3. ``sep.extract`` on it (Source Extractor's convolution filter, ``detect_thresh``
   sigma, deblending), windowed centroids (``sep.winpos``, Source Extractor's
   XWIN/YWIN) started at the barycentre where it lies on the object's bright body,
   else at the peak;
4. sky positions with astropy WCS (pixel origin 0), then the pixel position
   of that sky position in **each band's own WCS**: every band is measured at
   the same sky position, never at the same pixel index;
5. circular-aperture photometry per band (``sep.sum_circle``, exact
   overlap; error from the background rms and the Poisson term with
   ``GAIN``), AB with the header zero point, plus an aperture correction to
   total flux (see :class:`SourceSettings`);
6. flags (below); ``rproj_kpc`` from :mod:`pandas_clusters.core.geometry`.

CCDs are independent: with ``threads > 1`` (the rule's ``threads``) they are
measured in that many worker processes, with the same result. On a full-size
MegaCam field (36 CCDs of 2048 x 4612 px) the stage costs about 9 CPU seconds
per CCD, 60% of what it did when whole CCDs went through
``reproject_interp`` (``benchmarks/RESULTS.md``, section ``bench_field``);
``sep.winpos`` and ``sep.extract`` are now most of it. The convolution filter of
issue 12 (step 3) made the stage faster again on the demo fields (one run each, same
machine: field 248 29.4 -> 19.6 s, 249 22.0 -> 13.5 s, 257 16.8 -> 12.0 s).

Duplicates inside the field (the same sky position detected on two
overlapping CCDs) are resolved by keeping the detection with the fewest flags,
then the one farthest from its CCD edge. Duplicates across fields are left to
the survey merge.

Alternative input (``method = "catalogue"``): a per-field catalogue in the
PAndAS CASU band-merged layout (``RA Dec iccd xg yg g dg ig xi yi i di ii ia
field``) is converted to the same table (see :func:`read_casu_catalogue`).

``source_id``
-------------
``field * 10**15 + ccd * 10**12 + round(4 y) * 10**6 + round(4 x)`` with
``x, y`` the 0-based detection pixel position (first band; quarter-pixel
resolution) in that CCD: unique across the survey, stable across reruns
(the same image and settings give the same ID, independently of other
sources), and sorting by it sorts by field, then CCD. Limits: field < 9223,
CCD < 1000, pixel coordinates < 250000.

Flags (``flags``, int32 bit mask)
---------------------------------
=====  =================  ===================================================
bit    name               meaning
=====  =================  ===================================================
1      EDGE               aperture crosses the CCD border in some band
2      SATURATED          a saturated pixel (>= SATURATE) in some aperture
4      NAN_IN_APERTURE    NaN / masked pixels inside some aperture
8      BLENDED            deblended from a blend by sep (OBJ_MERGED)
16     CROWDED            another source within ``crowding_radius_arcsec``
32     BAD_FLUX           non-positive aperture flux in some band (mag NaN)
64     OFF_BAND           position outside the CCD of some band (no data)
128    NO_APCORR          aperture correction unavailable (set to 0)
=====  =================  ===================================================
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import sep
from scipy.spatial import cKDTree

from pandas_clusters.core.background import background
from pandas_clusters.core.config import StageSettings
from pandas_clusters.core.geometry import projected_radius_kpc
from pandas_clusters.core.io import write_parquet
from pandas_clusters.detect.ccd import (
    CCDImage,
    CCDRef,
    explicit_zero_point,
    list_ccds,
    moffat_aperture_correction,
    pixel_scale_arcsec,
    read_ccd,
)

__all__ = [
    "FLAG_BITS",
    "FLAG_BAD_FLUX",
    "FLAG_BLENDED",
    "FLAG_CROWDED",
    "FLAG_EDGE",
    "FLAG_NAN_IN_APERTURE",
    "FLAG_NO_APCORR",
    "FLAG_OFF_BAND",
    "FLAG_SATURATED",
    "ApertureCorrectionWarning",
    "CASU_COLUMNS",
    "EmptyCCDWarning",
    "SourceSettings",
    "build_sources",
    "make_source_id",
    "read_casu_catalogue",
    "sources_schema",
]

log = logging.getLogger(__name__)

FLAG_EDGE = 1
FLAG_SATURATED = 2
FLAG_NAN_IN_APERTURE = 4
FLAG_BLENDED = 8
FLAG_CROWDED = 16
FLAG_BAD_FLUX = 32
FLAG_OFF_BAND = 64
FLAG_NO_APCORR = 128

#: Flag name -> bit value (also written to the file metadata).
FLAG_BITS: dict[str, int] = {
    "EDGE": FLAG_EDGE,
    "SATURATED": FLAG_SATURATED,
    "NAN_IN_APERTURE": FLAG_NAN_IN_APERTURE,
    "BLENDED": FLAG_BLENDED,
    "CROWDED": FLAG_CROWDED,
    "BAD_FLUX": FLAG_BAD_FLUX,
    "OFF_BAND": FLAG_OFF_BAND,
    "NO_APCORR": FLAG_NO_APCORR,
}

#: Columns of the PAndAS CASU band-merged catalogue layout.
CASU_COLUMNS = (
    "RA",
    "Dec",
    "iccd",
    "xg",
    "yg",
    "g",
    "dg",
    "ig",
    "xi",
    "yi",
    "i",
    "di",
    "ii",
    "ia",
    "field",
)

_MAX_FIELD = 9222
_MAX_CCD = 999
_MAX_QPIX = 10**6 - 1
_MAG_ERR = 2.5 / np.log(10.0)
#: Node spacing (px) of the band-to-band pixel mapping of the detection image.
_MAP_STEP = 64


class EmptyCCDWarning(UserWarning):
    """A CCD has no valid pixel (all NaN) in some band; it yields no source."""


class ApertureCorrectionWarning(UserWarning):
    """Too few isolated bright stars to measure an aperture correction."""


@dataclass(frozen=True)
class SourceSettings(StageSettings):
    """Settings of the sources stage (the ``sources:`` config section).

    Attributes
    ----------
    bands : tuple of str
        Bands in config order; the first one is the detection/reference grid
        and the one the ``source_id`` position refers to.
    method : {"detect", "catalogue"}
        Detect on the images, or convert a CASU band-merged catalogue.
    detect_thresh : float
        Detection threshold, in sigma of the detection image.
    minarea : int
        Minimum connected pixels above threshold.
    deblend_nthresh : int
        Deblending sub-thresholds.
    deblend_cont : float
        Minimum deblending contrast.
    background_box : int
        Background mesh size, px.
    background_filter : int
        Median filter size over meshes.
    aperture_radius_arcsec : float
        Photometry aperture radius, arcsec.
    aperture_correction : {"auto", "growth", "moffat", "none"}
        Correction of the aperture magnitude to total: ``growth`` = median
        ratio of aperture to ``total_radius_arcsec`` flux of isolated,
        unflagged, bright (S/N > 50) stars of the CCD; ``moffat`` = analytic
        enclosed fraction of the Moffat PSF described by the header
        (``SEEING`` arcsec, ``PSFBETA``); ``auto`` = ``moffat`` where the
        header describes the PSF, else ``growth``; if neither is possible the
        correction is 0, flagged ``NO_APCORR`` with an
        :class:`ApertureCorrectionWarning`.
    total_radius_arcsec : float
        "Total" aperture radius of the growth-curve correction, arcsec.
    apcorr_min_stars : int
        Minimum stars for the growth-curve correction.
    crowding_radius_arcsec : float
        A source with another detection closer than this is ``CROWDED``.
    duplicate_radius_arcsec : float
        Detections on different CCDs closer than this are the same source.
    zero_points : mapping of str to float
        Explicit AB zero point per band; wins over the header (for images
        without calibration keywords).
    zero_point_keywords : tuple of str
        Header keywords tried, in order, for the zero point; ``PHOT_C``
        (Elixir, per second) gets ``2.5 log10(EXPTIME)`` added. No zero point
        at all is an error naming the file and HDU.
    """

    _section: ClassVar[str] = "sources"
    _defaults_from: ClassVar[Mapping[str, str]] = {"bands": "bands"}

    bands: tuple[str, ...]
    method: str
    detect_thresh: float
    minarea: int
    deblend_nthresh: int
    deblend_cont: float
    background_box: int
    background_filter: int
    aperture_radius_arcsec: float
    aperture_correction: str
    total_radius_arcsec: float
    apcorr_min_stars: int
    crowding_radius_arcsec: float
    duplicate_radius_arcsec: float
    zero_points: Mapping[str, float]
    zero_point_keywords: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", tuple(self.bands))
        object.__setattr__(self, "zero_point_keywords", tuple(self.zero_point_keywords))
        object.__setattr__(self, "zero_points", dict(self.zero_points or {}))
        if not self.bands:
            msg = "sources: bands must not be empty"
            raise ValueError(msg)
        if self.method not in {"detect", "catalogue"}:
            msg = f"sources: method must be 'detect' or 'catalogue', got {self.method!r}"
            raise ValueError(msg)
        if self.aperture_correction not in {"auto", "growth", "moffat", "none"}:
            msg = (
                "sources: aperture_correction must be auto, growth, moffat or none, "
                f"got {self.aperture_correction!r}"
            )
            raise ValueError(msg)
        if (
            self.aperture_radius_arcsec <= 0
            or self.total_radius_arcsec <= self.aperture_radius_arcsec
        ):
            msg = "sources: need 0 < aperture_radius_arcsec < total_radius_arcsec"
            raise ValueError(msg)


def sources_schema(bands: Sequence[str]) -> pa.Schema:
    """Arrow schema of a sources table for ``bands`` (``docs/data-model.md``)."""
    cols: list[tuple[str, pa.DataType]] = [
        ("source_id", pa.int64()),
        ("field", pa.int32()),
        ("ccd", pa.int16()),
        ("ra", pa.float64()),
        ("dec", pa.float64()),
    ]
    for band in bands:
        cols += [(f"x_{band}", pa.float64()), (f"y_{band}", pa.float64())]
    for band in bands:
        cols += [(f"{band}mag", pa.float64()), (f"e_{band}mag", pa.float64())]
    cols += [("rproj_kpc", pa.float64()), ("flags", pa.int32())]
    return pa.schema(cols)


def make_source_id(field: int, ccd, x, y) -> np.ndarray:
    """Encode ``source_id`` from field, CCD and 0-based reference-band pixel position.

    Parameters
    ----------
    field : int
        Field ID, 0..9222.
    ccd : array_like of int
        CCD numbers, 0..999.
    x, y : array_like of float
        Pixel position (first band), px; clipped at 0 below.

    Raises
    ------
    ValueError
        If a value is outside the encodable range.
    """
    ccd = np.asarray(ccd, dtype=np.int64)
    qx = np.rint(np.clip(np.asarray(x, dtype=np.float64), 0.0, None) * 4.0).astype(np.int64)
    qy = np.rint(np.clip(np.asarray(y, dtype=np.float64), 0.0, None) * 4.0).astype(np.int64)
    if not 0 <= field <= _MAX_FIELD:
        msg = f"source_id: field {field} outside 0..{_MAX_FIELD}"
        raise ValueError(msg)
    if ccd.size and (ccd.min() < 0 or ccd.max() > _MAX_CCD):
        msg = f"source_id: CCD number outside 0..{_MAX_CCD}"
        raise ValueError(msg)
    if qx.size and (qx.max() > _MAX_QPIX or qy.max() > _MAX_QPIX):
        msg = "source_id: pixel coordinate >= 250000 cannot be encoded"
        raise ValueError(msg)
    return np.int64(field) * 10**15 + ccd * 10**12 + qy * 10**6 + qx


# --------------------------------------------------------------------------- detection


@dataclass
class _BandMaps:
    sub: np.ndarray  # background-subtracted data, NaN -> 0
    rms: np.ndarray
    mask: np.ndarray  # bool, True = bad pixel
    sat: np.ndarray  # float32 1 where saturated
    image: CCDImage


def _band_maps(image: CCDImage, settings: SourceSettings) -> _BandMaps | None:
    data = image.data
    mask = ~np.isfinite(data)
    if mask.all():
        return None
    filled = np.where(mask, np.float32(0.0), data)
    back, rms = background(
        filled, mask, box=settings.background_box, filter_size=settings.background_filter
    )
    sub = filled - back
    sub[mask] = 0.0
    sat = (np.where(mask, -np.inf, data) >= image.saturate).astype(np.float32)
    return _BandMaps(sub=sub, rms=rms, mask=mask, sat=sat, image=image)


def reproject_bilinear(
    data: np.ndarray, wcs_in, wcs_out, shape_out: tuple[int, int], *, step: int = _MAP_STEP
) -> np.ndarray:
    """Bilinear resampling of ``data`` (grid ``wcs_in``) onto the grid of ``wcs_out``.

    The same result as ``reproject.reproject_interp(..., order="bilinear")``
    (scipy ``map_coordinates``, order 1, NaN outside; positions in the outer
    half of a border pixel use that pixel), but the pixel-to-pixel mapping goes
    through the WCS only on a grid of nodes ``step`` px apart and is
    interpolated bilinearly in between: the mapping of two grids of the same
    field is smooth (to ~1e-6 px over 64 px for MegaCam's TAN WCS), and
    transforming every pixel through the WCS twice, as ``reproject_interp``
    does, took over a third of the sources stage.

    Parameters
    ----------
    data : numpy.ndarray
        2-D input (NaN allowed).
    wcs_in, wcs_out : astropy.wcs.WCS
        Celestial WCS of the input and of the output grid.
    shape_out : tuple of int
        ``(ny, nx)`` of the output.
    step : int
        Node spacing of the mapping, px.

    Returns
    -------
    numpy.ndarray
        float64, ``shape_out``.
    """
    from astropy.wcs.utils import pixel_to_pixel
    from scipy.ndimage import map_coordinates

    ny, nx = shape_out
    gx = np.unique(np.r_[np.arange(0, nx, step), nx - 1]).astype(np.float64)
    gy = np.unique(np.r_[np.arange(0, ny, step), ny - 1]).astype(np.float64)
    node_x, node_y = np.meshgrid(gx, gy)
    map_x, map_y = (
        np.asarray(v, dtype=np.float64) for v in pixel_to_pixel(wcs_out, wcs_in, node_x, node_y)
    )
    fx = np.interp(np.arange(nx), gx, np.arange(gx.size))
    fy = np.interp(np.arange(ny), gy, np.arange(gy.size))
    src = np.ascontiguousarray(data, dtype=np.float32)
    in_ny, in_nx = src.shape
    out = np.empty(shape_out, dtype=np.float64)
    rows = max(1, (1 << 20) // max(nx, 1))
    for r0 in range(0, ny, rows):
        r1 = min(r0 + rows, ny)
        node_rc = np.stack([np.repeat(fy[r0:r1], nx), np.tile(fx, r1 - r0)])
        cx = map_coordinates(map_x, node_rc, order=1)
        cy = map_coordinates(map_y, node_rc, order=1)
        # reproject's convention: the outer half of a border pixel takes the border value
        for c, n in ((cx, in_nx), (cy, in_ny)):
            c[(c > -0.5) & (c < 0)] = 0
            c[(c > n - 1) & (c < n - 0.5)] = n - 1
        map_coordinates(
            src,
            np.stack([cy, cx]),
            order=1,
            mode="constant",
            cval=np.nan,
            output=out[r0:r1].reshape(-1),
        )
    return out


def _detection_image(maps: Mapping[str, _BandMaps], ref: str) -> tuple[np.ndarray, np.ndarray]:
    """S/N average of the bands on the grid of band ``ref``; returns (image, bad-mask)."""
    ref_maps = maps[ref]
    shape = ref_maps.sub.shape
    total = np.zeros(shape, dtype=np.float64)
    count = np.zeros(shape, dtype=np.int8)
    for band, m in maps.items():
        snr = np.where(m.mask, np.nan, m.sub / np.maximum(m.rms, 1e-30)).astype(np.float32)
        if band != ref:
            snr = reproject_bilinear(snr, m.image.wcs, ref_maps.image.wcs, shape)
        good = np.isfinite(snr)
        total[good] += snr[good]
        count += good
    det = np.zeros(shape, dtype=np.float32)
    ok = count > 0
    det[ok] = (total[ok] / np.sqrt(count[ok])).astype(np.float32)
    return det, ~ok


#: Largest semi-major axis (px) that sets the window's extent: the flux radius that sizes
#: the window is measured within 6 a of the peak, at most 30 px (5.6" at MegaCam's
#: 0.187"/px, about 8 seeing FWHM), so that a faint carpet around a bright core does not
#: widen the window beyond the core
_WINDOW_A_MAX_PX = 5.0
#: sep aperture flags that leave a windowed centroid measured: masked pixels inside the
#: window are left out of the sums (a bad column beside a source)
_WINPOS_OK_FLAGS = sep.APER_HASMASKED


#: Share of the peak's detection-image value at the barycentre above which the window
#: starts at the barycentre (Source Extractor's start) rather than at the peak
_WINDOW_BARYCENTRE_SHARE = 0.5


def _windowed_positions(det, mask, objs) -> tuple[np.ndarray, np.ndarray]:
    """Windowed centroids (XWIN/YWIN) of sep's objects.

    The window starts at the isophotal barycentre, as in Source Extractor, where the
    detection image there holds at least ``_WINDOW_BARYCENTRE_SHARE`` of the peak's
    value (the barycentre lies on the object's bright body); else at the peak of
    the filtered detection image: in a crowded disk a bright cluster can sit in one
    detection with thousands of pixels of faint stars around it (a "carpet" that no
    deblending level splits), whose barycentre lies arcseconds from the cluster in
    the faint carpet. Starting at the peak always would put a partly resolved
    cluster at its brightest member where a red giant outshines the core in the
    combined g + i image (a g = 18 cluster measured 1.1" off and 1.2 mag faint,
    issue 12). Where the centroid cannot be measured (window truncated or fully
    masked, or it moves more than a pixel from its start) the position is the start.
    """
    xb = objs["x"].astype(np.float64)
    yb = objs["y"].astype(np.float64)
    xp = objs["xcpeak"].astype(np.float64)
    yp = objs["ycpeak"].astype(np.float64)
    ny, nx = det.shape
    ib = np.clip(np.rint(yb).astype(int), 0, ny - 1)
    jb = np.clip(np.rint(xb).astype(int), 0, nx - 1)
    ip = np.clip(yp.astype(int), 0, ny - 1)
    jp = np.clip(xp.astype(int), 0, nx - 1)
    on_body = det[ib, jb] >= _WINDOW_BARYCENTRE_SHARE * det[ip, jp]
    xs = np.where(on_body, xb, xp)
    ys = np.where(on_body, yb, yp)
    a = np.clip(objs["a"].astype(np.float64), 0.5, _WINDOW_A_MAX_PX)
    rhalf, rflag = sep.flux_radius(det, xs, ys, 6.0 * a, 0.5, mask=mask, subpix=5)
    sig = 2.0 / 2.35 * np.clip(np.nan_to_num(rhalf, nan=1.0), 0.5, 10.0)
    xw, yw, wflag = sep.winpos(det, xs, ys, sig, mask=mask)
    bad = ((wflag & ~_WINPOS_OK_FLAGS) != 0) | ((rflag & ~_WINPOS_OK_FLAGS) != 0)
    bad |= ~np.isfinite(xw) | ~np.isfinite(yw)
    bad |= np.hypot(xw - xs, yw - ys) > 1.0
    return np.where(bad, xs, xw), np.where(bad, ys, yw)


def _aperture_correction(
    maps: _BandMaps,
    x: np.ndarray,
    y: np.ndarray,
    flux: np.ndarray,
    ferr: np.ndarray,
    good: np.ndarray,
    neighbours_ok: np.ndarray,
    r_px: float,
    scale: float,
    settings: SourceSettings,
) -> tuple[float, str, int]:
    """Return (correction mag to add, method used, stars used)."""
    head = maps.image.header
    method = settings.aperture_correction
    if method == "none":
        return 0.0, "none", 0
    has_moffat = head.get("SEEING") is not None and head.get("PSFBETA") is not None
    if method == "moffat" or (method == "auto" and has_moffat):
        if not has_moffat:
            msg = (
                f"{maps.image.path}[{maps.image.ref.hdu}]: aperture_correction 'moffat' "
                "needs SEEING and PSFBETA in the header"
            )
            raise ValueError(msg)
        corr = moffat_aperture_correction(
            settings.aperture_radius_arcsec, float(head["SEEING"]), float(head["PSFBETA"])
        )
        return corr, "moffat", 0
    r_tot = settings.total_radius_arcsec / scale
    snr = np.divide(flux, ferr, out=np.zeros_like(flux), where=ferr > 0)
    pick = good & neighbours_ok & (snr > 50.0)
    if pick.sum() < settings.apcorr_min_stars:
        return np.nan, "growth", int(pick.sum())
    ftot, _, tflag = sep.sum_circle(maps.sub, x[pick], y[pick], r_tot, mask=maps.mask, subpix=0)
    ok = (tflag == 0) & (ftot > 0)
    if ok.sum() < settings.apcorr_min_stars:
        return np.nan, "growth", int(ok.sum())
    ratio = flux[pick][ok] / ftot[ok]
    return float(2.5 * np.log10(np.median(ratio))), "growth", int(ok.sum())


def _ccd_band_maps(
    images: Mapping[str, CCDImage], settings: SourceSettings
) -> dict[str, _BandMaps] | None:
    """Background, noise and masks of every band; None (warned) if a band has no data."""
    maps: dict[str, _BandMaps] = {}
    for band in settings.bands:
        m = _band_maps(images[band], settings)
        if m is None:
            img = images[band]
            warnings.warn(
                f"{img.path}[{img.ref.hdu}] (CCD {img.ref.ccd}, band {band}) has no valid "
                "pixel (all NaN): no sources from this CCD",
                EmptyCCDWarning,
                stacklevel=4,  # the caller of _measure_ccd's caller, as from _measure_ccd
            )
            return None
        maps[band] = m
    return maps


def _detect(
    maps: Mapping[str, _BandMaps], ref: str, settings: SourceSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Background-subtracted detection image, its bad-pixel mask and sep's objects on it."""
    det, det_mask = _detection_image(maps, ref)
    det_back, det_rms = background(
        det, det_mask, box=settings.background_box, filter_size=settings.background_filter
    )
    det -= det_back
    det[det_mask] = 0.0
    sep.set_sub_object_limit(4096)
    kwargs = {
        # Source Extractor's detection filter (a convolution, thresholded against the
        # rms): sep's default "matched" filter with a noise map joins a crowded disk's
        # faint stars into carpets of thousands of pixels that its deblending does not
        # split, so a bright cluster inside one went undetected (issue 12)
        "filter_type": "conv",
        "err": det_rms,
        "mask": det_mask,
        "minarea": settings.minarea,
        "deblend_nthresh": settings.deblend_nthresh,
        "deblend_cont": settings.deblend_cont,
    }
    sep.set_extract_pixstack(max(300_000, det.size // 4))
    try:
        objs = sep.extract(det, settings.detect_thresh, **kwargs)
    except Exception as err:  # sep raises a bare Exception
        # a saturated star's wings, spikes and halo can join a crowded field into one huge
        # object (issue 12 part 3): retry with room for every pixel of the image
        if "pixel buffer full" not in str(err):
            raise
        sep.set_extract_pixstack(det.size)
        objs = sep.extract(det, settings.detect_thresh, **kwargs)
    # sep's barycentre of a deblended fragment with little or negative net flux (in the
    # spikes and halo of a saturated star, issue 12 part 3) can fall far off the image:
    # such a detection has no position to measure, drop it
    ny, nx = det.shape
    x, y = objs["x"], objs["y"]
    on = np.isfinite(x) & np.isfinite(y) & (x >= -0.5) & (x <= nx - 0.5)
    on &= (y >= -0.5) & (y <= ny - 0.5)
    if not on.all():
        log.info(
            "dropped %d of %d detections whose barycentre is off the CCD", (~on).sum(), on.size
        )
    return det, det_mask, objs[on]


def _neighbours(
    xr: np.ndarray, yr: np.ndarray, scale_ref: float, settings: SourceSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the CROWDED sources and of those isolated within the total aperture."""
    tree = cKDTree(np.column_stack([xr, yr]))
    crowd_px = settings.crowding_radius_arcsec / scale_ref
    n_crowd = np.asarray(
        tree.query_ball_point(np.column_stack([xr, yr]), crowd_px, return_length=True)
    )
    tot_px = settings.total_radius_arcsec / scale_ref
    n_tot = np.asarray(tree.query_ball_point(np.column_stack([xr, yr]), tot_px, return_length=True))
    return n_crowd > 1, n_tot == 1


def _aperture_photometry(
    m: _BandMaps, xb: np.ndarray, yb: np.ndarray, r_px: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flux, flux error and flags of one band at its pixel positions (NaN off the CCD)."""
    ny, nx = m.sub.shape
    n = len(xb)
    off = ~((xb >= -0.5) & (xb < nx - 0.5) & (yb >= -0.5) & (yb < ny - 0.5))
    flux = np.full(n, np.nan)
    ferr = np.full(n, np.nan)
    bflag = np.zeros(n, dtype=np.int32)
    on = ~off
    if on.any():
        f, fe, af = sep.sum_circle(
            m.sub, xb[on], yb[on], r_px, err=m.rms, gain=m.image.gain, mask=m.mask, subpix=0
        )
        s, _, _ = sep.sum_circle(m.sat, xb[on], yb[on], r_px, subpix=0)
        flux[on], ferr[on] = f, fe
        sub_flags = np.zeros(on.sum(), dtype=np.int32)
        sub_flags[(af & sep.APER_TRUNC) != 0] |= FLAG_EDGE
        sub_flags[(af & (sep.APER_HASMASKED | sep.APER_ALLMASKED)) != 0] |= FLAG_NAN_IN_APERTURE
        sub_flags[s > 0] |= FLAG_SATURATED
        bflag[on] = sub_flags
    bflag[off] |= FLAG_OFF_BAND | FLAG_EDGE
    return flux, ferr, bflag


@dataclass
class _Photometry:
    """Aperture photometry of one CCD, band by band (``bands`` order)."""

    cols: dict[str, np.ndarray]  # x_{band}, y_{band}
    fluxes: dict[str, tuple[np.ndarray, np.ndarray]]  # band -> (flux, error)
    band_flags: dict[str, np.ndarray]
    info: list[dict[str, Any]]  # one metadata record per band


def _measure_bands(
    maps: Mapping[str, _BandMaps], ccd: int, xr, yr, ra, dec, settings: SourceSettings
) -> _Photometry:
    """Each band measured at the pixel position of the same sky position in its own WCS."""
    ref = settings.bands[0]
    phot = _Photometry(cols={}, fluxes={}, band_flags={}, info=[])
    for band in settings.bands:
        m = maps[band]
        img = m.image
        ny, nx = m.sub.shape
        if band == ref:
            xb, yb = xr, yr
        else:
            xb, yb = img.wcs.world_to_pixel_values(ra, dec)
            xb, yb = np.asarray(xb, dtype=np.float64), np.asarray(yb, dtype=np.float64)
        phot.cols[f"x_{band}"], phot.cols[f"y_{band}"] = xb, yb
        scale = pixel_scale_arcsec(img.wcs)
        r_px = settings.aperture_radius_arcsec / scale
        flux, ferr, phot.band_flags[band] = _aperture_photometry(m, xb, yb, r_px)
        phot.fluxes[band] = (flux, ferr)
        phot.info.append(
            {
                "ccd": int(ccd),
                "band": band,
                "hdu": int(img.ref.hdu),
                "file": str(img.path),
                "zero_point": float(img.zero_point),
                "pixel_scale_arcsec": scale,
                "aperture_radius_px": r_px,
                "shape": [int(ny), int(nx)],
            }
        )
    return phot


def _magnitudes(
    maps: Mapping[str, _BandMaps],
    phot: _Photometry,
    flags: np.ndarray,
    isolated: np.ndarray,
    ccd: int,
    settings: SourceSettings,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """AB magnitudes and errors per band, aperture-corrected; updates ``flags`` in place."""
    any_flag = np.zeros(len(flags), dtype=np.int32)
    for bflag in phot.band_flags.values():
        any_flag |= bflag
    flags |= any_flag
    clean = (flags & ~FLAG_BLENDED) == 0
    mags: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for band, rec in zip(settings.bands, phot.info, strict=True):
        m = maps[band]
        flux, ferr = phot.fluxes[band]
        corr, how, nstars = _aperture_correction(
            m,
            phot.cols[f"x_{band}"],
            phot.cols[f"y_{band}"],
            flux,
            ferr,
            clean & (phot.band_flags[band] == 0),
            isolated,
            rec["aperture_radius_px"],
            rec["pixel_scale_arcsec"],
            settings,
        )
        if not np.isfinite(corr):
            warnings.warn(
                f"{m.image.path}[{m.image.ref.hdu}] (CCD {ccd}, band {band}): only {nstars} "
                "isolated bright stars, aperture correction set to 0 (flag NO_APCORR)",
                ApertureCorrectionWarning,
                stacklevel=4,  # the caller of _measure_ccd's caller, as from _measure_ccd
            )
            corr = 0.0
            flags |= FLAG_NO_APCORR
        rec.update(aperture_correction=corr, apcorr_method=how, apcorr_stars=nstars)
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = m.image.zero_point - 2.5 * np.log10(flux) + corr
            emag = _MAG_ERR * ferr / flux
        bad = ~(flux > 0)
        mag[bad] = np.nan
        emag[bad] = np.nan
        flags[bad] |= FLAG_BAD_FLUX
        mags[band] = (mag, emag)
    return mags


def _measure_ccd(
    images: Mapping[str, CCDImage], settings: SourceSettings, field: int
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Detect and measure the sources of one CCD in every band (steps 1-6 of the module doc).

    Returns the CCD's sources (with the ``_edge_px`` column used to resolve
    duplicates) and one metadata record per band; both empty when a band has
    no valid pixel (:class:`EmptyCCDWarning`) or nothing is detected.
    """
    bands = settings.bands
    ref = bands[0]
    maps = _ccd_band_maps(images, settings)
    if maps is None:
        return _empty_frame(bands), []
    det, det_mask, objs = _detect(maps, ref, settings)
    ccd = images[ref].ref.ccd
    if len(objs) == 0:
        return _empty_frame(bands), []
    xr, yr = _windowed_positions(det, det_mask, objs)
    ref_img = images[ref]
    ra, dec = ref_img.wcs.pixel_to_world_values(xr, yr)
    ra = np.mod(np.asarray(ra, dtype=np.float64), 360.0)
    dec = np.asarray(dec, dtype=np.float64)
    n = len(objs)
    flags = np.zeros(n, dtype=np.int32)
    flags[(objs["flag"] & sep.OBJ_MERGED) != 0] |= FLAG_BLENDED
    crowded, isolated = _neighbours(xr, yr, pixel_scale_arcsec(ref_img.wcs), settings)
    flags[crowded] |= FLAG_CROWDED
    phot = _measure_bands(maps, ccd, xr, yr, ra, dec, settings)
    mags = _magnitudes(maps, phot, flags, isolated, ccd, settings)
    ny, nx = ref_img.data.shape
    frame = pd.DataFrame(
        {
            "source_id": make_source_id(field, np.full(n, ccd), xr, yr),
            "field": np.full(n, field, dtype=np.int32),
            "ccd": np.full(n, ccd, dtype=np.int16),
            "ra": ra,
            "dec": dec,
            **phot.cols,
            **{f"{b}mag": mags[b][0] for b in bands},
            **{f"e_{b}mag": mags[b][1] for b in bands},
            "flags": flags,
            "_edge_px": np.minimum.reduce([xr, yr, nx - 1 - xr, ny - 1 - yr]),
        }
    )
    return frame, phot.info


def _empty_frame(bands: Sequence[str]) -> pd.DataFrame:
    schema = sources_schema(bands)
    frame = schema.empty_table().to_pandas()
    frame["_edge_px"] = np.zeros(0)
    return frame


def _resolve_duplicates(frame: pd.DataFrame, radius_arcsec: float) -> pd.DataFrame:
    """Drop the worse of two detections on different CCDs within ``radius_arcsec``."""
    if len(frame) < 2 or frame["ccd"].nunique() < 2:
        return frame
    ra = np.deg2rad(frame["ra"].to_numpy())
    dec = np.deg2rad(frame["dec"].to_numpy())
    xyz = np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    chord = 2.0 * np.sin(np.deg2rad(radius_arcsec / 3600.0) / 2.0)
    pairs = cKDTree(xyz).query_pairs(chord, output_type="ndarray")
    if len(pairs) == 0:
        return frame
    ccd = frame["ccd"].to_numpy()
    pairs = pairs[ccd[pairs[:, 0]] != ccd[pairs[:, 1]]]
    if len(pairs) == 0:
        return frame
    nflag = np.array([bin(v).count("1") for v in range(256)])[frame["flags"].to_numpy() & 255]
    edge = frame["_edge_px"].to_numpy()
    a, b = pairs[:, 0], pairs[:, 1]
    a_worse = (nflag[a] > nflag[b]) | ((nflag[a] == nflag[b]) & (edge[a] < edge[b]))
    drop = np.where(a_worse, a, b)
    keep = np.ones(len(frame), dtype=bool)
    keep[drop] = False
    return frame[keep]


def _dedupe_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Two detections in the same quarter pixel are one source: keep the first."""
    dup = frame["source_id"].duplicated(keep="first")
    if dup.any():
        log.info("dropping %d detections sharing a quarter-pixel position", int(dup.sum()))
    return frame[~dup.to_numpy()]


# --------------------------------------------------------------------------- catalogue input


def _read_casu_columns(path: Path) -> pd.DataFrame:
    """Read a CASU catalogue file; its columns renamed to :data:`CASU_COLUMNS` (any case)."""
    suffix = "".join(path.suffixes).lower()
    try:
        if suffix.endswith(".parquet"):
            raw = pd.read_parquet(path)
        else:
            from astropy.table import Table

            fmt = "fits" if suffix.endswith((".fits", ".fit", ".fits.gz")) else "ascii.basic"
            raw = Table.read(path, format=fmt).to_pandas()
    except (OSError, ValueError) as exc:
        msg = f"cannot read CASU catalogue {path}: {exc}"
        raise ValueError(msg) from exc
    lower = {str(c).lower(): c for c in raw.columns}
    missing = [c for c in CASU_COLUMNS if c.lower() not in lower]
    if missing:
        msg = f"CASU catalogue {path}: missing column(s) {', '.join(missing)}"
        raise ValueError(msg)
    return raw.rename(columns={lower[c.lower()]: c for c in CASU_COLUMNS})


def _casu_photometry(cat: pd.DataFrame, flags: np.ndarray) -> dict[str, np.ndarray]:
    """0-based positions and magnitudes of bands g, i; sets BAD_FLUX/SATURATED in ``flags``."""
    out: dict[str, Any] = {}
    for band, (xc, yc, mc, ec, cc) in {
        "g": ("xg", "yg", "g", "dg", "ig"),
        "i": ("xi", "yi", "i", "di", "ii"),
    }.items():
        out[f"x_{band}"] = cat[xc].to_numpy(dtype=np.float64) - 1.0
        out[f"y_{band}"] = cat[yc].to_numpy(dtype=np.float64) - 1.0
        mag = cat[mc].to_numpy(dtype=np.float64)
        err = cat[ec].to_numpy(dtype=np.float64)
        bad = ~((mag > 0) & (mag < 40))
        mag = np.where(bad, np.nan, mag)
        err = np.where(bad, np.nan, err)
        flags[bad] |= FLAG_BAD_FLUX
        flags[cat[cc].to_numpy() == -9] |= FLAG_SATURATED
        out[f"{band}mag"], out[f"e_{band}mag"] = mag, err
    return out


def read_casu_catalogue(path: str | os.PathLike, *, field: int) -> pd.DataFrame:
    """Convert a PAndAS CASU band-merged catalogue to a sources table (bands g, i).

    Parameters
    ----------
    path : str or path-like
        Parquet, FITS table or whitespace-separated text with a header line,
        columns :data:`CASU_COLUMNS` (``RA``/``Dec`` in degrees, ``x``/``y``
        1-based FITS pixels, magnitudes AB, morphology classes ``ig``/``ii``
        with -9 = saturated).
    field : int
        Field ID; rows whose integer ``field`` differs are dropped.

    Returns
    -------
    pandas.DataFrame
        Columns of :func:`sources_schema` for bands ``("g", "i")``; pixel
        positions converted to 0-based; magnitudes outside 0..40 or NaN
        become NaN with ``BAD_FLUX``; class -9 sets ``SATURATED``.

    Raises
    ------
    ValueError
        If a required column is missing (named) or the file cannot be read.
    """
    path = Path(path)
    cat = _read_casu_columns(path)
    fld = pd.to_numeric(cat["field"], errors="coerce")
    if fld.notna().all():
        cat = cat[fld.to_numpy() == field]
    n = len(cat)
    flags = np.zeros(n, dtype=np.int32)
    out = _casu_photometry(cat, flags)
    ccd = cat["iccd"].to_numpy(dtype=np.int64)
    ra = np.mod(cat["RA"].to_numpy(dtype=np.float64), 360.0)
    dec = cat["Dec"].to_numpy(dtype=np.float64)
    frame = pd.DataFrame(
        {
            "source_id": make_source_id(field, ccd, out["x_g"], out["y_g"]),
            "field": np.full(n, field, dtype=np.int32),
            "ccd": ccd.astype(np.int16),
            "ra": ra,
            "dec": dec,
            "x_g": out["x_g"],
            "y_g": out["y_g"],
            "x_i": out["x_i"],
            "y_i": out["y_i"],
            "gmag": out["gmag"],
            "e_gmag": out["e_gmag"],
            "imag": out["imag"],
            "e_imag": out["e_imag"],
            "flags": flags,
        }
    )
    return frame


# --------------------------------------------------------------------------- driver


def _pair_ccds(
    images: Mapping[str, str | os.PathLike], bands: Sequence[str], field: int | None = None
) -> list[dict[str, CCDRef]]:
    per_band = {
        band: {ref.ccd: ref for ref in list_ccds(images[band], band=band, field=field)}
        for band in bands
    }
    ref_band = bands[0]
    for band in bands[1:]:
        only_ref = sorted(set(per_band[ref_band]) - set(per_band[band]))
        only_band = sorted(set(per_band[band]) - set(per_band[ref_band]))
        if only_ref or only_band:
            msg = (
                f"the band images of field {field} hold different CCDs: "
                f"{images[ref_band]} (band {ref_band}) has {len(per_band[ref_band])}, "
                f"{images[band]} (band {band}) has {len(per_band[band])}; "
                f"CCDs only in band {ref_band}: {only_ref}, only in band {band}: {only_band}"
            )
            raise ValueError(msg)
    return [{b: per_band[b][ccd] for b in bands} for ccd in sorted(per_band[ref_band])]


def _measure_pair(
    images: Mapping[str, str | os.PathLike],
    pair: Mapping[str, CCDRef],
    settings: SourceSettings,
    field: int,
) -> tuple[pd.DataFrame, list[dict[str, Any]], list[warnings.WarningMessage]]:
    """Read one CCD in every band and measure it; also return the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ccd_images = {
            b: read_ccd(
                images[b],
                pair[b],
                zero_point=explicit_zero_point(settings.zero_points, b),
                zero_point_keywords=settings.zero_point_keywords,
            )
            for b in settings.bands
        }
        frame, info = _measure_ccd(ccd_images, settings, field)
    return frame, info, list(caught)


def _map_ccds(
    images: Mapping[str, str | os.PathLike],
    pairs: Sequence[Mapping[str, CCDRef]],
    settings: SourceSettings,
    field: int,
    threads: int,
) -> Iterator[tuple[pd.DataFrame, list[dict[str, Any]]]]:
    """Measure the CCDs in order, ``threads`` worker processes at once (1: in this process).

    The warnings of each CCD are raised again here, in CCD order.
    """
    jobs = [(images, pair, settings, field) for pair in pairs]  # each worker reads its CCD
    pool = None
    if threads <= 1 or len(pairs) <= 1:
        results = (_measure_pair(*job) for job in jobs)
    else:
        # fork: "spawn" and "forkserver" import the parent's __main__ again in each worker,
        # which for a Snakemake script would rerun the whole stage. The workers are forked
        # before this process has read any image, so they share only its code.
        method = "fork" if "fork" in get_all_start_methods() else "spawn"
        pool = ProcessPoolExecutor(
            max_workers=min(threads, len(pairs)), mp_context=get_context(method)
        )
        results = pool.map(_measure_pair, *zip(*jobs, strict=True))
    try:
        for frame, info, caught in results:
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            yield frame, info
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _sources_meta(field: int, settings: SourceSettings) -> dict[str, Any]:
    """File metadata of a sources table (completed by the method and the writer)."""
    return {
        "stage": "sources",
        "field": int(field),
        "bands": list(settings.bands),
        "method": settings.method,
        "settings": settings.to_dict(),
        "flag_bits": FLAG_BITS,
        "pixel_origin": 0,
        "magnitude_system": "AB",
    }


def _catalogue_frame(
    catalogue: str | os.PathLike | None,
    field: int,
    settings: SourceSettings,
    meta: dict[str, Any],
) -> pd.DataFrame:
    """Sources of a CASU catalogue (``method = "catalogue"``); records it in ``meta``."""
    bands = settings.bands
    if catalogue is None:
        msg = "sources: method 'catalogue' needs a catalogue path"
        raise ValueError(msg)
    if tuple(bands) != ("g", "i"):
        msg = f"sources: the CASU catalogue layout holds bands g, i; config bands are {bands}"
        raise ValueError(msg)
    frame = read_casu_catalogue(catalogue, field=field)
    frame["_edge_px"] = np.zeros(len(frame))
    meta["catalogue"] = str(catalogue)
    meta["ccds"] = []
    return frame


def _detected_frame(
    images: Mapping[str, str | os.PathLike],
    field: int,
    settings: SourceSettings,
    threads: int,
    meta: dict[str, Any],
) -> pd.DataFrame:
    """Sources detected CCD by CCD (``method = "detect"``); the CCD records go to ``meta``."""
    bands = settings.bands
    missing = [b for b in bands if b not in images]
    if missing:
        msg = f"sources: no image for band(s) {', '.join(missing)} of field {field}"
        raise ValueError(msg)
    frames: list[pd.DataFrame] = []
    infos: list[dict[str, Any]] = []
    for pair, (frame_ccd, info) in zip(
        pairs := _pair_ccds(images, bands, field),
        _map_ccds(images, pairs, settings, field, threads),
        strict=True,
    ):
        log.info("field %d CCD %d: %d sources", field, pair[bands[0]].ccd, len(frame_ccd))
        frames.append(frame_ccd)
        infos.extend(info)
    nonempty = [f for f in frames if len(f)]
    frame = pd.concat(nonempty, ignore_index=True) if nonempty else _empty_frame(bands)
    meta["ccds"] = infos
    return frame


def _final_frame(frame: pd.DataFrame, settings: SourceSettings) -> pd.DataFrame:
    """Sorted by ``source_id``, duplicates resolved, ``rproj_kpc`` added, schema columns."""
    frame = frame.sort_values("source_id", kind="stable").reset_index(drop=True)
    frame = _dedupe_ids(frame)
    frame = _resolve_duplicates(frame, settings.duplicate_radius_arcsec)
    frame = frame.drop(columns="_edge_px")
    frame["rproj_kpc"] = (
        projected_radius_kpc(frame["ra"].to_numpy(), frame["dec"].to_numpy())
        if len(frame)
        else np.zeros(0)
    )
    schema = sources_schema(settings.bands)
    return frame[schema.names].reset_index(drop=True)


def build_sources(
    images: Mapping[str, str | os.PathLike],
    *,
    field: int,
    out: str | os.PathLike,
    settings: SourceSettings,
    catalogue: str | os.PathLike | None = None,
    threads: int = 1,
) -> pd.DataFrame:
    """Build the source list of one field and write it to Parquet atomically.

    Parameters
    ----------
    images : mapping of str to path
        band -> multi-extension FITS of the field; must hold every band of
        ``settings.bands`` (not read in catalogue mode).
    field : int
        Field ID (encoded in ``source_id``).
    out : str or path-like
        Output Parquet path (written via a temporary file and rename).
    settings : SourceSettings
        Stage settings.
    catalogue : str or path-like, optional
        CASU band-merged catalogue; required when ``settings.method ==
        "catalogue"``.
    threads : int
        CCDs measured at once, each in a worker process of its own (sep holds
        the GIL, so threads would not run in parallel); memory grows by about
        one CCD's working set per worker. The result does not depend on it.

    Returns
    -------
    pandas.DataFrame
        The table written (sorted by ``source_id``), possibly empty.

    Raises
    ------
    ValueError
        Missing band, WCS or zero point (naming file and HDU), bad catalogue.

    Warns
    -----
    EmptyCCDWarning
        For a CCD whose pixels are all NaN.
    ApertureCorrectionWarning
        When no aperture correction can be measured on a CCD.
    """
    meta = _sources_meta(field, settings)
    if settings.method == "catalogue":
        frame = _catalogue_frame(catalogue, field, settings, meta)
    else:
        frame = _detected_frame(images, field, settings, threads, meta)
    frame = _final_frame(frame, settings)
    schema = sources_schema(settings.bands)
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    meta["n_sources"] = int(len(frame))
    write_parquet(table, out, metadata=meta)
    return frame
