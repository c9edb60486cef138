"""Benchmark: what the completeness stage adds to `make demo`, one demo field at a time.

Side by side in one run, on one demo mock field (4 CCDs of 1024x2048 px, g and i):

* ``baseline``: the field's ``sources`` stage (``build_sources`` on its images), a
  step every demo run already makes per field;
* ``injection round``: one round of the ``injection`` rule (``run_round``: draw and
  render the artificial clusters, ``build_sources`` on the injected images, match,
  stamps and inference of the matched sources with a two-seed resnet18 ensemble of
  untrained weights: the cost does not depend on the weights).

The demo runs ``completeness.rounds`` (default 1) rounds on each of its 5 fields; the
projection is 5 x the round's time, divided over the 2 cores of the demo machine.
Usage: ``python benchmarks/bench_completeness.py [--field 248]``. One thread per process.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from pandas_clusters.acquire.mock import MockSettings, write_field_image  # noqa: E402
from pandas_clusters.completeness.stage import run_round  # noqa: E402
from pandas_clusters.core.config import (  # noqa: E402
    inference_params,
    sources_params,
    stamps_params,
    validate_config,
)
from pandas_clusters.detect.sources import SourceSettings, build_sources  # noqa: E402
from pandas_clusters.learn.models import build_model, save_weights  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import add_results_argument, report_section  # noqa: E402


def _timed(fn):
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    out = fn()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return out, time.perf_counter() - t0, cpu


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--field", type=int, default=248)
    add_results_argument(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    config = validate_config({})
    with tempfile.TemporaryDirectory(prefix="bench_completeness-") as tmp:
        lines = _run(Path(tmp), args.field, config)
    report_section("bench_completeness", lines, args.results)


def _run(root: Path, field: int, config) -> list[str]:
    """Render the field, time its sources stage and one injection round; the report lines."""
    images = {b: root / f"{b}.fits" for b in config["bands"]}
    for band, path in images.items():
        write_field_image(MockSettings.demo(), field, band, path)
    src = SourceSettings.from_config(sources_params(config))
    sources = root / "sources.parquet"
    frame, t_src, c_src = _timed(
        lambda: build_sources(images, field=field, out=sources, settings=src)
    )
    weights = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = build_model("resnet18", in_channels=2)
        meta = {
            "model": "resnet18",
            "in_channels": 2,
            "bands": ["g", "i"],
            "size": 64,
            "seed": seed,
            "mag_limit": 22.0,
        }
        weights.append(save_weights(model, root / f"seed{seed}.safetensors", metadata=meta))
    outputs = {k: root / f"round0_{k}.parquet" for k in ("recovery", "sources", "inference")}
    params = {
        "completeness": config["completeness"],
        "sources": sources_params(config),
        "stamps": stamps_params(config),
        "inference": {**inference_params(config), "device": "cpu"},
    }
    rec, t_inj, c_inj = _timed(
        lambda: run_round(
            images,
            sources,
            weights,
            outputs,
            field=field,
            rnd=0,
            seed=config["seed"],
            params=params,
        )
    )
    fields = len(config["fields"])
    lines = [
        "## Completeness: one injection round of a demo field (`benchmarks/bench_completeness.py`)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" torch {torch.__version__}, one thread. Field {field} of the demo mock (4 CCDs of"
        f" 1024x2048 px, g and i), {len(frame)} sources; command"
        " `python benchmarks/bench_completeness.py`.",
        "",
        "| step | wall s | CPU s |",
        "|---|---:|---:|",
        f"| baseline: the field's sources stage | {t_src:.1f} | {c_src:.1f} |",
        f"| one injection round ({len(rec)} clusters, {int(rec['detected'].sum())} detected,"
        f" {int(rec['prob_mean'].notna().sum())} classified) | {t_inj:.1f} | {c_inj:.1f} |",
        "",
        f"- injection round / sources stage: {t_inj / t_src:.2f}x (wall)",
        f"- projection for `make demo` ({fields} fields x 1 round, 2 cores):"
        f" {fields * t_inj / 2 / 60:.1f} min added from the wall time, {fields * c_inj / 2 / 60:.1f}"
        " min from the CPU time (target <= 5 min; the wall time includes waiting for a"
        " shared, loaded machine)",
    ]
    return lines


if __name__ == "__main__":
    main()
