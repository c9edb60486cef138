"""Benchmark: rendering one demo mock field in both bands, on one core.

Side by side in one run:

* ``pipeline``: ``write_field_image`` for both bands of a demo field (4 CCDs of
  1024x2048 px each), FITS written to disk, with the demo settings and with
  the settings before issue 12 (white noise, no unresolved-star texture, the
  sparse background galaxies: ``realism.BASELINE_OVERRIDES``) and without the
  contaminants of issue 12 part 3 (asterisms, HII regions, compact and edge-on
  galaxies, saturated stars' spikes: ``population.CONTAMINANTS_OFF``);
* ``kernel``: the vectorised point-source renderer on N stars;
* ``baseline``: the per-star loop a user would otherwise write, evaluating
  ``astropy.modeling.models.Moffat2D`` on a cutout around each star, on the
  same N stars.

Usage: ``python benchmarks/bench_mock.py [--field 248] [--stars 3000]``.
Pinned to one core (``os.sched_setaffinity``) with one BLAS/OpenMP thread.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from astropy.modeling.models import Moffat2D  # noqa: E402

from pandas_clusters.acquire.mock import MockSettings, write_field_image  # noqa: E402
from pandas_clusters.acquire.mock.population import CONTAMINANTS_OFF  # noqa: E402
from pandas_clusters.acquire.mock.render import _add_points, moffat_alpha  # noqa: E402
from pandas_clusters.report.realism import BASELINE_OVERRIDES  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import add_results_argument, report_section  # noqa: E402


def _baseline(img, x, y, flux, alpha, beta, radius):
    ny, nx = img.shape
    for xi, yi, fi in zip(x, y, flux, strict=True):
        ix, iy = int(round(xi)), int(round(yi))
        x0, x1 = max(ix - radius, 0), min(ix + radius + 1, nx)
        y0, y1 = max(iy - radius, 0), min(iy + radius + 1, ny)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        model = Moffat2D(amplitude=1.0, x_0=xi, y_0=yi, gamma=alpha, alpha=beta)
        stamp = model(xx, yy)
        img[y0:y1, x0:x1] += fi * stamp / stamp.sum()


def _render_field(s, field):
    """Wall and CPU seconds to render one field in both bands, and the MB of FITS written."""
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        for band in ("g", "i"):
            write_field_image(s, field, band, Path(tmp) / f"{band}.fits")
        t_field, c_field = time.perf_counter() - t0, time.process_time() - c0
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
    return t_field, c_field, size_mb


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--field", type=int, default=248)
    ap.add_argument("--stars", type=int, default=3000)
    add_results_argument(ap)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    s = MockSettings.demo()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    t_field, c_field, size_mb = _render_field(s, args.field)
    t_before, c_before, _ = _render_field(dataclasses.replace(s, **BASELINE_OVERRIDES), args.field)
    t_clean, c_clean, _ = _render_field(dataclasses.replace(s, **CONTAMINANTS_OFF), args.field)

    rng = np.random.default_rng(1)
    n = args.stars
    x, y = rng.uniform(20, 1000, n), rng.uniform(20, 2000, n)
    flux = 10 ** (-0.4 * (rng.uniform(20, 25, n) - 30))
    alpha, beta = moffat_alpha(0.67 / 0.187, 3.0), 3.0
    img_a = np.zeros((2048, 1024))
    t0 = time.perf_counter()
    _add_points(img_a, x, y, flux, alpha, beta, 15)
    t_kernel = time.perf_counter() - t0
    img_b = np.zeros((2048, 1024))
    t0 = time.perf_counter()
    _baseline(img_b, x, y, flux, alpha, beta, 15)
    t_base = time.perf_counter() - t0
    maxdiff = float(np.max(np.abs(img_a - img_b)) / flux.max())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    cmd = "python benchmarks/bench_mock.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        f"## Mock survey rendering (`{cmd.strip()}`)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, pinned to one core with one "
        f"BLAS/OpenMP thread; Python {platform.python_version()}, numpy {np.__version__}.",
        "",
        f"Load average (1 min) when the run started: {load:.1f} (on a busy machine the wall "
        "times stretch; the CPU seconds measure the work).",
        "",
        "| measurement | wall (s) | CPU (s) | rate |",
        "|---|---:|---:|---:|",
        f"| demo field {args.field}, g + i ({s.ccd_columns * s.ccd_rows} CCDs of "
        f"{s.ccd_nx}x{s.ccd_ny} px, {size_mb:.0f} MB of FITS) | {t_field:.2f} | {c_field:.2f} "
        "| target < 30 s |",
        "| same field, settings before issue 12 (white noise, no texture, sparse galaxies, "
        f"uncalibrated densities) | {t_before:.2f} | {c_before:.2f} | |",
        "| same field without the contaminants (asterisms, HII regions, compact and edge-on "
        f"galaxies, spikes) | {t_clean:.2f} | {c_clean:.2f} | |",
        f"| point sources, vectorised kernel ({n} stars, 31x31 px) | {t_kernel:.3f} | | "
        f"{n / t_kernel:,.0f} stars/s |",
        f"| point sources, astropy Moffat2D loop (same stars) | {t_base:.3f} | | "
        f"{n / t_base:,.0f} stars/s |",
        "",
        f"- kernel / Moffat2D loop: **{t_base / t_kernel:.1f}x**; max |difference| / max flux "
        f"{maxdiff:.1e}",
        f"- peak RSS {peak_mb:.0f} MB",
    ]
    report_section("bench_mock", lines, args.results)


if __name__ == "__main__":
    main()
