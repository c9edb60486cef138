"""Realism of the mock against real PAndAS pixels (``pandas_clusters.report.realism``).

The statistics are checked on synthetic images; the comparison with the real
cutouts needs ``../shared/reference`` and skips cleanly without it.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter

from pandas_clusters.acquire.mock import MockSettings
from pandas_clusters.report import realism as R


def _to8(a):
    a = (a - a.min()) / (a.max() - a.min())
    return (a * 255).astype(np.uint8)


def test_recipe_is_8_bit_over_the_full_range():
    rng = np.random.default_rng(0)
    img = 100 + rng.normal(0, 3, (128, 128))
    img[60:68, 60:68] += 500
    img[5, 5] = np.nan
    out = R.cutout_recipe(img)
    assert out.dtype == np.uint8 and out.shape == (128, 128)
    assert out.min() == 0 and out.max() == 255
    assert out[64, 64] == 255  # the bright object is clipped at the zscale maximum


def test_noise_correlation_rises_with_the_kernel():
    rng = np.random.default_rng(1)
    white = rng.normal(0, 1, (128, 128))
    smooth = gaussian_filter(white, 1.0)
    c_white = R.image_statistics(_to8(white))["noise_corr"]
    c_smooth = R.image_statistics(_to8(smooth))["noise_corr"]
    assert abs(c_white) < 0.1
    # a Gaussian kernel of sigma 1 px correlates neighbours by about exp(-1/4) = 0.78
    assert c_smooth > 0.6


def test_blobs_count_psf_scale_sources():
    yy, xx = np.mgrid[:128, :128]
    img = np.zeros((128, 128))
    pos = [(20, 20), (20, 100), (64, 64), (100, 30), (100, 100)]
    for y, x in pos:
        img += 200 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.8**2))
    assert R.image_statistics(img.astype(np.uint8))["blobs"] == len(pos)


def test_a_plateau_is_one_blob():
    # an object clipped at 255 by the zscale limits is one source, not one per pixel
    yy, xx = np.mgrid[:128, :128]
    img = 40 + 200 * np.exp(-((xx - 15) ** 2 + (yy - 15) ** 2) / (2 * 1.8**2))  # a star
    img[50:80, 50:80] = 255
    assert R.image_statistics(img.astype(np.uint8))["blobs"] == 2


def test_psf_magnitude_loses_the_light_of_extended_galaxies():
    s = MockSettings.demo()
    row = dict(kind="galaxy", sersic_n=1.0, ellipticity=0.0, pa_deg=0.0)
    gal = pd.DataFrame([{**row, "r_e_arcsec": r} for r in (0.05, 1.0, 3.0)])
    off = R.psf_magnitude_offsets(s, gal)
    # a galaxy much smaller than the PSF is measured whole; larger ones lose more
    assert abs(off[0]) < 0.05
    assert 0.05 < off[1] < off[2]


def _galaxy_pool():
    # g_ps1 brighter than the Wang+ 2023 limit for the first three, fainter for the others
    g = [17.0, 18.0, 19.0, 17.2, 18.1, 19.3, 19.8, 20.5, 21.0, 21.5, 22.0, 22.5, 23.0, 23.5]
    g_ps1 = [18.0, 19.0, 19.4, 19.6, 19.9, 20.2, 20.5, 21.0, 21.4, 21.9, 22.3, 22.8, 23.3, 23.8]
    return pd.DataFrame({"kind": "galaxy", "gmag": g, "g_ps1": g_ps1, "obj_id": range(len(g))})


def test_galaxies_in_the_ps1_table_are_paired_in_psf_magnitude():
    pool = _galaxy_pool()
    for seed in range(10):
        rng = np.random.default_rng(seed)
        got = R._pick_central(pool, "galaxy", rng, gmag=30.0, g_ps1=19.0)
        # the 8 nearest in PSF g, whatever the total g says
        assert got["g_ps1"] <= 21.9


def test_galaxies_missing_from_the_ps1_table_are_paired_in_total_g():
    pool = _galaxy_pool()
    picks = [
        R._pick_central(pool, "galaxy", np.random.default_rng(k), gmag=17.0) for k in range(20)
    ]
    # fainter than the table's limit in PSF g (the real one is not in it) ...
    assert all(p["g_ps1"] > R.PS1_G_LIMIT for p in picks)
    # ... and among those the 8 nearest in total g to Peacock's g (17.0): never 22.5-23.5
    assert {p["gmag"] for p in picks} <= {17.2, 18.1, 19.3, 19.8, 20.5, 21.0, 21.5, 22.0}
    # no magnitude at all: any galaxy fainter than the limit
    any_ = R._pick_central(pool, "galaxy", np.random.default_rng(0))
    assert any_["g_ps1"] > R.PS1_G_LIMIT


def test_central_clusters_come_from_the_real_ones_radius_bin():
    # 10 inner clusters (small) and 8 remote ones (large), the same magnitudes
    n_in, n_out = 10, R.MIN_BIN_CLUSTERS
    pool = pd.DataFrame(
        {
            "kind": ["globular_cluster"] * (n_in + n_out),
            "gmag": np.r_[np.linspace(17, 19, n_in), np.linspace(17, 19, n_out)],
            "r_h_pc": [2.5] * n_in + [8.0] * n_out,
            "rbin": ["0-15"] * n_in + ["30+"] * n_out,
        }
    )
    for k in range(10):
        rng = np.random.default_rng(k)
        assert R._pick_central(pool, "cluster", rng, gmag=18.0, rbin="30+")["r_h_pc"] == 8.0
        assert R._pick_central(pool, "cluster", rng, gmag=18.0, rbin="0-15")["r_h_pc"] == 2.5
        assert R._pick_central(pool, "cluster", rng, rbin="30+")["rbin"] == "30+"
    # a bin with too few mock clusters: any bin's
    few = pool.iloc[: n_in + n_out - 1]
    picks = {
        R._pick_central(few, "cluster", np.random.default_rng(k), rbin="30+")["rbin"]
        for k in range(40)
    }
    assert picks == {"0-15", "30+"}


def test_the_cluster_pool_reaches_the_real_clusters_radii():
    s = MockSettings.demo()
    near = R._central_pool(s)
    wide = R._central_pool(s, cluster_radius_deg=s.catalogue_radius_deg + 3.0)
    gc_near = near.loc[near["kind"] == "globular_cluster"]
    gc_wide = wide.loc[wide["kind"] == "globular_cluster"]
    # the mock's own halo clusters beyond the catalogue area stand for the remote real ones
    assert gc_near["rproj_kpc"].max() < 35.0 < gc_wide["rproj_kpc"].max()
    inner = gc_wide.loc[gc_wide["obj_id"].isin(gc_near["obj_id"])]
    assert len(inner) == len(gc_near)
    assert (gc_wide["rbin"] == "30+").sum() > (gc_near["rbin"] == "30+").sum()
    # the galaxies (and their PSF magnitudes) do not move
    gal = ["obj_id", "g_ps1"]
    pd.testing.assert_frame_equal(
        near.loc[near["kind"] == "galaxy", gal].reset_index(drop=True),
        wide.loc[wide["kind"] == "galaxy", gal].reset_index(drop=True),
    )


def test_v_from_mass_zero_point_is_the_median_over_clusters_with_both():
    logm = np.array([5.0, 5.4, 6.0, 4.6, 5.2])
    zp = np.array([30.5, 30.4, 30.6, 30.5, 34.0])  # one outlier
    rbc = pd.DataFrame({"ra": 10.0 + np.arange(5) * 0.01, "dec": 41.0, "vmag": zp - 2.5 * logm})
    masses = pd.DataFrame({"ra": rbc["ra"] + 1.0 / 3600, "dec": 41.0, "logm": logm})
    got, n = R.mass_magnitude_zero_point(rbc, masses)
    assert n == 5 and got == pytest.approx(30.5)
    with pytest.raises(ValueError, match="no cluster has both"):
        R.mass_magnitude_zero_point(rbc, masses.assign(ra=masses["ra"] + 1.0))


def test_clusters_without_an_rbc_v_take_it_from_their_cr16_mass(reference):
    if not (reference / R.CR16_TABLE).is_file() or not (reference / R.RBC_SUPPLEMENT).is_file():
        pytest.skip("shared CR16 table or RBC supplement is absent")
    masses = R.read_cr16_logm(reference / R.CR16_TABLE)
    assert len(masses) > 400 and masses["dec"].between(30, 50).all()
    rbc = R.read_rbc_vmag(reference / R.RBC_SUPPLEMENT)
    zp, n = R.mass_magnitude_zero_point(rbc, masses)
    assert n > 50 and 29.5 < zp < 31.5
    # PAndAS-01 (Huxor+ 2014; CR16: 23 57 12.0 +43 33 08, log M 5.3), a galaxy at the same
    # place, and a position in no table
    real = pd.DataFrame(
        {
            "cls": ["cluster", "galaxy", "cluster"],
            "ra": [15 * (23 + 57 / 60 + 12.0 / 3600)] * 2 + [12.0],
            "dec": [43 + 33 / 60 + 8 / 3600] * 2 + [47.0],
        }
    )
    vmag, source = R.cluster_vmag(real, reference)
    assert source.tolist() == ["cr16", "", ""]
    assert vmag[0] == pytest.approx(zp - 2.5 * 5.3)
    assert np.isnan(vmag[1:]).all()


def test_magnitudes_are_matched_within_the_radius():
    real = pd.DataFrame({"ra": [10.0, 11.0], "dec": [41.0, 41.0]})
    table = pd.DataFrame({"ra": [10.0 + 1.0 / 3600, 11.01], "dec": [41.0, 41.0], "g": [18.5, 17.0]})
    got = R.match_magnitude(real, table, "g")
    assert got[0] == 18.5 and np.isnan(got[1])  # 0.75" away; the other 27" away


def test_unmeasured_galaxies_take_the_g_of_galaxies_the_ps1_table_also_misses():
    nan = np.nan
    real = pd.DataFrame(
        {
            "cls": ["galaxy"] * 6 + ["cluster"],
            # in the PS1 table, missed by it with Peacock's g (x2), missed by both (x3)
            "g_ps1": [18.9, nan, nan, nan, nan, nan, nan],
            "g_total": [17.0, 18.4, 19.6, nan, nan, nan, nan],
        }
    )
    g, source = R.fill_unmeasured_galaxy_g(real, seed=3)
    # measured magnitudes are kept; the PS1-table galaxy's total g never enters the draw
    assert g[0] == 17.0 and g[1] == 18.4 and g[2] == 19.6
    assert set(g[3:6]) <= {18.4, 19.6}
    assert np.isnan(g[6])  # a cluster takes no galaxy magnitude
    assert list(source) == ["peacock2010"] * 3 + ["drawn"] * 3 + [""]
    again, _ = R.fill_unmeasured_galaxy_g(real, seed=3)
    np.testing.assert_array_equal(g, again)
    # with no galaxy that both tables describe so, nothing is drawn
    bare = real.assign(g_total=[17.0] + [nan] * 6)
    g2, s2 = R.fill_unmeasured_galaxy_g(bare, seed=3)
    assert np.isnan(g2[1:]).all() and list(s2[1:]) == [""] * 6


def test_magnitude_source_names_the_catalogue_each_pairing_rests_on():
    nan = np.nan
    real = pd.DataFrame(
        {
            "cls": ["galaxy"] * 4 + ["cluster"] * 3,
            "g_ps1": [18.9, nan, nan, nan, nan, nan, nan],
            # a galaxy in the PS1 table is paired on its PS1 g, whatever Peacock+ 2010 gives
            "g_total_source": ["peacock2010", "peacock2010", "drawn", "", "", "", ""],
            "vmag_source": ["", "", "", "", "rbc", "cr16", ""],
        }
    )
    got = list(R.magnitude_source(real))
    assert got == ["ps1", "peacock2010", "drawn", "none", "rbc", "cr16", "none"]
    assert set(got) <= set(R.MAGNITUDE_SOURCES)


def test_magnitude_source_table_splits_each_bin_by_source():
    stats = {s: 0.0 for s in R.STATISTICS}
    real = pd.DataFrame(
        {
            "cls": ["galaxy"] * 4,
            "rbin": ["30+", "30+", "30+", "15-30"],
            "mag_source": ["ps1", "drawn", "drawn", "ps1"],
            **stats,
        }
    ).assign(profile_width=[25.0, 22.0, 30.0, 20.0])
    # the mock's drawn partners are narrow; none of them is paired in the 15-30 bin
    mock = real.assign(profile_width=[24.0, 15.0, 17.0, 21.0])
    tab = R.magnitude_source_table(real, mock).set_index(["rbin", "source"])
    assert list(tab.index) == [
        ("all", "ps1"),
        ("all", "drawn"),
        ("15-30", "ps1"),
        ("30+", "ps1"),
        ("30+", "drawn"),
    ]
    assert tab.loc[("30+", "drawn"), "n_real"] == 2
    assert tab.loc[("30+", "drawn"), "profile_width_real"] == 26.0
    assert tab.loc[("30+", "drawn"), "profile_width_mock"] == 16.0
    assert tab.loc[("all", "ps1"), "profile_width_mock"] == 22.5
    lines = R._magnitude_source_lines(real, mock)
    assert any("| galaxy | 30+ | none: drawn | 2 |" in line for line in lines)


def test_peacock_table_without_g_is_refused_naming_the_file(tmp_path):
    from astropy.io import fits

    from pandas_clusters.acquire.mock.calibration import read_peacock2010

    path = tmp_path / "peacock.fits"
    cols = [fits.Column(name=n, format="D", array=np.zeros(2)) for n in ("RAJ2000", "DEJ2000")]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    with pytest.raises(ValueError, match=r"peacock\.fits.*gmag"):
        read_peacock2010(path)


def test_profile_width_of_a_gaussian():
    yy, xx = np.mgrid[:128, :128]
    sigma = 6.0
    img = 250 * np.exp(-((xx - 63.5) ** 2 + (yy - 63.5) ** 2) / (2 * sigma**2))
    width = R.image_statistics(img.astype(np.uint8))["profile_width"]
    # half maximum of a Gaussian at sigma sqrt(2 ln 2)
    assert width == pytest.approx(sigma * np.sqrt(2 * np.log(2)), rel=0.1)


def test_radius_bins():
    assert list(R.radius_bin([0.0, 14.9, 15.0, 29.0, 31.0, 100.0])) == [
        "0-15",
        "0-15",
        "15-30",
        "15-30",
        "30+",
        "30+",
    ]


def test_disk_zone_table_bins_by_the_radius_in_the_disk_plane():
    real = pd.DataFrame(
        {
            "cls": ["galaxy"] * 4,
            "rdisk_kpc": [5.0, 9.9, 25.0, 60.0],
            "blobs": [40.0, 60.0, 20.0, 9.0],
            "noise_corr": [0.8, 0.8, 0.6, 0.4],
        }
    )
    mock = pd.DataFrame(
        {
            "cls": ["galaxy"] * 3,
            "rdisk_kpc": [1.0, 30.0, 15.0],
            "blobs": [70.0, 10.0, 33.0],
            "noise_corr": [0.85, 0.5, 0.7],
        }
    )
    tab = R.disk_zone_table(real, mock).set_index("zone")
    # no real cutout at 10-20 kpc: the zone is left out, whatever the mock holds there
    assert list(tab.index) == ["0-10", "20-40", "40+"]
    assert tab.loc["0-10", "n_real"] == 2 and tab.loc["0-10", "blobs_real"] == 50.0
    assert tab.loc["0-10", "blobs_mock"] == 70.0 and tab.loc["20-40", "noise_corr_mock"] == 0.5
    assert tab.loc["40+", "n_mock"] == 0 and np.isnan(tab.loc["40+", "blobs_mock"])


def test_compare_applies_the_targets():
    real = pd.DataFrame(
        {"cls": ["cluster"] * 6, "rbin": ["0-15"] * 6, **{s: [1.0] * 6 for s in R.STATISTICS}}
    )
    mock = real.copy()
    mock["blobs"] = 1.2  # 20% off: fails the 15% target
    mock["noise_corr"] = 1.04  # within 0.05
    comp = R.compare_statistics(real, mock).set_index(["rbin", "statistic"])
    assert not comp.loc[("all", "blobs"), "pass"]
    assert comp.loc[("all", "noise_corr"), "pass"]
    assert comp.loc[("0-15", "frac_bright"), "pass"]


def test_real_median_interval_and_the_misses_the_sample_explains():
    blobs = np.arange(30.0, 50.0, 2.0)  # 10 real cutouts, median 39
    real = pd.DataFrame(
        {"cls": ["cluster"] * 10, "rbin": ["15-30"] * 10, **{s: [1.0] * 10 for s in R.STATISTICS}}
    )
    real["blobs"] = blobs
    near, far = real.copy(), real.copy()
    near["blobs"], far["blobs"] = 33.0, 20.0  # both miss 39 by more than 15%

    def row(mock):
        return (
            R.compare_statistics(real, mock, seed=4)
            .set_index(["rbin", "statistic"])
            .loc[("15-30", "blobs")]
        )

    r_near, r_far = row(near), row(far)
    assert r_near["real_lo"] < 39.0 < r_near["real_hi"]
    assert 30.0 <= r_near["real_lo"] and r_near["real_hi"] <= 48.0
    assert not r_near["pass"] and r_near["within_spread"]  # 33 meets 15% of a median of 38.8
    assert not r_far["pass"] and not r_far["within_spread"]
    # a constant sample has no spread; the interval is seeded
    const = row(near.assign(blobs=39.0))
    assert const["pass"] and const["within_spread"]
    flat = R.compare_statistics(real, near, seed=4).set_index(["rbin", "statistic"])
    assert flat.loc[("15-30", "noise_corr"), ["real_lo", "real_hi"]].tolist() == [1.0, 1.0]
    assert R.compare_statistics(real, near, seed=4).equals(R.compare_statistics(real, near, seed=4))


def test_mock_cutout_is_deterministic_and_has_its_central_object():
    s = MockSettings.demo()
    pool = R._central_pool(s)
    central = pool.loc[pool["kind"] == "globular_cluster"].iloc[0]
    a = R.mock_cutout(s, 10.9, 41.5, central, key=3)
    b = R.mock_cutout(s, 10.9, 41.5, central, key=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (128, 128)
    assert a[60:68, 60:68].mean() > np.median(a) + 50


# -- the unresolved stars' texture (issue 12, part 1, mock-pixels2) -------------------------
def test_giants_carry_the_fluctuation_magnitude():
    from pandas_clusters.acquire.mock.render import giant_bins

    for m_tip, m_bar in ((22.3, 26.5), (23.5, 26.5), (22.3, 28.0)):
        f, w, rest = giant_bins(m_tip, m_bar)
        assert 0 < w.sum() <= 1 and rest >= 0
        # the giants plus the Gaussian rest fluctuate with the population's f_bar
        np.testing.assert_allclose(np.sum(w * f) + rest, 10 ** (-0.4 * m_bar), rtol=1e-12)
        assert -2.5 * np.log10(f.max()) > m_tip  # no giant brighter than the tip


def test_bulge_giants_are_skewed_with_the_right_variance():
    from pandas_clusters.acquire.mock.render import _giant_counts, giant_bins

    f, w, _ = giant_bins(22.3 - 30.0, 26.5 - 30.0)  # fluxes in ADU at zero point 30
    light = np.full(400_000, 20.0)  # ADU/px of bulge light
    a = _giant_counts(light, f, w, np.random.default_rng(1))
    var = 20.0 * np.sum(w * f)
    assert abs(a.mean()) < 5 * np.sqrt(var / a.size)
    np.testing.assert_allclose(a.var(), var, rtol=0.1)
    assert np.mean((a - a.mean()) ** 3) / a.var() ** 1.5 > 1.0  # a Gaussian has 0
    b = _giant_counts(light, f, w, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)


def test_old_cluster_giants_are_deterministic_and_scale_with_light():
    from types import SimpleNamespace

    from pandas_clusters.acquire.mock.old_population import MG_EDGES
    from pandas_clusters.acquire.mock.render import GC_GIANT_FAINT_G, globular_giants
    from pandas_clusters.core.geometry import M31

    s = MockSettings.demo()
    row = SimpleNamespace(obj_id=11, gmag=17.0, king_c=1.5, r_h_pc=2.5, rproj_kpc=8.0)
    a, b = globular_giants(s, row), globular_giants(s, row)
    pd.testing.assert_frame_equal(a, b)
    tip = MG_EDGES[0] + M31.distance_modulus
    assert a["gmag"].between(tip, GC_GIANT_FAINT_G + np.diff(MG_EDGES)[0]).all()
    light = float(np.sum(10 ** (-0.4 * a["gmag"])))
    assert 0 < light < 10 ** (-0.4 * 17.0)  # part of the cluster's light
    faint = [
        len(globular_giants(s, SimpleNamespace(**{**vars(row), "gmag": 19.5, "obj_id": k})))
        for k in range(20)
    ]
    assert np.mean(faint) < len(a)


@pytest.fixture(scope="module")
def measured(reference):
    if not (reference / "pandas-cutouts-klemenz" / "cutouts").is_dir():
        pytest.skip("shared pandas-cutouts-klemenz is absent")
    s = MockSettings.demo()
    # the sample of docs/mock-realism.md (every real cutout: 294 clusters, 237 galaxies):
    # the same table as the documented command's
    real_s, mock_s, _, _ = R.measure(s, reference, per_class=R.EVERY_REAL_CUTOUT, seed=s.seed)
    base = dataclasses.replace(s, **R.BASELINE_OVERRIDES)
    # one draw of the mock before issue 12 (the documented command pools three): it serves
    # only to show that fewer targets were met before, by far
    _, base_s, _, _ = R.measure(
        base, reference, per_class=R.EVERY_REAL_CUTOUT, seed=s.seed, mock_draws=1
    )
    return real_s, mock_s, base_s


def _comparison(measured, which):
    real_s, mock_s, base_s = measured
    return R.compare_statistics(real_s, mock_s if which == "mock" else base_s).set_index(
        ["cls", "rbin", "statistic"]
    )


def test_noise_is_correlated_like_the_real_stacks(measured):
    comp = _comparison(measured, "mock")
    assert comp.loc[("cluster", "all", "noise_corr"), "pass"]
    assert comp.loc[("cluster", "0-15", "noise_corr"), "pass"]


def test_the_table_takes_every_real_cutout(measured, reference):
    real_s, mock_s, _ = measured
    real = R.read_real_cutouts(reference / "pandas-cutouts-klemenz")
    assert real_s.groupby("cls").size().to_dict() == real.groupby("cls").size().to_dict()
    assert len(mock_s) == R.MOCK_DRAWS * len(real_s)


def test_each_mock_cutout_carries_its_real_partners_magnitude_source(measured):
    real_s, mock_s, _ = measured
    counts = real_s.groupby(["cls", "mag_source"]).size()
    assert (mock_s.groupby(["cls", "mag_source"]).size() == R.MOCK_DRAWS * counts).all()
    # the real galaxies: paired on a PS1 g, on a Peacock+ 2010 g, or on a drawn one
    assert set(real_s.loc[real_s["cls"] == "galaxy", "mag_source"]) == {
        "ps1",
        "peacock2010",
        "drawn",
    }
    tab = R.magnitude_source_table(real_s, mock_s)
    assert tab.groupby(["cls", "rbin"])["n_real"].sum().loc[("galaxy", "all")] == int(
        (real_s["cls"] == "galaxy").sum()
    )


def test_more_targets_met_than_before(measured):
    now = _comparison(measured, "mock")["pass"].sum()
    before = _comparison(measured, "baseline")["pass"].sum()
    assert now > before


#: Targets met on the sample of docs/mock-realism.md (every real cutout since item 43, 120
#: per class before; the config's seed), measured with the mock of issue 12 after its parts were merged
#: (contaminants, labels, galaxy counts from HSC and Driver+ 2016, bulge and cluster
#: giants, real demo fields, the disk's texture from its stars below the resolved limit,
#: the old population from an isochrone with M31's spheroid, satellites and remote
#: clusters' tidal radii, the old clusters' half-light radii growing as M31's own do),
#: the central mock object matched to the real one (galaxies in PS1 PSF g or Peacock+
#: 2010's total g, clusters from the real one's radius bin in V), and, from the eleventh
#: round (docs/mock-realism.md item 32), the stacks' depth from CFHT's MegaCam exposure
#: time calculator at PAndAS's 3 x 450 s (first g = 25.3, from the 2015 filters' column; not 26.5) with each stack the mean
#: of its field's exposures resampled bilinearly (23 of 40; 32 before item 32: the galaxy
#: rows the deeper mock met are lost), and each cutout at its real field's exposures from
#: the observing log (item 33): 27 of 40; with the calculator's depth for the filters
#: PAndAS used (g' = g.MP9401: g = 25.76, item 34), 30 of 40; with the background
#: galaxies' sizes from Shen et al. 2003's laws (item 35), 32 of 40; pooling three mock
#: cutouts per real one (item 42; one draw met 33, 30 or 28 of 40), 31 of 40; against every
#: real cutout instead of 120 per class (item 43), 34 of 40; with the disk's old stars drawn
#: per unit light from a metal-rich isochrone (item 45), 33 of 40; with M31's dust and every
#: background galaxy drawn with its size (item 47), 31 of 40 (the same mock with only the
#: texture's random draws reordered: 31, a different 31); with the disk's metallicity (item
#: 49), 32 of 40; with background galaxies to g = 29 (item 50), 32 of 40, a different 32.
#: They must stay met.
MET = [
    ("cluster", "all", "noise_corr"),
    ("cluster", "all", "frac_bright"),
    ("cluster", "all", "grey_median"),
    ("cluster", "all", "profile_width"),
    ("cluster", "0-15", "noise_corr"),
    ("cluster", "0-15", "frac_bright"),
    ("cluster", "0-15", "grey_median"),
    ("cluster", "0-15", "profile_width"),
    ("cluster", "15-30", "noise_corr"),  # since item 52 (the clusters' alpha enhancement)
    ("cluster", "15-30", "blobs"),
    ("cluster", "15-30", "frac_bright"),
    ("cluster", "15-30", "grey_median"),
    ("cluster", "15-30", "profile_width"),
    ("cluster", "30+", "noise_corr"),
    ("cluster", "30+", "blobs"),
    ("cluster", "30+", "frac_bright"),
    ("cluster", "30+", "grey_median"),
    ("cluster", "30+", "profile_width"),
    ("galaxy", "all", "noise_corr"),
    ("galaxy", "all", "blobs"),
    ("galaxy", "all", "frac_bright"),
    ("galaxy", "all", "grey_median"),
    ("galaxy", "all", "profile_width"),
    ("galaxy", "0-15", "noise_corr"),
    ("galaxy", "0-15", "blobs"),
    ("galaxy", "0-15", "frac_bright"),
    ("galaxy", "0-15", "grey_median"),
    ("galaxy", "0-15", "profile_width"),
    ("galaxy", "15-30", "noise_corr"),
    ("galaxy", "15-30", "blobs"),
    ("galaxy", "15-30", "frac_bright"),
    ("galaxy", "15-30", "grey_median"),
    ("galaxy", "15-30", "profile_width"),
    # the halo galaxies' frac_bright and profile_width left this list with item 50
    # (galaxies to g = 29): met on average over ten further draws, missed by the table's
    # three (docs/mock-realism.md, item 50)
]


def test_the_targets_met_stay_met(measured):
    comp = _comparison(measured, "mock")
    lost = [key for key in MET if not comp.loc[key, "pass"]]
    assert not lost, comp.loc[lost].to_string()


@pytest.mark.xfail(
    strict=True,
    reason=f"issue 12 target not yet reached: {len(MET)} of the 40 targets are met "
    "(docs/mock-realism.md lists the gaps)",
)
def test_every_realism_target(measured):
    comp = _comparison(measured, "mock")
    assert comp["pass"].all(), comp.loc[~comp["pass"]].to_string()


def test_sim_to_real_training_cutouts_and_report(tmp_path):
    from pandas_clusters.report import sim_to_real as S

    images, labels, index = S.mock_training_cutouts(MockSettings.demo(), n_per_class=4, seed=2)
    assert images.shape == (8, 128, 128) and images.dtype == np.uint8
    assert labels.tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    assert set(index.loc[labels == 1, "kind"]) == {"globular_cluster", "young_cluster"}
    assert set(index.loc[labels == 0, "kind"]) == {"galaxy", "star"}
    assert S._bin2(images).shape == (8, 64, 64)
    # the old clusters come from the whole halo, beyond the mock catalogues' 2.5 deg
    s = MockSettings.demo()
    old = S.old_cluster_pool(s)
    area = old["rproj_kpc"] <= 34.0
    assert old["rproj_kpc"].max() > 60.0 and (~area).sum() > 20
    assert (old["kind"] == "globular_cluster").all() and (old["gmag"] < S.CLUSTER_FAINT_MAG).all()
    result = {
        "command": "pandas-clusters mock-sim-to-real",
        "model": "resnet18",
        "epochs": 1,
        "n_train": 6,
        "train_kinds": {},
        "n_train_old_beyond_30kpc": 1,
        "n_mock_holdout": 2,
        "auc_mock_holdout": 0.5,
        "n_real_clusters": 3,
        "n_real_galaxies": 3,
        "auc_real": 0.25,
    }
    doc = tmp_path / "realism.md"
    doc.write_text("# realism\n\ntable\n")
    S.update_realism_doc(doc, result)
    S.update_realism_doc(doc, {**result, "auc_real": 0.75})
    text = doc.read_text()
    assert text.startswith("# realism\n\ntable\n")
    assert text.count("## Sim-to-real check") == 1
    assert "| 0.750 |" in text and "| 0.250 |" not in text
    assert "from the whole halo to 150 kpc, 1 of them beyond 30 kpc" in text
    runs = {
        **result,
        "trainings": 3,
        "seed": 7,
        "auc_real_runs": [0.7, 0.8, 0.9],
        "auc_real": 0.8,
        "auc_real_std": 0.1,
    }
    S.update_realism_doc(doc, runs)
    text = doc.read_text()
    assert "3 trainings (seeds 7 + 0..2)" in text
    assert "| 0.800 +- 0.100 (0.700, 0.800, 0.900) |" in text


def test_sim_to_real_averages_several_trainings(tmp_path, monkeypatch):
    from pandas_clusters.report import sim_to_real as S

    n = 10
    monkeypatch.setattr(
        S,
        "mock_training_cutouts",
        lambda settings, *, n_per_class, seed: (
            np.zeros((n, 128, 128), np.uint8),
            np.arange(n) % 2,
            pd.DataFrame({"kind": ["galaxy"] * n, "rproj_kpc": [40.0] * n}),
        ),
    )
    monkeypatch.setattr(
        S,
        "_real_test_set",
        lambda ref: (
            np.zeros((4, 64, 64), np.float32),
            np.array([0, 1, 0, 1]),
            np.array(["0-15", "0-15", "30+", "30+"], dtype=object),
        ),
    )
    seeds = []

    def fake_train(x, y, tests, *, seed, epochs):
        seeds.append(seed)
        # the real clusters of each radius bin against all real galaxies
        assert sorted(tests) == [
            "mock_holdout",
            "real_clusters_0-15",
            "real_clusters_30+",
            "real_rbc",
        ]
        assert tests["real_clusters_30+"][1].tolist() == [0, 0, 1]
        out = {k: 0.5 for k in tests}
        return {**out, "mock_holdout": 0.9, "real_rbc": {11: 0.7, 12: 0.8, 13: 0.9}[seed]}

    monkeypatch.setattr(S, "train_and_score", fake_train)
    out = tmp_path / "s2r.json"
    result = S.write_sim_to_real(
        None, tmp_path, out, n_per_class=5, seed=11, epochs=1, command="c", trainings=3
    )
    assert seeds == [11, 12, 13]
    assert result["auc_real_runs"] == [0.7, 0.8, 0.9]
    assert result["auc_real"] == pytest.approx(0.8)
    assert result["auc_real_std"] == pytest.approx(0.1)
    assert result["auc_mock_holdout_std"] == 0.0
    assert json.loads(out.read_text())["trainings"] == 3
    assert result["auc_real_by_cluster_rbin"]["30+"] == {
        "n_clusters": 1,
        "auc_runs": [0.5, 0.5, 0.5],
        "auc": 0.5,
        "auc_std": 0.0,
    }
    assert "| real: the 1 clusters at Rproj 30+ kpc against all 2 galaxies" in "\n".join(
        S.sim_to_real_lines({**result, "n_real_galaxies": 2})
    )
    with pytest.raises(ValueError, match="trainings must be >= 1"):
        S.write_sim_to_real(
            None, tmp_path, out, n_per_class=5, seed=1, epochs=1, command="c", trainings=0
        )


def test_sim_to_real_training_keeps_its_best_epoch():
    # the check's training: a cosine schedule and the weights of the epoch with the best
    # validation average precision on a split of the mock cutouts (never the tests)
    pytest.importorskip("torch")
    from pandas_clusters.report import sim_to_real as S

    rng = np.random.default_rng(5)
    n = 48
    y = np.arange(n) % 2
    yy, xx = np.mgrid[:64, :64]
    blob = np.exp(-((xx - 31.5) ** 2 + (yy - 31.5) ** 2) / (2 * 3.0**2))
    x = (0.2 + 0.05 * rng.standard_normal((n, 64, 64)) + 0.6 * y[:, None, None] * blob).astype(
        np.float32
    )
    tests = {"toy": (x[:16], y[:16])}
    a = S.train_and_score(x, y, tests, seed=3, epochs=2)
    b = S.train_and_score(x, y, tests, seed=3, epochs=2)
    assert a == b
    assert a["best_epoch"] in (1, 2)
    assert 0.0 <= a["toy"] <= 1.0


def test_gradient_is_the_change_of_the_light_across_the_cutout():
    xx = np.mgrid[:128, :128][1].astype(float)
    ramp = 50.0 + 100.0 * xx / 128.0
    assert R.image_statistics(ramp.astype(np.uint8))["gradient"] == pytest.approx(100.0, abs=2.0)
    flat = np.full((128, 128), 70.0)
    flat[48:80, 48:80] = 255.0  # a central object is left out of the fit
    assert R.image_statistics(flat.astype(np.uint8))["gradient"] == pytest.approx(0.0, abs=1e-6)


def test_gradient_table_bins_by_projected_radius():
    real = pd.DataFrame(
        {"cls": ["cluster"] * 4, "rproj_kpc": [0.2, 0.3, 3.0, 20.0], "gradient": [8, 10, 9, 5.0]}
    )
    mock = real.assign(gradient=[100, 120, 20, 5.0])
    tab = R.gradient_table(real, mock).set_index("zone")
    assert tab.loc["0-0.5", "gradient_real"] == 9 and tab.loc["0-0.5", "gradient_mock"] == 110
    assert list(tab.index) == ["0-0.5", "2-4", "15+"]
