"""Agreement between inspectors: weighted Cohen's kappa, confusion matrix, review queue.

Scores are ordinal (0 not a cluster, 1 possible, 2 confirmed), so a 0-versus-2
disagreement should cost more than 0-versus-1: Cohen's (1968) *weighted*
kappa,

.. math:: \\kappa_w = 1 - \\frac{\\sum_{ij} w_{ij} O_{ij}}{\\sum_{ij} w_{ij} E_{ij}},

with ``O`` the observed joint proportions of the two inspectors' scores,
``E`` the product of their marginals (agreement by chance) and ``w_ij =
|i - j| / (K - 1)`` (linear) or its square (quadratic). It is a dozen lines
of numpy (:func:`weighted_kappa`), tested against two independent forms
(the mean pairwise disagreement, and the covariance identity of the
quadratic kappa); scikit-learn's ``cohen_kappa_score`` computes the same
figure but would add scikit-learn (and joblib, threadpoolctl) to every
install for these lines, and statsmodels is heavier still.

The *disagreements* (``|difference| = 2``: one inspector said 0, the other
2) form the review queue.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SCORES",
    "agreement_report",
    "confusion_matrix",
    "truth_agreement",
    "weighted_kappa",
]

#: The scores an inspector gives.
SCORES: tuple[int, ...] = (0, 1, 2)


def confusion_matrix(a, b, n_categories: int = len(SCORES)) -> np.ndarray:
    """Counts ``C[i, j]`` of items scored ``i`` by the first and ``j`` by the second rater."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.shape != b.shape:
        msg = f"the two raters scored different numbers of items ({a.size} and {b.size})"
        raise ValueError(msg)
    bad = (a < 0) | (a >= n_categories) | (b < 0) | (b >= n_categories)
    if bad.any():
        msg = f"scores must lie in 0..{n_categories - 1}"
        raise ValueError(msg)
    counts = np.zeros((n_categories, n_categories), dtype=np.int64)
    np.add.at(counts, (a, b), 1)
    return counts


def weighted_kappa(a, b, *, weights: str = "linear", n_categories: int = len(SCORES)) -> float:
    """Cohen's weighted kappa between two raters' ordinal scores.

    Parameters
    ----------
    a, b : array_like of int
        Scores of the same items by the two raters, in ``0..n_categories-1``.
    weights : {"linear", "quadratic", "none"}
        Disagreement weights ``|i-j|/(K-1)``, its square, or 0/1 (Cohen's
        unweighted kappa).
    n_categories : int
        Number of categories ``K``.

    Returns
    -------
    float
        Kappa; NaN when it is undefined (no item, or chance disagreement
        zero: both raters gave one and the same score to every item).
    """
    counts = confusion_matrix(a, b, n_categories).astype(float)
    n = counts.sum()
    if n == 0:
        return float("nan")
    i, j = np.indices(counts.shape)
    if weights == "linear":
        w = np.abs(i - j) / (n_categories - 1)
    elif weights == "quadratic":
        w = ((i - j) / (n_categories - 1)) ** 2
    elif weights == "none":
        w = (i != j).astype(float)
    else:
        msg = f"weights must be 'linear', 'quadratic' or 'none', got {weights!r}"
        raise ValueError(msg)
    observed = counts / n
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    chance = float((w * expected).sum())
    if chance == 0.0:
        return float("nan")
    return 1.0 - float((w * observed).sum()) / chance


def agreement_report(
    scores: Mapping[str, Mapping[int, int]], *, weights: str = "linear"
) -> dict[str, Any]:
    """Kappa, confusion matrix and review queue of every pair of inspectors.

    Parameters
    ----------
    scores : mapping
        Inspector -> {source_id: score}.
    weights : str
        Kappa weights (see :func:`weighted_kappa`).

    Returns
    -------
    dict
        ``inspectors``, ``weights`` and ``pairs``: one entry per pair (in
        name order) with ``n_common`` (candidates both scored), ``kappa``
        (None when undefined), ``confusion`` (rows: first inspector's score)
        and ``disagreements`` (source_ids scored 0 by one and 2 by the other).
    """
    names = sorted(scores)
    pairs = []
    for first, second in itertools.combinations(names, 2):
        common = sorted(set(scores[first]) & set(scores[second]))
        a = np.array([scores[first][s] for s in common], dtype=np.int64)
        b = np.array([scores[second][s] for s in common], dtype=np.int64)
        kappa = weighted_kappa(a, b, weights=weights)
        pairs.append(
            {
                "inspectors": [first, second],
                "n_common": len(common),
                "kappa": None if np.isnan(kappa) else round(kappa, 6),
                "confusion": confusion_matrix(a, b).tolist(),
                "disagreements": [
                    int(s) for s, x, y in zip(common, a, b, strict=True) if abs(x - y) == 2
                ],
            }
        )
    return {"inspectors": names, "weights": weights, "pairs": pairs}


def truth_agreement(own: Mapping[int, int], is_cluster: pd.Series) -> dict[str, Any]:
    """One inspector's scores against the mock truth (never shown while scoring).

    Parameters
    ----------
    own : mapping
        source_id -> score of one inspector.
    is_cluster : pandas.Series of bool
        Truth, indexed by source_id: the candidate is a true cluster.

    Returns
    -------
    dict
        ``n`` (scored candidates with a truth), ``table`` (rows: score 0, 1,
        2; columns: not a cluster, cluster), ``accuracy`` (score >= 1 read
        as "cluster") and ``accuracy_confirmed`` (score 2 read as "cluster").
    """
    sids = [s for s in own if s in is_cluster.index]
    score = np.array([own[s] for s in sids], dtype=np.int64)
    truth = is_cluster.reindex(sids).to_numpy(dtype=bool)
    table = np.zeros((len(SCORES), 2), dtype=np.int64)
    np.add.at(table, (score, truth.astype(np.int64)), 1)
    n = len(sids)
    return {
        "n": n,
        "table": table.tolist(),
        "accuracy": float(np.mean((score >= 1) == truth)) if n else None,
        "accuracy_confirmed": float(np.mean((score == 2) == truth)) if n else None,
    }
