"""The images an inspector looks at: stamps and context cuts, rendered to PNG.

* **Stamps** come from ``results/stamps/{field}.parquet`` (docs/data-model.md):
  only the candidates' rows are read (a pyarrow filter on ``source_id``) and
  kept in memory (2,000 candidates of 2 x 64 x 64 float32: 66 MB).
* **Context cuts** (about 30") are cut from the field images
  ``resources/images/{field}/{band}.fits`` with astropy's
  :class:`~astropy.nddata.Cutout2D` around the candidate's sky position, in
  the CCD HDU whose ``CCDNUM`` is the candidate's ``ccd`` (else the first
  that contains it); the images are opened memory-mapped, once. The cut's
  median (the sky) is subtracted and it is scaled to the AB zero point 30
  (``MAGZPT``), as the stamps are.
* **Stretches** (astropy.visualization): ``asinh`` (AsinhStretch over the
  99.5 % interval), ``zscale`` (ZScaleInterval, linear) and ``linear``
  (min-max). The colour composite is :func:`astropy.visualization.make_rgb`
  with i, (g + i) / 2, g as red, green, blue and one interval for the three
  channels, so colours are comparable between candidates.

PNGs are written by matplotlib (``imsave``), north up (origin lower).
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.utils.exceptions import AstropyWarning
from astropy.visualization import (
    AsinhStretch,
    ImageNormalize,
    LinearStretch,
    ManualInterval,
    MinMaxInterval,
    PercentileInterval,
    ZScaleInterval,
    make_rgb,
)
from astropy.wcs import WCS
from matplotlib.image import imsave

from pandas_clusters.core.io import read_parquet_metadata

__all__ = ["KINDS", "STRETCHES", "ContextImages", "load_stamps", "render_png"]

#: Image kinds served per candidate.
KINDS: tuple[str, ...] = ("g", "i", "rgb", "context")
#: Stretches the inspector switches between.
STRETCHES: tuple[str, ...] = ("asinh", "zscale", "linear")


def _interval(stretch: str):
    if stretch == "asinh":
        return PercentileInterval(99.5), AsinhStretch(0.1)
    if stretch == "zscale":
        return ZScaleInterval(), LinearStretch()
    if stretch == "linear":
        return MinMaxInterval(), LinearStretch()
    msg = f"stretch must be one of {list(STRETCHES)}, got {stretch!r}"
    raise ValueError(msg)


def _finite(image: np.ndarray) -> np.ndarray:
    """The image with NaN set to its finite median (0 when none is finite)."""
    good = np.isfinite(image)
    fill = float(np.median(image[good])) if good.any() else 0.0
    return np.where(good, image, fill).astype(np.float32)


def render_png(bands: Mapping[str, np.ndarray], kind: str, stretch: str) -> bytes:
    """PNG of one band (``kind`` ``"g"`` or ``"i"``) or of the g/i colour composite."""
    interval, stretcher = _interval(stretch)
    buf = io.BytesIO()
    if kind in ("g", "i"):
        image = _finite(bands[kind])
        norm = ImageNormalize(image, interval=interval, stretch=stretcher, clip=True)
        imsave(
            buf, np.asarray(norm(image)), cmap="gray", vmin=0, vmax=1, origin="lower", format="png"
        )
    elif kind == "rgb":
        g, i = _finite(bands["g"]), _finite(bands["i"])
        lo, hi = interval.get_limits(np.concatenate([g.ravel(), i.ravel()]))
        if not hi > lo:
            hi = lo + 1.0
        rgb = make_rgb(i, (g + i) / 2, g, interval=ManualInterval(lo, hi), stretch=stretcher)
        imsave(buf, rgb, origin="lower", format="png")
    else:
        msg = f"image kind must be 'g', 'i' or 'rgb', got {kind!r}"
        raise ValueError(msg)
    return buf.getvalue()


def load_stamps(
    candidates: pd.DataFrame, template: str, bands: Sequence[str] = ("g", "i")
) -> dict[int, dict[str, np.ndarray]]:
    """The stamps of the candidates: source_id -> {band: (S, S) float32 array}.

    Raises
    ------
    FileNotFoundError
        A field's stamps file is missing.
    ValueError
        A file lacks one of ``bands``, or a candidate has no stamp.
    """
    out: dict[int, dict[str, np.ndarray]] = {}
    for field, group in candidates.groupby("field", sort=True):
        path = Path(template.format(field=int(field)))
        if not path.is_file():
            msg = f"stamps file {path} not found (field {int(field)} of the candidates)"
            raise FileNotFoundError(msg)
        meta = read_parquet_metadata(path)
        have = list(meta.get("bands", []))
        missing = [b for b in bands if b not in have]
        if missing:
            msg = f"stamps file {path}: no band(s) {missing} (it has {have})"
            raise ValueError(msg)
        ids = group["source_id"].astype(np.int64).tolist()
        table = pq.read_table(
            path, columns=["source_id", "stamp"], filters=[("source_id", "in", ids)]
        )
        size = int(meta["size"])
        col = table.column("stamp").combine_chunks()
        values = col.values.to_numpy(zero_copy_only=False).reshape(len(col), len(have), size, size)
        for sid, stamp in zip(table.column("source_id").to_numpy(), values, strict=True):
            out[int(sid)] = {b: stamp[have.index(b)] for b in bands}
        absent = sorted(set(ids) - set(out))
        if absent:
            msg = f"stamps file {path}: no stamp for candidate source_id {absent[0]}"
            raise ValueError(msg)
    return out


class ContextImages:
    """Cut ~30" around a candidate from the field images (opened lazily, memory-mapped).

    Parameters
    ----------
    template : str
        Image path with ``{field}`` and ``{band}``.
    size_arcsec : float
        Side of the cut.
    """

    def __init__(self, template: str, size_arcsec: float) -> None:
        self.template = template
        self.size = size_arcsec * u.arcsec
        self._open: dict[tuple[int, str], list | None] = {}
        self._files: list[fits.HDUList] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the images opened so far."""
        with self._lock:
            for hdul in self._files:
                hdul.close()
            self._files.clear()
            self._open.clear()

    def _hdus(self, field: int, band: str) -> list | None:
        key = (field, band)
        with self._lock:
            if key not in self._open:
                path = Path(self.template.format(field=field, band=band))
                hdul = fits.open(path, memmap=True) if path.is_file() else None
                if hdul is not None:
                    self._files.append(hdul)
                self._open[key] = None if hdul is None else _image_hdus(hdul)
            return self._open[key]

    def cut(
        self, field: int, band: str, ra: float, dec: float, ccd: int | None
    ) -> np.ndarray | None:
        """The cut (NaN off the CCD), or None without an image covering the position."""
        hdus = self._hdus(field, band)
        if not hdus:
            return None
        pos = SkyCoord(ra * u.deg, dec * u.deg)
        ordered = sorted(hdus, key=lambda h: h[0] != ccd)
        for _, hdu, wcs in ordered:
            x, y = wcs.world_to_pixel(pos)
            ny, nx = hdu.shape
            if -0.5 <= x < nx - 0.5 and -0.5 <= y < ny - 0.5:
                with self._lock:  # one reader of the memory-mapped file at a time
                    cut = Cutout2D(
                        hdu.data, pos, self.size, wcs=wcs, mode="partial", fill_value=np.nan
                    )
                    data = np.array(cut.data, dtype=np.float32)
                return _calibrated(data, hdu.header)
        return None


def _calibrated(cut: np.ndarray, header: fits.Header) -> np.ndarray:
    """The cut minus its median (the sky, which the stacks keep), on the AB zero point 30.

    Stamps are sky-subtracted and on a common zero point; doing the same to
    the context cut keeps the colour composite's colours comparable.
    """
    good = np.isfinite(cut)
    sky = float(np.median(cut[good])) if good.any() else 0.0
    zero_point = header.get("MAGZPT")
    scale = 10 ** (0.4 * (30.0 - float(zero_point))) if zero_point is not None else 1.0
    return ((cut - sky) * scale).astype(np.float32)


def _image_hdus(hdul: fits.HDUList) -> list:
    """``(ccd number, HDU, celestial WCS)`` of each 2-D image HDU of an open FITS file."""
    out = []
    for index, hdu in enumerate(hdul):
        if isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU) and hdu.header.get("NAXIS", 0) == 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AstropyWarning)
                wcs = WCS(hdu.header).celestial
            if wcs.has_celestial:
                ccd = int(hdu.header.get("CCDNUM", hdu.header.get("EXTVER", index)))
                out.append((ccd, hdu, wcs))
    return out
