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

FAST = DownloadSettings.from_config(
    retries=3, backoff_s=0.0, backoff_max_s=0.0, timeout_s=5.0, chunk_bytes=4096
)


#: The confirmed layout of the real stacks (config/pandas.yaml): CANFAR vault folder
#: PANDAS/PUBLIC/STACKS, one file per field and band named like m001_g.fit.
REAL_TEMPLATE = "{base}/vault/files/PANDAS/PUBLIC/STACKS/m{{field:03d}}_{{filter}}.fit"


def _mef_bytes(
    *,
    with_wcs: bool = True,
    n_ccd: int = 2,
    seed: int = 1,
    shape: tuple[int, int] = (48, 40),
    zero_point: dict[int, str] | None = None,
) -> bytes:
    """A small multi-extension FITS image in the layout of docs/data-model.md.

    An empty primary HDU and ``n_ccd`` image extensions (a CASU PAndAS stack
    has 36); ``zero_point`` maps a CCD index to the zero-point keyword it gets
    (default: ``MAGZPT`` on every CCD; ``""``: none).
    """
    rng = np.random.default_rng(seed)
    primary = fits.PrimaryHDU()
    primary.header["SURVEY"] = "test"
    primary.header["NEXTEND"] = n_ccd
    hdus = [primary]
    for ccd in range(n_ccd):
        data = rng.normal(100.0, 5.0, size=shape).astype(np.float32)
        header = fits.Header()
        if with_wcs:
            wcs = WCS(naxis=2)
            wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
            wcs.wcs.crval = [10.6847 + 0.05 * ccd, 41.269]
            wcs.wcs.crpix = [shape[1] / 2 + 0.5, shape[0] / 2 + 0.5]
            wcs.wcs.cd = np.array([[-0.187, 0.0], [0.0, 0.187]]) / 3600.0
            header.update(wcs.to_header())
        keyword = (zero_point or {}).get(ccd, "MAGZPT")
        if keyword:
            header[keyword] = 30.0
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
    settings = DownloadSettings.from_config(retries=2, backoff_s=0.0, timeout_s=5.0)
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
    settings = DownloadSettings.from_config(retries=0, progress=True, chunk_bytes=1024)
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


def test_casu_stack_with_real_naming(archive, tmp_path):
    """A 36-CCD stack at its real vault path, cut once in transit, arrives whole and valid."""
    body = _mef_bytes(n_ccd=36, shape=(12, 8))
    url = image_url(REAL_TEMPLATE.format(base=archive.base), field=207, band="g")
    path = "/vault/files/PANDAS/PUBLIC/STACKS/m207_g.fit"
    assert url == archive.base + path
    archive.files[path] = body
    archive.plans[path] = ["truncate"]
    out = tmp_path / "207" / "g.fits"
    download_image(url, out, settings=FAST, n_images=36, zero_point_keywords=["MAGZPT"])
    assert out.read_bytes() == body
    assert validate_fits_image(out, n_images=36, zero_point_keywords=["MAGZPT"]) == 36
    assert [p for p, _ in archive.requests] == [path, path]


def test_stack_with_a_missing_ccd_is_rejected(archive, tmp_path):
    path = "/vault/files/PANDAS/PUBLIC/STACKS/m208_i.fit"
    archive.files[path] = _mef_bytes(n_ccd=35, shape=(12, 8))
    out = tmp_path / "208" / "i.fits"
    with pytest.raises(
        InvalidImageError, match=r"m208_i\.fit\).* holds 35 image HDU\(s\), expected 36"
    ):
        download_image(archive.base + path, out, settings=FAST, n_images=36)
    assert _only_output(out.parent) == []


def test_ccd_without_zero_point_names_file_and_hdu(archive, tmp_path):
    path = "/vault/files/PANDAS/PUBLIC/STACKS/m209_g.fit"
    # CCD 17 (HDU 18) carries PHOTZP instead of the MAGZPT asked for.
    archive.files[path] = _mef_bytes(n_ccd=36, shape=(12, 8), zero_point={17: "PHOTZP"})
    out = tmp_path / "209" / "g.fits"
    with pytest.raises(
        InvalidImageError,
        match=r"209/g\.fits \(from .*m209_g\.fit\) HDU 18 \(CCD17\): no photometric zero "
        r"point \(none of the keywords \['MAGZPT'\]",
    ):
        download_image(
            archive.base + path, out, settings=FAST, n_images=36, zero_point_keywords=["MAGZPT"]
        )
    assert _only_output(out.parent) == []
    # The same file passes when the archive's keyword is named, or the check is off.
    download_image(
        archive.base + path, out, settings=FAST, zero_point_keywords=["MAGZPT", "PHOTZP"]
    )
    assert validate_fits_image(out) == 36


def test_zero_point_only_in_primary_header_is_not_enough(tmp_path):
    # The sources stage reads each CCD's own header, so the check does too.
    out = tmp_path / "m210_g.fit"
    with fits.open(io.BytesIO(_mef_bytes(n_ccd=3, zero_point={0: "", 1: "", 2: ""}))) as hdul:
        hdul[0].header["MAGZPT"] = 26.5
        hdul[2].header["MAGZPT"] = "n/a"
        hdul.writeto(out)
    with pytest.raises(InvalidImageError, match=r"m210_g\.fit HDU 1 \(CCD00\): no photometric"):
        validate_fits_image(out, zero_point_keywords=["MAGZPT"])
    assert validate_fits_image(out) == 3


def test_config_template_gives_the_real_file_names(repo):
    import yaml

    config = yaml.safe_load((repo / "config" / "pandas.yaml").read_text())
    dl = config["download"]
    names = {
        image_url(dl["url_template"], field=f, band=b, band_names=dl["band_names"])
        for f in config["fields"]
        for b in config["bands"]
    }
    assert len(names) == 2 * len(config["fields"])
    for url in names:
        assert re.fullmatch(
            r"https://ws-cadc\.canfar\.net/vault/files/PANDAS/PUBLIC/STACKS/m\d{3}_[gi]\.fit", url
        ), url
    assert dl["ccds"] == 36


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


@pytest.mark.slow
def test_workflow_rule_checks_the_real_layout(archive, repo, tmp_path):
    """The download_image rule of config/pandas.yaml, pointed at a loopback copy of the vault.

    Same path layout as the real archive; m207_i.fit is a 36-CCD stack whose
    CCD 5 lacks the zero point: the rule gets the checks from the config
    (``download.ccds``, ``sources.zero_point_keywords``), fails, and its log
    names file and HDU.
    """
    import os
    import subprocess
    import sys

    import yaml

    path = "/vault/files/PANDAS/PUBLIC/STACKS/m207_i.fit"
    archive.files[path] = _mef_bytes(n_ccd=36, shape=(12, 8), zero_point={5: ""})
    overlay = tmp_path / "loopback.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "download": {
                    "url_template": REAL_TEMPLATE.format(base=archive.base),
                    "retries": 0,
                    "timeout_s": 10.0,
                }
            }
        )
    )
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(repo / "Snakefile"),
        "resources/images/207/i.fits",
        "--cores",
        "1",
        "--configfile",
        str(repo / "config" / "config.yaml"),
        str(repo / "config" / "pandas.yaml"),
        str(overlay),
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode != 0, (proc.stdout + proc.stderr)[-4000:]
    assert not (tmp_path / "resources" / "images" / "207" / "i.fits").exists()
    assert {p for p, _ in archive.requests} == {path}
    log = (tmp_path / "logs" / "download_image" / "207" / "i.log").read_text()
    assert re.search(
        r"207/i\.fits \(from .*/m207_i\.fit\) HDU 6 \(CCD05\): no photometric zero", log
    )
