"""Check: limiting the stamps to usable sources leaves the training set (hence the scores) unchanged.

On a finished demo run (``--root``: its ``results/sources``, ``resources/images`` and the
PHAT-like catalogues), for the training fields: cut every source's stamps and the stamps
at the default limits (``stamps_params`` of the default config), build the training set
(mag 22.0) from each, and compare them column by column (NaN = NaN). Also measures what
float16 storage would do to the network's normalised inputs on the limited stamps of the
first field. Usage::

    python benchmarks/check_stamp_limits.py --root /path/to/demo/run --out /tmp/check

(the catalogue folder is ``resources/catalogues``, or ``resources/catalogs`` in runs made
before the restructuring; ``--catalogues`` overrides it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq


def _equal(a, b) -> dict[str, bool]:
    out = {}
    for name in a.schema.names:
        x, y = a[name].combine_chunks(), b[name].combine_chunks()
        if "list" in str(x.type):
            x, y = x.flatten(), y.flatten()
        xn, yn = x.to_numpy(zero_copy_only=False), y.to_numpy(zero_copy_only=False)
        out[name] = (
            np.array_equal(xn, yn, equal_nan=True)
            if xn.dtype.kind == "f"
            else np.array_equal(xn, yn)
        )
    return out


def main(argv=None) -> None:
    import torch

    from pandas_clusters.core.config import stamps_params, validate_config
    from pandas_clusters.detect.stamps import StampSettings, cut_stamps, read_stamps
    from pandas_clusters.learn.normalize import normalize_stamps
    from pandas_clusters.learn.training_set import TrainsetSettings, write_trainset

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--fields", type=int, nargs="+", default=[248, 257, 266])
    ap.add_argument("--catalogues", type=Path)
    args = ap.parse_args(argv)
    root, out = args.root, args.out
    out.mkdir(parents=True, exist_ok=True)
    cats = args.catalogues or next(
        p for p in (root / "resources/catalogues", root / "resources/catalogs") if p.exists()
    )
    cfg = validate_config({"survey": "mock"}, source="defaults")
    params = stamps_params(cfg)
    variants = {"all": {**params, "mag_limit": None}, "lim": params}
    paths: dict[str, list[Path]] = {}
    for name, p in variants.items():
        paths[name] = []
        for f in args.fields:
            path = out / f"stamps_{name}_{f}.parquet"
            if not path.exists():
                images = {b: root / f"resources/images/{f}/{b}.fits" for b in "gi"}
                sources = root / f"results/sources/{f}.parquet"
                cut_stamps(sources, images, out=path, settings=StampSettings.from_config(p))
            paths[name].append(path)
    settings = TrainsetSettings.from_config(cfg["training"], mag_limit=22.0)
    tables = {}
    for name in variants:
        path = out / f"trainset_{name}.parquet"
        write_trainset(
            path,
            [root / f"results/sources/{f}.parquet" for f in args.fields],
            paths[name],
            clusters_path=cats / "phat_clusters.parquet",
            galaxies_path=cats / "phat_galaxies.parquet",
            footprint_path=cats / "phat_footprint.json",
            settings=settings,
        )
        tables[name] = pq.read_table(path)
    same = _equal(tables["all"], tables["lim"])
    print(f"stamps mag_limit {params['mag_limit']}")
    for name in variants:
        size = sum(p.stat().st_size for p in paths[name]) / 1e6
        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in paths[name])
        print(f"{name}: {rows} stamps, {size:.0f} MB; training set {tables[name].num_rows} rows")
    meta = tables["all"].schema.metadata == tables["lim"].schema.metadata
    print(f"training sets equal: {all(same.values())} ({same}); metadata equal: {meta}")
    _, st, _, _ = read_stamps(paths["lim"][0])
    f16 = st.astype(np.float16)
    over = (~np.isfinite(f16) & np.isfinite(st)).any(axis=(1, 2, 3))
    a = normalize_stamps(torch.from_numpy(st[~over])).numpy()
    b = normalize_stamps(torch.from_numpy(f16[~over].astype(np.float32))).numpy()
    d = np.abs(a - b)
    print(
        f"float16 on {len(st)} stamps: {int(over.sum())} overflow, max pixel {np.nanmax(st):.0f}; "
        f"normalised input |diff| max {d.max():.2g}, 99.9% {np.quantile(d, 0.999):.2g}, "
        f"input std {a.std():.2f}"
    )


if __name__ == "__main__":
    main()
