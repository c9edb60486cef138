"""The smooth completeness function: fitted to the recovery table, saved as JSON, evaluated.

Model, for each of ``detection`` and ``selection``::

    C(g, r_h, rho) = p_max / (1 + exp((g - g50) / width))
    g50 = a0 + a_rh * log10(r_h / r_h_ref) + a_rho * log10((rho + 1) / (rho_ref + 1))

with g the total g magnitude of the cluster (AB), r_h its half-light
radius (pc) and rho the local source density (sources per arcmin^2 within
``density_radius_arcsec``, the crowding term). ``p_max`` (the bright-end
completeness), ``a0`` (the 50% magnitude of a cluster of ``r_h_ref`` in a
field of ``rho_ref``, when ``p_max`` = 1), the slopes and ``width`` are
fitted by maximum likelihood (Bernoulli, scipy.optimize) to every
artificial cluster. A user corrects a luminosity function by dividing the
counts by :func:`evaluate_completeness` at each cluster's (g, r_h, rho).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from pandas_clusters.core.io import atomic_path

__all__ = ["KINDS", "evaluate_completeness", "fit_completeness", "load_completeness"]

#: What the function describes: a source found at all, or a candidate of the catalogue.
KINDS = ("detection", "selection")
_PARAMS = ("logit_p_max", "a0", "a_rh", "a_rho", "log_width")


def _probability(theta, g, lr, ld) -> np.ndarray:
    logit_p, a0, a_rh, a_rho, log_w = theta
    g50 = a0 + a_rh * lr + a_rho * ld
    return expit(logit_p) * expit(-(g - g50) / np.exp(log_w))


def _fit_one(g, lr, ld, hit) -> dict[str, Any]:
    def nll(theta):
        p = np.clip(_probability(theta, g, lr, ld), 1e-9, 1 - 1e-9)
        return -np.sum(np.where(hit, np.log(p), np.log1p(-p)))

    start = np.array([3.0, float(np.median(g)), 0.0, 0.0, np.log(0.3)])
    best = minimize(nll, start, method="Nelder-Mead", options={"maxiter": 20000, "xatol": 1e-5})
    best = minimize(nll, best.x, method="BFGS")
    theta = best.x
    try:
        errors = np.sqrt(np.clip(np.diag(best.hess_inv), 0, None))
    except (AttributeError, ValueError):
        errors = np.full(theta.size, np.nan)
    return {
        "parameters": dict(zip(_PARAMS, map(float, theta), strict=True)),
        "errors": dict(zip(_PARAMS, map(float, errors), strict=True)),
        "p_max": float(expit(theta[0])),
        "width_mag": float(np.exp(theta[4])),
        "neg_log_likelihood": float(best.fun),
        "n": int(g.size),
        "n_hit": int(hit.sum()),
    }


def fit_completeness(recovery: pd.DataFrame) -> dict[str, Any]:
    """Fit the completeness function to a recovery table.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One row per artificial cluster: ``gmag_in``, ``r_h_pc``,
        ``source_density_arcmin2``, ``detected``, ``selected``.

    Returns
    -------
    dict
        JSON-able: the model, its reference values and, per kind
        (:data:`KINDS`), the fitted parameters, their errors (inverse Hessian)
        and the counts.
    """
    if len(recovery) < 10:
        msg = f"completeness function: {len(recovery)} artificial clusters, need at least 10"
        raise ValueError(msg)
    g = recovery["gmag_in"].to_numpy(float)
    r_ref = float(np.median(recovery["r_h_pc"]))
    rho_ref = float(np.median(recovery["source_density_arcmin2"]))
    lr = np.log10(recovery["r_h_pc"].to_numpy(float) / r_ref)
    ld = np.log10((recovery["source_density_arcmin2"].to_numpy(float) + 1) / (rho_ref + 1))
    fits_: dict[str, Any] = {}
    for kind, column in zip(KINDS, ("detected", "selected"), strict=True):
        fits_[kind] = _fit_one(g, lr, ld, recovery[column].to_numpy(bool))
    return {
        "model": "p_max / (1 + exp((g - g50) / width)), g50 = a0 + a_rh log10(r_h / r_h_ref) "
        "+ a_rho log10((rho + 1) / (rho_ref + 1))",
        "variables": {
            "g": "total g magnitude, AB",
            "r_h": "half-light radius, pc",
            "rho": "local source density, sources per arcmin^2",
        },
        "r_h_ref_pc": r_ref,
        "rho_ref_arcmin2": rho_ref,
        "g_range": [float(g.min()), float(g.max())],
        "kinds": fits_,
    }


def write_completeness(function: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write a fitted completeness function as JSON (atomically)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(function, indent=2, sort_keys=True) + "\n")
    return Path(path)


def load_completeness(path: str | os.PathLike) -> dict[str, Any]:
    """Read a completeness function written by the workflow (``completeness_function.json``)."""
    data = json.loads(Path(path).read_text())
    if "kinds" not in data or not set(KINDS) <= set(data["kinds"]):
        msg = f"{path}: not a completeness function (needs 'kinds' with {list(KINDS)})"
        raise ValueError(msg)
    return data


def evaluate_completeness(
    function: Mapping[str, Any] | str | os.PathLike,
    gmag,
    r_h_pc=None,
    source_density_arcmin2=None,
    *,
    kind: str = "selection",
) -> np.ndarray:
    """Completeness at (g, r_h, local source density).

    Parameters
    ----------
    function : mapping or path-like
        A fitted function (:func:`fit_completeness`) or its JSON file.
    gmag : array_like
        Total g magnitude, AB.
    r_h_pc : array_like, optional
        Half-light radius, pc (default: the reference ``r_h_ref_pc``).
    source_density_arcmin2 : array_like, optional
        Local source density (default: the reference ``rho_ref_arcmin2``).
    kind : {"detection", "selection"}
        A source detected at all, or a candidate of the catalogue.

    Returns
    -------
    numpy.ndarray
        Probability in [0, 1], broadcast over the inputs. Outside the fitted g
        range (``g_range``) it is an extrapolation.
    """
    if not isinstance(function, Mapping):
        function = load_completeness(function)
    if kind not in KINDS:
        msg = f"completeness kind must be one of {list(KINDS)}, got {kind!r}"
        raise ValueError(msg)
    r = function["r_h_ref_pc"] if r_h_pc is None else np.asarray(r_h_pc, dtype=float)
    rho = function["rho_ref_arcmin2"] if source_density_arcmin2 is None else source_density_arcmin2
    rho = np.asarray(rho, dtype=float)
    lr = np.log10(r / function["r_h_ref_pc"])
    ld = np.log10((rho + 1) / (function["rho_ref_arcmin2"] + 1))
    theta = [function["kinds"][kind]["parameters"][p] for p in _PARAMS]
    return _probability(theta, np.asarray(gmag, dtype=float), lr, ld)
