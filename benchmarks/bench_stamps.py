"""Benchmark of the stamps stage: vectorised kernel vs an astropy Cutout2D loop vs memcpy.

Builds a synthetic field (multi-extension g/i FITS with TAN WCS and MAGZPT,
sky + Gaussian noise, NaN bad columns) and a sources table of uniformly
placed sources (edges included), then measures, side by side in one run:

- end to end: :func:`pandas_clusters.stamps.cut_stamps`, FITS on disk ->
  Parquet on disk (run in a child process, whose peak RSS is reported);
- kernel: :func:`pandas_clusters.stamps.extract_stamps` on prepared
  (calibrated, NaN-padded) CCDs, all bands, into an ``(N, C, S, S)`` buffer;
- Cutout2D loop: ``astropy.nddata.Cutout2D(mode="partial",
  fill_value=nan)`` per source and band on the same calibrated CCDs, with the
  same integer centres (checked to give identical stamps), copied into the
  same buffer;
- memory-copy bound: ``numpy.copyto`` of an array of the same bytes.

Rates are stamps (sources, C x S x S each) per second; the best of
``--repeat`` runs. Usage::

    python benchmarks/bench_stamps.py            # full: 4 CCDs 4612 x 2048, 20000 sources/CCD
    python benchmarks/bench_stamps.py --quick    # 1 CCD 1024 x 1024, 4000 sources

Results are printed as Markdown and written to ``benchmarks/RESULTS.md``
(section between ``<!-- bench_stamps -->`` markers; ``--results ''`` to skip).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.nddata import Cutout2D, NoOverlapError
from astropy.wcs import WCS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "src"))

from _results import add_results_argument, update_section  # noqa: E402

from pandas_clusters._photometry import list_ccds, read_wcs  # noqa: E402
from pandas_clusters.sources import make_source_id, sources_schema  # noqa: E402
from pandas_clusters.stamps import (  # noqa: E402
    PaddedImage,
    StampSettings,
    _calibrated_ccd,
    cut_stamps,
    extract_stamps,
)

BANDS = ("g", "i")


def _wcs(ccd: int, ny: int, nx: int, band: str) -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [10.68, 41.27]
    shift = 0.37 if band == "i" else 0.0
    w.wcs.crpix = [nx / 2 - ccd * (nx + 80) + shift, ny / 2 + shift]
    s = 0.187 / 3600.0
    th = np.deg2rad(0.02 if band == "i" else 0.0)
    w.wcs.cd = [[-s * np.cos(th), s * np.sin(th)], [s * np.sin(th), s * np.cos(th)]]
    return w


def make_field(root: Path, *, n_ccd: int, ny: int, nx: int, per_ccd: int, seed: int):
    """Write g/i MEF images and a sources table; return (images, sources path)."""
    rng = np.random.default_rng(seed)
    images = {}
    for band in BANDS:
        hdus = [fits.PrimaryHDU()]
        for ccd in range(n_ccd):
            img = rng.normal(200.0, 5.0, (ny, nx)).astype(np.float32)
            img[:, rng.integers(0, nx, 2)] = np.nan
            hdr = _wcs(ccd, ny, nx, band).to_header()
            hdr.update(EXTNAME=f"ccd{ccd:02d}", CCDNUM=ccd, MAGZPT=30.0, GAIN=2.0, SATURATE=6e4)
            hdus.append(fits.ImageHDU(img, header=hdr))
        images[band] = root / f"{band}.fits"
        fits.HDUList(hdus).writeto(images[band])
    cols = {name: [] for name in sources_schema(BANDS).names}
    for ccd in range(n_ccd):
        x = rng.uniform(-0.5, nx - 0.5, per_ccd)
        y = rng.uniform(-0.5, ny - 0.5, per_ccd)
        ra, dec = _wcs(ccd, ny, nx, "g").pixel_to_world_values(x, y)
        xi, yi = _wcs(ccd, ny, nx, "i").world_to_pixel_values(ra, dec)
        part = {
            "source_id": make_source_id(1, np.full(per_ccd, ccd), x, y),
            "field": np.ones(per_ccd, np.int32),
            "ccd": np.full(per_ccd, ccd, np.int16),
            "ra": ra,
            "dec": dec,
            "x_g": x,
            "y_g": y,
            "x_i": xi,
            "y_i": yi,
            "gmag": np.full(per_ccd, 22.0),
            "e_gmag": np.full(per_ccd, 0.02),
            "imag": np.full(per_ccd, 21.0),
            "e_imag": np.full(per_ccd, 0.02),
            "rproj_kpc": np.zeros(per_ccd),
            "flags": np.zeros(per_ccd, np.int32),
        }
        for key, val in part.items():
            cols[key].append(val)
    table = pa.Table.from_pydict(
        {k: np.concatenate(v) for k, v in cols.items()}, schema=sources_schema(BANDS)
    )
    table = table.sort_by("source_id")
    src = root / "sources.parquet"
    pq.write_table(table, src)
    return images, src


def _end_to_end_child(src, images, out, settings, queue, trace):
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    n = cut_stamps(src, images, out=out, settings=settings)
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    queue.put((n, dt, peak, rss))


def end_to_end(src, images, out, settings, *, trace: bool):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_end_to_end_child, args=(src, images, out, settings, queue, trace))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small field (CI smoke run)")
    parser.add_argument("--size", type=int, default=64, help="stamp side S, px")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument(
        "--cutout-sources", type=int, default=3000, help="sources in the Cutout2D loop"
    )
    add_results_argument(parser)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.quick:
        n_ccd, ny, nx, per_ccd = 1, 1024, 1024, 4000
        args.cutout_sources = min(args.cutout_sources, 1000)
        args.repeat = min(args.repeat, 2)
    else:
        n_ccd, ny, nx, per_ccd = 4, 4612, 2048, 20000
    s = args.size
    settings = StampSettings(bands=BANDS, size=s)
    with tempfile.TemporaryDirectory(prefix="bench_stamps_") as tmp:
        root = Path(tmp)
        images, src = make_field(root, n_ccd=n_ccd, ny=ny, nx=nx, per_ccd=per_ccd, seed=args.seed)
        n_total = n_ccd * per_ccd
        out = root / "stamps.parquet"

        # end to end (child processes): timing runs, then one traced run for tracemalloc peak
        e2e = [end_to_end(src, images, out, settings, trace=False) for _ in range(args.repeat)]
        n_written, t_e2e, _, rss = min(e2e, key=lambda r: r[1])
        assert n_written == n_total
        _, _, traced_peak, _ = end_to_end(src, images, out, settings, trace=True)
        out_bytes = out.stat().st_size

        # prepared CCD 0 for the in-memory comparisons
        table = pq.read_table(src).to_pandas()
        sel = table["ccd"].to_numpy() == 0
        pos = {b: (table[f"x_{b}"].to_numpy()[sel], table[f"y_{b}"].to_numpy()[sel]) for b in BANDS}
        calibrated = {}
        for b in BANDS:
            ref = next(r for r in list_ccds(images[b]) if r.ccd == 0)
            calibrated[b] = _calibrated_ccd(images[b], ref, b, settings)[0]
        t0 = time.perf_counter()
        padded = {b: PaddedImage(calibrated[b], s) for b in BANDS}
        t_pad = time.perf_counter() - t0
        n = int(sel.sum())
        buf = np.empty((n, len(BANDS), s, s), np.float32)

        def kernel():
            for k, b in enumerate(BANDS):
                extract_stamps(padded[b], *pos[b], out=buf[:, k])

        t_kernel = min(_timed(kernel) for _ in range(args.repeat))

        src_copy = np.random.default_rng(0).normal(size=buf.shape).astype(np.float32)
        t_copy = min(_timed(lambda: np.copyto(buf, src_copy)) for _ in range(args.repeat))

        m = min(args.cutout_sources, n)
        kernel()
        reference = buf[:m].copy()
        cut = np.empty((m, len(BANDS), s, s), np.float32)

        def cutout_loop():
            for k, b in enumerate(BANDS):
                data = calibrated[b]
                xs, ys = pos[b]
                for j in range(m):
                    cx, cy = np.floor(xs[j] + 0.5), np.floor(ys[j] + 0.5)
                    if 0 <= cx < data.shape[1] and 0 <= cy < data.shape[0]:
                        cut[j, k] = Cutout2D(
                            data, (cx, cy), (s, s), mode="partial", fill_value=np.nan, copy=True
                        ).data
                    else:
                        cut[j, k] = np.nan

        t_cut = min(_timed(cutout_loop) for _ in range(max(1, args.repeat - 1)))
        same = np.array_equal(cut, reference, equal_nan=True)

        # the usual astropy idiom: sky position + WCS (also builds each cutout's WCS)
        wcs = {
            b: read_wcs(images[b], next(r for r in list_ccds(images[b]) if r.ccd == 0))
            for b in BANDS
        }
        ra = table["ra"].to_numpy()[sel]
        dec = table["dec"].to_numpy()[sel]
        m_sky = max(1, m // 5)

        def cutout_sky_loop():
            for k, b in enumerate(BANDS):
                for j in range(m_sky):
                    pos_sky = SkyCoord(ra[j], dec[j], unit="deg")
                    try:
                        cut[j, k] = Cutout2D(
                            calibrated[b],
                            pos_sky,
                            (s, s),
                            wcs=wcs[b],
                            mode="partial",
                            fill_value=np.nan,
                            copy=True,
                        ).data
                    except NoOverlapError:
                        cut[j, k] = np.nan

        t_cut_sky = _timed(cutout_sky_loop)

    rate = {
        "end to end (FITS -> Parquet)": n_total / t_e2e,
        "kernel (extract_stamps)": n / t_kernel,
        "Cutout2D loop": m / t_cut,
        "Cutout2D loop, sky position + WCS": m_sky / t_cut_sky,
        "memory-copy bound (numpy copyto)": n / t_copy,
    }
    stamp_bytes = len(BANDS) * s * s * 4
    lines = [
        "<!-- bench_stamps:start -->",
        "## Stamps (`benchmarks/bench_stamps.py" + (" --quick" if args.quick else "") + "`)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}. Field: {n_ccd} CCD(s) of {ny} x {nx} px, {n_total} sources, "
        f"stamps {len(BANDS)} x {s} x {s} float32 ({stamp_bytes // 1024} KiB each), "
        f"compression {settings.compression}, {settings.rows_per_group} rows/row group.",
        "",
        "| measurement | stamps/s | MB/s of stamps |",
        "|---|---:|---:|",
    ]
    for name, r in rate.items():
        lines.append(f"| {name} | {r:,.0f} | {r * stamp_bytes / 1e6:,.0f} |")
    lines += [
        "",
        f"- end to end / Cutout2D loop: **{rate['end to end (FITS -> Parquet)'] / rate['Cutout2D loop']:.1f}x**; "
        f"vs the sky-position Cutout2D loop: **{rate['end to end (FITS -> Parquet)'] / rate['Cutout2D loop, sky position + WCS']:.1f}x** (target >= 20x)",
        f"- kernel / Cutout2D loop: {rate['kernel (extract_stamps)'] / rate['Cutout2D loop']:.1f}x",
        f"- kernel / memory-copy bound: **{rate['kernel (extract_stamps)'] / rate['memory-copy bound (numpy copyto)']:.0%}** (target >= 30%)",
        f"- kernel stamps identical to the Cutout2D stamps ({m} sources x {len(BANDS)} bands): {same}",
        f"- NaN padding of one CCD (all bands, not in the kernel rate): {t_pad * 1e3:.0f} ms",
        f"- end to end peak RSS of the child process: {rss / 2**20:,.0f} MiB; tracemalloc peak "
        f"(numpy/Python allocations): {traced_peak / 2**20:,.0f} MiB; one CCD (all bands) "
        f"{len(BANDS) * ny * nx * 4 / 2**20:,.0f} MiB, one row group "
        f"{settings.rows_per_group * stamp_bytes / 2**20:,.0f} MiB, output file {out_bytes / 2**20:,.0f} MiB",
        "<!-- bench_stamps:end -->",
    ]
    text = "\n".join(lines)
    print(text)
    if args.results:
        update_section("bench_stamps", text, args.results)
    return 0 if same else 1


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    raise SystemExit(main())
