"""Resumable, verified download of the survey images over HTTP(S).

One call of :func:`download_image` fetches one field and band:

1. bytes go to ``<output>.part`` beside the output; an interrupted transfer
   (dropped connection, truncated body, timeout, HTTP 408/429/5xx) is
   retried with exponential backoff and resumed from the bytes already
   there with an HTTP ``Range`` request (a server that ignores ``Range`` is
   answered by starting again from byte 0);
2. the complete file is checked against the size the server announced, the
   expected size and checksum when known (config), and must be a FITS file
   whose every image HDU has a celestial WCS and whose data are all there;
3. only then is it renamed onto the output path (atomic on one file
   system), so the output path only ever holds a complete, valid file.

A part file that fails a check is deleted, so the next attempt starts clean.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import requests
import urllib3

from pandas_clusters.acquire._retry import TRANSIENT_STATUS, backoff_delay
from pandas_clusters.core.config import StageSettings

__all__ = [
    "DownloadError",
    "DownloadSettings",
    "InvalidImageError",
    "download_file",
    "download_image",
    "image_url",
    "parse_checksum",
    "validate_fits_image",
]

log = logging.getLogger(__name__)


_CHECKSUM_RE = re.compile(r"^(?P<algo>md5|sha1|sha256|sha512):(?P<hex>[0-9a-fA-F]+)$")
_CONTENT_RANGE_RE = re.compile(r"^bytes\s+(?:(?P<start>\d+)-(?P<end>\d+)|\*)/(?P<total>\d+|\*)$")


class DownloadError(RuntimeError):
    """A file could not be downloaded completely and correctly."""


class InvalidImageError(ValueError):
    """A downloaded file is not a usable FITS image (corrupt, truncated, no celestial WCS)."""


class _Transient(Exception):
    """A failure that a retry (resuming where possible) may cure."""


@dataclass(frozen=True)
class DownloadSettings(StageSettings):
    """Retry, timeout and display settings of the downloader.

    Parameters
    ----------
    retries : int
        Further attempts after a transient failure (0: one attempt only).
    backoff_s : float
        Wait before the first retry, s; doubled at every further retry.
    backoff_max_s : float
        Longest wait between two attempts, s.
    timeout_s : float
        Connect and read timeout of each request, s (a stalled transfer
        fails after this long without data, then resumes).
    chunk_bytes : int
        Size of the blocks written to disk, bytes.
    progress : bool or None
        Show a tqdm progress bar; ``None``: only when stderr is a terminal.
    cert : str or None
        Client certificate (PEM with key, e.g. a CADC proxy certificate) for
        archives that authenticate by certificate; ``None``: none (HTTP
        basic credentials are taken from ``~/.netrc`` by requests).
    """

    _section: ClassVar[str] = "download"
    _runtime: ClassVar[Mapping[str, Any]] = {"chunk_bytes": 1 << 20, "progress": None}

    retries: int
    backoff_s: float
    backoff_max_s: float
    timeout_s: float
    chunk_bytes: int
    progress: bool | None
    cert: str | None

    def delay(self, retry: int) -> float:
        """Wait before retry number ``retry`` (1-based), s."""
        return backoff_delay(retry, backoff_s=self.backoff_s, backoff_max_s=self.backoff_max_s)


def image_url(
    template: str,
    *,
    field: int,
    band: str,
    band_names: Mapping[str, str] | None = None,
) -> str:
    """The URL of one field and band.

    Parameters
    ----------
    template : str
        A :meth:`str.format` template with the placeholders ``{field}`` (an
        int: ``{field:03d}`` pads it), ``{band}`` (the pipeline's band name)
        and ``{filter}`` (the archive's name for the band).
    field : int
        PAndAS field ID.
    band : str
        Band, e.g. ``"g"``.
    band_names : mapping, optional
        Pipeline band -> archive filter name (default: the band itself).

    Returns
    -------
    str
        The URL.
    """
    filt = (band_names or {}).get(band, band)
    try:
        return template.format(field=int(field), band=band, filter=filt)
    except (KeyError, IndexError, ValueError) as exc:
        msg = (
            f"bad image URL template {template!r} (placeholders: {{field}}, {{band}}, "
            f"{{filter}}): {exc}"
        )
        raise ValueError(msg) from exc


def parse_checksum(checksum: str) -> tuple[str, str]:
    """Split ``"md5:<hex>"`` (or sha1/sha256/sha512) into algorithm and lower-case hex digest."""
    match = _CHECKSUM_RE.match(checksum.strip())
    if match is None:
        msg = f"checksum {checksum!r} is not of the form 'md5:<hex>' or 'sha256:<hex>'"
        raise ValueError(msg)
    algo, digest = match["algo"], match["hex"].lower()
    if len(digest) != hashlib.new(algo).digest_size * 2:
        msg = f"checksum {checksum!r}: a {algo} digest has {hashlib.new(algo).digest_size * 2} hex digits"
        raise ValueError(msg)
    return algo, digest


def _file_digest(path: Path, algo: str) -> str:
    digest = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _total_size(response: requests.Response, offset: int) -> int | None:
    """Full size of the remote file from the response headers, bytes (None if unknown)."""
    content_range = response.headers.get("Content-Range")
    if content_range:
        match = _CONTENT_RANGE_RE.match(content_range.strip())
        if match and match["total"] != "*":
            return int(match["total"])
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit():
        return int(length) + (offset if response.status_code == 206 else 0)
    return None


def _progress_bar(settings: DownloadSettings, *, total: int | None, initial: int, desc: str):
    from tqdm.auto import tqdm

    show = settings.progress if settings.progress is not None else sys.stderr.isatty()
    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=not show,
        leave=False,
    )


def _attempt(
    session: requests.Session,
    url: str,
    part: Path,
    *,
    expected_size: int | None,
    settings: DownloadSettings,
    desc: str,
) -> int:
    """One request: append to ``part`` from where it ends. Returns the file's full size."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with session.get(url, headers=headers, stream=True, timeout=settings.timeout_s) as response:
        status = response.status_code
        if status == 416 and offset:
            # Nothing left to send: the part file is complete, or longer than the file.
            total = _total_size(response, 0)
            if total is not None and total == offset:
                return offset
            _unlink(part)
            msg = f"HTTP 416 for a resume at byte {offset} (remote size {total}); restarting"
            raise _Transient(msg)
        if status in TRANSIENT_STATUS:
            msg = f"HTTP {status} {response.reason}"
            raise _Transient(msg)
        if status >= 400:
            msg = f"download of {url} failed: HTTP {status} {response.reason}"
            raise DownloadError(msg)
        if status == 206:
            match = _CONTENT_RANGE_RE.match(response.headers.get("Content-Range", "").strip())
            if match is None or match["start"] is None or int(match["start"]) != offset:
                _unlink(part)
                msg = (
                    f"server answered a resume at byte {offset} with Content-Range "
                    f"{response.headers.get('Content-Range')!r}; restarting"
                )
                raise _Transient(msg)
            mode = "ab"
        else:
            if offset:
                log.info("%s: server ignored the Range request; restarting from byte 0", url)
            offset = 0
            mode = "wb"
        total = _total_size(response, offset)
        if expected_size is not None and total is not None and total != expected_size:
            _unlink(part)
            msg = (
                f"download of {url}: the server's file has {total} bytes, "
                f"expected {expected_size} (config 'sizes'); not downloaded"
            )
            raise DownloadError(msg)
        with (
            open(part, mode) as fh,
            _progress_bar(settings, total=total, initial=offset, desc=desc) as bar,
        ):
            # read1: whatever has arrived (up to a block), so that a dropped
            # connection loses nothing that was received.
            raw = response.raw
            try:
                while block := raw.read1(settings.chunk_bytes, decode_content=False):
                    fh.write(block)
                    bar.update(len(block))
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                fh.flush()
                msg = f"transfer interrupted at byte {fh.tell()}: {exc}"
                raise _Transient(msg) from exc
    received = part.stat().st_size
    if total is not None and received < total:
        msg = f"truncated transfer: {received} of {total} bytes"
        raise _Transient(msg)
    if total is not None and received > total:
        _unlink(part)
        msg = f"received {received} bytes but the server announced {total}; restarting"
        raise _Transient(msg)
    return received


def _open_session(
    session: requests.Session | None, settings: DownloadSettings
) -> tuple[requests.Session, bool]:
    """``session``, or a new one (then ``True``: the caller closes it), with the client cert."""
    own_session = session is None
    if own_session:
        session = requests.Session()
        session.headers["User-Agent"] = "pandas-clusters (+requests)"
    if settings.cert:
        session.cert = settings.cert
    return session, own_session


def _verify_part(
    part: Path,
    size: int,
    *,
    url: str,
    expected_size: int | None,
    algo_digest: tuple[str, str] | None,
    may_restart: bool,
) -> str | None:
    """Check a complete ``part`` file's size and checksum; a bad file is deleted.

    Returns ``None`` when it is good, or (a checksum mismatch when ``may_restart``)
    why the transfer restarts; raises :class:`DownloadError` otherwise.
    """
    if expected_size is not None and size != expected_size:
        _unlink(part)
        msg = f"download of {url}: got {size} bytes, expected {expected_size}"
        raise DownloadError(msg)
    if algo_digest is not None:
        algo, want = algo_digest
        got = _file_digest(part, algo)
        if got != want:
            _unlink(part)
            if may_restart:
                # A resumed transfer may have spliced two versions; one clean retry.
                return f"{algo} mismatch after a resumed transfer; restarting"
            msg = f"download of {url}: {algo} is {got}, expected {want}"
            raise DownloadError(msg)
    return None


def _fetch_with_retries(
    session: requests.Session,
    url: str,
    part: Path,
    final: Path,
    *,
    expected_size: int | None,
    algo_digest: tuple[str, str] | None,
    settings: DownloadSettings,
) -> None:
    """Bring ``part`` to the complete, verified file, retrying transient failures."""
    resumed_mismatch = False
    attempt = 0
    while True:
        resumed = part.exists() and part.stat().st_size > 0
        try:
            size = _attempt(
                session,
                url,
                part,
                expected_size=expected_size,
                settings=settings,
                desc=final.name,
            )
            restart = _verify_part(
                part,
                size,
                url=url,
                expected_size=expected_size,
                algo_digest=algo_digest,
                may_restart=resumed and not resumed_mismatch,
            )
            if restart is not None:
                resumed_mismatch = True
                raise _Transient(restart)
            break
        except (_Transient, requests.ConnectionError, requests.Timeout) as exc:
            attempt += 1
            if attempt > settings.retries:
                msg = (
                    f"download of {url} to {final} failed after {attempt} attempt(s): {exc}; "
                    f"{part.stat().st_size if part.exists() else 0} bytes kept in {part} "
                    "for a later resume"
                )
                raise DownloadError(msg) from exc
            delay = settings.delay(attempt)
            log.warning("%s: %s; retry %d/%d in %.1f s", url, exc, attempt, settings.retries, delay)
            time.sleep(delay)


def _install(part: Path, final: Path, validate) -> None:
    """Rename the downloaded ``part`` to ``final`` once ``validate`` (if given) accepts it."""
    if validate is not None:
        try:
            validate(part)
        except Exception:
            _unlink(part)
            raise
    os.replace(part, final)


def download_file(
    url: str,
    path: str | os.PathLike,
    *,
    expected_size: int | None = None,
    checksum: str | None = None,
    settings: DownloadSettings | None = None,
    session: requests.Session | None = None,
    validate=None,
) -> Path:
    """Download ``url`` to ``path`` with retries, resume and verification.

    Parameters
    ----------
    url : str
        HTTP(S) URL.
    path : str or path-like
        Output path. Bytes accumulate in ``<path>.part`` (kept between calls,
        so that a later call resumes); ``path`` is only ever replaced by a
        complete, verified file.
    expected_size : int, optional
        File size in bytes, if known; a different size is an error.
    checksum : str, optional
        ``"md5:<hex>"``, ``"sha1:<hex>"``, ``"sha256:<hex>"`` or
        ``"sha512:<hex>"``, if known.
    settings : DownloadSettings, optional
        Retries, backoff, timeout, progress bar, client certificate.
    session : requests.Session, optional
        Session to use (default: a new one).
    validate : callable, optional
        ``validate(part_path)`` raising on a bad file (e.g.
        :func:`validate_fits_image`); runs before the rename.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    DownloadError
        On a permanent HTTP error (e.g. 404), a size or checksum mismatch,
        or when the retries are spent; the message names the URL.
    InvalidImageError
        If ``validate`` rejects the file.
    """
    settings = settings or DownloadSettings.from_config()
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    algo_digest = parse_checksum(checksum) if checksum else None
    session, own_session = _open_session(session, settings)
    try:
        _fetch_with_retries(
            session,
            url,
            part,
            final,
            expected_size=expected_size,
            algo_digest=algo_digest,
            settings=settings,
        )
        _install(part, final, validate)
    finally:
        if own_session:
            session.close()
    log.info("%s -> %s (%d bytes)", url, final, final.stat().st_size)
    return final


def validate_fits_image(
    path: str | os.PathLike,
    *,
    label: str | None = None,
    n_images: int | None = None,
    zero_point_keywords: Sequence[str] | None = None,
) -> int:
    """Check that a file is a complete FITS file whose image HDUs all have a celestial WCS.

    A CASU-processed PAndAS stack (``mNNN_g.fit``) is one such file per field
    and band: an empty primary HDU and 36 image extensions, one per MegaCam
    CCD (``n_images=36``).

    Parameters
    ----------
    path : str or path-like
        The file.
    label : str, optional
        How to name the file in messages (default: its path).
    n_images : int, optional
        Number of image HDUs the file must hold (``None``: any number >= 1).
    zero_point_keywords : sequence of str, optional
        Header keywords of which every image HDU's own header must carry at
        least one with a number, e.g. ``["MAGZPT"]`` (the sources stage reads
        the zero point there); ``None``: not checked.

    Returns
    -------
    int
        Number of image HDUs with data.

    Raises
    ------
    InvalidImageError
        If the file is not FITS, is shorter than its headers announce, has a
        failing ``DATASUM``/``CHECKSUM``, holds no image or not ``n_images``
        of them, or an image HDU lacks a two-axis celestial WCS or a zero
        point. The message names file and HDU.
    """
    from astropy.io import fits
    from astropy.wcs import FITSFixedWarning

    path = Path(path)
    name = label or str(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        start = fh.read(9)
    if start != b"SIMPLE  =":
        msg = f"{name} is not a FITS file (starts with {start!r})"
        raise InvalidImageError(msg)
    found = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            warnings.simplefilter("ignore", fits.verify.VerifyWarning)
            # astropy warns of a short file; the data extents are checked below.
            warnings.filterwarnings("ignore", message="File may have been truncated")
            with fits.open(path, memmap=True, lazy_load_hdus=False) as hdul:
                for index in range(len(hdul)):
                    found += _check_hdu(hdul, index, size, name, zero_point_keywords)
    except InvalidImageError:
        raise
    except Exception as exc:  # astropy raises OSError, ValueError, KeyError ... on corrupt files
        msg = f"{name} is not a readable FITS file: {type(exc).__name__}: {exc}"
        raise InvalidImageError(msg) from exc
    if found == 0:
        msg = f"{name} holds no image HDU"
        raise InvalidImageError(msg)
    if n_images is not None and found != n_images:
        msg = f"{name} holds {found} image HDU(s), expected {n_images} (one per CCD)"
        raise InvalidImageError(msg)
    return found


def _check_hdu(hdul, index: int, size: int, name: str, zero_point_keywords) -> bool:
    """Check one HDU (complete, DATASUM, WCS and zero point of an image); True for an image."""
    from astropy.io import fits
    from astropy.wcs import WCS

    hdu = hdul[index]
    info = hdul.fileinfo(index)
    end = info["datLoc"] + info["datSpan"]
    extname = hdu.header.get("EXTNAME", "")
    where = f"{name} HDU {index}" + (f" ({extname})" if extname else "")
    if end > size:
        msg = f"{where}: truncated, data end at byte {end} but the file has {size}"
        raise InvalidImageError(msg)
    if "DATASUM" in hdu.header and hdu.verify_datasum() == 0:
        msg = f"{where}: DATASUM mismatch (corrupt data)"
        raise InvalidImageError(msg)
    if not isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU):
        return False
    if hdu.header.get("NAXIS", 0) < 2:
        return False
    wcs = WCS(hdu.header, hdul)
    if not wcs.has_celestial or wcs.celestial.naxis != 2:
        msg = f"{where}: no celestial WCS (CTYPE {list(wcs.wcs.ctype)})"
        raise InvalidImageError(msg)
    _check_zero_point(hdu.header, zero_point_keywords, where)
    return True


def _check_zero_point(header, keywords: Sequence[str] | None, where: str) -> None:
    """Raise naming the HDU when its own header has none of the zero-point keywords.

    The HDU's own header, as the sources and stamps stages read it
    (:func:`pandas_clusters.detect.ccd.read_ccd`).
    """
    if keywords is None:
        return
    for key in keywords:
        value = header.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
            return
    msg = (
        f"{where}: no photometric zero point (none of the keywords {list(keywords)} "
        "holds a number); set sources.zero_point_keywords to the keyword the archive "
        "uses, or sources.zero_points"
    )
    raise InvalidImageError(msg)


def download_image(
    url: str,
    path: str | os.PathLike,
    *,
    expected_size: int | None = None,
    checksum: str | None = None,
    settings: DownloadSettings | None = None,
    session: requests.Session | None = None,
    n_images: int | None = None,
    zero_point_keywords: Sequence[str] | None = None,
) -> Path:
    """Download one survey image (one field, one band) and check it is a valid FITS image.

    :func:`download_file` with :func:`validate_fits_image` (given
    ``n_images`` and ``zero_point_keywords``) as the check before the
    rename; see there for parameters and errors.

    Returns
    -------
    pathlib.Path
        ``path``, a complete FITS file with a celestial WCS in every image HDU.
    """
    final = Path(path)
    return download_file(
        url,
        final,
        expected_size=expected_size,
        checksum=checksum,
        settings=settings,
        session=session,
        validate=lambda part: validate_fits_image(
            part,
            label=f"{final} (from {url})",
            n_images=n_images,
            zero_point_keywords=zero_point_keywords,
        ),
    )
