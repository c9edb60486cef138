"""Scoring against the mock truth table (possible only on the simulated survey).

The PHAT-like labels the networks learn from are themselves incomplete (the
PHAT-like catalogue misses faint clusters) and slightly impure. On the mock
we also know what every source really is, so the classifier and the final
candidate list can be scored against the truth:

* a source is a *true cluster* when it is paired with a truth young or
  globular cluster within ``radius_arcsec`` by the cross-match's one-to-one,
  nearest-first matcher (a cluster resolved into several detections counts
  once, the other detections count as non-clusters);
* metrics: precision (the astronomers' purity), recall (completeness among the scored sources)
  and F1 at the threshold chosen on the validation split;
* survey level (:func:`survey_scores`): the completeness of the candidate list
  among every true cluster of the processed fields inside the selection's
  ``Rproj`` and magnitude limit, by g bin, r_h bin and field; the precision (purity) of the
  candidates per field; and the candidates' contamination per truth class
  (each non-cluster candidate is named for the brightest truth object within
  the radius: ``star``, ``galaxy``, and the contaminant classes of the mock,
  ``asterism``, ``hii_region``, ``compact_galaxy``, ``edge_on_galaxy``...;
  ``cluster_fragment`` for a cluster's extra detection: within the radius of a
  cluster already claimed by another candidate, or, when no other object but
  faint stars is that close, within :data:`FRAGMENT_RH` half-light radii of a
  truth cluster; ``saturated_star_artefact`` for a detection on the spikes or
  halo of a saturated star (within its reach,
  :func:`pandas_clusters.acquire.mock.population.saturated_star_reach_arcsec`);
  ``unmatched`` when no truth object is that close). Each class also counts
  the distinct truth objects its candidates are attributed to.

The paper's visual inspection kept about one candidate in three (745 of
2,228); the mock's precision (purity) is reported beside, never tuned to it.
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
from pandas_clusters.learn.metrics import threshold_scan

__all__ = [
    "CLUSTER_KINDS",
    "FRAGMENT_RH",
    "G_BINS",
    "RH_BINS_PC",
    "candidate_truth_classes",
    "score_against_truth",
    "survey_scores",
    "true_cluster_flags",
    "write_truth_score",
]

log = logging.getLogger(__name__)

#: Truth classes that count as star clusters.
CLUSTER_KINDS = ("young_cluster", "globular_cluster")
#: g-magnitude bin edges of the survey completeness.
G_BINS = (12.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0)
#: Half-light radius bin edges (pc) of the survey completeness.
RH_BINS_PC = (0.0, 1.5, 2.5, 4.0, 6.0, 50.0)
#: A detection this many half-light radii from a truth cluster's centre may be one of its
#: fragments (most of a King cluster's resolved members lie inside 3 r_h).
FRAGMENT_RH = 3.0
#: Classes that the fragment and artefact rules may re-attribute (a detection on faint stars
#: near a cluster or a saturated star is that cluster's or star's doing).
_REATTRIBUTABLE = ("unmatched", "star")


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


def candidate_truth_classes(
    ra,
    dec,
    truth: pd.DataFrame,
    *,
    radius_arcsec: float = 1.0,
    spike_arcsec: float | None = None,
    return_source: bool = False,
) -> tuple[np.ndarray, ...]:
    """Truth class of each candidate and the obj_id of the cluster it recovers (-1 if none).

    Classes: ``cluster`` (paired one-to-one with a truth cluster), else the
    kind of the brightest truth object within the radius; ``cluster_fragment``
    when that is a cluster claimed by another candidate, or when the candidate
    is otherwise ``unmatched`` or on a ``star`` but within :data:`FRAGMENT_RH`
    half-light radii of a truth cluster; ``saturated_star_artefact`` when such a
    candidate lies within the spike reach of a ``bright_star``; else
    ``unmatched``.

    Parameters
    ----------
    spike_arcsec : float, optional
        The mock's ``saturated_spike_arcsec`` (default: the schema's).
    return_source : bool
        Also return the obj_id of the truth object each candidate is
        attributed to (the cluster, the fragment's cluster, the saturated
        star, the brightest object within the radius; -1 if unmatched).
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    ra, dec = np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)
    is_cl, obj_id = true_cluster_flags(ra, dec, truth, radius_arcsec=radius_arcsec)
    classes = np.where(is_cl, "cluster", "unmatched").astype(object)
    source = obj_id.copy()
    rest = np.flatnonzero(~is_cl)
    if rest.size and len(truth):
        a = SkyCoord(ra[rest], dec[rest], unit="deg")
        b = SkyCoord(truth["ra"].to_numpy(), truth["dec"].to_numpy(), unit="deg")
        ia, ib, _, _ = b.search_around_sky(a, radius_arcsec * u.arcsec)
        if ia.size:
            g = truth["gmag"].to_numpy()[ib]
            order = np.lexsort((g, ia))
            ia, ib = ia[order], ib[order]
            first = np.r_[True, ia[1:] != ia[:-1]]
            kind = truth["kind"].to_numpy().astype(object)[ib[first]]
            kind = np.where(np.isin(kind, CLUSTER_KINDS), "cluster_fragment", kind)
            classes[rest[ia[first]]] = kind
            source[rest[ia[first]]] = truth["obj_id"].to_numpy()[ib[first]]
        _attribute_nearby(ra, dec, truth, classes, source, radius_arcsec, spike_arcsec)
    return (classes, obj_id, source) if return_source else (classes, obj_id)


def _attribute_nearby(ra, dec, truth, classes, source, radius_arcsec, spike_arcsec) -> None:
    """Re-attribute unmatched / star candidates to a nearby cluster or saturated star (in place).

    A cluster's reach is ``max(radius, FRAGMENT_RH * r_h)`` (r_h in arcsec at
    M31's distance); a saturated star's is its spike length. The nearest
    object, in units of its reach, wins; clusters before stars.
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from pandas_clusters.acquire.mock.population import saturated_star_reach_arcsec
    from pandas_clusters.core.geometry import M31

    todo = np.flatnonzero(np.isin(classes, _REATTRIBUTABLE))
    if not todo.size:
        return
    kind = truth["kind"].to_numpy().astype(object)
    rules = []
    cl = np.flatnonzero(np.isin(kind, CLUSTER_KINDS))
    if cl.size and "r_h_pc" in truth:
        rh = np.nan_to_num(truth["r_h_pc"].to_numpy()[cl] / M31.pc_per_arcsec, nan=0.0)
        rules.append(("cluster_fragment", cl, np.maximum(radius_arcsec, FRAGMENT_RH * rh)))
    bs = np.flatnonzero(kind == "bright_star")
    spike = _spike_length(spike_arcsec)
    if bs.size and spike > 0:
        reach = saturated_star_reach_arcsec(truth["gmag"].to_numpy()[bs], spike)
        rules.append(("saturated_star_artefact", bs, reach))
    for name, rows, reach in rules:
        todo = todo[np.isin(classes[todo], _REATTRIBUTABLE)]
        if not todo.size:
            return
        a = SkyCoord(ra[todo], dec[todo], unit="deg")
        b = SkyCoord(truth["ra"].to_numpy()[rows], truth["dec"].to_numpy()[rows], unit="deg")
        ia, ib, sep, _ = b.search_around_sky(a, float(reach.max()) * u.arcsec)
        scaled = sep.to_value(u.arcsec) / reach[ib]
        ok = scaled <= 1.0
        ia, ib, scaled = ia[ok], ib[ok], scaled[ok]
        order = np.lexsort((scaled, ia))
        ia, ib = ia[order], ib[order]
        first = np.r_[True, ia[1:] != ia[:-1]] if ia.size else np.zeros(0, bool)
        classes[todo[ia[first]]] = name
        source[todo[ia[first]]] = truth["obj_id"].to_numpy()[rows[ib[first]]]


def _spike_length(spike_arcsec: float | None) -> float:
    """Spike half-length at g = 12 (arcsec): the given one, else the schema's default."""
    if spike_arcsec is not None:
        return float(spike_arcsec)
    from pandas_clusters.core.config import schema_default

    return float(schema_default("mock.saturated_spike_arcsec"))


def _binned(found: pd.Series, values: np.ndarray, edges) -> list[dict[str, Any]]:
    idx = np.digitize(values, edges) - 1
    rows = []
    for k in range(len(edges) - 1):
        sel = idx == k
        n = int(sel.sum())
        if n:
            rows.append(
                {
                    "lo": float(edges[k]),
                    "hi": float(edges[k + 1]),
                    "n_true": n,
                    "recovered": int(found[sel].sum()),
                    "completeness": float(found[sel].mean()),
                }
            )
    return rows


def survey_scores(
    candidates: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    rproj_max_kpc: float,
    mag_limit: float | None,
    radius_arcsec: float = 1.0,
    spike_arcsec: float | None = None,
) -> dict[str, Any]:
    """Survey-level completeness, precision (purity) per field and contamination per truth class.

    Parameters
    ----------
    candidates : DataFrame
        The selection's candidates: ``ra``, ``dec``, ``field``.
    truth : DataFrame
        The survey truth of the processed fields (``obj_id``, ``kind``, ``ra``,
        ``dec``, ``gmag``, ``r_h_pc``, ``rproj_kpc``; ``field`` if present).
    rproj_max_kpc, mag_limit : float
        The selection's cuts: the true clusters counted are inside both.
    spike_arcsec : float, optional
        The mock's ``saturated_spike_arcsec`` (:func:`candidate_truth_classes`).
    """
    classes, obj_id, source = candidate_truth_classes(
        candidates["ra"],
        candidates["dec"],
        truth,
        radius_arcsec=radius_arcsec,
        spike_arcsec=spike_arcsec,
        return_source=True,
    )
    ref = truth.loc[truth["kind"].isin(CLUSTER_KINDS) & (truth["rproj_kpc"] <= rproj_max_kpc)]
    if mag_limit is not None:
        ref = ref.loc[ref["gmag"] <= mag_limit]
    found = ref["obj_id"].isin(obj_id[obj_id >= 0]).reset_index(drop=True)
    ref = ref.reset_index(drop=True)
    out: dict[str, Any] = {
        "rproj_max_kpc": float(rproj_max_kpc),
        "mag_limit": None if mag_limit is None else float(mag_limit),
        "n_true_clusters": int(len(ref)),
        "recovered": int(found.sum()),
        "completeness": float(found.mean()) if len(ref) else float("nan"),
        "completeness_by_gmag": _binned(found, ref["gmag"].to_numpy(), G_BINS),
        "completeness_by_r_h_pc": _binned(found, ref["r_h_pc"].to_numpy(), RH_BINS_PC),
    }
    if "field" in ref:
        out["completeness_by_field"] = {
            str(f): {"n_true": int(len(g)), "completeness": float(found[g.index].mean())}
            for f, g in ref.groupby("field")
        }
    cand = candidates.assign(truth_class=classes)
    out["precision_by_field"] = {
        str(f): {
            "n": int(len(g)),
            "true_clusters": int((g["truth_class"] == "cluster").sum()),
            "precision": float((g["truth_class"] == "cluster").mean()),
        }
        for f, g in cand.groupby("field")
    }
    counts = cand["truth_class"].value_counts()
    objects = pd.Series(source).where(source >= 0).groupby(classes).nunique()
    out["contamination_by_truth_class"] = {
        str(k): {
            "n": int(v),
            "fraction": float(v / len(cand)),
            "truth_objects": int(objects.get(k, 0)),
        }
        for k, v in counts.items()
    }
    out["paper_visual_inspection_kept"] = {"kept": 745, "candidates": 2228, "fraction": 745 / 2228}
    return out


def _metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float | int]:
    """Counts, precision (purity), recall and F1 of boolean predictions (the evaluation's
    :func:`~pandas_clusters.learn.metrics.threshold_scan`, one implementation)."""
    y = np.asarray(y, bool)
    row = threshold_scan(y, np.asarray(pred, float), np.array([0.5])).iloc[0]
    return {
        "n": int(y.size),
        "n_true_clusters": int(y.sum()),
        "tp": int(row["tp"]),
        "fp": int(row["fp"]),
        "fn": int(row["fn"]),
        "precision": float(row["precision"]),
        "recall": float(row["recall"]),
        "f1": float(row["f1"]),
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
    rproj_max_kpc: float | None = None,
    radius_arcsec: float = 1.0,
    spike_arcsec: float | None = None,
) -> dict[str, Any]:
    """Score the selected model's test split (and the candidate list) against the truth; JSON.

    With ``candidates_path`` and ``rproj_max_kpc`` (the selection's cut) the
    JSON gains a ``survey`` block (:func:`survey_scores`).
    """
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
        cand = read_frame(candidates_path, columns=["ra", "dec", "field"], what="candidates file")
        is_cl, _ = true_cluster_flags(cand["ra"], cand["dec"], truth, radius_arcsec=radius_arcsec)
        result["candidates"] = {
            "n": int(len(cand)),
            "true_clusters": int(is_cl.sum()),
            "precision": float(is_cl.mean()) if len(cand) else float("nan"),
        }
        if rproj_max_kpc is not None:
            result["survey"] = survey_scores(
                cand,
                truth,
                rproj_max_kpc=rproj_max_kpc,
                mag_limit=summary["mag_limit"],
                radius_arcsec=radius_arcsec,
                spike_arcsec=spike_arcsec,
            )
    for key in ("against_truth", "against_phat_labels"):
        m = result[key]
        log.info(
            "%s: precision %.3f recall %.3f F1 %.3f (n=%d)",
            key,
            m["precision"],
            m["recall"],
            m["f1"],
            m["n"],
        )
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(result, indent=2, sort_keys=True, default=float) + "\n")
    return result
