"""Scoring against the mock truth: one-to-one matching of sources to truth clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pandas_clusters.report.truth_score import score_against_truth, true_cluster_flags

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
