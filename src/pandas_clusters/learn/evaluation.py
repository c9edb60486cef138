"""Evaluation of trained models (one model x limiting magnitude, all seeds).

For each seed's weights and for their ensemble (mean probability), on the
test split: purity (precision), recall, F1 and accuracy at every threshold
of a fine grid; the threshold that maximises F1 on the *validation* split and
the test metrics there; metrics per g-magnitude bin; PR and ROC curves with
their areas; calibration (reliability diagram, expected calibration error);
the confusion matrix. Seeds are combined into mean and standard deviation.
:func:`summarize` gathers the summaries of the whole grid into one table
(TSV, Markdown) and a plot, like the paper's model comparison.

Figures are drawn with matplotlib's Agg canvas and written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pandas_clusters.core.config import StageSettings
from pandas_clusters.core.io import atomic_path, save_figure, write_parquet
from pandas_clusters.learn.datasets import load_splits
from pandas_clusters.learn.metrics import (
    best_threshold,
    calibration_table,
    metrics_at,
    pr_curve,
    roc_curve,
    threshold_scan,
)
from pandas_clusters.learn.models import (
    load_model,
    predict_proba,
    read_weights_metadata,
    resolve_device,
)

__all__ = [
    "METRICS",
    "EvaluationPaths",
    "EvaluationSettings",
    "best_threshold",
    "calibration_table",
    "evaluate",
    "metrics_at",
    "pr_curve",
    "roc_curve",
    "summarize",
    "threshold_scan",
]

#: Scalar metrics reported at the chosen threshold.
METRICS = ("precision", "recall", "f1", "accuracy", "roc_auc", "average_precision", "ece")


@dataclass(frozen=True)
class EvaluationSettings(StageSettings):
    """Settings of the evaluation.

    Attributes
    ----------
    threshold_step : float
        Spacing of the threshold grid on [0, 1].
    mag_bin_width : float
        Width of the g-magnitude bins, mag.
    calibration_bins : int
        Equal-width probability bins of the reliability diagram and the ECE.
    batch_size : int
        Stamps per forward pass.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.
    """

    _section: ClassVar[str] = "evaluation"

    threshold_step: float
    mag_bin_width: float
    calibration_bins: int
    batch_size: int
    device: str

    def __post_init__(self) -> None:
        if not 0 < self.threshold_step <= 0.5:
            msg = f"evaluation.threshold_step must be in (0, 0.5], got {self.threshold_step}"
            raise ValueError(msg)
        if self.mag_bin_width <= 0 or self.calibration_bins < 1:
            msg = "evaluation.mag_bin_width must be > 0 and evaluation.calibration_bins >= 1"
            raise ValueError(msg)

    @property
    def thresholds(self) -> np.ndarray:
        """The threshold grid, from 0 to 1 inclusive."""
        n = int(round(1.0 / self.threshold_step))
        return np.linspace(0.0, 1.0, n + 1)


@dataclass(frozen=True)
class EvaluationPaths:
    """Output files of :func:`evaluate` (the workflow rule decides them).

    Attributes
    ----------
    summary : path-like
        JSON: chosen thresholds and metrics per seed, mean, std and ensemble.
    threshold_scan : path-like
        TSV: metrics at every threshold (long format, column ``member``).
    mag_bins : path-like
        TSV: metrics per g-magnitude bin at the chosen thresholds.
    predictions : path-like
        Parquet: validation and test probabilities per seed and their mean.
    curves, calibration, confusion : path-like
        PNG figures: PR/ROC/threshold scan; reliability diagram; confusion matrix.
    """

    summary: str | os.PathLike
    threshold_scan: str | os.PathLike
    mag_bins: str | os.PathLike
    predictions: str | os.PathLike
    curves: str | os.PathLike
    calibration: str | os.PathLike
    confusion: str | os.PathLike


def _mag_edges(gmag: np.ndarray, width: float, mag_limit: float | None) -> np.ndarray:
    finite = gmag[np.isfinite(gmag)]
    lo = np.floor(finite.min() / width) * width if finite.size else 0.0
    top = finite.max() if finite.size else lo + width
    if mag_limit is not None:
        top = max(top, float(mag_limit))
    hi = np.ceil(top / width) * width
    if hi <= lo:
        hi = lo + width
    return np.arange(lo, hi + width / 2, width)


def _json_float(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def evaluate(
    trainset_path: str | os.PathLike,
    weights_paths: Sequence[str | os.PathLike],
    *,
    settings: EvaluationSettings,
    paths: EvaluationPaths,
) -> dict[str, Any]:
    """Evaluate the seeds of one model x limiting magnitude (see the module docstring).

    Parameters
    ----------
    trainset_path : path-like
        Training set with the validation and test splits.
    weights_paths : sequence of path-like
        One safetensors file per seed (:func:`pandas_clusters.learn.training.train`), all of
        the same model and limiting magnitude.
    settings : EvaluationSettings
    paths : EvaluationPaths

    Returns
    -------
    dict
        The summary written to ``paths.summary``.
    """
    metas, model_name, mag_limit = _read_members(weights_paths)
    val, test = _load_evaluation_splits(trainset_path)
    device = resolve_device(settings.device)
    probs_val, probs_test, seeds = _predict_members(
        weights_paths, metas, val, test, settings=settings, device=device
    )
    gmag = _test_gmag(test)
    scores = _score_members(
        val.y, test.y, gmag, probs_val, probs_test, seeds, settings=settings, mag_limit=mag_limit
    )
    scan = _aggregate_scan(scores.scans, seeds)
    bins = _aggregate_mag_bins(scores.bins_rows, seeds)
    summary = _summary(
        model_name, mag_limit, metas, val.y, test.y, settings, scores.per_member, seeds
    )
    preds = _predictions_table(val, test, probs_val, probs_test, gmag)
    _write_evaluation(paths, preds=preds, scan=scan, bins=bins, scores=scores, summary=summary)
    return summary


def _read_members(
    weights_paths: Sequence[str | os.PathLike],
) -> tuple[list[dict[str, Any]], Any, Any]:
    """Metadata of each weights file, and their common model name and limiting magnitude."""
    if not weights_paths:
        msg = "no weights files given to evaluate"
        raise ValueError(msg)
    metas = [read_weights_metadata(w) for w in weights_paths]
    models = {m.get("model") for m in metas}
    mags = {m.get("mag_limit") for m in metas}
    if len(models) != 1 or len(mags) != 1:
        msg = f"weights {[str(w) for w in weights_paths]} mix models {models} or mag limits {mags}"
        raise ValueError(msg)
    return metas, models.pop(), mags.pop()


def _load_evaluation_splits(trainset_path: str | os.PathLike) -> tuple[Any, Any]:
    """The validation and test splits of the training set, both non-empty."""
    splits = load_splits(trainset_path, ["validation", "test"])
    val, test = splits["validation"], splits["test"]
    if len(test.y) == 0 or len(val.y) == 0:
        msg = f"training set {str(trainset_path)!r} has an empty validation or test split"
        raise ValueError(msg)
    return val, test


def _predict_members(
    weights_paths: Sequence[str | os.PathLike],
    metas: Sequence[Mapping[str, Any]],
    val: Any,
    test: Any,
    *,
    settings: EvaluationSettings,
    device: Any,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    """Validation and test probabilities per seed (``seed<k>``) and their mean (``ensemble``).

    Returns the two mappings member -> probabilities and the seed members in order.
    """
    probs_val: dict[str, np.ndarray] = {}
    probs_test: dict[str, np.ndarray] = {}
    kw = {"batch_size": settings.batch_size, "device": device, "normalized": True}
    for w, meta in zip(weights_paths, metas, strict=True):
        member = f"seed{meta.get('seed')}"
        if member in probs_val:
            msg = f"two weights files for {member} among {[str(p) for p in weights_paths]}"
            raise ValueError(msg)
        model = load_model(w, device=device)
        probs_val[member] = predict_proba(model, val.x, **kw)
        probs_test[member] = predict_proba(model, test.x, **kw)
    seeds = list(probs_val)
    probs_val["ensemble"] = np.mean([probs_val[s] for s in seeds], axis=0)
    probs_test["ensemble"] = np.mean([probs_test[s] for s in seeds], axis=0)
    return probs_val, probs_test, seeds


def _test_gmag(test: Any) -> np.ndarray:
    """g magnitude of each test row (NaN when the training set has none)."""
    return (
        test.table["gmag"].to_numpy(np.float64)
        if "gmag" in test.table
        else np.full(len(test.y), np.nan)
    )


@dataclass
class _MemberScores:
    """What :func:`_score_members` measures, per member (seeds and ensemble)."""

    per_member: dict[str, dict[str, Any]]
    scans: list[pd.DataFrame]
    bins_rows: list[dict[str, Any]]
    calib: dict[str, pd.DataFrame]
    curves: dict[str, tuple[tuple, tuple]]


def _score_members(
    yv: np.ndarray,
    yt: np.ndarray,
    gmag: np.ndarray,
    probs_val: Mapping[str, np.ndarray],
    probs_test: Mapping[str, np.ndarray],
    seeds: Sequence[str],
    *,
    settings: EvaluationSettings,
    mag_limit: float | None,
) -> _MemberScores:
    """Threshold, test metrics, curves, calibration, scan and magnitude bins of each member.

    The members are the seeds, in order, then the ensemble.
    """
    thresholds = settings.thresholds
    edges = _mag_edges(gmag, settings.mag_bin_width, mag_limit)
    which = np.digitize(gmag, edges) - 1
    scores = _MemberScores(per_member={}, scans=[], bins_rows=[], calib={}, curves={})
    for member in [*seeds, "ensemble"]:
        pv, pt = probs_val[member], probs_test[member]
        thr = best_threshold(yv, pv, thresholds)
        m = metrics_at(yt, pt, thr)
        scores.curves[member] = (pr_curve(yt, pt), roc_curve(yt, pt))
        (_, _, ap), (_, _, auc) = scores.curves[member]
        table, ece = calibration_table(yt, pt, n_bins=settings.calibration_bins)
        scores.calib[member] = table
        scores.per_member[member] = {
            "threshold": thr,
            **m,
            "roc_auc": auc,
            "average_precision": ap,
            "ece": ece,
        }
        scores.scans.append(threshold_scan(yt, pt, thresholds).assign(member=member))
        scores.bins_rows.extend(_mag_bin_rows(member, yt, pt, thr, edges, which))
    return scores


def _mag_bin_rows(
    member: str,
    yt: np.ndarray,
    pt: np.ndarray,
    thr: float,
    edges: np.ndarray,
    which: np.ndarray,
) -> list[dict[str, Any]]:
    """Metrics of one member at its threshold in each g-magnitude bin."""
    rows = []
    for b in range(len(edges) - 1):
        sel = which == b
        mb = metrics_at(yt[sel], pt[sel], thr)
        rows.append(
            {
                "member": member,
                "mag_lo": edges[b],
                "mag_hi": edges[b + 1],
                "n": int(sel.sum()),
                "n_positive": int(yt[sel].sum()),
                **{k: mb[k] for k in ("precision", "recall", "f1", "accuracy")},
            }
        )
    return rows


_SCAN_METRICS = ["precision", "recall", "f1", "accuracy"]


def _aggregate_scan(scans: Sequence[pd.DataFrame], seeds: Sequence[str]) -> pd.DataFrame:
    """The members' threshold scans with the mean and std over seeds appended."""
    scan = pd.concat(scans, ignore_index=True)
    seed_scan = scan[scan["member"].isin(seeds)].groupby("threshold", sort=True)
    cols = _SCAN_METRICS
    agg = pd.concat(
        [
            seed_scan[cols].mean().assign(member="mean"),
            seed_scan[cols].std(ddof=0).assign(member="std"),
        ]
    ).reset_index()
    return pd.concat([scan, agg], ignore_index=True)[
        ["member", "threshold", *["tp", "fp", "fn", "tn"], *cols]
    ]


def _aggregate_mag_bins(
    bins_rows: Sequence[Mapping[str, Any]], seeds: Sequence[str]
) -> pd.DataFrame:
    """The members' magnitude-bin metrics with the mean and std over seeds appended."""
    cols = _SCAN_METRICS
    bins = pd.DataFrame(bins_rows)
    seed_bins = bins[bins["member"].isin(seeds)].groupby(["mag_lo", "mag_hi"], sort=True)
    return pd.concat(
        [
            bins,
            seed_bins[["n", "n_positive", *cols]].mean().assign(member="mean").reset_index(),
            seed_bins[cols].std(ddof=0).assign(member="std").reset_index(),
        ],
        ignore_index=True,
    )


def _clean(d: Mapping[str, Any]) -> dict[str, Any]:
    """A member's metrics for JSON: non-finite floats as None, the confusion matrix as is."""
    return {k: (v if k == "confusion" else _json_float(v)) for k, v in d.items()}


def _summary(
    model_name: Any,
    mag_limit: Any,
    metas: Sequence[Mapping[str, Any]],
    yv: np.ndarray,
    yt: np.ndarray,
    settings: EvaluationSettings,
    per_member: Mapping[str, Mapping[str, Any]],
    seeds: Sequence[str],
) -> dict[str, Any]:
    """The summary: counts, settings, metrics per seed, their mean and std, the ensemble."""
    seed_frame = pd.DataFrame({s: per_member[s] for s in seeds}).T
    keys = ["threshold", *METRICS]
    mean = {k: _json_float(pd.to_numeric(seed_frame[k]).mean()) for k in keys}
    std = {k: _json_float(pd.to_numeric(seed_frame[k]).std(ddof=0)) for k in keys}
    return {
        "model": model_name,
        "mag_limit": mag_limit,
        "seeds": [int(m.get("seed")) for m in metas],
        "n_validation": int(len(yv)),
        "n_validation_positive": int(yv.sum()),
        "n_test": int(len(yt)),
        "n_test_positive": int(yt.sum()),
        "threshold_selection": "max F1 on the validation split",
        "settings": asdict(settings),
        "per_seed": {s: _clean(per_member[s]) for s in seeds},
        "mean": mean,
        "std": std,
        "ensemble": _clean(per_member["ensemble"]),
    }


def _predictions_table(
    val: Any,
    test: Any,
    probs_val: Mapping[str, np.ndarray],
    probs_test: Mapping[str, np.ndarray],
    gmag: np.ndarray,
) -> pd.DataFrame:
    """Validation and test rows with their label, probability per seed and mean, g mag."""
    preds = pd.concat(
        [
            val.table[["source_id"]].assign(
                split="validation", label=val.y, **{f"prob_{k}": v for k, v in probs_val.items()}
            ),
            test.table[["source_id"]].assign(
                split="test", label=test.y, **{f"prob_{k}": v for k, v in probs_test.items()}
            ),
        ],
        ignore_index=True,
    ).rename(columns={"prob_ensemble": "prob_mean"})
    if "gmag" in val.table and "gmag" in test.table:
        preds.insert(3, "gmag", np.r_[val.table["gmag"].to_numpy(), gmag])
    return preds


def _write_evaluation(
    paths: EvaluationPaths,
    *,
    preds: pd.DataFrame,
    scan: pd.DataFrame,
    bins: pd.DataFrame,
    scores: _MemberScores,
    summary: Mapping[str, Any],
) -> None:
    """Write the predictions, tables, figures and (last) the summary, each atomically."""
    metadata = {"model": summary["model"], "mag_limit": summary["mag_limit"]}
    write_parquet(preds, paths.predictions, metadata=metadata)
    with atomic_path(paths.threshold_scan) as tmp:
        scan.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    with atomic_path(paths.mag_bins) as tmp:
        bins.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    _plot_curves(paths.curves, scores.curves, scan, summary)
    _plot_calibration(paths.calibration, scores.calib, scores.per_member)
    _plot_confusion(paths.confusion, summary)
    with atomic_path(paths.summary) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


def _title(summary: Mapping[str, Any]) -> str:
    return f"{summary['model']}, g <= {summary['mag_limit']}, {len(summary['seeds'])} seed(s)"


def _plot_curves(path, curves, scan, summary) -> None:
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    ax_pr, ax_roc, ax_t = fig.subplots(1, 3)
    for member, ((prec, rec, ap), (fpr, tpr, auc)) in curves.items():
        ens = member == "ensemble"
        kw = {
            "lw": 2.0 if ens else 0.8,
            "alpha": 1.0 if ens else 0.6,
            "color": "k" if ens else None,
        }
        ax_pr.step(rec, prec, where="post", label=f"{member} AP={ap:.3f}", **kw)
        ax_roc.plot(fpr, tpr, label=f"{member} AUC={auc:.3f}", **kw)
    ax_pr.set(
        xlabel="recall", ylabel="purity (precision)", xlim=(0, 1), ylim=(0, 1.02), title="PR (test)"
    )
    ax_roc.plot([0, 1], [0, 1], ls=":", color="grey")
    ax_roc.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC (test)")
    for ax in (ax_pr, ax_roc):
        ax.legend(fontsize=7)
    mean = scan[scan["member"] == "mean"].set_index("threshold")
    std = scan[scan["member"] == "std"].set_index("threshold")
    for col, color in (("precision", "C0"), ("recall", "C1"), ("f1", "C2"), ("accuracy", "C3")):
        t = mean.index.to_numpy()
        ax_t.plot(t, mean[col], color=color, label=col)
        ax_t.fill_between(
            t, mean[col] - std[col], mean[col] + std[col], color=color, alpha=0.25, lw=0
        )
    thr = summary["ensemble"]["threshold"]
    ax_t.axvline(thr, color="k", ls="--", lw=1, label=f"chosen {thr:.3f}")
    ax_t.set(
        xlabel="threshold",
        ylabel="metric (mean ± std over seeds)",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title="threshold scan (test)",
    )
    ax_t.legend(fontsize=7)
    fig.suptitle(_title(summary))
    save_figure(fig, path)


def _plot_calibration(path, calib, per_member) -> None:
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ls=":", color="grey", label="perfect")
    for member, table in calib.items():
        ens = member == "ensemble"
        ok = table["n"] > 0
        ax.plot(
            table.loc[ok, "mean_prob"],
            table.loc[ok, "fraction_positive"],
            marker="o",
            lw=2.0 if ens else 0.8,
            color="k" if ens else None,
            label=f"{member} ECE={per_member[member]['ece']:.3f}",
        )
    ax.set(
        xlabel="mean predicted probability",
        ylabel="fraction of clusters",
        xlim=(0, 1),
        ylim=(0, 1),
        title="reliability (test)",
    )
    ax.legend(fontsize=7)
    save_figure(fig, path)


def _plot_confusion(path, summary) -> None:
    fig = Figure(figsize=(4.5, 4), layout="constrained")
    ax = fig.subplots()
    cm = np.asarray(summary["ensemble"]["confusion"])
    ax.imshow(cm, cmap="Blues")
    for i in range(2):
        for j in range(2):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="k", fontsize=12)
    ax.set_xticks([0, 1], ["not cluster", "cluster"])
    ax.set_yticks([0, 1], ["not cluster", "cluster"])
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title(f"ensemble at threshold {summary['ensemble']['threshold']:.3f}", fontsize=9)
    save_figure(fig, path)


def summarize(
    summary_paths: Sequence[str | os.PathLike],
    *,
    tsv_path: str | os.PathLike,
    markdown_path: str | os.PathLike,
    plot_path: str | os.PathLike,
) -> pd.DataFrame:
    """One table over the model x limiting-magnitude grid, from :func:`evaluate` summaries.

    Parameters
    ----------
    summary_paths : sequence of path-like
        Summary JSON files.
    tsv_path, markdown_path, plot_path : path-like
        Outputs: the table as TSV and as Markdown (mean ± std over seeds), and
        a figure of purity, recall and F1 against limiting magnitude per model.

    Returns
    -------
    pandas.DataFrame
        One row per model and limiting magnitude, sorted: ``model``,
        ``mag_limit``, ``n_seeds``, ``n_test``, ``n_test_positive``, then
        ``<metric>_mean`` and ``<metric>_std`` for the threshold and every metric of
        :data:`METRICS` over the seeds, and ``ensemble_<metric>``.
    """
    table = pd.DataFrame([_summary_row(p) for p in summary_paths])
    if table.empty:
        msg = "no evaluation summaries given to summarize"
        raise ValueError(msg)
    table = table.sort_values(["model", "mag_limit"], kind="stable").reset_index(drop=True)
    with atomic_path(tsv_path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    with atomic_path(markdown_path) as tmp:
        tmp.write_text(_markdown_table(table))
    _plot_grid(plot_path, table)
    return table


def _summary_row(path: str | os.PathLike) -> dict[str, Any]:
    """One row of the grid table from one :func:`evaluate` summary JSON file."""
    s = json.loads(Path(path).read_text())
    row: dict[str, Any] = {
        "model": s["model"],
        "mag_limit": float(s["mag_limit"]),
        "n_seeds": len(s["seeds"]),
        "n_test": s["n_test"],
        "n_test_positive": s["n_test_positive"],
    }
    for k in ("threshold", *METRICS):
        row[f"{k}_mean"] = s["mean"][k]
        row[f"{k}_std"] = s["std"][k]
    for k in ("threshold", *METRICS):
        row[f"ensemble_{k}"] = s["ensemble"][k]
    return row


def _mean_pm_std(r: Mapping[str, Any], k: str) -> str:
    """``mean ± std`` of metric ``k`` in a grid row (the mean alone for one seed)."""
    m, s = r[f"{k}_mean"], r[f"{k}_std"]
    if m is None or not np.isfinite(m):
        return "n/a"
    if r["n_seeds"] > 1 and s is not None and np.isfinite(s):
        return f"{m:.3f} ± {s:.3f}"
    return f"{m:.3f}"


def _markdown_table(table: pd.DataFrame) -> str:
    """The grid table as Markdown, with a note on how the metrics were measured."""
    shown = ("threshold", "precision", "recall", "f1", "accuracy", "roc_auc", "ece")
    head = ["model", "g limit", "seeds", "test (pos)", *shown, "ensemble F1"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [
            r["model"],
            f"{r['mag_limit']:g}",
            str(r["n_seeds"]),
            f"{r['n_test']} ({r['n_test_positive']})",
        ]
        cells += [_mean_pm_std(r, k) for k in shown]
        ens = r["ensemble_f1"]
        cells.append("n/a" if ens is None or not np.isfinite(ens) else f"{ens:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        "\nMetrics on the test split at the threshold maximising F1 on the validation split; "
        "mean ± standard deviation over seeds. ECE: expected calibration error.\n"
    )
    return "\n".join(lines) + "\n" + note


def _plot_grid(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Purity, recall and F1 (mean ± std over seeds) against limiting magnitude, per model."""
    fig = Figure(figsize=(12, 4), layout="constrained")
    axes = fig.subplots(1, 3, sharey=True)
    for ax, k, label in zip(
        axes, ("precision", "recall", "f1"), ("purity (precision)", "recall", "F1"), strict=True
    ):
        for model, sub in table.groupby("model", sort=True):
            # a metric undefined on the test split (no source called a cluster: no
            # purity) is None in the summaries; matplotlib takes NaN, not None
            ax.errorbar(
                sub["mag_limit"],
                pd.to_numeric(sub[f"{k}_mean"], errors="coerce"),
                yerr=pd.to_numeric(sub[f"{k}_std"], errors="coerce"),
                marker="o",
                capsize=3,
                label=model,
            )
        ax.set(xlabel="limiting g magnitude", title=label)
    axes[0].set_ylabel("test metric at chosen threshold")
    axes[-1].legend(fontsize=8)
    save_figure(fig, path)
