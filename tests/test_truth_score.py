"""Scoring against the mock truth: one-to-one matching of sources to truth clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pandas_clusters.report.truth_score import (
    score_against_truth,
    survey_scores,
    true_cluster_flags,
)

ARCSEC = 1 / 3600


@pytest.fixture
def truth():
    return pd.DataFrame(
        {
            "obj_id": [1, 2, 3, 4],
            "kind": ["young_cluster", "globular_cluster", "star", "galaxy"],
            "ra": [10.0, 10.01, 10.02, 10.03],
            "dec": [41.0, 41.0, 41.0, 41.0],
        }
    )


def test_one_source_per_cluster(truth):
    # two detections of cluster 1 (0.2" and 0.6" away), one of the GC, one of the star
    ra = np.array([10.0 + 0.2 * ARCSEC, 10.0 - 0.6 * ARCSEC, 10.01, 10.02])
    dec = np.full(4, 41.0)
    flags, ids = true_cluster_flags(ra, dec, truth, radius_arcsec=1.0)
    np.testing.assert_array_equal(flags, [True, False, True, False])
    np.testing.assert_array_equal(ids, [1, -1, 2, -1])


def test_beyond_radius_is_not_a_cluster(truth):
    flags, _ = true_cluster_flags([10.0 + 3 * ARCSEC], [41.0], truth, radius_arcsec=1.0)
    assert not flags.any()


def test_scores(truth):
    positions = pd.DataFrame(
        {
            "source_id": [1, 2, 3, 4],
            "ra": [10.0, 10.01, 10.02, 10.03],
            "dec": [41.0] * 4,
            "gmag": [20.0] * 4,
        }
    )
    preds = pd.DataFrame(
        {
            "source_id": [1, 2, 3, 4],
            "split": ["test"] * 4,
            "label": [1, 0, 0, 0],  # the PHAT-like labels miss the GC
            "prob_mean": [0.9, 0.8, 0.7, 0.1],
        }
    )
    out = score_against_truth(preds, positions, truth, threshold=0.75)
    assert out["against_truth"]["tp"] == 2
    assert out["against_truth"]["f1"] == pytest.approx(1.0)
    assert out["against_phat_labels"]["fp"] == 1
    assert out["phat_labels_against_truth"]["recall"] == pytest.approx(0.5)


@pytest.fixture
def survey_truth():
    return pd.DataFrame(
        {
            "obj_id": [1, 2, 3, 4, 5, 6],
            "kind": [
                "young_cluster",
                "globular_cluster",
                "star",
                "galaxy",
                "young_cluster",
                "star",
            ],
            "ra": [10.0, 10.01, 10.02, 10.03, 10.04, 10.02 + 0.3 * ARCSEC],
            "dec": [41.0] * 6,
            "gmag": [18.5, 17.2, 19.0, 20.0, 21.5, 24.0],
            "r_h_pc": [2.0, 3.0, np.nan, np.nan, 5.0, np.nan],
            "rproj_kpc": [10.0, 10.0, 10.0, 10.0, 35.0, 10.0],
            "field": [207, 207, 208, 208, 208, 208],
        }
    )


def test_survey_scores(survey_truth):
    # candidates: cluster 1 twice (split), the GC, the bright star (beside a faint one), nothing
    cand = pd.DataFrame(
        {
            "ra": [10.0, 10.0 + 0.5 * ARCSEC, 10.01, 10.02, 10.05],
            "dec": [41.0] * 5,
            "field": [207, 207, 207, 208, 208],
        }
    )
    out = survey_scores(cand, survey_truth, rproj_max_kpc=30.0, mag_limit=22.0)
    # the cluster beyond 30 kpc is not counted: two true clusters, both recovered
    assert out["n_true_clusters"] == 2
    assert out["completeness"] == pytest.approx(1.0)
    contamination = {k: v["n"] for k, v in out["contamination_by_truth_class"].items()}
    assert contamination == {"cluster": 2, "cluster_fragment": 1, "star": 1, "unmatched": 1}
    assert out["precision_by_field"]["207"]["precision"] == pytest.approx(2 / 3)
    assert out["precision_by_field"]["208"]["precision"] == 0.0
    assert out["completeness_by_field"]["207"]["completeness"] == pytest.approx(1.0)
    g = {(b["lo"], b["hi"]): b["n_true"] for b in out["completeness_by_gmag"]}
    assert g == {(17.0, 18.0): 1, (18.0, 19.0): 1}


def test_survey_completeness_counts_missed_clusters(survey_truth):
    cand = pd.DataFrame({"ra": [10.03], "dec": [41.0], "field": [208]})
    out = survey_scores(cand, survey_truth, rproj_max_kpc=40.0, mag_limit=None)
    assert out["n_true_clusters"] == 3
    assert out["recovered"] == 0
    rh = {(b["lo"], b["hi"]): b["completeness"] for b in out["completeness_by_r_h_pc"]}
    assert rh == {(1.5, 2.5): 0.0, (2.5, 4.0): 0.0, (4.0, 6.0): 0.0}
    assert out["contamination_by_truth_class"]["galaxy"]["fraction"] == 1.0
