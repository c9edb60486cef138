"""Resumable, verified image downloads against a loopback HTTP server (offline)."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from pandas_clusters.acquire.download import (
    DownloadError,
    DownloadSettings,
    InvalidImageError,
    download_image,
    image_url,
    parse_checksum,
    validate_fits_image,
)
from pandas_clusters.acquire.mock import MockField, MockSettings, write_field_image

FAST = DownloadSettings(
    retries=3, backoff_s=0.0, backoff_max_s=0.0, timeout_s=5.0, chunk_bytes=4096
)


def _mef_bytes(*, with_wcs: bool = True, n_ccd: int = 2, seed: int = 1) -> bytes:
    """A small multi-extension FITS image in the layout of docs/data-model.md."""
    rng = np.random.default_rng(seed)
    primary = fits.PrimaryHDU()
    primary.header["SURVEY"] = "test"
    primary.header["NEXTEND"] = n_ccd
    hdus = [primary]
    for ccd in range(n_ccd):
        data = rng.normal(100.0, 5.0, size=(48, 40)).astype(np.float32)
        header = fits.Header()
        if with_wcs:
            wcs = WCS(naxis=2)
            wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
            wcs.wcs.crval = [10.6847 + 0.05 * ccd, 41.269]
            wcs.wcs.crpix = [20.5, 24.5]
            wcs.wcs.cd = np.array([[-0.187, 0.0], [0.0, 0.187]]) / 3600.0
            header.update(wcs.to_header())
        header["MAGZPT"] = 30.0
        hdus.append(fits.ImageHDU(data, header=header, name=f"ccd{ccd:02d}"))
    buf = io.BytesIO()
    fits.HDUList(hdus).writeto(buf)
    return buf.getvalue()


class _Archive:
    """What the loopback server serves: files by URL path and a plan of misbehaviours."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.plans: dict[str, list[str]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.lock = threading.Lock()

    def next_action(self, path: str) -> str:
        with self.lock:
            plan = self.plans.get(path, [])
            return plan.pop(0) if plan else "ok"


def _handler(archive: _Archive):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # keep pytest output clean
            pass

        def do_GET(self):
            rng = self.headers.get("Range")
            with archive.lock:
                archive.requests.append((self.path, rng))
            body = archive.files.get(self.path)
            if body is None:
                self.send_error(404, "no such file")
                return
            action = archive.next_action(self.path)
            if action == "503":
                self.send_error(503, "busy")
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", rng or "")
            if match and action != "ignore_range":
                start = int(match[1])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            rest = body[start:]
            self.send_header("Content-Type", "application/fits")
            self.send_header("Content-Length", str(len(rest)))
            self.end_headers()
            if action == "truncate":
                # Announce everything, send 40 %, drop the connection.
                self.wfile.write(rest[: int(0.4 * len(rest))])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(rest)

    return Handler


@pytest.fixture
def archive(serve):
    state = _Archive()
    port = serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state)))
    state.base = f"http://127.0.0.1:{port}"
    return state


def _only_output(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_plain_download_is_complete_and_valid(archive, tmp_path):
    body = _mef_bytes()
    archive.files["/stacks/207/g.fits"] = body
    out = tmp_path / "207" / "g.fits"
    result = download_image(f"{archive.base}/stacks/207/g.fits", out, settings=FAST)
    assert result == out
    assert out.read_bytes() == body
    assert _only_output(out.parent) == ["g.fits"]
    assert validate_fits_image(out) == 2


def test_truncated_body_is_resumed_with_range(archive, tmp_path):
    body = _mef_bytes()
    archive.files["/f.fits"] = body
    archive.plans["/f.fits"] = ["truncate"]
    out = tmp_path / "f.fits"
    download_image(f"{archive.base}/f.fits", out, settings=FAST)
    assert out.read_bytes() == body
    assert archive.requests[0] == ("/f.fits", None)
    # The second request resumes from the bytes kept of the first one (the
    # server sent 40 %; the client keeps whole blocks of what it received).
    path, rng = archive.requests[1]
    offset = int(re.fullmatch(r"bytes=(\d+)-", rng)[1])
    assert path == "/f.fits"
    assert 0 < offset <= int(0.4 * len(body))
    assert len(archive.requests) == 2
    assert _only_output(tmp_path) == ["f.fits"]


def test_503_then_success_is_retried(archive, tmp_path):
    body = _mef_bytes()
    archive.files["/f.fits"] = body
    archive.plans["/f.fits"] = ["503", "503"]
    out = tmp_path / "f.fits"
    download_image(f"{archive.base}/f.fits", out, settings=FAST)
    assert out.read_bytes() == body
    assert len(archive.requests) == 3


def test_server_ignoring_range_restarts_from_zero(archive, tmp_path):
    body = _mef_bytes()
    archive.files["/f.fits"] = body
    archive.plans["/f.fits"] = ["truncate", "ignore_range"]
    out = tmp_path / "f.fits"
    download_image(f"{archive.base}/f.fits", out, settings=FAST)
    assert out.read_bytes() == body
    assert archive.requests[1][1] is not None  # it asked for a range, got the whole file


def test_part_file_from_an_earlier_run_is_resumed(archive, tmp_path):
    body = _mef_bytes()
    archive.files["/f.fits"] = body
    out = tmp_path / "f.fits"
    (tmp_path / "f.fits.part").write_bytes(body[:5000])
    download_image(f"{archive.base}/f.fits", out, settings=FAST)
    assert out.read_bytes() == body
    assert archive.requests == [("/f.fits", "bytes=5000-")]


def test_persistent_truncation_fails_after_retries_keeping_part(archive, tmp_path):
    archive.files["/f.fits"] = _mef_bytes()
    archive.plans["/f.fits"] = ["truncate"] * 10
    out = tmp_path / "f.fits"
    settings = DownloadSettings(retries=2, backoff_s=0.0, timeout_s=5.0)
    with pytest.raises(DownloadError, match=r"after 3 attempt\(s\): transfer interrupted"):
        download_image(f"{archive.base}/f.fits", out, settings=settings)
    assert not out.exists()
    assert len(archive.requests) == 3
    # The bytes received so far stay in the part file for the next run.
    assert (tmp_path / "f.fits.part").stat().st_size > 0


def test_persistent_503_gives_clear_error(archive, tmp_path):
    archive.files["/f.fits"] = _mef_bytes()
    archive.plans["/f.fits"] = ["503"] * 10
    out = tmp_path / "f.fits"
    with pytest.raises(DownloadError, match=r"/f\.fits.*after 4 attempt\(s\): HTTP 503"):
        download_image(f"{archive.base}/f.fits", out, settings=FAST)
    assert _only_output(tmp_path) == []


def test_404_is_not_retried(archive, tmp_path):
    out = tmp_path / "f.fits"
    with pytest.raises(DownloadError, match=r"missing\.fits failed: HTTP 404"):
        download_image(f"{archive.base}/missing.fits", out, settings=FAST)
    assert len(archive.requests) == 1
    assert _only_output(tmp_path) == []


def test_wrong_size_is_rejected(archive, tmp_path):
    body = _mef_bytes()
    archive.files["/f.fits"] = body
    out = tmp_path / "f.fits"
    with pytest.raises(DownloadError, match=rf"has {len(body)} bytes, expected {len(body) + 2880}"):
        download_image(f"{archive.base}/f.fits", out, expected_size=len(body) + 2880, settings=FAST)
    assert _only_output(tmp_path) == []


def test_checksums_are_verified(archive, tmp_path):
    body = _mef_bytes()
    archive.files["/f.fits"] = body
    good = "md5:" + hashlib.md5(body).hexdigest()
    download_image(f"{archive.base}/f.fits", tmp_path / "a.fits", checksum=good, settings=FAST)
    assert (tmp_path / "a.fits").read_bytes() == body
    bad = "sha256:" + hashlib.sha256(body + b"x").hexdigest()
    with pytest.raises(DownloadError, match="sha256 is"):
        download_image(f"{archive.base}/f.fits", tmp_path / "b.fits", checksum=bad, settings=FAST)
    assert _only_output(tmp_path) == ["a.fits"]


def test_non_fits_body_is_rejected(archive, tmp_path):
    archive.files["/f.fits"] = b"<html><body>Please log in</body></html>\n" * 20
    out = tmp_path / "f.fits"
    with pytest.raises(InvalidImageError, match=r"not a FITS file"):
        download_image(f"{archive.base}/f.fits", out, settings=FAST)
    assert _only_output(tmp_path) == []


def test_truncated_fits_file_is_rejected(archive, tmp_path):
    # The server itself holds a cut file (consistent Content-Length): only the
    # FITS check can tell.
    body = _mef_bytes()
    archive.files["/f.fits"] = body[: len(body) - 5000]
    out = tmp_path / "f.fits"
    with pytest.raises(InvalidImageError, match=r"HDU 2 \(CCD01\): truncated"):
        download_image(f"{archive.base}/f.fits", out, settings=FAST)
    assert _only_output(tmp_path) == []


def test_image_without_celestial_wcs_is_rejected(archive, tmp_path):
    archive.files["/f.fits"] = _mef_bytes(with_wcs=False)
    out = tmp_path / "f.fits"
    with pytest.raises(InvalidImageError, match=r"HDU 1 \(CCD00\): no celestial WCS"):
        download_image(f"{archive.base}/f.fits", out, settings=FAST)
    assert _only_output(tmp_path) == []


def test_failed_download_leaves_previous_output_untouched(archive, tmp_path):
    out = tmp_path / "f.fits"
    old = _mef_bytes(seed=7)
    out.write_bytes(old)
    archive.files["/f.fits"] = b"not fits at all"
    with pytest.raises(InvalidImageError):
        download_image(f"{archive.base}/f.fits", out, settings=FAST)
    assert out.read_bytes() == old


def test_progress_bar_when_asked(archive, tmp_path, capsys):
    body = _mef_bytes()
    archive.files["/f.fits"] = body
    settings = DownloadSettings(retries=0, progress=True, chunk_bytes=1024)
    download_image(f"{archive.base}/f.fits", tmp_path / "f.fits", settings=settings)
    assert "f.fits" in capsys.readouterr().err


def test_real_megacam_cutout(archive, tmp_path, cfht_image):
    body = cfht_image.read_bytes()
    archive.files["/megacam.fits"] = body
    archive.plans["/megacam.fits"] = ["truncate", "503"]
    out = tmp_path / "megacam.fits"
    download_image(f"{archive.base}/megacam.fits", out, settings=FAST)
    assert out.read_bytes() == body
    assert validate_fits_image(out) == 1


def test_mock_survey_image(archive, tmp_path):
    settings = dataclasses.replace(
        MockSettings.demo(),
        ccd_nx=64,
        ccd_ny=64,
        ccd_columns=2,
        ccd_rows=1,
        fields=(MockField(id=1, ra_deg=11.0, dec_deg=41.6),),
    )
    src = tmp_path / "src" / "g.fits"
    write_field_image(settings, field_id=1, band="g", path=src)
    archive.files["/1/g.fits"] = src.read_bytes()
    archive.plans["/1/g.fits"] = ["truncate"]
    out = tmp_path / "out" / "1" / "g.fits"
    download_image(f"{archive.base}/1/g.fits", out, settings=FAST)
    assert out.read_bytes() == src.read_bytes()
    assert validate_fits_image(out) == 2


def test_image_url_template():
    template = "https://archive.example/pandas/m{field:03d}/{filter}/stack_{band}.fits"
    url = image_url(template, field=7, band="i", band_names={"i": "i.MP9702"})
    assert url == "https://archive.example/pandas/m007/i.MP9702/stack_i.fits"
    with pytest.raises(ValueError, match="placeholders"):
        image_url("https://x/{ccd}.fits", field=1, band="g")


def test_parse_checksum():
    assert parse_checksum("md5:" + "A" * 32) == ("md5", "a" * 32)
    with pytest.raises(ValueError, match="hex digits"):
        parse_checksum("sha256:abcd")
    with pytest.raises(ValueError, match="of the form"):
        parse_checksum("crc32:abcd")
