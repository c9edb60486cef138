"""Training throughput: the device-resident pipeline against a per-sample DataLoader.

Both sides train the same model (same initial weights, optimiser, batch size
and number of samples) on the same toy stamps
(:func:`pandas_clusters.learn.datasets.synthetic_stamps`, NaN edges included):

* ``resident``: :mod:`pandas_clusters.learn.datasets` as :func:`pandas_clusters.learn.training.train`
  uses it: the split normalised once, held as one tensor on the device,
  shuffled, batched and augmented (8 rotations/flips, shifts) there;
* ``dataloader``: a plain ``torch.utils.data.Dataset`` whose ``__getitem__``
  normalises and augments one raw stamp with NumPy, fed through a
  ``DataLoader`` (``num_workers`` as given, default 0).

Prints samples per second of each (one warm-up epoch each, then timed
epochs alternating between the two) and their ratio. Usage::

    PYTHONPATH=src python benchmarks/bench_training.py --quick
    PYTHONPATH=src python benchmarks/bench_training.py --n 4096 --size 64 --epochs 2
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from pandas_clusters.learn.datasets import DeviceBatches, synthetic_stamps
from pandas_clusters.learn.models import build_model, resolve_device
from pandas_clusters.learn.normalize import normalize_stamps
from pandas_clusters.learn.training import train_one_epoch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import add_results_argument, update_section  # noqa: E402


class PerSampleStamps(Dataset):
    """Baseline: normalise and augment one stamp at a time, in NumPy."""

    def __init__(self, raw: np.ndarray, labels: np.ndarray, *, max_shift: int, seed: int) -> None:
        self.raw = raw
        self.labels = labels
        self.max_shift = max_shift
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = normalize_stamps(self.raw[i])
        k = int(self.rng.integers(8))
        x = np.rot90(x, k % 4, axes=(1, 2))
        if k >= 4:
            x = x[:, :, ::-1]
        s = self.max_shift
        if s:
            dy, dx = self.rng.integers(-s, s + 1, 2)
            pad = np.pad(x, ((0, 0), (s, s), (s, s)))
            h, w = x.shape[1:]
            x = pad[:, s - dy : s - dy + h, s - dx : s - dx + w]
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), int(self.labels[i])


def _loader_epoch(model, loader, optimizer, criterion, device) -> None:
    model.train()
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        if device.type == "cuda":
            xb = xb.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(xb)
        loss = criterion(logits.float(), yb)
        loss.backward()
        optimizer.step()


def _time_once(run_epoch, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    run_epoch()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small run (512 stamps of 32 px, 1 epoch)"
    )
    parser.add_argument("--n", type=int, default=4096, help="number of stamps")
    parser.add_argument("--size", type=int, default=64, help="stamp side, px")
    parser.add_argument("--bands", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs (after one warm-up)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the baseline")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    add_results_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.size, args.epochs = 512, 32, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    labels = (np.arange(args.n) % 3 == 0).astype(np.int64)
    raw = synthetic_stamps(labels, n_bands=args.bands, size=args.size, seed=0)

    torch.manual_seed(0)
    model0 = build_model(args.model, in_channels=args.bands).to(device)
    if device.type == "cuda":
        model0 = model0.to(memory_format=torch.channels_last)
    criterion = nn.CrossEntropyLoss()

    model_a = copy.deepcopy(model0)
    opt_a = torch.optim.AdamW(model_a.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    x = normalize_stamps(raw)  # once, as train() does
    gen = torch.Generator(device=device).manual_seed(0)
    batches = DeviceBatches(
        x, labels, device=device, batch_size=args.batch_size, generator=gen, max_shift=2
    )
    setup = time.perf_counter() - t0

    model_b = copy.deepcopy(model0)
    opt_b = torch.optim.AdamW(model_b.parameters(), lr=1e-3)
    ds = PerSampleStamps(raw, labels, max_shift=2, seed=0)
    loader = DataLoader(
        ds,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
        generator=torch.Generator().manual_seed(0),
        pin_memory=device.type == "cuda",
    )
    runs = {
        "resident": lambda: train_one_epoch(
            model_a, batches, opt_a, criterion, device=device, progress=False
        ),
        "dataloader": lambda: _loader_epoch(model_b, loader, opt_b, criterion, device),
    }
    # warm-up, then alternate the timed epochs so that load changes hit both alike
    seconds = dict.fromkeys(runs, 0.0)
    for run in runs.values():
        run()
    for _ in range(args.epochs):
        for name, run in runs.items():
            seconds[name] += _time_once(run, device)
    results = {
        name: {
            "seconds": secs,
            "setup_seconds": setup if name == "resident" else 0.0,
            "samples_per_s": args.n * args.epochs / secs,
        }
        for name, secs in seconds.items()
    }

    info = {
        "model": args.model,
        "n": args.n,
        "size": args.size,
        "bands": args.bands,
        "batch_size": args.batch_size,
        "timed_epochs": args.epochs,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "dataloader_workers": args.workers,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    print(
        f"training throughput, {args.model}, {args.n} stamps {args.bands}x{args.size}x{args.size}, "
        f"batch {args.batch_size}, {args.epochs} timed epoch(s), {device}, "
        f"{torch.get_num_threads()} thread(s)"
    )
    print(f"{'pipeline':<12} {'samples/s':>10} {'epoch s':>9} {'setup s':>8}")
    for name, r in results.items():
        print(
            f"{name:<12} {r['samples_per_s']:>10.1f} {r['seconds'] / args.epochs:>9.2f} {r['setup_seconds']:>8.2f}"
        )
    ratio = results["resident"]["samples_per_s"] / results["dataloader"]["samples_per_s"]
    print(f"speed-up of the resident pipeline: {ratio:.2f}x")
    out = {"info": info, "results": results, "speedup": ratio}
    cmd = "python benchmarks/bench_training.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    lines = [
        "<!-- bench_training:start -->",
        f"## Training throughput (`{cmd.strip()}`)",
        "",
        f"Machine: {info['cpu']}, {os.cpu_count()} CPUs, torch {info['torch']}, device {device}, "
        f"{torch.get_num_threads()} thread(s). {args.model}, {args.n} synthetic stamps "
        f"{args.bands}x{args.size}x{args.size}, batch {args.batch_size}, {args.epochs} timed epoch(s) "
        "after one warm-up.",
        "",
        "| pipeline | samples/s | s/epoch | set-up s |",
        "|---|---:|---:|---:|",
        *[
            f"| {name} | {r['samples_per_s']:.1f} | {r['seconds'] / args.epochs:.2f} | {r['setup_seconds']:.2f} |"
            for name, r in results.items()
        ],
        "",
        f"- device-resident pipeline / per-sample DataLoader: **{ratio:.2f}x**",
        "<!-- bench_training:end -->",
    ]
    if args.results:
        update_section("bench_training", "\n".join(lines), args.results)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
