"""What the realism statistics answer to: the mock's statistics under changed settings.

Each *lever* is a set of overrides of the mock's settings (``MockSettings``
fields; ``seeing_arcsec.g=0.9`` sets one band of a per-band field). For the
mock as configured and for each lever, mock cutouts are rendered at the real
cutouts' positions with central objects matched to the real objects'
magnitudes, exactly as :mod:`.realism` does (:func:`.realism.real_sample`,
:func:`.realism.mock_cutouts`, one draw), and the medians of the realism
statistics are tabulated per class and projected-radius bin.

Mock only: the real cutouts' index (positions, catalogue magnitudes) is read,
never their pixels. The table says how far each ingredient of the mock moves a
statistic; it is a diagnostic, not a fit: a lever is kept in the mock only on a
published ground (docs/mock-realism.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .realism import STATISTICS, mock_cutouts, real_sample, statistics_table

__all__ = ["apply_overrides", "lever_table", "parse_lever", "write_lever_report"]

#: Name of the row of the mock as configured.
CONFIGURED = "as configured"


def parse_lever(text: str) -> tuple[str, dict[str, object]]:
    """``NAME:key=value[,key=value...]`` -> (NAME, {key: value}); values read as YAML scalars."""
    name, sep, body = text.partition(":")
    if not sep or not name.strip() or not body.strip():
        msg = f"lever {text!r}: expected NAME:key=value[,key=value...]"
        raise ValueError(msg)
    overrides = {}
    for item in body.split(","):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            msg = f"lever {text!r}: {item!r} is not key=value"
            raise ValueError(msg)
        overrides[key.strip()] = yaml.safe_load(value.strip())
    return name.strip(), overrides


def apply_overrides(settings, overrides: Mapping[str, object]):
    """``settings`` with ``overrides`` (``field`` or ``field.key`` for a per-band mapping)."""
    fields = {f.name for f in dataclasses.fields(settings)}
    changes: dict[str, object] = {}
    for key, value in overrides.items():
        name, _, sub = key.partition(".")
        if name not in fields:
            msg = f"lever override {key!r}: MockSettings has no field {name!r}"
            raise ValueError(msg)
        if sub:
            current = dict(changes.get(name, getattr(settings, name)))
            if sub not in current:
                msg = f"lever override {key!r}: {name} has no key {sub!r} (keys {sorted(current)})"
                raise ValueError(msg)
            current[sub] = value
            changes[name] = current
        else:
            changes[name] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(settings, **changes)


def lever_table(
    settings,
    reference: str | Path,
    levers: Mapping[str, Mapping[str, object]],
    *,
    per_class: int | None,
    seed: int,
) -> pd.DataFrame:
    """Median statistics of the mock cutouts, as configured and under each lever.

    Returns one row per lever, class and projected-radius bin (``all`` for the
    class as a whole): ``lever``, ``overrides`` (text), ``cls``, ``rbin``, ``n``
    and the median of each statistic of :data:`.realism.STATISTICS`.
    """
    sample = real_sample(reference, per_class=per_class, seed=seed)
    rows = []
    for name, overrides in {CONFIGURED: {}, **dict(levers)}.items():
        s = apply_overrides(settings, overrides)
        idx, images = mock_cutouts(s, sample, seed=seed)
        stats = statistics_table(idx, images)
        text = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "-"
        for cls, d in stats.groupby("cls", sort=True):
            for rbin, part in [("all", d), *d.groupby("rbin", sort=True)]:
                row = {"lever": name, "overrides": text, "cls": cls, "rbin": str(rbin)}
                row["n"] = len(part)
                row.update({k: float(np.median(part[k])) for k in STATISTICS})
                rows.append(row)
    return pd.DataFrame(rows)


def write_lever_report(
    settings,
    reference: str | Path,
    out: str | Path,
    levers: Mapping[str, Mapping[str, object]],
    *,
    per_class: int | None,
    seed: int,
    command: str,
) -> pd.DataFrame:
    """Write :func:`lever_table` to ``out`` (Markdown); returns the table."""
    from pandas_clusters.core.io import atomic_path

    table = lever_table(settings, reference, levers, per_class=per_class, seed=seed)
    stats = list(STATISTICS)
    lines = [
        "# What the realism statistics answer to (mock only)",
        "",
        f"Produced by `{command}` (`pandas_clusters.report.realism_levers`).",
        "Mock cutouts at the real cutouts' positions, central objects matched to the real",
        "objects' magnitudes as in docs/mock-realism.md (one draw; "
        + (
            "every real cutout"
            if per_class is None
            else f"up to {per_class} real cutouts per class"
        )
        + f", seed {seed}); no real pixel is read.",
        "Medians per class and projected radius (kpc), for the mock as configured and under",
        "each lever (settings overridden). A diagnostic: a lever enters the mock only on a",
        "published ground.",
        "",
        "| lever | overrides | class | Rproj | n | " + " | ".join(stats) + " |",
        "|---|---|---|---|---:|" + "---:|" * len(stats),
    ]
    for r in table.itertuples(index=False):
        values = " | ".join(f"{getattr(r, k):.3g}" for k in stats)
        lines.append(f"| {r.lever} | {r.overrides} | {r.cls} | {r.rbin} | {r.n} | {values} |")
    out = Path(out)
    with atomic_path(out, suffix=".md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return table
