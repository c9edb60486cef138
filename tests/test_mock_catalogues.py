"""Tests of pandas_clusters.acquire.mock.catalogues (mock PHAT and literature catalogues)."""

from __future__ import annotations

import re

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord

from pandas_clusters.acquire.mock.catalogues import (
    CATALOGUES,
    NORMALISED_COLUMNS,
    ORIGINAL_COLUMNS,
    CatalogueSettings,
    catalogue_metadata,
    make_catalogues,
)
from pandas_clusters.acquire.mock.population import CONTAMINANT_KINDS
from pandas_clusters.core.footprint import in_footprint, mock_phat_footprint
from pandas_clusters.core.geometry import M31, offsets_to_radec, projected_radius_kpc
from pandas_clusters.core.io import read_parquet_metadata, write_parquet

SEED = 11


@pytest.fixture(scope="module")
def footprint():
    return mock_phat_footprint()


@pytest.fixture(scope="module")
def truth(footprint):
    """A small synthetic truth: young clusters on the disk, GCs to the halo, galaxies."""
    rng = np.random.default_rng(2024)
    pa = np.deg2rad(M31.pa_deg)
    parts = []
    # young clusters: half along the PHAT strip, half elsewhere on the disk
    n_y = 1600
    along = np.where(
        rng.random(n_y) < 0.5, rng.uniform(-0.05, 1.25, n_y), rng.uniform(-1.3, 1.3, n_y)
    )
    across = rng.normal(-0.1, 0.12, n_y)
    xi = along * np.sin(pa) - across * np.cos(pa)
    eta = along * np.cos(pa) + across * np.sin(pa)
    g = rng.uniform(17.0, 23.5, n_y)
    parts.append(
        dict(
            kind="young_cluster",
            xi=xi,
            eta=eta,
            g=g,
            gi=rng.uniform(-0.3, 0.6, n_y),
            rh=rng.uniform(1, 6, n_y),
        )
    )
    # globular clusters: concentrated, with a halo out to ~3 deg (40 kpc)
    n_gc = 500
    r = np.where(rng.random(n_gc) < 0.7, rng.exponential(0.4, n_gc), rng.uniform(1.0, 3.0, n_gc))
    phi = rng.uniform(0, 2 * np.pi, n_gc)
    g = np.clip(rng.normal(17.5, 1.0, n_gc), 14.5, 21.0)
    parts.append(
        dict(
            kind="globular_cluster",
            xi=r * np.sin(phi),
            eta=r * np.cos(phi),
            g=g,
            gi=rng.normal(1.0, 0.1, n_gc),
            rh=rng.uniform(1.5, 4, n_gc),
        )
    )
    # background galaxies, uniform over the strip's surroundings
    n_gal = 1400
    parts.append(
        dict(
            kind="galaxy",
            xi=rng.uniform(-0.5, 1.2, n_gal),
            eta=rng.uniform(-0.3, 1.2, n_gal),
            g=rng.uniform(18.5, 23.5, n_gal),
            gi=rng.uniform(0.3, 1.5, n_gal),
            rh=np.full(n_gal, np.nan),
        )
    )
    frames = []
    start = 1000
    for p in parts:
        n = len(p["xi"])
        ra, dec = offsets_to_radec(p["xi"], p["eta"])
        frames.append(
            pd.DataFrame(
                {
                    "obj_id": np.arange(start, start + n, dtype=np.int64) * 7,
                    "kind": p["kind"],
                    "ra": ra,
                    "dec": dec,
                    "gmag": p["g"],
                    "imag": p["g"] - p["gi"],
                    "r_h_pc": p["rh"],
                    "r_e_arcsec": np.nan,
                    "sersic_n": np.nan,
                    "ellipticity": np.nan,
                    "pa_deg": np.nan,
                    "n_resolved": np.zeros(n, dtype=np.int32),
                    "rproj_kpc": projected_radius_kpc(ra, dec),
                }
            )
        )
        start += n
    df = pd.concat(frames, ignore_index=True)
    df["kind"] = df["kind"].astype("string")
    df["in_phat"] = in_footprint(df["ra"].to_numpy(), df["dec"].to_numpy(), footprint)
    return df


@pytest.fixture(scope="module")
def cats(truth, footprint):
    return make_catalogues(truth, footprint=footprint, seed=SEED)


def _true_rows(cat, truth):
    """Catalogue entries with a truth object, joined to it."""
    real = cat[cat["truth_id"] >= 0]
    return real.merge(
        truth, left_on="truth_id", right_on="obj_id", how="left", validate="one_to_one"
    )


def _offsets_arcsec(joined):
    dra = (joined["ra_deg"] - joined["ra"]) * np.cos(np.deg2rad(joined["dec"])) * 3600.0
    ddec = (joined["dec_deg"] - joined["dec"]) * 3600.0
    return dra.to_numpy(), ddec.to_numpy()


# --------------------------------------------------------------------------- schema


def test_keys_columns_and_dtypes(cats):
    assert tuple(cats) == CATALOGUES
    for name, cat in cats.items():
        expected = {**NORMALISED_COLUMNS, **ORIGINAL_COLUMNS[name]}
        assert list(cat.columns) == list(expected), name
        for col, dtype in expected.items():
            assert cat[col].dtype == pd.Series(dtype=dtype).dtype, (name, col)
        assert cat["name"].notna().all() and cat["name"].is_unique, name
        assert len(cat) > 0, name


def test_vizier_columns_agree_with_normalised_ones(cats):
    c11 = cats["c11"]
    back = SkyCoord(list(c11["RAJ2000"]), list(c11["DEJ2000"]), unit=(u.hourangle, u.deg))
    assert np.allclose(back.ra.deg, c11["ra_deg"], atol=1e-9)
    assert np.allclose(back.dec.deg, c11["dec_deg"], atol=1e-9)
    assert re.fullmatch(r"\d\d \d\d \d\d\.\d\d", c11["RAJ2000"].iloc[0])
    assert re.fullmatch(r"[+-]\d\d \d\d \d\d\.\d", c11["DEJ2000"].iloc[0])
    for name, ra_col in (("rbc", "RAJ2000"), ("w23", "RAdeg"), ("phat_clusters", "RAdeg")):
        assert np.array_equal(cats[name][ra_col].to_numpy(), cats[name]["ra_deg"].to_numpy())
    for name, id_col in (("w22", "ID"), ("w23", "Seq"), ("phat_clusters", "APID")):
        assert (cats[name]["name"] == cats[name][id_col].astype(str)).all()
    for name in ("c09", "rbc", "c11", "h14"):
        assert (cats[name]["name"] == cats[name]["Name"]).all()


def test_parquet_roundtrip_with_metadata(cats, tmp_path):
    for name in ("c11", "phat_clusters"):
        path = write_parquet(
            cats[name], tmp_path / f"{name}.parquet", metadata=catalogue_metadata(name)
        )
        back = pd.read_parquet(path)
        pd.testing.assert_frame_equal(back, cats[name], check_dtype=False)
        meta = read_parquet_metadata(path)
        assert meta["catalogue"] == name and meta["mock"] is True
        assert set(meta["units"]) <= set(ORIGINAL_COLUMNS[name])


# --------------------------------------------------------------------------- determinism


def test_deterministic_and_independent_of_row_order(truth, footprint, cats):
    again = make_catalogues(truth.sample(frac=1.0, random_state=3), footprint=footprint, seed=SEED)
    for name in CATALOGUES:
        pd.testing.assert_frame_equal(again[name], cats[name])
    other = make_catalogues(truth, footprint=footprint, seed=SEED + 1)
    assert not other["c09"]["truth_id"].equals(cats["c09"]["truth_id"])


def test_in_phat_computed_when_absent(truth, footprint, cats):
    again = make_catalogues(
        truth.drop(columns=["in_phat", "rproj_kpc"]), footprint=footprint, seed=SEED
    )
    for name in CATALOGUES:
        pd.testing.assert_frame_equal(again[name], cats[name])


def test_sorted(cats):
    for name in ("w22", "w23"):
        ids = cats[name].iloc[:, 4].to_numpy()
        assert np.array_equal(ids, np.arange(1, len(ids) + 1)), name
        assert np.all(np.diff(cats[name]["ra_deg"].to_numpy()) >= 0), name
    assert np.all(np.diff(cats["phat_clusters"]["APID"].to_numpy()) > 0)
    for name in ("c09", "rbc", "c11", "h14"):
        assert np.all(np.diff(cats[name]["ra_deg"].to_numpy()) >= 0), name


# --------------------------------------------------------------------------- names


def test_name_widths_and_styles(cats):
    widths = {"c09": 17, "rbc": 9, "c11": 10, "h14": 9}
    for name, width in widths.items():
        assert cats[name]["name"].str.len().max() <= width, name
    assert cats["h14"]["name"].str.fullmatch(r"PAndAS-\d\d").all()
    assert cats["c09"]["name"].str.len().max() == 17  # LGS positional names exist
    lgs = cats["c09"]["name"][cats["c09"]["name"].str.startswith("LGS")]
    assert lgs.str.fullmatch(r"LGS\d{3}\d\d\.\d_\d{6}").all()
    assert (
        cats["rbc"]["name"]
        .str.fullmatch(r"(B\d{3}D?|SK\d{3}[AB]|M\d{3}|KHM31-\d+|DAO\d+|PAndAS-\d\d)")
        .all()
    )
    assert cats["c11"]["name"].str.contains(r"^B\d{3}D?-G\d{3}$").any()
    for name in ("w22", "w23"):
        assert cats[name]["name"].str.fullmatch(r"[1-9]\d*").all()
    assert cats["w23"]["Seq"].between(1, 9).all()


def test_names_related_across_catalogues(cats):
    rbc = cats["rbc"].query("truth_id >= 0").set_index("truth_id")["name"]
    c11 = cats["c11"].query("truth_id >= 0").set_index("truth_id")["name"]
    c09 = cats["c09"].query("truth_id >= 0").set_index("truth_id")["name"]
    h14 = cats["h14"].query("truth_id >= 0").set_index("truth_id")["name"]
    both = rbc.index.intersection(c11.index)
    assert len(both) > 50
    for tid in both:
        assert c11[tid] == rbc[tid] or c11[tid].startswith(rbc[tid] + "-")
    # C09 and C11 write the same name for the same object
    common = c09.index.intersection(c11.index)
    assert len(common) > 50 and (c09[common] == c11[common]).all()
    # H14 clusters keep their PAndAS name in the other catalogues
    for cat in (rbc, c11, c09):
        shared = h14.index.intersection(cat.index)
        assert (cat[shared] == h14[shared]).all()
    # a name means one object: no name is reused for another truth object
    allnames = pd.concat([rbc, c11, c09, h14]).reset_index().drop_duplicates()
    assert not allnames.duplicated("name").any()


# --------------------------------------------------------------------------- selection


def test_kinds_and_subsets(cats, truth):
    kinds = {
        # label noise: the AP lists a few background galaxies as clusters (issue 12)
        "phat_clusters": {"young_cluster", "globular_cluster", "galaxy"},
        "phat_galaxies": {"galaxy"},
        "c09": {"young_cluster", "globular_cluster"},
        # like the real RBC, the mock RBC also lists galaxies (class 4) and other contaminants
        "rbc": {"young_cluster", "globular_cluster", "galaxy", *CONTAMINANT_KINDS},
        "c11": {"young_cluster", "globular_cluster"},
        "w22": {"young_cluster", "globular_cluster"},
        "w23": {"globular_cluster"},
        "h14": {"globular_cluster"},
    }
    for name, allowed in kinds.items():
        joined = _true_rows(cats[name], truth)
        assert joined["obj_id"].notna().all(), name
        assert set(joined["kind"]) <= allowed, name
        assert joined["truth_id"].is_unique, name
    # the literature lists are mostly globular clusters, C09 with young ones too
    for name in ("rbc", "c11"):
        k = _true_rows(cats[name], truth)["kind"]
        k = k[k.isin(["young_cluster", "globular_cluster"])]  # RBC: its clusters
        assert (k == "globular_cluster").mean() > 0.6, name
    assert (_true_rows(cats["c09"], truth)["kind"] == "young_cluster").sum() > 10
    # W22 and W23 list new objects only
    known = (
        set(cats["rbc"]["truth_id"]) | set(cats["c09"]["truth_id"]) | set(cats["c11"]["truth_id"])
    )
    for name in ("w22", "w23"):
        ids = set(cats[name]["truth_id"]) - {-1}
        assert not ids & known, name
    # each literature catalogue is a different subset
    sets = {n: set(cats[n]["truth_id"]) for n in ("c09", "rbc", "c11")}
    assert sets["c09"] != sets["rbc"] != sets["c11"]


def test_phat_only_inside_footprint(cats, truth, footprint):
    for name in ("phat_clusters", "phat_galaxies"):
        cat = cats[name]
        assert in_footprint(cat["ra_deg"].to_numpy(), cat["dec_deg"].to_numpy(), footprint).all()
        assert _true_rows(cat, truth)["in_phat"].all()
    # W22 finds clusters outside PHAT too
    w22 = _true_rows(cats["w22"], truth)
    assert (~w22["in_phat"]).sum() > 0


def test_phat_completeness_falls_with_magnitude(cats, truth):
    clusters = truth[truth["kind"].isin(["young_cluster", "globular_cluster"]) & truth["in_phat"]]
    listed = clusters["obj_id"].isin(cats["phat_clusters"]["truth_id"])
    bright = listed[clusters["gmag"] < 20.5].mean()
    faint = listed[clusters["gmag"] > 23.0].mean()
    assert bright > 0.9
    assert faint < 0.2
    # AP IDs are one number space over both PHAT lists
    ids = np.concatenate([cats["phat_clusters"]["APID"], cats["phat_galaxies"]["APID"]])
    assert len(np.unique(ids)) == len(ids)


def test_h14_prefers_large_radii(cats, truth):
    gcs = truth[truth["kind"] == "globular_cluster"]
    listed = gcs["obj_id"].isin(cats["h14"]["truth_id"])
    assert listed[gcs["rproj_kpc"] > 25].mean() > 0.7
    assert listed[gcs["rproj_kpc"] < 10].mean() < 0.05
    assert np.allclose(
        cats["h14"]["Rproj"],
        projected_radius_kpc(cats["h14"]["ra_deg"], cats["h14"]["dec_deg"]),
        atol=0.051,
    )


@pytest.mark.parametrize(("name", "sigma"), [("phat_clusters", 0.1), ("c09", 0.2), ("rbc", 0.3)])
def test_positional_scatter_default(cats, truth, name, sigma):
    dra, ddec = _offsets_arcsec(_true_rows(cats[name], truth))
    assert len(dra) > 150
    # rounding of the listed coordinates adds < 0.04" rms
    for d in (dra, ddec):
        assert np.std(d) == pytest.approx(sigma, rel=0.2)
        assert abs(np.mean(d)) < 4 * sigma / np.sqrt(len(d))


def test_positional_scatter_is_a_setting(truth, footprint):
    settings = CatalogueSettings().replace_selection("c11", scatter_arcsec=0.5)
    cats = make_catalogues(truth, footprint=footprint, seed=SEED, settings=settings)
    dra, ddec = _offsets_arcsec(_true_rows(cats["c11"], truth))
    assert np.std(np.concatenate([dra, ddec])) == pytest.approx(0.5, rel=0.15)


def test_spurious_entries_flagged(truth, footprint, cats):
    assert (cats["w22"]["truth_id"] == -1).sum() > 0
    assert (cats["c11"]["truth_id"] == -1).sum() == 0
    settings = (
        CatalogueSettings()
        .replace_selection("phat_clusters", spurious_fraction=0.2)
        .replace_selection("rbc", spurious_fraction=0.1)
        .replace_selection("h14", spurious_fraction=0.2)
    )
    more = make_catalogues(truth, footprint=footprint, seed=SEED, settings=settings)
    phat = more["phat_clusters"]
    spur = phat[phat["truth_id"] == -1]
    n_true = (phat["truth_id"] >= 0).sum()
    assert 0.1 * n_true < len(spur) < 0.3 * n_true
    assert in_footprint(spur["ra_deg"].to_numpy(), spur["dec_deg"].to_numpy(), footprint).all()
    # spurious entries are nowhere near a truth cluster; true ones are within 5 sigma of
    # their truth object (a cluster, or a galaxy listed as one: the AP's label noise)
    cl = truth[truth["kind"] != "galaxy"]
    for rows, expect_far in ((spur, True), (phat[phat["truth_id"] >= 0], False)):
        ref = cl if expect_far else truth
        tc = SkyCoord(ref["ra"].to_numpy() * u.deg, ref["dec"].to_numpy() * u.deg)
        sc = SkyCoord(rows["ra_deg"].to_numpy() * u.deg, rows["dec_deg"].to_numpy() * u.deg)
        _, sep, _ = sc.match_to_catalog_sky(tc)
        close = sep.arcsec < 0.5
        assert (close.mean() < 0.05) if expect_far else close.all()
    for name in ("rbc", "h14"):
        cat = more[name]
        assert (cat["truth_id"] == -1).any() and cat["name"].is_unique, name
    assert (more["rbc"].loc[more["rbc"]["truth_id"] == -1, "f"] == 2).all()


def test_max_entries_and_w23_width(truth, footprint):
    settings = CatalogueSettings().replace_selection(
        "w23", rates=(("globular_cluster", 1.0),), exclude_known=False
    )
    cats = make_catalogues(truth, footprint=footprint, seed=SEED, settings=settings)
    assert len(cats["w23"]) == 9


# --------------------------------------------------------------------------- edge cases


def test_empty_truth_gives_empty_catalogues(truth, footprint):
    cats = make_catalogues(truth.iloc[:0], footprint=footprint, seed=SEED)
    for name, cat in cats.items():
        assert len(cat) == 0
        assert list(cat.columns) == list({**NORMALISED_COLUMNS, **ORIGINAL_COLUMNS[name]})


def test_bad_truth_is_an_error(truth, footprint):
    with pytest.raises(ValueError, match="gmag"):
        make_catalogues(truth.drop(columns=["gmag"]), footprint=footprint, seed=1)
    dup = pd.concat([truth.iloc[:3], truth.iloc[:1]])
    with pytest.raises(ValueError, match="duplicate obj_id"):
        make_catalogues(dup, footprint=footprint, seed=1)
    with pytest.raises(ValueError, match="unknown catalogue"):
        CatalogueSettings().selection("x")
    with pytest.raises(ValueError, match="rate"):
        CatalogueSettings().replace_selection("c09", rates=(("globular_cluster", 1.5),))
    with pytest.raises(ValueError, match="rproj_scale_kpc"):
        CatalogueSettings().replace_selection("rbc", rproj_scale_kpc=(("star", 0.0),))


def test_a_kinds_rate_can_fall_with_projected_radius():
    sel = (
        CatalogueSettings()
        .replace_selection(
            "rbc",
            rates=(("star", 0.5), ("galaxy", 0.5)),
            rproj_scale_kpc=(("star", 5.0),),
            g50=30.0,
        )
        .rbc
    )
    kind = np.array(["star", "star", "galaxy", "galaxy"])
    p = sel.probability(kind, np.full(4, 18.0), np.array([0.0, 10.0, 0.0, 10.0]))
    np.testing.assert_allclose(p[0], 0.5, rtol=1e-6)
    np.testing.assert_allclose(p[1] / p[0], np.exp(-2.0))  # the star's rate falls ...
    np.testing.assert_allclose(p[2], p[3])  # ... the galaxy's does not
    # the default RBC lists stars (class 6) mostly in the disk
    assert dict(CatalogueSettings().rbc.rproj_scale_kpc)["star"] > 0
    assert dict(CatalogueSettings().rbc.rates)["star"] > 0


def test_with_the_package_mock_truth(footprint):
    population = pytest.importorskip("pandas_clusters.acquire.mock.population")
    settings_mod = pytest.importorskip("pandas_clusters.acquire.mock.settings")
    if not hasattr(population, "catalogue_truth"):
        pytest.skip("pandas_clusters.acquire.mock.population.catalogue_truth not available yet")
    import dataclasses

    s = dataclasses.replace(settings_mod.MockSettings.demo(), catalogue_radius_deg=0.6)
    truth = population.catalogue_truth(s)
    # the stars are there down to catalogue_star_faint_mag only; a subset of the classes
    # draws the same objects
    stars = truth.loc[truth["kind"] == "star"]
    assert len(stars) > 100 and stars["gmag"].max() <= s.catalogue_star_faint_mag
    gcs = population.catalogue_truth(s, kinds=("globular_cluster",))
    pd.testing.assert_frame_equal(
        gcs, truth.loc[truth["kind"] == "globular_cluster"].reset_index(drop=True)
    )
    with pytest.raises(ValueError, match="unknown"):
        population.catalogue_truth(s, kinds=("bright_star",))
    cats = make_catalogues(truth, footprint=footprint, seed=s.seed)
    assert len(cats["phat_clusters"]) > 50
    joined = _true_rows(cats["phat_clusters"], truth.assign(kind=truth["kind"].astype(str)))
    assert set(joined["kind"]) <= {"young_cluster", "globular_cluster", "galaxy"}
    assert (joined["kind"] != "galaxy").mean() > 0.9  # label noise stays a few per cent


def test_c11_metallicity_is_the_clusters_own(cats, truth):
    """C11's [Fe/H] scatter by its median error around the mock clusters' own metallicity."""
    from pandas_clusters.acquire.mock.catalogues import C11_FEH_ERROR_DEX
    from pandas_clusters.acquire.mock.population import cluster_metallicity
    from pandas_clusters.core.geometry import projected_radius_kpc

    joined = _true_rows(cats["c11"], truth)
    old = joined.loc[joined["kind"] == "globular_cluster"]
    assert len(old) > 50
    rproj = projected_radius_kpc(old["ra"].to_numpy(), old["dec"].to_numpy())
    own = cluster_metallicity(SEED, old["obj_id"].to_numpy(), rproj)
    resid = old["[Fe/H]"].to_numpy(dtype=float) - own
    assert np.std(resid) == pytest.approx(C11_FEH_ERROR_DEX, rel=0.3)  # rounding to 0.1 adds 0.03
    assert abs(np.mean(resid)) < 0.05
    young = joined.loc[joined["kind"] == "young_cluster", "[Fe/H]"]
    assert young.isna().all()
