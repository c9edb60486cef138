"""Tests of pandas_clusters.learn.evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pandas_clusters.learn.evaluation import (
    EvaluationPaths,
    EvaluationSettings,
    best_threshold,
    calibration_table,
    evaluate,
    metrics_at,
    pr_curve,
    roc_curve,
    summarize,
    threshold_scan,
)
from pandas_clusters.learn.training import TrainSettings, train

torch.set_num_threads(1)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_threshold_scan_counts():
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.2, 0.7, 0.1, 0.05, 0.3])
    scan = threshold_scan(y, p, np.array([0.0, 0.5, 0.65, 0.95])).set_index("threshold")
    assert scan.loc[0.5, ["tp", "fp", "fn", "tn"]].tolist() == [2, 1, 1, 3]
    assert scan.loc[0.5, "precision"] == pytest.approx(2 / 3)
    assert scan.loc[0.5, "recall"] == pytest.approx(2 / 3)
    assert scan.loc[0.5, "f1"] == pytest.approx(2 / 3)
    assert scan.loc[0.5, "accuracy"] == pytest.approx(5 / 7)
    assert scan.loc[0.0, "recall"] == 1.0 and scan.loc[0.0, "tn"] == 0
    assert np.isnan(scan.loc[0.95, "precision"]) and scan.loc[0.95, "f1"] == 0.0
    m = metrics_at(y, p, 0.65)
    assert m["confusion"] == [[3, 1], [2, 1]]


def test_best_threshold_maximises_f1():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    t = np.linspace(0, 1, 101)
    thr = best_threshold(y, p, t)
    assert 0.3 < thr <= 0.6  # any threshold in (0.3, 0.6] separates perfectly
    assert thr == pytest.approx(0.45, abs=0.011)  # the middle of that plateau


def test_curves_and_calibration_known_values():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    _, _, auc = roc_curve(y, p)
    assert auc == pytest.approx(0.75)  # 3 of the 4 positive-negative pairs ordered
    _, _, ap = pr_curve(y, p)
    assert ap == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    perfect = np.array([0.0, 0.0, 1.0, 1.0])
    assert roc_curve(y, perfect)[2] == pytest.approx(1.0)
    table, ece = calibration_table(
        np.array([1, 0, 1, 1]), np.array([0.95, 0.95, 0.15, 0.15]), n_bins=10
    )
    # bins 0.1-0.2 (mean 0.15, frac 1.0) and 0.9-1.0 (mean 0.95, frac 0.5): ECE = 0.5*0.85 + 0.5*0.45
    assert ece == pytest.approx(0.65)
    assert table["n"].sum() == 4


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from test_training import write_toy_trainset

    folder = tmp_path_factory.mktemp("eval")
    ts = write_toy_trainset(folder / "trainset.parquet", n_train=36, n_val=20, n_test=30)
    weights = []
    for seed in (0, 1):
        st = TrainSettings.from_config(
            model="resnet18", mag_limit=21.0, seed=seed, max_epochs=1, batch_size=12, device="cpu"
        )
        w = folder / f"seed{seed}.safetensors"
        train(
            ts,
            settings=st,
            weights_path=w,
            history_path=folder / f"h{seed}.csv",
            settings_path=folder / f"s{seed}.json",
            checkpoint_path=folder / f"c{seed}.pt",
            progress=False,
        )
        weights.append(w)
    return ts, weights


def eval_paths(folder: Path) -> EvaluationPaths:
    return EvaluationPaths(
        summary=folder / "summary.json",
        threshold_scan=folder / "threshold_scan.tsv",
        mag_bins=folder / "mag_bins.tsv",
        predictions=folder / "predictions.parquet",
        curves=folder / "curves.png",
        calibration=folder / "calibration.png",
        confusion=folder / "confusion.png",
    )


def test_evaluate_and_summarize(trained, tmp_path):
    ts, weights = trained
    paths = eval_paths(tmp_path)
    st = EvaluationSettings.from_config(threshold_step=0.01, mag_bin_width=1.0, device="cpu")
    summary = evaluate(ts, weights, settings=st, paths=paths)
    assert summary["seeds"] == [0, 1]
    assert summary["n_test"] == 30 and summary["n_test_positive"] == 12
    assert set(summary["per_seed"]) == {"seed0", "seed1"}
    for key in ("precision", "recall", "f1", "accuracy", "roc_auc", "ece", "threshold"):
        vals = [summary["per_seed"][s][key] for s in ("seed0", "seed1")]
        if None not in vals:
            assert summary["mean"][key] == pytest.approx(np.mean(vals))
            assert summary["std"][key] == pytest.approx(np.std(vals))
    cm = np.asarray(summary["ensemble"]["confusion"])
    assert cm.sum() == 30 and cm[1].sum() == 12
    assert json.loads(Path(paths.summary).read_text()) == summary

    scan = pd.read_csv(paths.threshold_scan, sep="\t")
    assert set(scan["member"]) == {"seed0", "seed1", "ensemble", "mean", "std"}
    assert (scan["member"] == "ensemble").sum() == 101
    # the scan at the chosen threshold equals the reported metrics
    ens = scan[scan["member"] == "ensemble"].set_index("threshold")
    thr = summary["ensemble"]["threshold"]
    row = ens.iloc[np.argmin(np.abs(ens.index - thr))]
    assert row["f1"] == pytest.approx(summary["ensemble"]["f1"], abs=1e-6)

    bins = pd.read_csv(paths.mag_bins, sep="\t")
    seed0 = bins[bins["member"] == "seed0"]
    assert seed0["n"].sum() == 30
    assert (seed0["mag_hi"] - seed0["mag_lo"]).round(6).eq(1.0).all()

    preds = pd.read_parquet(paths.predictions)
    assert {"source_id", "split", "label", "prob_seed0", "prob_seed1", "prob_mean"} <= set(
        preds.columns
    )
    np.testing.assert_allclose(
        preds["prob_mean"], (preds["prob_seed0"] + preds["prob_seed1"]) / 2, rtol=1e-6
    )
    for png in (paths.curves, paths.calibration, paths.confusion):
        assert Path(png).read_bytes()[:8] == PNG_MAGIC

    # a second grid point (same numbers under another limit) for the summary table
    other = dict(summary, mag_limit=22.0, model="resnet34")
    (tmp_path / "other.json").write_text(json.dumps(other))
    table = summarize(
        [paths.summary, tmp_path / "other.json"],
        tsv_path=tmp_path / "grid.tsv",
        markdown_path=tmp_path / "grid.md",
        plot_path=tmp_path / "grid.png",
    )
    assert list(table["model"]) == ["resnet18", "resnet34"]
    assert table.loc[0, "f1_mean"] == pytest.approx(summary["mean"]["f1"])
    md = (tmp_path / "grid.md").read_text()
    assert "| resnet18 | 21 | 2 |" in md and "±" in md
    assert pd.read_csv(tmp_path / "grid.tsv", sep="\t").shape[0] == 2
    assert (tmp_path / "grid.png").read_bytes()[:8] == PNG_MAGIC

    # a grid of one point where a seed called no test source a cluster: its purity is
    # undefined (None in the JSON), and the table and figure still come out
    undefined = dict(summary, mag_limit=20.0, model="resnet34")
    undefined["mean"] = dict(summary["mean"], precision=None)
    undefined["std"] = dict(summary["std"], precision=None)
    (tmp_path / "undefined.json").write_text(json.dumps(undefined))
    table = summarize(
        [tmp_path / "undefined.json"],
        tsv_path=tmp_path / "grid.tsv",
        markdown_path=tmp_path / "grid.md",
        plot_path=tmp_path / "grid.png",
    )
    assert len(table) == 1
    assert "| resnet34 | 20 | 2 |" in (tmp_path / "grid.md").read_text()
    assert (tmp_path / "grid.png").read_bytes()[:8] == PNG_MAGIC


def test_evaluate_rejects_mixed_weights(trained, tmp_path):
    ts, weights = trained
    with pytest.raises(ValueError, match="two weights files for seed0"):
        evaluate(
            ts,
            [weights[0], weights[0]],
            settings=EvaluationSettings.from_config(device="cpu"),
            paths=eval_paths(tmp_path),
        )


def test_settings_from_config():
    st = EvaluationSettings.from_config({"threshold_step": 0.005, "mag_bin_width": 0.25})
    assert st.thresholds.size == 201 and st.thresholds[-1] == 1.0
    assert st.mag_bin_width == 0.25
    with pytest.raises(ValueError, match="threshold_step"):
        EvaluationSettings.from_config(threshold_step=0.0)
