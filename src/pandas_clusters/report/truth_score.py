"""Scoring against the mock truth table (possible only on the simulated survey).

The PHAT-like labels the networks learn from are themselves incomplete (the
PHAT-like catalogue misses faint clusters) and slightly impure. On the mock
we also know what every source really is, so the classifier and the final
candidate list can be scored against the truth:

* a source is a *true cluster* when it is paired with a truth young or
  globular cluster within ``radius_arcsec`` by the cross-match's one-to-one,
  nearest-first matcher (a cluster resolved into several detections counts
  once, the other detections count as non-clusters);
* metrics: purity (precision), recall (completeness among the scored sources)
  and F1 at the threshold chosen on the validation split.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pandas_clusters.core.io import atomic_path, read_frame
from pandas_clusters.core.skymatch import match_nearest_unique

__all__ = ["CLUSTER_KINDS", "score_against_truth", "true_cluster_flags", "write_truth_score"]

log = logging.getLogger(__name__)

#: Truth classes that count as star clusters.
CLUSTER_KINDS = ("young_cluster", "globular_cluster")


def true_cluster_flags(
    ra, dec, truth: pd.DataFrame, *, radius_arcsec: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Flag the sources matched to a truth cluster (one-to-one, nearest first).

    Returns
    -------
    is_cluster : ndarray of bool
        True for a source paired, within the radius, with a truth young or
        globular cluster by :func:`pandas_clusters.core.skymatch.match_nearest_unique`.
    obj_id : ndarray of int64
        The matched truth ``obj_id`` (-1 where none).
    """
    clusters = truth[truth["kind"].isin(CLUSTER_KINDS)]
    index, _ = match_nearest_unique(
        ra,
        dec,
        clusters["ra"].to_numpy(),
        clusters["dec"].to_numpy(),
        radius_arcsec=radius_arcsec,
    )
    is_cluster = index >= 0
    obj_id = np.full(index.size, -1, dtype=np.int64)
    obj_id[is_cluster] = clusters["obj_id"].to_numpy()[index[is_cluster]]
    return is_cluster, obj_id


def _metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float | int]:
    tp = int(np.sum(y & pred))
    fp = int(np.sum(~y & pred))
    fn = int(np.sum(y & ~pred))
    purity = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * purity * recall / (purity + recall) if tp else 0.0
    return {
        "n": int(y.size),
        "n_true_clusters": int(y.sum()),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "purity": purity,
        "recall": recall,
        "f1": f1,
    }


def score_against_truth(
    predictions: pd.DataFrame,
    positions: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    threshold: float,
    radius_arcsec: float = 1.0,
    split: str = "test",
) -> dict[str, Any]:
    """Score a split of the evaluation predictions against the truth.

    Parameters
    ----------
    predictions : DataFrame
        ``source_id``, ``split``, ``label`` (PHAT-like), ``prob_mean``.
    positions : DataFrame
        ``source_id``, ``ra``, ``dec``, ``gmag`` of the sources (the training set).
    truth : DataFrame
        The mock truth table (``obj_id``, ``kind``, ``ra``, ``dec``).
    threshold : float
        Decision threshold on ``prob_mean`` (chosen on the validation split).
    """
    pred = predictions[predictions["split"] == split].merge(
        positions[["source_id", "ra", "dec", "gmag"]], on="source_id", how="left", validate="1:1"
    )
    if pred[["ra", "dec"]].isna().any().any():
        msg = "predictions hold source_ids absent from the training set"
        raise ValueError(msg)
    y_truth, _ = true_cluster_flags(pred["ra"], pred["dec"], truth, radius_arcsec=radius_arcsec)
    y_label = pred["label"].to_numpy().astype(bool)
    decision = pred["prob_mean"].to_numpy() >= threshold
    return {
        "split": split,
        "threshold": float(threshold),
        "match_radius_arcsec": float(radius_arcsec),
        "against_truth": _metrics(y_truth, decision),
        "against_phat_labels": _metrics(y_label, decision),
        "phat_labels_against_truth": _metrics(y_truth, y_label),
    }


def write_truth_score(
    *,
    predictions_path,
    summary_path,
    trainset_path,
    truth_path,
    out,
    candidates_path=None,
    radius_arcsec: float = 1.0,
) -> dict[str, Any]:
    """Score the selected model's test split (and the candidate list) against the truth; JSON."""
    summary = json.loads(Path(summary_path).read_text())
    threshold = float(summary["ensemble"]["threshold"])
    preds = read_frame(predictions_path, what="predictions file")
    positions = read_frame(
        trainset_path, columns=["source_id", "ra", "dec", "gmag"], what="training set"
    )
    truth = read_frame(truth_path, what="truth file")
    result: dict[str, Any] = {
        "model": summary["model"],
        "mag_limit": summary["mag_limit"],
        **score_against_truth(
            preds, positions, truth, threshold=threshold, radius_arcsec=radius_arcsec
        ),
    }
    if candidates_path is not None:
        cand = read_frame(candidates_path, columns=["ra", "dec"], what="candidates file")
        is_cl, _ = true_cluster_flags(cand["ra"], cand["dec"], truth, radius_arcsec=radius_arcsec)
        result["candidates"] = {
            "n": int(len(cand)),
            "true_clusters": int(is_cl.sum()),
            "purity": float(is_cl.mean()) if len(cand) else float("nan"),
        }
    for key in ("against_truth", "against_phat_labels"):
        m = result[key]
        log.info(
            "%s: purity %.3f recall %.3f F1 %.3f (n=%d)",
            key,
            m["purity"],
            m["recall"],
            m["f1"],
            m["n"],
        )
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(result, indent=2, sort_keys=True, default=float) + "\n")
    return result
