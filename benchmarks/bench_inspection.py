"""Moving to the next candidate in the inspection app, in a real browser, with 2,000 candidates.

The time measured is what the inspector waits: from the key press (the
page's ``keydown`` handler) until the next candidate's four images (g, i,
colour, context) are decoded and its facts shown (``window.pcTimings``,
recorded by the page itself with ``performance.now()``). Both sides run the
same app on the same synthetic survey, each with a fresh server (empty
image cache), a fresh database and a fresh headless Chromium (empty browser
cache):

* ``baseline``: no prefetch (``inspection.prefetch: 0``): each move asks the
  server for four images it renders then;
* ``project``: the app as configured by default (``prefetch: 8``): the next
  candidates' facts and images are requested while the inspector looks at
  the current one.

The inspector presses the right arrow ``--moves`` times, then scores
``--moves`` candidates (keys 0, 1, 2: the page sends the score, which the
server commits in order, and shows the next candidate without waiting for
the answer; ``window.pcScoreTimings``), pausing ``--think`` seconds on each candidate (a
real inspector looks for longer).

Data: ``--candidates`` (2,000) synthetic sources on one 3000 x 3000 CCD per
band (TAN WCS, 0.187"/px, the layout of docs/data-model.md), their 2 x 64 x 64
stamps in the stamps schema, and the candidates table; the context cut
(30") comes from the field images.

Usage::

    python benchmarks/bench_inspection.py            # 2,000 candidates, 80 moves per side
    python benchmarks/bench_inspection.py --quick    # 300 candidates, 20 moves

Needs Debian's ``chromium`` and ``chromium-driver`` (``make browser``) and
selenium. Results: printed as Markdown and written to
``benchmarks/RESULTS.md`` (section ``bench_inspection``; ``--results ''`` skips).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "src"))

from _results import add_results_argument, report_section  # noqa: E402

from pandas_clusters.core.catalogues import LITERATURE_CATALOGUES  # noqa: E402
from pandas_clusters.core.io import write_parquet  # noqa: E402
from pandas_clusters.detect.stamps import stamps_schema  # noqa: E402

PIXEL_ARCSEC = 0.187
SIZE = 64
NPIX = 3000


def _wcs_header(ra0: float, dec0: float):
    from astropy.io import fits

    h = fits.Header()
    h.update(
        CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=ra0, CRVAL2=dec0,
        CRPIX1=NPIX / 2 + 0.5, CRPIX2=NPIX / 2 + 0.5,
        CD1_1=-PIXEL_ARCSEC / 3600, CD1_2=0.0, CD2_1=0.0, CD2_2=PIXEL_ARCSEC / 3600,
        MAGZPT=30.0, CCDNUM=1, EXTNAME="ccd01",
    )  # fmt: skip
    return h


def build_survey(root: Path, n: int, seed: int = 2000) -> dict[str, str]:
    """Field images, stamps and candidates of ``n`` synthetic sources under ``root``."""
    from astropy.io import fits
    from astropy.wcs import WCS

    rng = np.random.default_rng(seed)
    header = _wcs_header(10.7, 41.3)
    wcs = WCS(header)
    x = rng.uniform(40, NPIX - 40, n)
    y = rng.uniform(40, NPIX - 40, n)
    ra, dec = wcs.pixel_to_world_values(x, y)
    yy, xx = np.mgrid[0:NPIX, 0:NPIX]
    stamps = np.empty((n, 2, SIZE, SIZE), np.float32)
    for b, band in enumerate(("g", "i")):
        image = rng.normal(0.0, 5.0, (NPIX, NPIX)).astype(np.float32)
        for k in range(n):
            x0, y0 = int(x[k]), int(y[k])
            sl = np.s_[y0 - 12 : y0 + 13, x0 - 12 : x0 + 13]
            r2 = (xx[sl] - x[k]) ** 2 + (yy[sl] - y[k]) ** 2
            image[sl] += (400 + 300 * b) * rng.uniform(0.2, 3.0) * np.exp(-r2 / (2 * 2.0**2))
        for k in range(n):
            x0, y0 = int(round(x[k])), int(round(y[k]))
            stamps[k, b] = image[y0 - SIZE // 2 : y0 + SIZE // 2, x0 - SIZE // 2 : x0 + SIZE // 2]
        hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(image + 300.0, header=header)])
        path = root / "resources" / "images" / "1" / f"{band}.fits"
        path.parent.mkdir(parents=True, exist_ok=True)
        hdul.writeto(path)
    ids = np.arange(n, dtype=np.int64) + 10**12
    flat = pa.array(stamps.reshape(-1), pa.float32())
    table = pa.Table.from_arrays(
        [
            pa.array(ids),
            pa.FixedSizeListArray.from_arrays(flat, 2 * SIZE * SIZE),
            pa.array(np.zeros(n, np.int32)),
        ],
        schema=stamps_schema(2, SIZE),
    )
    meta = {"bands": ["g", "i"], "size": SIZE, "pixel_scale_arcsec": PIXEL_ARCSEC}
    write_parquet(table, root / "results" / "stamps" / "1.parquet", metadata=meta)
    cand = pd.DataFrame(
        {
            "source_id": ids, "field": np.int32(1), "ccd": np.int16(1), "ra": ra, "dec": dec,
            "gmag": rng.uniform(17, 21, n), "e_gmag": rng.uniform(0.001, 0.05, n),
            "imag": rng.uniform(16, 20, n), "e_imag": rng.uniform(0.001, 0.05, n),
            "rproj_kpc": rng.uniform(1, 30, n), "prob_mean": rng.uniform(0.5, 1, n),
            "prob_std": rng.uniform(0, 0.1, n),
        }
    )  # fmt: skip
    for key in LITERATURE_CATALOGUES:
        cand[key] = ""
    cand["new"] = True
    write_parquet(cand, root / "results" / "crossmatch" / "candidates.parquet")
    return {
        "candidates": str(root / "results" / "crossmatch" / "candidates.parquet"),
        "stamps_template": str(root / "results" / "stamps" / "{field}.parquet"),
        "image_template": str(root / "resources" / "images" / "{field}" / "{band}.fits"),
    }


def _browser():
    from selenium import webdriver

    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,860",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(
        options=options, service=webdriver.ChromeService(shutil.which("chromedriver"))
    )


def run_side(paths: dict[str, str], work: Path, prefetch: int, moves: int, think: float) -> dict:
    """One side: fresh server, database and browser; ``moves`` right-arrow presses."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from pandas_clusters.inspection import Inspection, InspectionSettings
    from pandas_clusters.inspection.server import make_server

    settings = InspectionSettings.from_config(
        database=str(work / "inspection.sqlite"), host="127.0.0.1", port=0,
        context_arcsec=30.0, stretch="asinh", prefetch=prefetch, mosaic_size=60,
        kappa_weights="linear", truth_radius_arcsec=1.0, **paths,
    )  # fmt: skip
    t0 = time.perf_counter()
    app = Inspection(settings, export_dir=work, seed=1)
    load_s = time.perf_counter() - t0
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    driver = _browser()
    try:
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/?inspector=bench")
        wait = WebDriverWait(driver, 60, poll_frequency=0.01)
        wait.until(lambda d: d.execute_script("return window.pcTimings.length") >= 1)
        n_order = driver.execute_script("return S.order.length")
        body = driver.find_element("tag name", "body")
        for k in range(moves):
            time.sleep(think)
            body.send_keys(Keys.ARROW_RIGHT)
            wait.until(lambda d, n=k + 2: d.execute_script("return window.pcTimings.length") >= n)
        timings = driver.execute_script("return window.pcTimings.slice(1)")
        for k in range(moves):
            time.sleep(think)
            body.send_keys(str(k % 3))
            wait.until(
                lambda d, n=k + 1: d.execute_script("return window.pcScoreTimings.length") >= n
            )
        scoring = driver.execute_script("return window.pcScoreTimings")
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
    ms = np.asarray(timings, float)
    sc = np.asarray(scoring, float)
    return {
        "score_median": float(np.median(sc)), "score_p95": float(np.percentile(sc, 95)),
        "score_under_100": float(np.mean(sc < 100.0)),
        "prefetch": prefetch, "n": n_order, "load_s": load_s, "median": float(np.median(ms)),
        "p95": float(np.percentile(ms, 95)), "max": float(ms.max()),
        "under_100": float(np.mean(ms < 100.0)), "moves": ms.size,
    }  # fmt: skip


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--moves", type=int, default=80)
    ap.add_argument("--think", type=float, default=0.3, help="seconds on each candidate")
    ap.add_argument("--quick", action="store_true", help="300 candidates, 20 moves")
    add_results_argument(ap)
    args = ap.parse_args(argv)
    if args.quick:
        args.candidates, args.moves = 300, 20
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        sys.exit("bench_inspection: needs Debian's chromium and chromium-driver (make browser)")
    with tempfile.TemporaryDirectory(prefix="bench_inspection.") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        paths = build_survey(root, args.candidates)
        build_s = time.perf_counter() - t0
        sides = {}
        for name, prefetch in (("baseline", 0), ("project", 8)):
            work = root / name
            work.mkdir()
            sides[name] = run_side(paths, work, prefetch, args.moves, args.think)
    cmd = "python benchmarks/bench_inspection.py" + (" --quick" if args.quick else "")
    lines = [
        "## Inspection app: moving to the next candidate (`benchmarks/bench_inspection.py`)",
        "",
        f"Command: `{cmd}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"headless Debian Chromium through chromedriver. {args.candidates:,} synthetic candidates "
        f"(built in {build_s:.1f} s), {args.moves} right-arrow moves per side, {args.think} s on each "
        "candidate; time from the key press to the next candidate's four images decoded and facts "
        "shown, measured by the page (`performance.now()`).",
        "",
        "| side | prefetch | candidates in the order | app start (s) | median (ms) | p95 (ms) | max (ms) | moves under 100 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in sides.items():
        lines.append(
            f"| {name} | {s['prefetch']} | {s['n']:,} | {s['load_s']:.2f} | {s['median']:.1f} | "
            f"{s['p95']:.1f} | {s['max']:.1f} | {100 * s['under_100']:.0f} % of {s['moves']} |"
        )
    b, p = sides["baseline"], sides["project"]
    lines += [
        "",
        f"- median move: {b['median']:.1f} ms without prefetch, **{p['median']:.1f} ms** with it "
        f"({b['median'] / max(p['median'], 1e-9):.1f}x); p95 {b['p95']:.1f} vs **{p['p95']:.1f} ms**",
        f"- scoring (0/1/2: the score is sent to the server, which commits it to SQLite with "
        f"fsync, and the next candidate is shown without waiting for the answer), "
        f"{args.moves} key presses per side: median {b['score_median']:.1f} / p95 "
        f"{b['score_p95']:.1f} ms without prefetch, median **{p['score_median']:.1f}** / p95 "
        f"**{p['score_p95']:.1f} ms** with it ({100 * p['score_under_100']:.0f} % under 100 ms)",
    ]
    report_section("bench_inspection", lines, args.results)


if __name__ == "__main__":
    main()
