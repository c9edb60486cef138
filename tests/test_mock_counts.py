"""Counts of the mock sky against published counts (docs/mock-calibration.md)."""

from __future__ import annotations

import numpy as np
import pytest

from pandas_clusters.acquire.mock import MockSettings
from pandas_clusters.acquire.mock.calibration import (
    GALAXY_BOX_DEG,
    MEGACAM_ETC_DEPTH,
    REFERENCES,
    galaxy_count_model,
    galaxy_counts_by_g,
    galaxy_counts_deep,
    galaxy_counts_faint,
    galaxy_counts_hsc,
    mock_counts,
    pandas_depth,
    rbc_counts_by_vmag,
    sky_limited_depth,
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
    # counts (docs/mock-calibration.md), to the faint end of galaxy_mag_range (29)
    table = galaxy_counts_faint(MockSettings.demo())
    assert list(table["g_lo"]) == [25.0, 25.5, 26.0, 26.5, 27.0, 27.5, 28.0, 28.5]
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
    edges = np.array([18.0, 20.0, 28.0, 29.0])
    a, b = galaxy_counts_deep(s, edges), galaxy_counts_deep(steep, edges)
    assert b["mock"].iloc[0] < a["mock"].iloc[0]
    assert b["mock"].iloc[-1] > a["mock"].iloc[-1]
    assert np.allclose(b["model"], galaxy_count_model(steep, edges))
    assert ((b["mock"] / b["model"]).between(1 / FACTOR, FACTOR)).all(), b.to_string()


def test_mock_depth_is_the_megacam_calculator_at_the_pandas_exposure():
    # the embedded mock's S/N-10 depth per band is CFHT's calculator scaled to the
    # typical PAndAS field (3 x 450 s in the observing log) at the mock's seeing
    s = MockSettings.demo()
    for band in ("g", "i"):
        d = pandas_depth(band, s.seeing_arcsec[band])
        assert d["exptime_s"] == 1350.0 and d["fields"] == 406
        assert s.depth_mag[band] == pytest.approx(d["depth_mag"], abs=0.05)


def test_sky_limited_depth_scales_with_exposure_and_seeing():
    m, fwhm = MEGACAM_ETC_DEPTH["g"]
    assert sky_limited_depth("g", 3600.0, fwhm) == pytest.approx(m)
    # four times the exposure: twice the S/N, 0.75 mag deeper; twice the seeing: 0.75 shallower
    assert sky_limited_depth("g", 4 * 3600.0, fwhm) == pytest.approx(m + 1.25 * np.log10(4))
    assert sky_limited_depth("g", 3600.0, 2 * fwhm) == pytest.approx(m - 2.5 * np.log10(2))
    with pytest.raises(ValueError, match="band 'r'"):
        sky_limited_depth("r", 3600.0, 0.7)
    with pytest.raises(ValueError, match="positive"):
        sky_limited_depth("g", 0.0, 0.7)
