"""Mock labels against the published catalogues (issue 12, item 4; docs/mock-calibration.md)."""

from __future__ import annotations

import numpy as np
import pytest

from pandas_clusters.acquire.mock import MockSettings
from pandas_clusters.acquire.mock.calibration import mock_catalogues
from pandas_clusters.acquire.mock.catalogues import AP_GALAXY_AS_CLUSTER_RATE
from pandas_clusters.acquire.mock.labels import (
    AP_COMPLETENESS,
    CATALOGUE_SIZES,
    ap_completeness,
    ap_label_noise,
    g50_of,
    mock_catalogue_sizes,
    published_sizes_in_area,
)

FACTOR = 1.5
G_EDGES = np.arange(19.0, 23.01, 0.5)  # young clusters reach g = 23


@pytest.fixture(scope="module")
def demo():
    settings = MockSettings.demo()
    truth, cats = mock_catalogues(settings)
    return settings, truth, cats


@pytest.mark.parametrize("size", CATALOGUE_SIZES, ids=[c.key for c in CATALOGUE_SIZES])
def test_catalogue_sizes_within_a_factor_of_the_published_ones(demo, size):
    _, truth, cats = demo
    mock = mock_catalogue_sizes(cats, truth)[size.key]
    ratio = mock / size.value
    assert 1 / FACTOR <= ratio <= FACTOR, f"{size.key}: mock {mock} / published {size.value:.0f}"


def test_measured_sizes_are_the_reference_files(demo, reference):
    settings, _, _ = demo
    measured = published_sizes_in_area(reference, settings.catalogue_radius_deg)
    if not measured:
        pytest.skip("none of the shared catalogue files is present")
    cited = {c.key: c.value for c in CATALOGUE_SIZES}
    for key, n in measured.items():
        assert n == cited[key], f"{key}: {n} in the shared file, {cited[key]:.0f} cited"


def test_ap_completeness_curve_matches_the_cited_limit(demo):
    _, truth, cats = demo
    # r_h around the reference radius (2 pc) of the cited 50 % magnitude
    comp = ap_completeness(cats["phat_clusters"], truth, G_EDGES, np.array([1.5, 2.7]))
    assert comp["n_true"].min() >= 30, comp.to_string()  # enough clusters per bin
    g50 = g50_of(comp)
    assert abs(g50 - AP_COMPLETENESS["g50"]) <= AP_COMPLETENESS["tolerance_mag"], g50
    # bright clusters are nearly all listed, faint ones mostly missed
    c = comp.set_index("g_lo")["completeness"]
    assert c.loc[19.0] > 0.9
    assert c.loc[22.5] < 0.3


def test_ap_completeness_falls_with_size(demo):
    _, truth, cats = demo
    comp = ap_completeness(cats["phat_clusters"], truth, G_EDGES, np.array([1.0, 2.0, 3.5, 6.0]))
    g50 = [g50_of(comp.loc[comp["rh_lo"] == lo]) for lo in (1.0, 2.0, 3.5)]
    # larger clusters are harder to find at a fixed total magnitude
    assert g50[0] > g50[1] > g50[2]
    assert g50[0] - g50[2] > 0.3


def test_ap_label_noise(demo):
    _, truth, cats = demo
    noise = ap_label_noise(cats["phat_clusters"], truth)
    assert noise["n"] > 1000
    # a few per cent of the positives are galaxies: noisy, not useless, labels
    assert 0.002 < noise["galaxy"] < 0.05
    assert AP_GALAXY_AS_CLUSTER_RATE > 0
    assert noise["spurious"] < 0.01
