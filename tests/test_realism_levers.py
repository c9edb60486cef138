"""The mock's realism statistics under changed settings (``report.realism_levers``).

Parsing and overriding need nothing; the table needs ``../shared/reference`` (the
real cutouts' index, never their pixels) and skips cleanly without it.
"""

from __future__ import annotations

import math

import pytest

from pandas_clusters.acquire.mock import MockSettings
from pandas_clusters.report import realism as R
from pandas_clusters.report import realism_levers as L


def test_parse_lever_reads_yaml_values():
    name, ov = L.parse_lever("smooth:seeing_arcsec.g=0.9,unresolved_fluctuation_mag=.inf")
    assert name == "smooth"
    assert ov == {"seeing_arcsec.g": 0.9, "unresolved_fluctuation_mag": math.inf}
    for bad in ("no-colon", "x:", ":a=1", "x:a"):
        with pytest.raises(ValueError, match="lever"):
            L.parse_lever(bad)


def test_overrides_change_only_what_they_name():
    s = MockSettings.demo()
    t = L.apply_overrides(s, {"seeing_arcsec.g": 0.9, "galaxy_density_arcmin2": 10.0})
    assert t.seeing_arcsec["g"] == 0.9 and t.seeing_arcsec["i"] == s.seeing_arcsec["i"]
    assert t.galaxy_density_arcmin2 == 10.0 and t.depth_mag == s.depth_mag
    assert s.seeing_arcsec["g"] != 0.9  # the configured settings are untouched
    with pytest.raises(ValueError, match="no field 'seeing'"):
        L.apply_overrides(s, {"seeing": 1.0})
    with pytest.raises(ValueError, match="no key 'r'"):
        L.apply_overrides(s, {"seeing_arcsec.r": 1.0})


def test_lever_table_is_the_realism_mock_and_answers_to_the_seeing(reference):
    if not (reference / "pandas-cutouts-klemenz" / "cutouts").is_dir():
        pytest.skip("shared pandas-cutouts-klemenz is absent")
    s = MockSettings.demo()
    table = L.lever_table(
        s, reference, {"blurred": {"seeing_arcsec.g": 1.6}}, per_class=3, seed=s.seed
    )
    assert set(table["lever"]) == {L.CONFIGURED, "blurred"}
    # the configured row is the realism module's own mock, statistic for statistic
    sample = R.real_sample(reference, per_class=3, seed=s.seed)
    stats = R.statistics_table(*R.mock_cutouts(s, sample, seed=s.seed))
    got = table[(table["lever"] == L.CONFIGURED) & (table["rbin"] == "all")].set_index("cls")
    for cls, d in stats.groupby("cls"):
        assert got.loc[cls, "n"] == len(d) == 3
        assert got.loc[cls, "blobs"] == pytest.approx(d["blobs"].median())
    # more than twice the seeing: the galaxies' profiles widen, the PSF-scale sources merge
    allrows = table[table["rbin"] == "all"].set_index(["lever", "cls"])
    assert (
        allrows.loc[("blurred", "galaxy"), "profile_width"]
        > allrows.loc[(L.CONFIGURED, "galaxy"), "profile_width"]
    )
    assert (
        allrows.loc[("blurred", "cluster"), "blobs"]
        < allrows.loc[(L.CONFIGURED, "cluster"), "blobs"]
    )
