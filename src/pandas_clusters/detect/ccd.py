"""Private helpers shared by :mod:`pandas_clusters.detect.sources` and :mod:`pandas_clusters.detect.stamps`.

Reading one CCD of a multi-extension FITS image (validated WCS, AB zero
point, gain, saturation level) and the analytic
Moffat aperture correction. Nothing here is public API.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

__all__ = [
    "PER_SECOND_ZERO_POINT_KEYWORDS",
    "CCDImage",
    "CCDRef",
    "check_header_identity",
    "explicit_zero_point",
    "header_float",
    "list_ccds",
    "moffat_aperture_correction",
    "pixel_scale_arcsec",
    "read_ccd",
    "read_wcs",
    "resolve_zero_point",
]

#: Zero-point keywords that refer to one second of exposure (CFHT Elixir
#: convention ``mag = PHOT_C + 2.5 log10(EXPTIME) - 2.5 log10(DN)``); the
#: exposure time ``EXPTIME`` is added when such a keyword is used.
PER_SECOND_ZERO_POINT_KEYWORDS = frozenset({"PHOT_C"})


@dataclass(frozen=True)
class CCDRef:
    """Where one CCD lives in a FITS file.

    Attributes
    ----------
    hdu : int
        HDU index in the file.
    key : str
        Name used to pair the same CCD across bands (``EXTNAME``, or the HDU
        index as text when the HDU has no name).
    ccd : int
        CCD number (``CCDNUM``, else ``EXTVER``, else the HDU index).
    """

    hdu: int
    key: str
    ccd: int


@dataclass
class CCDImage:
    """One CCD of one band, read and validated.

    Attributes
    ----------
    path : pathlib.Path
        File it came from.
    ref : CCDRef
        Its location in the file.
    data : numpy.ndarray
        float32 pixels (ADU), shape ``(ny, nx)``, C-contiguous native order.
    wcs : astropy.wcs.WCS
        Celestial WCS (2 axes).
    zero_point : float
        AB zero point: ``mag = zero_point - 2.5 log10(flux_ADU)``.
    gain : float or None
        e-/ADU, ``None`` when the header has no usable ``GAIN``.
    saturate : float
        Saturation level, ADU (``inf`` when unknown).
    header : astropy.io.fits.Header
        The HDU header.
    """

    path: Path
    ref: CCDRef
    data: np.ndarray
    wcs: WCS
    zero_point: float
    gain: float | None
    saturate: float
    header: fits.Header


def _hdu_label(path: str | os.PathLike, hdu: int, header: fits.Header | None = None) -> str:
    name = header.get("EXTNAME") if header is not None else None
    return f"{path}[{hdu}]" + (f" (EXTNAME={name!r})" if name else "")


#: Leading bytes of the compressed files astropy opens as FITS (gzip, bzip2).
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh")

#: Band letters a ``FILTER`` keyword may start with (MegaCam ``g.MP9401``, ``i.MP9702``, ...).
_FILTER_BANDS = frozenset("ugrizy")


def _header_band(header: fits.Header) -> str | None:
    """The band a header claims: ``BAND``, else the letter before the dot of ``FILTER``."""
    band = header.get("BAND")
    if band is not None and str(band).strip():
        return str(band).strip().split(".")[0].strip()
    filt = header.get("FILTER")
    if filt is None:
        return None
    letter = str(filt).strip().split(".")[0].strip().lower()
    return letter if letter in _FILTER_BANDS else None


def check_header_identity(
    header: fits.Header, *, label: str, band: str | None = None, field: int | None = None
) -> None:
    """Refuse an HDU whose ``BAND``/``FILTER`` or ``FIELD`` keyword contradicts what was asked.

    Keywords the header does not carry are not judged, nor a ``FIELD`` that is not an
    integer, nor a ``FILTER`` that does not start with a band letter.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Primary or extension header.
    label : str
        File and HDU, for the message.
    band : str, optional
        Band the file was given as.
    field : int, optional
        Field the file was given as.

    Raises
    ------
    ValueError
        Naming the file, HDU, keyword, the header's value and the asked one.
    """
    claimed = _header_band(header) if band is not None else None
    if claimed is not None and claimed.lower() != str(band).lower():
        key = "BAND" if header.get("BAND") is not None else "FILTER"
        said = f"band {claimed!r}" if key == "BAND" else f"{header.get(key)!r}, band {claimed!r}"
        msg = (
            f"{label}: header {key} says {said}, but the file was given as band {band!r}; "
            "are the band images swapped?"
        )
        raise ValueError(msg)
    value = header.get("FIELD") if field is not None else None
    try:
        same = value is None or int(value) == int(field)
    except (TypeError, ValueError):
        same = True  # a FIELD that is not a field ID (text) is not judged
    if not same:
        msg = (
            f"{label}: header FIELD = {value!r}, but the file was given as field {field}; "
            "is it another field's image?"
        )
        raise ValueError(msg)


def _check_extension_count(path: Path, hdul: fits.HDUList) -> None:
    """Compare the extensions present with the primary header's ``NEXTEND`` (when it has one)."""
    nextend = hdul[0].header.get("NEXTEND")
    if nextend is None:
        return
    present = len(hdul) - 1
    if int(nextend) != present:
        msg = (
            f"FITS file {path}: the primary header says NEXTEND = {int(nextend)} but the file "
            f"holds {present} extension(s): it is truncated or incomplete "
            "(delete it and download it again)"
        )
        raise ValueError(msg)


def _check_complete(path: Path, hdul: fits.HDUList) -> None:
    """Every HDU's data must lie inside the file (a cut file is named with the HDU).

    Only for plain files: the offsets of a gzip/bzip2 file are those of its
    decompressed stream, and a tile-compressed HDU's header describes the image, not
    the bytes stored (astropy's reader finds a cut there).
    """
    size = path.stat().st_size
    for index, hdu in enumerate(hdul):
        if isinstance(hdu, fits.CompImageHDU):
            continue
        head = hdu.header
        naxes = [int(head.get(f"NAXIS{k}", 0)) for k in range(1, int(head.get("NAXIS", 0)) + 1)]
        n = math.prod(naxes) if naxes else 0
        nbytes = abs(int(head.get("BITPIX", 8))) // 8 * int(head.get("GCOUNT", 1))
        nbytes *= int(head.get("PCOUNT", 0)) + n
        end = hdul.fileinfo(index)["datLoc"] + nbytes
        if end > size:
            msg = (
                f"{_hdu_label(path, index, head)}: truncated: its data end at byte {end} but "
                f"the file holds {size} bytes (delete it and download it again)"
            )
            raise ValueError(msg)


def list_ccds(
    path: str | os.PathLike, *, band: str | None = None, field: int | None = None
) -> list[CCDRef]:
    """List the image HDUs (2-D data) of a FITS file, ordered by HDU index.

    Parameters
    ----------
    path : str or path-like
        Multi-extension FITS (a single image in the primary HDU also works).
    band : str, optional
        Band the file stands for: a ``BAND`` (or MegaCam ``FILTER``) keyword in the
        primary or an image header that says otherwise is an error.
    field : int, optional
        Field the file stands for: a ``FIELD`` keyword that says otherwise is an error.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file cannot be read as FITS, has no 2-D image HDU, holds fewer or
        more extensions than its ``NEXTEND`` says, or its headers name another
        band or field.
    """
    path = Path(path)
    if not path.exists():
        msg = f"image file {path} not found"
        raise FileNotFoundError(msg)
    with open(path, "rb") as fh:
        start = fh.read(80)
    if not start:
        msg = f"image file {path} is empty"
        raise ValueError(msg)
    if not start.startswith((b"SIMPLE  =", *_COMPRESSED_MAGIC)):
        shown = start[:40].decode("ascii", "replace").strip()
        msg = (
            f"image file {path} is not a FITS file: it starts with {shown!r} "
            "(an HTML page or an error message saved under a .fits name?)"
        )
        raise ValueError(msg)
    refs: list[CCDRef] = []
    try:
        with warnings.catch_warnings(), fits.open(path, memmap=True) as hdul:
            # truncation is judged (and named) by _check_complete, not warned about
            warnings.filterwarnings("ignore", message="File may have been truncated")
            if not start.startswith(_COMPRESSED_MAGIC):
                _check_complete(path, hdul)
            _check_extension_count(path, hdul)
            for index, hdu in enumerate(hdul):
                head = hdu.header
                check_header_identity(
                    head, label=_hdu_label(path, index, head), band=band, field=field
                )
                if not isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU):
                    continue
                if head.get("NAXIS", 0) != 2:
                    continue
                name = str(head.get("EXTNAME", "")).strip()
                ccd = head.get("CCDNUM", head.get("EXTVER", index))
                refs.append(CCDRef(hdu=index, key=name or str(index), ccd=int(ccd)))
    except OSError as exc:
        msg = f"cannot read FITS file {path}: {exc}"
        raise ValueError(msg) from exc
    if not refs:
        msg = f"FITS file {path} has no 2-D image HDU"
        raise ValueError(msg)
    return refs


def header_float(header: fits.Header, key: str, *, label: str) -> float | None:
    """A numeric header keyword as float (``None`` when absent); text is an error naming it."""
    value = header.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        msg = f"{label}: header keyword {key} = {value!r} is not a number"
        raise ValueError(msg) from None


def resolve_zero_point(
    header: fits.Header,
    *,
    label: str,
    explicit: float | None = None,
    keywords: Sequence[str] = ("MAGZPT",),
) -> float:
    """AB zero point of one HDU.

    Parameters
    ----------
    header : astropy.io.fits.Header
        HDU header.
    label : str
        File and HDU, for the error message.
    explicit : float, optional
        Zero point given in the configuration; when set it wins over the header
        (it is the user's explicit statement, e.g. for an image whose header
        carries no calibration).
    keywords : sequence of str
        Header keywords tried in order. Keywords in
        :data:`PER_SECOND_ZERO_POINT_KEYWORDS` get ``2.5 log10(EXPTIME)`` added.

    Returns
    -------
    float
        ``mag = zero_point - 2.5 log10(flux_ADU)``, AB mag.

    Raises
    ------
    ValueError
        If no zero point is found, naming the file/HDU and the keywords tried.
    """
    if explicit is not None:
        return float(explicit)
    for key in keywords:
        value = header_float(header, key, label=label)
        if value is None or not np.isfinite(value):
            continue
        zp = value
        if key.upper() in PER_SECOND_ZERO_POINT_KEYWORDS:
            exptime = header_float(header, "EXPTIME", label=label)
            if exptime is None or exptime <= 0:
                msg = f"{label}: zero point {key} is per second but EXPTIME is missing or <= 0"
                raise ValueError(msg)
            zp += 2.5 * math.log10(float(exptime))
        return zp
    msg = (
        f"{label}: no photometric zero point (looked for header keywords "
        f"{', '.join(keywords) or 'none'}); give one explicitly in the config "
        "(zero_points: {band: value})"
    )
    raise ValueError(msg)


def _celestial_wcs(header: fits.Header, label: str) -> WCS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, naxis=2)
        except Exception as exc:  # astropy raises many kinds for broken WCS
            msg = f"{label}: invalid WCS: {exc}"
            raise ValueError(msg) from exc
    if not wcs.has_celestial or wcs.celestial.naxis != 2:
        msg = f"{label}: no celestial WCS (CTYPE1/2 = {header.get('CTYPE1')!r}/{header.get('CTYPE2')!r})"
        raise ValueError(msg)
    return wcs.celestial


def read_ccd(
    path: str | os.PathLike,
    ref: CCDRef,
    *,
    zero_point: float | None = None,
    zero_point_keywords: Sequence[str] = ("MAGZPT",),
) -> CCDImage:
    """Read and validate one CCD HDU.

    Parameters
    ----------
    path : str or path-like
        FITS file.
    ref : CCDRef
        HDU to read (from :func:`list_ccds`).
    zero_point : float, optional
        Explicit AB zero point (wins over the header).
    zero_point_keywords : sequence of str
        Header keywords tried for the zero point.

    Raises
    ------
    ValueError
        Missing/invalid celestial WCS or zero point, or unreadable data; the
        message names the file and HDU.
    """
    path = Path(path)
    # memmap=False: scaled integer images (BZERO/BSCALE, e.g. raw CFHT) cannot be memory-mapped;
    # HDUs are loaded lazily, so only this HDU's data is read.
    with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
        hdu = hdul[ref.hdu]
        header = hdu.header.copy()
        label = _hdu_label(path, ref.hdu, header)
        wcs = _celestial_wcs(header, label)
        zp = resolve_zero_point(
            header, label=label, explicit=zero_point, keywords=zero_point_keywords
        )
        try:
            data = np.ascontiguousarray(hdu.data, dtype=np.float32)
        except (OSError, TypeError, ValueError) as exc:
            msg = f"{label}: cannot read image data: {exc}"
            raise ValueError(msg) from exc
    if data.ndim != 2:
        msg = f"{label}: image data is not 2-D (shape {data.shape})"
        raise ValueError(msg)
    gain = header_float(header, "GAIN", label=label)
    gain = gain if gain is not None and gain > 0 else None
    saturate = header_float(header, "SATURATE", label=label)
    saturate = saturate if saturate is not None else math.inf
    return CCDImage(
        path=path,
        ref=ref,
        data=data,
        wcs=wcs,
        zero_point=zp,
        gain=gain,
        saturate=saturate,
        header=header,
    )


def read_wcs(path: str | os.PathLike, ref: CCDRef) -> WCS:
    """Celestial WCS of one HDU (error naming file and HDU when absent)."""
    with fits.open(path, memmap=True) as hdul:
        header = hdul[ref.hdu].header
        return _celestial_wcs(header, _hdu_label(path, ref.hdu, header))


def pixel_scale_arcsec(wcs: WCS) -> float:
    """Mean pixel scale of a celestial WCS, arcsec/px."""
    scales = np.abs(proj_plane_pixel_scales(wcs))
    return float(np.sqrt(scales[0] * scales[1]) * 3600.0)


def moffat_aperture_correction(radius_arcsec: float, fwhm_arcsec: float, beta: float) -> float:
    """Magnitude correction from a circular aperture to total flux for a Moffat PSF.

    ``frac(<r) = 1 - (1 + (r/alpha)^2)^(1 - beta)`` with
    ``alpha = FWHM / (2 sqrt(2^(1/beta) - 1))``; returns ``2.5 log10(frac)``
    (negative: add it to the aperture magnitude).
    """
    if beta <= 1 or fwhm_arcsec <= 0:
        msg = f"Moffat aperture correction needs beta > 1 and FWHM > 0, got {beta}, {fwhm_arcsec}"
        raise ValueError(msg)
    alpha = fwhm_arcsec / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))
    frac = 1.0 - (1.0 + (radius_arcsec / alpha) ** 2) ** (1.0 - beta)
    return 2.5 * math.log10(frac)


def explicit_zero_point(zero_points: Mapping[str, float] | None, band: str) -> float | None:
    """The configured zero point of ``band`` or ``None``."""
    if not zero_points:
        return None
    value = zero_points.get(band)
    return None if value is None else float(value)
