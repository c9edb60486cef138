"""Counts of the mock sky against published counts (docs/mock-calibration.md)."""

from __future__ import annotations

import numpy as np
import pytest

from pandas_clusters.acquire.mock import MockSettings
from pandas_clusters.acquire.mock.calibration import (
    GALAXY_BOX_DEG,
    REFERENCES,
    galaxy_count_model,
    galaxy_counts_by_g,
    galaxy_counts_deep,
    galaxy_counts_faint,
    galaxy_counts_hsc,
    mock_counts,
    rbc_counts_by_vmag,
)
from pandas_clusters.report.realism import RBC_SUPPLEMENT, read_rbc_vmag

FACTOR = 1.5


@pytest.fixture(scope="module")
def counts():
    return mock_counts(MockSettings.demo())


@pytest.mark.parametrize("ref", REFERENCES, ids=[r.key for r in REFERENCES])
def test_counts_within_a_factor_of_the_published_ones(counts, ref):
    ratio = counts[ref.key] / ref.value
    assert 1 / FACTOR <= ratio <= FACTOR, f"{ref.key}: mock {counts[ref.key]:.0f} / {ref.value:.0f}"


def test_old_clusters_per_v_bin_match_the_rbc(counts, reference):
    path = reference / RBC_SUPPLEMENT
    if not path.is_file():
        pytest.skip("shared RBC supplement is absent")
    rbc = read_rbc_vmag(path)
    assert len(rbc) == REFERENCES[2].value  # the cited count is this table's
    table = rbc_counts_by_vmag(rbc["vmag"].to_numpy(), counts["mock_gc_vmag"], np.arange(14, 21))
    table = table.loc[table["rbc"] >= 10]
    assert len(table) >= 5
    ratio = table["mock"] / table["rbc"]
    assert ratio.between(1 / FACTOR, FACTOR).all(), table.to_string()


def test_rbc_star_count_is_the_master_catalogues(reference):
    import pandas as pd

    path = reference / "pandas-cutouts-klemenz" / "catalogues" / "master_catalog_sept_2024.csv"
    if not path.is_file():
        pytest.skip("shared pandas-cutouts-klemenz master catalogue is absent")
    master = pd.read_csv(path)
    rbc = master.loc[master["DATATABLE"] == "m31rbcV5"]
    ref = next(r for r in REFERENCES if r.key == "rbc_stars")
    assert (rbc["CLASS"] == 6).sum() == ref.value  # the cited count is this table's


def test_galaxy_counts_above_the_gaia_lower_bound(reference):
    # issue 12, item 2: the Wang+ 2023 extended sources are a lower bound on the galaxy counts
    table = galaxy_counts_by_g(MockSettings.demo(), reference)
    if table is None:
        pytest.skip("shared Wang+ 2023 table 8 is absent")
    drawn = table.loc[table["g_lo"] >= MockSettings.demo().galaxy_mag_range[0]]
    assert len(drawn) >= 3
    assert (drawn["mock"] >= drawn["w23_extended"] / FACTOR).all(), drawn.to_string()


def test_galaxy_counts_per_g_bin_match_hsc():
    # issue 12, item 2 (mock-galaxies): the three galaxy classes per 0.5-mag g bin against
    # the HSC g-band counts (docs/mock-calibration.md), 19.5 < g < 25
    table = galaxy_counts_hsc(MockSettings.demo())
    assert len(table) == 11
    assert table["ratio"].between(1 / FACTOR, FACTOR).all(), table.to_string()


def test_faint_galaxy_counts_match_driver16():
    # g > 25: the three galaxy classes per 0.5-mag bin against Driver+ 2016's HST F435W
    # counts (docs/mock-calibration.md), to the faint end of galaxy_mag_range (27)
    table = galaxy_counts_faint(MockSettings.demo())
    assert list(table["g_lo"]) == [25.0, 25.5, 26.0, 26.5]
    assert table["ratio"].between(1 / FACTOR, FACTOR).all(), table.to_string()


def test_galaxy_counts_follow_the_settings_outside_the_reference():
    # the drawing follows the settings' counts in every bin, including g < 19.5 (extrapolated)
    s = MockSettings.demo()
    table = galaxy_counts_deep(s)
    (x0, x1), (y0, y1) = GALAXY_BOX_DEG
    used = table.loc[table["model"] * (x1 - x0) * (y1 - y0) >= 20]
    assert len(used) >= 10, table.to_string()
    ratio = used["mock"] / used["model"]
    assert ratio.between(1 / FACTOR, FACTOR).all(), table.to_string()


def test_galaxy_g_counts_set_the_shape():
    # the schema key drives the drawing: a steeper faint end moves galaxies to faint g
    import dataclasses

    s = MockSettings.demo()
    knots = (*s.galaxy_g_counts[:-1], (s.galaxy_g_counts[-1][0], s.galaxy_g_counts[-1][1] + 0.3))
    steep = dataclasses.replace(s, galaxy_g_counts=knots)
    edges = np.array([18.0, 20.0, 26.0, 27.0])
    a, b = galaxy_counts_deep(s, edges), galaxy_counts_deep(steep, edges)
    assert b["mock"].iloc[0] < a["mock"].iloc[0]
    assert b["mock"].iloc[-1] > a["mock"].iloc[-1]
    assert np.allclose(b["model"], galaxy_count_model(steep, edges))
    assert ((b["mock"] / b["model"]).between(1 / FACTOR, FACTOR)).all(), b.to_string()
