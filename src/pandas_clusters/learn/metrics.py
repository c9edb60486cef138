"""Classification metrics of the evaluation and of the truth scores (numpy only, no torch).

One implementation of the confusion counts and what derives from them: precision (the
astronomers' purity), recall (completeness), F1, accuracy, at one threshold or a grid of
them; ROC and precision-recall curves; the reliability table and the expected
calibration error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "best_threshold",
    "calibration_table",
    "metrics_at",
    "pr_curve",
    "roc_curve",
    "threshold_scan",
]


def threshold_scan(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> pd.DataFrame:
    """Counts and metrics when predicting positive for ``p >= threshold``.

    Returns
    -------
    pandas.DataFrame
        ``threshold, tp, fp, fn, tn, precision, recall, f1, accuracy``;
        precision is NaN where nothing is predicted positive, recall NaN
        without positives.
    """
    y = np.asarray(y).astype(bool)
    p = np.asarray(p, np.float64)
    t = np.asarray(thresholds, np.float64)
    pos = np.sort(p[y])
    neg = np.sort(p[~y])
    tp = len(pos) - np.searchsorted(pos, t, side="left")
    fp = len(neg) - np.searchsorted(neg, t, side="left")
    fn = len(pos) - tp
    tn = len(neg) - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(len(pos) > 0, tp / max(len(pos), 1), np.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        accuracy = (tp + tn) / max(len(y), 1)
    return pd.DataFrame(
        {
            "threshold": t,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "accuracy": accuracy,
        }
    )


def best_threshold(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> float:
    """The threshold of the grid that maximises F1 (the middle of a tied plateau)."""
    f1 = threshold_scan(y, p, thresholds)["f1"].to_numpy()
    best = np.flatnonzero(f1 == f1.max())
    # middle of the first run of maxima: robust to a flat F1 plateau
    run = best[: np.argmax(np.r_[np.diff(best) != 1, True]) + 1]
    return float(thresholds[run[len(run) // 2]])


def roc_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """False- and true-positive rates over all thresholds, and the area under the curve."""
    t = np.r_[np.inf, np.unique(p)[::-1]]
    scan = threshold_scan(y, p, t)
    n_pos = max(int(np.sum(y)), 1)
    n_neg = max(len(y) - int(np.sum(y)), 1)
    tpr = scan["tp"].to_numpy() / n_pos
    fpr = scan["fp"].to_numpy() / n_neg
    fpr, tpr = np.r_[fpr, 1.0], np.r_[tpr, 1.0]
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    return fpr, tpr, auc


def pr_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Precision and recall over all thresholds, and the average precision.

    Average precision is ``sum_n (R_n - R_{n-1}) P_n`` over decreasing thresholds.
    """
    t = np.unique(p)[::-1]
    scan = threshold_scan(y, p, t)
    precision = scan["precision"].fillna(1.0).to_numpy()
    recall = scan["recall"].fillna(0.0).to_numpy()
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return precision, recall, ap


def calibration_table(y: np.ndarray, p: np.ndarray, *, n_bins: int) -> tuple[pd.DataFrame, float]:
    """Reliability diagram table and expected calibration error.

    Returns
    -------
    table : pandas.DataFrame
        Per equal-width bin: ``bin_lo, bin_hi, n, mean_prob, fraction_positive``.
    ece : float
        ``sum_b n_b / N * |fraction_positive_b - mean_prob_b|``.
    """
    p = np.asarray(p, np.float64)
    y = np.asarray(y, np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    n = np.bincount(idx, minlength=n_bins)
    sp = np.bincount(idx, weights=p, minlength=n_bins)
    sy = np.bincount(idx, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_prob = np.where(n > 0, sp / np.maximum(n, 1), np.nan)
        frac = np.where(n > 0, sy / np.maximum(n, 1), np.nan)
    ece = float(np.sum(n[n > 0] / max(len(p), 1) * np.abs(frac[n > 0] - mean_prob[n > 0])))
    table = pd.DataFrame(
        {
            "bin_lo": edges[:-1],
            "bin_hi": edges[1:],
            "n": n,
            "mean_prob": mean_prob,
            "fraction_positive": frac,
        }
    )
    return table, ece


def metrics_at(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    """Precision, recall, F1, accuracy and the confusion matrix ``[[tn, fp], [fn, tp]]``."""
    row = threshold_scan(y, p, np.array([threshold])).iloc[0]
    return {
        "precision": float(row["precision"]),
        "recall": float(row["recall"]),
        "f1": float(row["f1"]),
        "accuracy": float(row["accuracy"]),
        "confusion": [[int(row["tn"]), int(row["fp"])], [int(row["fn"]), int(row["tp"])]],
    }
