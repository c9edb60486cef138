"""Inference throughput on the CPU: the project's streaming path against a naive loop.

Both sides classify the same stamps Parquet file with the same weights
(one seed of ``--model``, written by :func:`pandas_clusters.learn.models.save_weights`),
each in a fresh child process (so that its peak RSS is its own), from the
file on disk to the probabilities on disk:

* ``project``: :func:`pandas_clusters.catalogue.inference.predict_stamps` (row-group
  batches streamed with ``ParquetFile.iter_batches``, normalised as torch
  tensors, float32 on the CPU, one output Parquet);
* ``naive``: the whole file read with ``pandas.read_parquet``, a torchvision
  ResNet built by hand and loaded from the same safetensors file, and per
  batch ``numpy.stack`` of the stamp objects -> ``torch.from_numpy`` ->
  :func:`~pandas_clusters.learn.normalize.normalize_stamps` -> float32 forward
  pass -> softmax.

The two sides' probabilities must agree to float32 rounding on every stamp.
Reported beside them (not part of the check): on the first stamps, how much
the probabilities move when the stamps are normalised as NumPy arrays (as
:func:`pandas_clusters.learn.datasets.load_split` does for training) instead of torch
tensors (as inference does); both paths use the same median definition, so
this should stay at float32 rounding.

Rates are stamps per second, the best of ``--repeat`` runs (runs of the two
sides alternate). The projected time for the whole survey assumes
``--survey-sources`` sources within Rproj = 30 kpc (default 5e6: an
**assumption**, not a count) at the measured rate, for one model and for an
ensemble of ``--ensemble`` seeds (each seed is one more forward pass).

Usage::

    python benchmarks/bench_inference.py --quick        # 512 synthetic stamps, one run
    python benchmarks/bench_inference.py                # 4096 synthetic stamps, best of 2
    python benchmarks/bench_inference.py --stamps results/stamps/207.parquet \\
        --weights results/training/resnet18/mag22.0/seed0/weights.safetensors

Results are printed as Markdown and written to ``benchmarks/RESULTS.md``
(section between ``<!-- bench_inference -->`` markers; ``--results ''`` to skip).
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
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "src"))

from _results import add_results_argument, report_section  # noqa: E402

from pandas_clusters.core.io import read_parquet_metadata, write_parquet  # noqa: E402

#: Agreement required between the two sides' probabilities (float32 rounding only).
TOLERANCE = 1e-5


def _rss_peak() -> int:
    """Peak resident set size of this process so far, bytes (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_synthetic_stamps(path: Path, *, n: int, size: int, seed: int) -> Path:
    """A stamps file as the stamps stage writes it: 2 bands, 1024 rows per row group."""
    from pandas_clusters.detect.stamps import stamps_schema
    from pandas_clusters.learn.datasets import synthetic_stamps

    labels = np.arange(n) % 2
    x = synthetic_stamps(labels, n_bands=2, size=size, seed=seed, nan_fraction=0.2)
    schema = stamps_schema(2, size)
    stamp = pa.FixedSizeListArray.from_arrays(
        pa.array(x.reshape(-1)), type=schema.field("stamp").type
    )
    table = pa.Table.from_arrays(
        [pa.array(np.arange(n, dtype=np.int64) * 11 + 7), stamp, pa.array(np.zeros(n, np.int32))],
        schema=schema,
    )
    meta = {"bands": ["g", "i"], "size": size, "pixel_scale_arcsec": 0.187}
    return write_parquet(table, path, metadata=meta, row_group_size=1024)


def write_random_weights(path: Path, *, model: str, bands: list[str], size: int, seed: int):
    """Seeded randomly initialised weights, saved the way training saves them."""
    import torch

    from pandas_clusters.learn.models import build_model, save_weights

    torch.manual_seed(seed)
    net = build_model(model, in_channels=len(bands))
    meta = {
        "model": model,
        "in_channels": len(bands),
        "bands": bands,
        "size": size,
        "mag_limit": None,
        "seed": seed,
    }
    return save_weights(net, path, metadata=meta)


# --- the two sides, each run in a child process -----------------------------------------


def _project_child(stamps, weights, out, batch_size, threads, queue):
    import torch

    from pandas_clusters.catalogue.inference import InferenceSettings, predict_stamps

    torch.set_num_threads(threads)
    base = _rss_peak()
    t0 = time.perf_counter()
    predict_stamps(
        stamps,
        [weights],
        settings=InferenceSettings.from_config(batch_size=batch_size, device="cpu", mag_limit=None),
        output_path=out,
        progress=False,
    )
    dt = time.perf_counter() - t0
    queue.put((dt, base, _rss_peak()))


def naive_model(weights: str, *, name: str, in_channels: int):
    """torchvision ResNet with an ``in_channels`` first convolution and 2 classes, loaded."""
    import torchvision
    from safetensors.torch import load_file
    from torch import nn

    if not name.startswith("resnet"):
        msg = f"the naive baseline builds ResNets only, not {name!r}"
        raise ValueError(msg)
    net = torchvision.models.get_model(name, weights=None, num_classes=2)
    net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    net.load_state_dict(load_file(weights), strict=True)
    return net.eval()


def _naive_child(stamps, weights, out, batch_size, threads, name, queue):
    import pandas as pd
    import torch

    from pandas_clusters.learn.normalize import normalize_stamps

    torch.set_num_threads(threads)
    base = _rss_peak()
    t0 = time.perf_counter()
    df = pd.read_parquet(stamps)
    meta = read_parquet_metadata(stamps)
    c, s = len(meta["bands"]), int(meta["size"])
    net = naive_model(weights, name=name, in_channels=c)
    probs = []
    with torch.no_grad():
        for start in range(0, len(df), batch_size):
            x = np.stack(df["stamp"].iloc[start : start + batch_size].to_list())
            xt = torch.from_numpy(x.astype(np.float32).reshape(-1, c, s, s))
            logits = net(normalize_stamps(xt))
            probs.append(torch.softmax(logits, dim=1)[:, 1].numpy())
    prob = np.concatenate(probs) if probs else np.empty(0, np.float32)
    pd.DataFrame({"source_id": df["source_id"].to_numpy(), "prob": prob}).to_parquet(out)
    dt = time.perf_counter() - t0
    queue.put((dt, base, _rss_peak()))


def _run_child(target, *args):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    if proc.exitcode != 0:
        msg = f"benchmark child {target.__name__} exited with {proc.exitcode}"
        raise RuntimeError(msg)
    return result


def normalisation_skew(stamps, weights, *, name: str, n: int) -> float:
    """Max |p(NumPy-normalised) - p(torch-normalised)| over the first ``n`` stamps."""
    import torch

    from pandas_clusters.learn.datasets import stamps_to_array
    from pandas_clusters.learn.normalize import normalize_stamps

    meta = read_parquet_metadata(stamps)
    c, s = len(meta["bands"]), int(meta["size"])
    table = pq.ParquetFile(stamps).read_row_group(0, columns=["stamp"]).slice(0, n)
    x = stamps_to_array(table["stamp"], n_bands=c, size=s)
    net = naive_model(weights, name=name, in_channels=c)
    with torch.inference_mode():
        p_np = torch.softmax(net(torch.from_numpy(normalize_stamps(x))), dim=1)[:, 1]
        p_torch = torch.softmax(net(normalize_stamps(torch.from_numpy(x))), dim=1)[:, 1]
    return float((p_np - p_torch).abs().max()) if len(x) else 0.0


# --- main -------------------------------------------------------------------------------


def _fmt_duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:,.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.1f} d"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="512 stamps, one run (smoke run)")
    parser.add_argument("--n", type=int, default=4096, help="synthetic stamps (without --stamps)")
    parser.add_argument("--size", type=int, default=64, help="synthetic stamp side S, px")
    parser.add_argument("--stamps", help="an existing stamps Parquet file instead of synthetic")
    parser.add_argument("--weights", help="trained safetensors weights instead of random ones")
    parser.add_argument("--model", default="resnet18", help="architecture of random weights")
    parser.add_argument("--batch-size", type=int, default=256, help="stamps per batch, both sides")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: os.cpu_count())"
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs per side (best kept)")
    parser.add_argument(
        "--survey-sources",
        type=float,
        default=5e6,
        help="ASSUMED number of PAndAS sources within Rproj = 30 kpc, for the projection",
    )
    parser.add_argument(
        "--ensemble", type=int, default=5, help="seeds of the ensemble, for the projection"
    )
    add_results_argument(parser)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.quick:
        args.n = min(args.n, 512)
        args.repeat = 1
    threads = args.threads or os.cpu_count() or 1
    command = "python benchmarks/bench_inference.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )

    import torch

    from pandas_clusters.learn.models import read_weights_metadata

    with tempfile.TemporaryDirectory(prefix="bench_inference_") as tmp:
        root = Path(tmp)
        if args.stamps:
            stamps = Path(args.stamps)
            data = f"`{args.stamps}`"
        else:
            stamps = write_synthetic_stamps(
                root / "stamps.parquet", n=args.n, size=args.size, seed=args.seed
            )
            data = (
                "synthetic (`pandas_clusters.learn.datasets.synthetic_stamps`, 20% with NaN edges)"
            )
        meta = read_parquet_metadata(stamps)
        bands, size = list(meta["bands"]), int(meta["size"])
        n = pq.ParquetFile(stamps).metadata.num_rows
        if args.weights:
            weights = Path(args.weights)
            wmeta = read_weights_metadata(weights)
            model, wdesc = wmeta["model"], f"trained, `{args.weights}`"
        else:
            model = args.model
            weights = write_random_weights(
                root / "weights.safetensors", model=model, bands=bands, size=size, seed=args.seed
            )
            wdesc = f"random initialisation (seed {args.seed}), saved with `save_weights`"
        out_p, out_n = root / "project.parquet", root / "naive.parquet"
        runs = {"project": [], "naive": []}
        for _ in range(args.repeat):
            runs["project"].append(
                _run_child(_project_child, stamps, weights, out_p, args.batch_size, threads)
            )
            runs["naive"].append(
                _run_child(_naive_child, stamps, weights, out_n, args.batch_size, threads, model)
            )
        proj = pq.read_table(out_p).to_pandas()
        naive = pq.read_table(out_n).to_pandas()
        ids_equal = np.array_equal(proj["source_id"].to_numpy(), naive["source_id"].to_numpy())
        p_proj = proj[next(c for c in proj.columns if c.startswith("prob_seed"))].to_numpy()
        diff = float(np.abs(p_proj - naive["prob"].to_numpy()).max()) if n else 0.0
        torch.set_num_threads(threads)
        skew = normalisation_skew(stamps, weights, name=model, n=min(256, n))
        file_mib = stamps.stat().st_size / 2**20

    best = {k: min(v, key=lambda r: r[0]) for k, v in runs.items()}
    rate = {k: n / r[0] for k, r in best.items()}
    ok = ids_equal and diff <= TOLERANCE
    n_survey = args.survey_sources
    t_one = n_survey / rate["project"]
    lines = [
        "## Inference on the CPU (`benchmarks/bench_inference.py"
        + (" --quick" if args.quick else "")
        + "`)",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"Machine: {_cpu_name()}, {platform.machine()}, {os.cpu_count()} CPUs, torch threads "
        f"{threads}, Python {platform.python_version()}, torch {torch.__version__}, numpy "
        f"{np.__version__}. Model: {model}, weights {wdesc}. Data: {data}, {n} stamps "
        f"{len(bands)} x {size} x {size} float32 ({file_mib:,.0f} MiB file). Batch size "
        f"{args.batch_size}; best of {args.repeat} run(s) per side, each in a fresh process, "
        "timed from the Parquet file to the probabilities file.",
        "",
        "| path | stamps/s | time (s) | peak RSS (MiB) | peak RSS above imports (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    labels = {
        "project": "project: `predict_stamps` (streamed row groups)",
        "naive": "naive: `pd.read_parquet` whole file, per-batch NumPy -> tensor",
    }
    for k in ("project", "naive"):
        dt, base, peak = best[k]
        lines.append(
            f"| {labels[k]} | {rate[k]:,.1f} | {dt:,.2f} | {peak / 2**20:,.0f} | "
            f"{(peak - base) / 2**20:,.0f} |"
        )
    lines += [
        "",
        f"- project / naive rate: **{rate['project'] / rate['naive']:.2f}x**; peak RSS above "
        f"imports: {(best['project'][2] - best['project'][1]) / 2**20:,.0f} vs "
        f"{(best['naive'][2] - best['naive'][1]) / 2**20:,.0f} MiB",
        f"- same probabilities: **{ok}** (same source_id order: {ids_equal}; max "
        f"|p_project - p_naive| over all {n} stamps = {diff:.2e}, tolerance {TOLERANCE:g})",
        f"- for information: normalising as NumPy arrays (training, `data.load_split`) instead "
        f"of torch tensors (inference) moves the probabilities by up to {skew:.2e} "
        f"(first {min(256, n)} stamps; both paths use the same median, so float32 rounding)",
        f"- projection, ASSUMING {n_survey:,.0f} PAndAS sources within Rproj = 30 kpc (an "
        f"assumed count, set with --survey-sources) at the project rate: "
        f"**{_fmt_duration(t_one)}** for one model, **{_fmt_duration(args.ensemble * t_one)}** "
        f"for an ensemble of {args.ensemble} seeds, on this CPU with {threads} thread(s)",
    ]
    report_section("bench_inference", lines, args.results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
