"""Benchmark: rendering one demo mock field in both bands, on one core.

Side by side in one run:

* ``pipeline``: ``write_field_image`` for both bands of a demo field (4 CCDs of
  1024x2048 px each), FITS written to disk;
* ``kernel``: the vectorised point-source renderer on N stars;
* ``baseline``: the per-star loop a user would otherwise write, evaluating
  ``astropy.modeling.models.Moffat2D`` on a cutout around each star, on the
  same N stars.

Usage: ``python benchmarks/bench_mock.py [--field 207] [--stars 3000]``.
Pinned to one core (``os.sched_setaffinity``) with one BLAS/OpenMP thread.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from astropy.modeling.models import Moffat2D  # noqa: E402

from pandas_clusters.mock import MockSettings, write_field_image  # noqa: E402
from pandas_clusters.mock.render import _add_points, moffat_alpha  # noqa: E402


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--field", type=int, default=207)
    ap.add_argument("--stars", type=int, default=3000)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    s = MockSettings.demo()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for band in ("g", "i"):
            write_field_image(s, args.field, band, Path(tmp) / f"{band}.fits")
        t_field = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6

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

    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cores={os.cpu_count()} (pinned to 1)"
    )
    print(
        f"demo field {args.field}, g+i, {s.ccd_columns * s.ccd_rows} CCDs of {s.ccd_nx}x{s.ccd_ny} px:"
    )
    print(f"  pipeline write_field_image x2: {t_field:.2f} s ({size_mb:.0f} MB of FITS)")
    print(f"point sources, {n} stars, 31x31 px stamps:")
    print(f"  kernel (vectorised):        {t_kernel:.3f} s  {n / t_kernel:,.0f} stars/s")
    print(f"  baseline (Moffat2D loop):   {t_base:.3f} s  {n / t_base:,.0f} stars/s")
    print(f"  speed-up: {t_base / t_kernel:.1f}x; max |difference| / max flux = {maxdiff:.1e}")
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
