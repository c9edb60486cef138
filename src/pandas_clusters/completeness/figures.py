"""Report figures of the completeness stage."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pandas_clusters.core.io import save_figure

from .function import evaluate_completeness
from .tables import VARIABLES

__all__ = ["plot_completeness_g", "plot_completeness_variables"]

_STYLE = {"detected": ("detection", "C0", "o"), "selected": ("selection", "C3", "s")}


def _errorbars(ax, table: pd.DataFrame, kind: str, x: np.ndarray, **kwargs) -> None:
    label, colour, marker = _STYLE[kind]
    y = table[kind].to_numpy(float)
    err = np.clip(np.vstack([y - table[f"{kind}_lo"], table[f"{kind}_hi"] - y]), 0, None)
    ax.errorbar(x, y, yerr=err, color=colour, marker=marker, ms=4, capsize=2, label=label, **kwargs)


def plot_completeness_variables(
    table: pd.DataFrame, path: str | os.PathLike, *, dpi: int = 110
) -> None:
    """Detection and selection completeness against each variable (one panel each)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 7), layout="constrained")
    axes = fig.subplots(2, 4).ravel()
    for ax, (var, label) in zip(axes, VARIABLES.items(), strict=False):
        part = table.loc[table["variable"] == var]
        x = part["value"].to_numpy(float)
        for kind in _STYLE:
            _errorbars(ax, part, kind, x, ls="-" if var != "field" else "none")
        ax.set_xlabel(label)
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel("completeness")
        if var == "field":
            ax.set_xticks(x, [str(int(v)) for v in x], rotation=90)
    axes[0].legend(loc="lower left")
    axes[-1].set_axis_off()
    save_figure(fig, path, dpi=dpi)


def plot_completeness_g(
    table: pd.DataFrame,
    mag50: pd.DataFrame,
    function: Mapping[str, Any],
    path: str | os.PathLike,
    *,
    truth: pd.DataFrame | None = None,
    dpi: int = 110,
) -> None:
    """Completeness against g, the fitted function, the 50% magnitudes (and the mock's truth)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax, ax50 = fig.subplots(1, 2, width_ratios=[3, 2])
    part = table.loc[table["variable"] == "gmag_in"]
    _errorbars(ax, part, "detected", part["value"].to_numpy(float), ls="none")
    _errorbars(ax, part, "selected", part["value"].to_numpy(float), ls="none")
    g = np.linspace(*function["g_range"], 200)
    for name, colour, _ in _STYLE.values():
        ax.plot(g, evaluate_completeness(function, g, kind=name), color=colour, lw=1)
    if truth is not None and len(truth):
        centre = 0.5 * (truth["bin_lo"] + truth["bin_hi"])
        for kind, (name, colour, _) in _STYLE.items():
            ax.plot(
                centre,
                truth[f"truth_{kind}"],
                "x",
                color=colour,
                ms=7,
                label=f"{name}, mock truth clusters",
            )
    ax.set_xlabel("g of the cluster (mag)")
    ax.set_ylabel("completeness")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(loc="lower left", fontsize=8)
    fields = mag50.loc[mag50["field"] != "all"]
    y = np.arange(len(fields))
    for kind, (name, colour, marker) in _STYLE.items():
        ax50.plot(fields[f"g50_{kind}"], y, marker, color=colour, label=name)
        overall = mag50.loc[mag50["field"] == "all", f"g50_{kind}"]
        if len(overall) and np.isfinite(overall.iloc[0]):
            ax50.axvline(overall.iloc[0], color=colour, lw=1, ls="--")
    ax50.set_yticks(y, fields["field"].tolist())
    ax50.set_xlabel("50% completeness g (mag); dashed: all fields")
    ax50.set_ylabel("field")
    ax50.legend(loc="best", fontsize=8)
    save_figure(fig, path, dpi=dpi)
