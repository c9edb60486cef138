"""Survey-scale benchmark: one mock MegaCam field through mock, sources, stamps and inference.

One field (``--field``, default 266, a demo field on the NE disk) at the real MegaCam
size, centred on its real pointing centre (9 x 4 CCDs of 2048 x 4612 px; ``--layout small`` renders 2 x 1 of them to try the benchmark
out), each stage in a child process of its own, measured side by side in one
run:

- ``mock``: rendering the g and i images (skipped when ``--workdir`` already
  holds them: rendering is not what this benchmark compares);
- ``sources``: the stage as it was (``reproject.reproject_interp`` of whole
  CCDs for the detection image, one CCD at a time) and as it is now (the
  band-to-band mapping through the WCS on a 64 px grid of nodes only,
  ``--threads`` CCDs at once in worker processes); the two tables compared;
- ``stamps``: every source (``stamps.all_sources: true``, as it was) and the
  sources the default limits can reach (``gmag <= 22.3``). (The run recorded
  in RESULTS.md also compared the writer process + direct I/O of the time
  with pyarrow's plain writer, at the commit before their removal.)
- ``inference``: resnet18 (random weights of 2 seeds: the time does not
  depend on the weights) over the sources with ``gmag <= 22``, from the
  all-sources stamps file and from the limited one.

For every run: wall time, CPU time (user + system, the stage's own process and
its children), peak RSS (the largest of the process and of any child), bytes
written. The chain is sources + stamps + inference; the survey projection
multiplies one field by ``--survey-fields`` (about 30 PAndAS fields lie within
30 kpc of M31): wall time on this machine's cores, and CPU time (one core).

Usage::

    python benchmarks/bench_field.py --workdir /tmp/field --layout small   # try it
    nice -n 10 python benchmarks/bench_field.py --workdir /tmp/field       # full size

Results are printed as Markdown and written to ``benchmarks/RESULTS.md``
(section ``bench_field``; ``--results ''`` to skip).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import add_results_argument, report_section  # noqa: E402

LAYOUTS = {"full": (9, 4), "small": (2, 1)}
STAMP_LIMIT = 22.3  # the default config: max(training.mag_limits, selection.mag_limit) + 0.3
INFER_LIMIT = 22.0  # selection.mag_limit


# --------------------------------------------------------------------------- child stages


def _mock(work: Path, layout: str, field: int) -> None:
    from pandas_clusters.acquire.mock import MockSettings, write_field_image

    cols, rows = LAYOUTS[layout]
    demo = MockSettings.demo()
    # the whole mosaic: each demo field's small block offset (block_offset_arcmin) back to 0
    centred = tuple(dataclasses.replace(f, block_offset_arcmin=(0.0, 0.0)) for f in demo.fields)
    settings = dataclasses.replace(
        demo, fields=centred, ccd_nx=2048, ccd_ny=4612, ccd_columns=cols, ccd_rows=rows
    )
    for band in ("g", "i"):
        write_field_image(settings, field, band, work / f"{band}.fits")


def _sources(work: Path, field: int, variant: str, threads: int) -> None:
    from pandas_clusters.detect import sources
    from pandas_clusters.detect.sources import SourceSettings, build_sources

    sub = variant.endswith("_subset")
    images = {b: work / (f"{b}_subset.fits" if sub else f"{b}.fits") for b in ("g", "i")}
    if variant.startswith("old"):
        from reproject import reproject_interp

        def reproject_whole_ccd(data, wcs_in, wcs_out, shape_out):
            out, _ = reproject_interp(
                (data, wcs_in), wcs_out, shape_out=shape_out, order="bilinear"
            )
            return out

        sources.reproject_bilinear = reproject_whole_ccd
        threads = 1
    out = work / f"sources_{variant}.parquet"
    build_sources(
        images, field=field, out=out, settings=SourceSettings.from_config(), threads=threads
    )


def _stamps(work: Path, variant: str) -> None:
    from pandas_clusters.detect.stamps import StampSettings, cut_stamps

    settings = StampSettings.from_config(mag_limit=None if variant == "all" else STAMP_LIMIT)
    images = {b: work / f"{b}.fits" for b in ("g", "i")}
    out = work / f"stamps_{variant}.parquet"
    cut_stamps(work / "sources_new.parquet", images, out=out, settings=settings, threads=2)


def _inference(work: Path, variant: str, n_ccd: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from pandas_clusters.catalogue.inference import InferenceSettings, predict_stamps

    sources = work / "sources_new.parquet"
    if n_ccd:  # classify the sources of the first n_ccd CCDs only (reading the whole file):
        # the others keep their rows (every stamp must be a source of the file) with no gmag
        table = pq.read_table(sources)
        first = sorted(set(table.column("ccd").to_pylist()))[:n_ccd]
        sources = work / "sources_inference.parquet"
        inside = pc.is_in(table.column("ccd"), pa.array(first, pa.int16()))
        gmag = table.column("gmag")
        masked = pc.if_else(inside, gmag, pa.scalar(None, gmag.type))
        table = table.set_column(table.schema.get_field_index("gmag"), "gmag", masked)
        pq.write_table(table, sources)
    weights = sorted(work.glob("weights_seed*.safetensors"))
    predict_stamps(
        work / f"stamps_{variant}.parquet",
        weights,
        settings=InferenceSettings.from_config(
            batch_size=1024, device="cpu", mag_limit=INFER_LIMIT
        ),
        output_path=work / f"inference_{variant}.parquet",
        sources_path=sources,
        progress=False,
    )


def _child(args) -> None:
    work = Path(args.workdir)
    t0 = time.perf_counter()
    kind, _, variant = args.stage.partition(":")
    if kind == "mock":
        _mock(work, args.layout, args.field)
    elif kind == "sources":
        _sources(work, args.field, variant, args.threads)
    elif kind == "stamps":
        _stamps(work, variant)
    elif kind == "inference":
        _inference(work, variant, args.old_ccds)
    wall = time.perf_counter() - t0
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    result = {
        "wall": wall,
        "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
        "rss_mb": max(me.ru_maxrss, kids.ru_maxrss) / 1024,
    }
    print("RESULT " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- parent


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, MB (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, todo = {pid}, [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in tree]
        tree.update(kids)
        todo += kids
    total = 0
    for p in tree:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def _run(stage: str, args, out_files: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--stage", stage, "--workdir", args.workdir]
    cmd += ["--layout", args.layout, "--field", str(args.field), "--threads", str(args.threads)]
    cmd += ["--old-ccds", str(args.old_ccds)]
    os.sync()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]
    done = threading.Event()

    def sample():
        while not done.wait(0.5):
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    done.set()
    sampler.join()
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        msg = f"stage {stage} failed ({proc.returncode}):\n{stderr[-3000:]}"
        raise RuntimeError(msg)
    result = json.loads(lines[-1][7:])
    result["tree_rss_mb"] = peak[0]
    result["bytes"] = sum(_size(Path(args.workdir) / f) for f in out_files)
    print(f"{stage}: {result}", file=sys.stderr, flush=True)
    # every measurement kept as it comes: --report-only renders them again
    saved = Path(args.workdir) / "bench_field.json"
    done = json.loads(saved.read_text()) if saved.exists() else {}
    done[stage] = result
    saved.write_text(json.dumps(done, indent=1))
    return result


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _subset(work: Path, n_ccd: int) -> None:
    """The first ``n_ccd`` CCDs of each band's image, for the slow old sources stage."""
    from astropy.io import fits

    for band in ("g", "i"):
        with fits.open(work / f"{band}.fits", memmap=True) as hdul:
            hdus = list(hdul[: n_ccd + 1])
            hdus[0].header["NEXTEND"] = n_ccd
            fits.HDUList(hdus).writeto(work / f"{band}_subset.fits", overwrite=True)


def _compare_sources(work: Path, suffix: str) -> str:
    import pandas as pd

    old = pd.read_parquet(work / f"sources_old{suffix}.parquet")
    new = pd.read_parquet(work / f"sources_new{suffix}.parquet")
    both = old.merge(new, on="source_id", suffixes=("_o", "_n"))
    dmag = max(
        float(np.nanmax(np.abs(both[f"{b}mag_o"] - both[f"{b}mag_n"]), initial=0.0))
        for b in ("g", "i")
    )
    dpos = float(np.nanmax(np.abs(both["x_i_o"] - both["x_i_n"]), initial=0.0))
    same_flags = int((both["flags_o"] != both["flags_n"]).sum())
    return (
        f"old {len(old):,} sources, new {len(new):,}, {len(both):,} with the same source_id; "
        f"max |delta mag| {dmag:.1e}, max |delta x_i| {dpos:.1e} px, {same_flags} flags differ"
    )


def _row(name: str, r: dict) -> str:
    return (
        f"| {name} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['rss_mb']:,.0f} | "
        f"{r['tree_rss_mb']:,.0f} | {r['bytes'] / 1e6:,.1f} |"
    )


def _parent(args) -> None:
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        res = json.loads((work / "bench_field.json").read_text())
        _report(args, res, _compare_sources(work, "_subset" if args.old_ccds else ""))
        return
    saved = work / "bench_field.json"
    if args.resume and saved.exists():  # keep the stages measured by an interrupted run
        res: dict[str, dict] = json.loads(saved.read_text())
    else:
        saved.unlink(missing_ok=True)
        res = {}
    if not all((work / f"{b}.fits").exists() for b in ("g", "i")):
        res["mock"] = _run("mock", args, ["g.fits", "i.fits"])
    variants = ["old", "new"]
    if args.old_ccds:
        _subset(work, args.old_ccds)
        variants = ["old_subset", "new_subset", "new"]
    for variant in variants:
        if f"sources:{variant}" not in res:
            res[f"sources:{variant}"] = _run(
                f"sources:{variant}", args, [f"sources_{variant}.parquet"]
            )
    compared = _compare_sources(work, "_subset" if args.old_ccds else "")
    from bench_inference import write_random_weights

    for seed in (0, 1):
        write_random_weights(
            work / f"weights_seed{seed}.safetensors",
            model="resnet18",
            bands=["g", "i"],
            size=64,
            seed=seed,
        )
    for variant in ("all", "lim"):
        if f"stamps:{variant}" not in res:
            res[f"stamps:{variant}"] = _run(
                f"stamps:{variant}", args, [f"stamps_{variant}.parquet"]
            )
        if f"inference:{variant}" not in res:
            res[f"inference:{variant}"] = _run(
                f"inference:{variant}", args, [f"inference_{variant}.parquet"]
            )
        if variant == "all":
            (work / "stamps_all.parquet").unlink()  # 8.7 GB: free the disk
    _report(args, res, compared)


def _chain(res: dict, sources: str, stamps: str, inference: str | None = None) -> dict:
    parts = [res[f"sources:{sources}"], res[f"stamps:{stamps}"]]
    key = f"inference:{inference or stamps}"
    parts.append(res.get(key + "_whole", res[key]))
    return {
        "wall": sum(p["wall"] for p in parts),
        "cpu": sum(p["cpu"] for p in parts),
        "rss_mb": max(p["rss_mb"] for p in parts),
        "tree_rss_mb": max(p["tree_rss_mb"] for p in parts),
        "bytes": sum(p["bytes"] for p in parts),
    }


def _report(args, res: dict, compared: str) -> None:
    cols, rows = LAYOUTS[args.layout]
    if args.old_ccds:  # the old stage, scaled from the subset to the whole field
        n_ccd = cols * rows
        res["sources:old"] = {
            k: v * n_ccd / args.old_ccds if k in ("wall", "cpu", "bytes") else v
            for k, v in res["sources:old_subset"].items()
        }
        for key in [k for k in res if k.startswith("inference:") and not k.endswith("_whole")]:
            res[key + "_whole"] = {
                k: v * n_ccd / args.old_ccds if k in ("wall", "cpu") else v
                for k, v in res[key].items()
            }
    load = os.getloadavg()
    cmd = "python benchmarks/bench_field.py " + " ".join(sys.argv[1:])
    lines = [
        f"## Survey scale: one full-size field end to end (`{cmd.strip()}`)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, shared with other jobs "
        f"(load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} over "
        f"1/5/15 min); Python {platform.python_version()}. Field {args.field}, "
        f"{cols} x {rows} CCDs of 2048 x 4612 px, each stage in a child process.",
        "",
        "| stage | wall (s) | CPU (s) | peak RSS, largest process (MB) | peak RSS, all processes (MB) | written (MB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    names = {
        "mock": "mock images g + i",
        "sources:old": "sources, as it was (reproject_interp, 1 CCD at a time)",
        "sources:new": f"sources, now (WCS on a node grid, {args.threads} CCD workers)",
        "sources:old_subset": f"sources, as it was, first {args.old_ccds} CCDs",
        "sources:new_subset": f"sources, now, first {args.old_ccds} CCDs",
        "stamps:all": "stamps, every source (as it was)",
        "inference:all": "inference (gmag <= 22) from every source's stamps"
        + (f", sources of the first {args.old_ccds} CCDs" if args.old_ccds else ""),
        "stamps:lim": "stamps, gmag <= 22.3 (now)",
        "inference:lim": "inference (gmag <= 22) from those stamps"
        + (f", sources of the first {args.old_ccds} CCDs" if args.old_ccds else ""),
    }
    lines += [
        _row(names[k], r)
        for k, r in res.items()
        if not k.endswith("_whole") and (k != "sources:old" or not args.old_ccds)
    ]
    if args.old_ccds:
        lines.append(_row(f"sources, as it was, scaled to {cols * rows} CCDs", res["sources:old"]))
        for key in [k for k in res if k.endswith("_whole")]:
            name = names[key.removesuffix("_whole")]
            lines.append(_row(f"{name}, scaled to {cols * rows} CCDs", res[key]))
    old = _chain(res, "old", "all")
    new = _chain(res, "new", "lim")
    lines += [
        "",
        "| chain (sources + stamps + inference) | wall (s) | CPU (s) | peak RSS, largest process (MB) | peak RSS, all processes (MB) | written (MB) |",
    ]
    lines += ["|---|---:|---:|---:|---:|---:|"]
    lines += [_row("as it was: old sources, every stamp", old), _row("now: limited stamps", new)]
    n = args.survey_fields
    lines += [
        "",
        f"- sources compared: {compared}",
        f"- projection to {n} fields: as it was {n * old['wall'] / 3600:.1f} h wall on "
        f"{os.cpu_count()} cores ({n * old['cpu'] / 3600:.1f} core-hours), now "
        f"{n * new['wall'] / 3600:.1f} h wall ({n * new['cpu'] / 3600:.1f} core-hours); "
        f"stamps on disk {n * res['stamps:all']['bytes'] / 1e9:,.0f} GB -> "
        f"{n * res['stamps:lim']['bytes'] / 1e9:,.1f} GB",
    ]
    report_section("bench_field", lines, args.results)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True, help="folder for images and outputs")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="full")
    parser.add_argument("--field", type=int, default=266)
    parser.add_argument("--threads", type=int, default=2, help="CCD workers of the new sources")
    parser.add_argument("--survey-fields", type=int, default=30)
    parser.add_argument(
        "--old-ccds",
        type=int,
        default=0,
        help="run the old sources stage (and the new one, to compare) on the first N CCDs "
        "only, and scale its time to the whole field (0: the whole field)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the stages already measured in --workdir's bench_field.json (an interrupted "
        "run); measure the rest",
    )
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument(
        "--report-only", action="store_true", help="report the measurements saved in --workdir"
    )
    add_results_argument(parser)
    args = parser.parse_args(argv)
    if args.stage:
        _child(args)
    else:
        _parent(args)


if __name__ == "__main__":
    main()
