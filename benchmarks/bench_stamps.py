"""Benchmark of the stamps stage: cut_stamps vs an astropy Cutout2D loop vs memcpy.

Builds a synthetic field (multi-extension g/i FITS with TAN WCS and MAGZPT,
sky + Gaussian noise, NaN bad columns; the i grid shifted and rotated against
g) and a sources table of uniformly placed sources (edges included), then
measures, side by side in one run:

- end to end, FITS on disk -> Parquet on disk, each in a child process (peak
  RSS reported), the output file removed and the page cache flushed
  (``os.sync``) before every run:

  * :func:`pandas_clusters.detect.stamps.cut_stamps` (two threads: Parquet
    encoding overlaps the cutting), with and without Parquet page checksums
    (CRC-32 per data page, written by default; the "before" of issue 14);
  * the Cutout2D loop a user would otherwise write: per CCD the same
    calibration (read, sep background, zero-point scaling), then per source
    and band a ``SkyCoord`` of the source through that band's WCS and
    ``astropy.nddata.Cutout2D(..., wcs=..., mode="partial", fill_value=nan)``
    at the nearest pixel, rows written to Parquet (same schema, 1024 rows per
    row group) with pyarrow. Its stamps are checked to equal cut_stamps'
    stamps, all of them;

- kernel: :func:`pandas_clusters.detect.stamps.extract_stamps` on prepared
  (calibrated, NaN-padded) CCDs, all bands, into an ``(N, C, S, S)`` buffer,
  beside an in-memory ``Cutout2D`` loop with the same integer pixel centres
  (no WCS) and the memory-copy bound (``numpy.copyto`` of the same bytes).

Rates are stamps (sources, C x S x S each) per second. cut_stamps' end-to-end
rates are the median of ``--repeat`` runs (all runs are listed), kernel rates
the best; the Cutout2D end-to-end loop runs once over the whole field (its
per-source cost varies little: one run is ~100 s of the same call). Usage::

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
from astropy.wcs.utils import skycoord_to_pixel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "src"))

from _results import add_results_argument, report_section  # noqa: E402

from pandas_clusters.detect.ccd import list_ccds, read_wcs  # noqa: E402
from pandas_clusters.detect.sources import make_source_id, sources_schema  # noqa: E402
from pandas_clusters.detect.stamps import (  # noqa: E402
    PaddedImage,
    StampSettings,
    _calibrated_ccd,
    cut_stamps,
    extract_stamps,
    stamps_schema,
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


def cutout2d_loop_end_to_end(src, images, *, out, settings) -> int:
    """The loop a user would otherwise write: Cutout2D per source and band, rows to Parquet."""
    s = settings.size
    table = pq.read_table(src, columns=["source_id", "ccd", "ra", "dec"]).to_pandas()
    schema = stamps_schema(len(BANDS), s)
    stamp_type = schema.field("stamp").type
    n = 0
    with pq.ParquetWriter(out, schema) as writer:
        for ccd, group in table.groupby("ccd", sort=True):
            data, wcs = {}, {}
            for b in BANDS:
                ref = next(r for r in list_ccds(images[b]) if r.ccd == ccd)
                data[b] = _calibrated_ccd(images[b], ref, b, settings)[0]
                wcs[b] = read_wcs(images[b], ref)
            for c0 in range(0, len(group), settings.rows_per_group):
                part = group.iloc[c0 : c0 + settings.rows_per_group]
                rows = np.full((len(part), len(BANDS), s, s), np.nan, np.float32)
                for j, (ra, dec) in enumerate(zip(part["ra"], part["dec"], strict=True)):
                    position = SkyCoord(ra, dec, unit="deg")
                    for k, b in enumerate(BANDS):
                        x, y = skycoord_to_pixel(position, wcs[b])
                        cx, cy = np.floor(x + 0.5), np.floor(y + 0.5)  # nearest pixel
                        ny, nx = data[b].shape
                        if not (0 <= cx < nx and 0 <= cy < ny):
                            continue  # centre off the CCD: all NaN, as cut_stamps
                        try:
                            rows[j, k] = Cutout2D(
                                data[b],
                                (cx, cy),
                                (s, s),
                                wcs=wcs[b],
                                mode="partial",
                                fill_value=np.nan,
                            ).data
                        except NoOverlapError:
                            pass
                flags = np.isnan(rows).any(axis=(1, 2, 3)).astype(np.int32) * 2
                writer.write_table(
                    pa.Table.from_arrays(
                        [
                            pa.array(part["source_id"].to_numpy()),
                            pa.FixedSizeListArray.from_arrays(
                                pa.array(rows.reshape(-1)), type=stamp_type
                            ),
                            pa.array(flags),
                        ],
                        schema=schema,
                    )
                )
                n += len(part)
    return n


def _end_to_end_child(method, src, images, out, settings, queue, trace):
    if trace:
        tracemalloc.start()
    if method == "cut_stamps_no_checksums":
        import pandas_clusters.detect.stamps as stamps_module

        stamps_module._PAGE_CHECKSUM = False
    t0, c0 = time.perf_counter(), time.process_time()
    if method.startswith("cut_stamps"):
        n = cut_stamps(src, images, out=out, settings=settings, threads=2)
    else:
        n = cutout2d_loop_end_to_end(src, images, out=out, settings=settings)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    queue.put((n, dt, peak, rss, cpu))


def end_to_end(method, src, images, out, settings, *, trace: bool = False):
    """One run in a fresh child process, after removing ``out`` and flushing dirty pages."""
    Path(out).unlink(missing_ok=True)
    os.sync()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=_end_to_end_child, args=(method, src, images, out, settings, queue, trace)
    )
    proc.start()
    result = queue.get()
    proc.join()
    return result


def same_stamps(path_a, path_b) -> bool:
    """Whether two stamps files hold equal stamps (NaN = NaN) for equal source_ids."""
    a = pq.ParquetFile(path_a)
    b = pq.ParquetFile(path_b)
    if a.metadata.num_rows != b.metadata.num_rows:
        return False
    for batch_a, batch_b in zip(
        a.iter_batches(batch_size=2048, columns=["source_id", "stamp"]),
        b.iter_batches(batch_size=2048, columns=["source_id", "stamp"]),
        strict=True,
    ):
        if not np.array_equal(batch_a.column(0).to_numpy(), batch_b.column(0).to_numpy()):
            return False
        va = batch_a.column(1).values.to_numpy(zero_copy_only=False)
        vb = batch_b.column(1).values.to_numpy(zero_copy_only=False)
        if not np.array_equal(va, vb, equal_nan=True):
            return False
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small field (CI smoke run)")
    parser.add_argument("--size", type=int, default=64, help="stamp side S, px")
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per measurement (median of end to end, best of kernels; default 5, 2 with --quick)",
    )
    parser.add_argument(
        "--cutout-sources", type=int, default=3000, help="sources in the in-memory Cutout2D loop"
    )
    add_results_argument(parser)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workdir", default=None, help="folder for the field and outputs (default: the temp dir)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        n_ccd, ny, nx, per_ccd = 1, 1024, 1024, 4000
        args.cutout_sources = min(args.cutout_sources, 1000)
        args.repeat = args.repeat or 2
    else:
        n_ccd, ny, nx, per_ccd = 4, 4612, 2048, 20000
        args.repeat = args.repeat or 5
    s = args.size
    settings = StampSettings.from_config(bands=BANDS, size=s)
    with tempfile.TemporaryDirectory(prefix="bench_stamps_", dir=args.workdir) as tmp:
        root = Path(tmp)
        images, src = make_field(root, n_ccd=n_ccd, ny=ny, nx=nx, per_ccd=per_ccd, seed=args.seed)
        n_total = n_ccd * per_ccd
        out = root / "stamps.parquet"
        out_loop = root / "stamps_cutout2d.parquet"

        # end to end (child processes), alternating the two cut_stamps variants
        runs = {"checksums": [], "no_checksums": []}
        for _ in range(args.repeat):
            runs["checksums"].append(end_to_end("cut_stamps", src, images, out, settings))
            runs["no_checksums"].append(
                end_to_end("cut_stamps_no_checksums", src, images, out, settings)
            )
        median = {k: sorted(v, key=lambda r: r[1])[len(v) // 2] for k, v in runs.items()}  # median
        assert all(r[0] == n_total for v in runs.values() for r in v)
        _, _, traced_peak, _, _ = end_to_end("cut_stamps", src, images, out, settings, trace=True)
        out_bytes = out.stat().st_size
        n_loop, t_loop, _, rss_loop, _ = end_to_end("cutout2d", src, images, out_loop, settings)
        assert n_loop == n_total
        same_e2e = same_stamps(out, out_loop)
        out_loop.unlink()

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

    t_e2e, rss = median["checksums"][1], median["checksums"][3]
    cpu_med = {k: float(np.median([r[4] for r in v])) for k, v in runs.items()}
    rate = {
        "end to end: cut_stamps (page checksums, default)": n_total / t_e2e,
        "end to end: cut_stamps without page checksums (before)": n_total
        / median["no_checksums"][1],
        "end to end: Cutout2D loop (SkyCoord + WCS per source), pyarrow writer": n_total / t_loop,
        "kernel: extract_stamps": n / t_kernel,
        "kernel: Cutout2D loop, integer pixel centres, in memory": m / t_cut,
        "memory-copy bound (numpy copyto)": n / t_copy,
    }
    names = list(rate)
    stamp_bytes = len(BANDS) * s * s * 4
    lines = [
        "## Stamps (`benchmarks/bench_stamps.py" + (" --quick" if args.quick else "") + "`)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, pyarrow {pa.__version__}. Field: {n_ccd} CCD(s) of {ny} x {nx} px, "
        f"{n_total} sources, stamps {len(BANDS)} x {s} x {s} float32 ({stamp_bytes // 1024} KiB "
        f"each), compression {settings.compression}, {settings.rows_per_group} rows/row group; "
        f"output on {_filesystem(root)}.",
        "",
        "| measurement | stamps/s | MB/s of stamps |",
        "|---|---:|---:|",
    ]
    for name, r in rate.items():
        lines.append(f"| {name} | {r:,.0f} | {r * stamp_bytes / 1e6:,.0f} |")
    lines += [
        "",
        f"- end to end, cut_stamps / Cutout2D loop: **{rate[names[0]] / rate[names[2]]:.1f}x** "
        f"(target >= 20x); without page checksums {rate[names[1]] / rate[names[2]]:.1f}x",
        "- cut_stamps end to end, every run (s): with page checksums "
        + ", ".join(f"{r[1]:.2f}" for r in runs["checksums"])
        + "; without "
        + ", ".join(f"{r[1]:.2f}" for r in runs["no_checksums"]),
        f"- page checksums cost {100 * (t_e2e / median['no_checksums'][1] - 1):+.1f}% of the "
        f"end-to-end time (medians), {100 * (cpu_med['checksums'] / cpu_med['no_checksums'] - 1):+.1f}% "
        f"of its CPU time (median CPU s per run: {cpu_med['checksums']:.2f} with, "
        f"{cpu_med['no_checksums']:.2f} without; {n_total / cpu_med['checksums']:,.0f} vs "
        f"{n_total / cpu_med['no_checksums']:,.0f} stamps per CPU second: CPU time does not "
        "depend on the other jobs of a shared machine as wall time does)",
        f"- end-to-end stamps identical to the Cutout2D loop's ({n_total} sources x "
        f"{len(BANDS)} bands): {same_e2e}",
        f"- kernel / memory-copy bound: **{rate[names[3]] / rate[names[5]]:.0%}** (target >= 30%); "
        f"kernel / in-memory Cutout2D loop: {rate[names[3]] / rate[names[4]]:.1f}x, identical "
        f"stamps ({m} sources x {len(BANDS)} bands): {same}",
        f"- NaN padding of one CCD (all bands, not in the kernel rate): {t_pad * 1e3:.0f} ms",
        f"- peak RSS: cut_stamps {rss / 2**20:,.0f} MiB ("
        f"tracemalloc peak of numpy/Python allocations "
        f"{traced_peak / 2**20:,.0f} MiB), Cutout2D loop "
        f"{rss_loop / 2**20:,.0f} MiB; one CCD (all bands) {len(BANDS) * ny * nx * 4 / 2**20:,.0f} "
        f"MiB, one row group {settings.rows_per_group * stamp_bytes / 2**20:,.0f} MiB, output file "
        f"{out_bytes / 2**20:,.0f} MiB",
    ]
    report_section("bench_stamps", lines, args.results)
    return 0 if same and same_e2e else 1


def _filesystem(path: Path) -> str:
    """Filesystem type and device holding ``path`` (from /proc/mounts; '?' elsewhere)."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "?"
    best = max(
        (m for m in mounts if str(path.resolve()).startswith(m[1].rstrip("/") + "/")),
        key=lambda m: len(m[1]),
        default=None,
    )
    return f"{best[2]} ({best[0]})" if best else "?"


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    raise SystemExit(main())
