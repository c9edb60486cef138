"""Completeness tables, 50% completeness magnitudes and, on the mock, the check against the truth.

The recovery table (one row per artificial cluster: its drawn parameters,
environment, whether a source matched it, that source's photometry and
probability, and ``selected``: whether it passed the catalogue's selection
cuts) is binned against g (fixed ``g_bin_width``), r_h, g-i, the local
background surface brightness, the local source density, Rproj
(``bins`` quantile bins of the injected values) and field. Every bin gives
the detection and the selection completeness with 68.27% Wilson binomial
intervals (astropy ``binom_conf_interval``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from astropy.stats import binom_conf_interval

from pandas_clusters.catalogue.selection import SelectionSettings, select_candidates

from .function import _fit_one
from .recover import match_injected
from .settings import CompletenessSettings

__all__ = [
    "VARIABLES",
    "apply_selection",
    "compare_with_truth",
    "completeness_table",
    "g_edges",
    "mag50_table",
    "truth_recovery",
]

#: Variables of the completeness tables: recovery-table column -> label.
VARIABLES = {
    "gmag_in": "g (mag)",
    "r_h_pc": "r_h (pc)",
    "g_minus_i_in": "g - i (mag)",
    "bkg_mu_g": "background g (mag/arcsec^2)",
    "source_density_arcmin2": "source density (arcmin^-2)",
    "rproj_kpc": "Rproj (kpc)",
    "field": "field",
}


def apply_selection(
    recovery: pd.DataFrame,
    sources: str | os.PathLike,
    inference: str | os.PathLike,
    *,
    settings: SelectionSettings,
    training_positives: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Add ``selected``: the matched source passes the catalogue's selection cuts.

    The cuts are :func:`pandas_clusters.catalogue.selection.select_candidates`
    on the round's matched sources and their inference table.
    """
    candidates, _ = select_candidates(
        [inference], [sources], settings=settings, training_positives=training_positives
    )
    out = recovery.copy()
    out["selected"] = out["detected"] & out["source_id"].isin(candidates["source_id"])
    return out


def _fractions(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frac = np.divide(k, n, out=np.full(k.shape, np.nan), where=n > 0)
    lo, hi = np.full(k.shape, np.nan), np.full(k.shape, np.nan)
    has = n > 0
    if has.any():
        lo[has], hi[has] = binom_conf_interval(k[has], n[has], 0.6827, interval="wilson")
    return frac, lo, hi


def g_edges(settings: CompletenessSettings) -> np.ndarray:
    """Edges of the g bins over the injected range."""
    lo, hi = settings.g_range
    n = max(1, int(np.ceil((hi - lo) / settings.g_bin_width - 1e-9)))
    return lo + settings.g_bin_width * np.arange(n + 1)


def _binned(values: np.ndarray, edges: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, edges.size - 2)
    idx = np.where(np.isfinite(values), idx, -1)
    rows = []
    for b in range(edges.size - 1):
        sel = idx == b
        rows.append(
            {
                "bin_lo": float(edges[b]),
                "bin_hi": float(edges[b + 1]),
                "value": float(np.median(values[sel])) if sel.any() else np.nan,
                "n": int(sel.sum()),
                "n_detected": int(frame["detected"].to_numpy()[sel].sum()),
                "n_selected": int(frame["selected"].to_numpy()[sel].sum()),
            }
        )
    return pd.DataFrame(rows)


def completeness_table(recovery: pd.DataFrame, settings: CompletenessSettings) -> pd.DataFrame:
    """Detection and selection completeness against every variable of :data:`VARIABLES`.

    Returns
    -------
    pandas.DataFrame
        Long format: ``variable``, ``bin_lo``, ``bin_hi``, ``value`` (median in
        the bin; the field ID for ``field``), ``n``, ``n_detected``,
        ``detected`` / ``detected_lo`` / ``detected_hi`` (fraction and 68%
        interval), the same for ``selected``.
    """
    parts = []
    for var in VARIABLES:
        values = recovery[var].to_numpy(float)
        if var == "gmag_in":
            edges = g_edges(settings)
        elif var == "field":
            ids = np.unique(values)
            edges = np.concatenate([ids - 0.5, [ids[-1] + 0.5]]) if ids.size else np.zeros(2)
        else:
            finite = values[np.isfinite(values)]
            if not finite.size:
                continue
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, settings.bins + 1)))
            if edges.size < 2:
                edges = np.array([finite.min() - 0.5, finite.max() + 0.5])
        table = _binned(values, edges, recovery)
        table.insert(0, "variable", var)
        parts.append(table)
    out = pd.concat(parts, ignore_index=True)
    for kind in ("detected", "selected"):
        k, n = out[f"n_{kind}"].to_numpy(), out["n"].to_numpy()
        out[kind], out[f"{kind}_lo"], out[f"{kind}_hi"] = _fractions(k, n)
    return out


def _mag50(g: np.ndarray, hit: np.ndarray) -> tuple[float, float]:
    """(50% completeness g, bright-end completeness) of a logistic fit in g alone."""
    if g.size < 5 or hit.sum() == 0:
        return np.nan, float(hit.mean()) if g.size else np.nan
    fit = _fit_one(g, np.zeros_like(g), np.zeros_like(g), hit)
    p_max, width, a0 = fit["p_max"], fit["width_mag"], fit["parameters"]["a0"]
    if p_max <= 0.5:
        return np.nan, p_max
    g50 = float(a0 + width * np.log(2.0 * p_max - 1.0))
    return (g50 if g.min() <= g50 <= g.max() else np.nan), p_max


def mag50_table(recovery: pd.DataFrame) -> pd.DataFrame:
    """The 50% completeness g magnitude per field and overall, detection and selection.

    From a maximum-likelihood logistic ``p_max / (1 + exp((g - g0) / w))`` fitted
    to the clusters of the field; NaN when the completeness does not cross 50% inside
    the injected g range (never reaches it, or stays above it).
    """
    groups = [("all", recovery)] + [(str(f), d) for f, d in recovery.groupby("field")]
    rows = []
    for name, frame in groups:
        g = frame["gmag_in"].to_numpy(float)
        row = {"field": name, "n": len(frame)}
        for kind in ("detected", "selected"):
            row[f"g50_{kind}"], row[f"p_max_{kind}"] = _mag50(g, frame[kind].to_numpy(bool))
        rows.append(row)
    return pd.DataFrame(rows)


def truth_recovery(
    truth: pd.DataFrame,
    sources: Sequence[pd.DataFrame],
    candidates: pd.DataFrame,
    *,
    settings: CompletenessSettings,
) -> pd.DataFrame:
    """Mock only: the true young clusters in the injected g range, detected and selected.

    A true cluster is detected when a source of any field lies within
    ``match_radius_arcsec`` (nearest, one to one: the rule of the artificial
    clusters) and selected when a candidate of the catalogue does.
    """
    lo, hi = settings.g_range
    young = truth.loc[
        (truth["kind"] == "young_cluster") & truth["gmag"].between(lo, hi)
    ].reset_index(drop=True)
    frame = young.rename(columns={"gmag": "gmag_in"})[["obj_id", "ra", "dec", "gmag_in"]]
    nonempty = [s for s in sources if len(s)]
    all_sources = pd.concat(nonempty, ignore_index=True) if nonempty else sources[0]
    out = match_injected(frame, all_sources, radius_arcsec=settings.match_radius_arcsec)
    selected = match_injected(frame, candidates, radius_arcsec=settings.match_radius_arcsec)
    out["selected"] = selected["detected"].to_numpy()
    return out


def compare_with_truth(
    injection: pd.DataFrame, truth: pd.DataFrame, edges: np.ndarray
) -> pd.DataFrame:
    """Per g bin: injection vs truth completeness, detection and selection.

    ``z_<kind>`` is the difference of the two fractions over its binomial standard
    error (pooled fraction, ``sqrt(p (1 - p) (1/n1 + 1/n2))``), 0 when both are
    0 or 1; NaN when a bin is empty on either side.
    """
    a = _binned(injection["gmag_in"].to_numpy(float), edges, injection)
    b = _binned(truth["gmag_in"].to_numpy(float), edges, truth)
    out = a[["bin_lo", "bin_hi"]].copy()
    out["n_injected"], out["n_truth"] = a["n"], b["n"]
    for kind in ("detected", "selected"):
        k1, n1 = a[f"n_{kind}"].to_numpy(float), a["n"].to_numpy(float)
        k2, n2 = b[f"n_{kind}"].to_numpy(float), b["n"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            p1, p2 = k1 / n1, k2 / n2
            pool = (k1 + k2) / (n1 + n2)
            se = np.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
            z = np.where(se > 0, (p1 - p2) / se, 0.0)
        empty = (n1 == 0) | (n2 == 0)
        out[f"injection_{kind}"], out[f"truth_{kind}"] = p1, p2
        out[f"z_{kind}"] = np.where(empty, np.nan, z)
    return out
