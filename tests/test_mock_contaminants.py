"""The contaminants of the mock survey (issue 12, part 3): truth, pixels, RBC rows, truth score."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pandas_clusters.acquire.mock import MockSettings
from pandas_clusters.acquire.mock.catalogues import RBC_CLASS, CatalogueSettings, make_catalogues
from pandas_clusters.acquire.mock.population import (
    CONTAMINANT_KINDS,
    HII_KNOT_FRACTION,
    KINDS,
    TRUTH_COLUMNS,
    asterism_members,
    draw_region,
    hii_knots,
    saturated_star_reach_arcsec,
)
from pandas_clusters.acquire.mock.render import ccd_wcs, render_ccd
from pandas_clusters.core.footprint import mock_phat_footprint
from pandas_clusters.core.geometry import M31, tangent_plane_deg
from pandas_clusters.report.truth_score import FRAGMENT_RH, survey_scores

DEMO = MockSettings.demo()
ARCSEC = 1 / 3600.0


def small(field=231, n=301) -> MockSettings:
    """One n x n CCD of a demo field."""
    sheet = tuple(f for f in DEMO.fields if f.id == field)
    return dataclasses.replace(
        DEMO, fields=sheet, ccd_nx=n, ccd_ny=n, ccd_columns=1, ccd_rows=1, bad_columns_per_ccd=0
    )


@pytest.fixture(scope="module")
def ring_objects():
    """The contaminants of a 0.3 x 0.3 deg box around field 266 (the NE star-forming ring)."""
    f = DEMO.field(266)
    xi, eta = tangent_plane_deg(f.ra_deg, f.dec_deg)
    box = dict(xi_range=(float(xi) - 0.15, float(xi) + 0.15))
    box["eta_range"] = (float(eta) - 0.15, float(eta) + 0.15)
    return draw_region(DEMO, kinds=CONTAMINANT_KINDS, **box), box


def test_each_contaminant_is_its_own_truth_class(ring_objects):
    df, _ = ring_objects
    counts = df["kind"].value_counts()
    assert set(CONTAMINANT_KINDS) <= set(counts.index)
    assert all(KINDS[k] > KINDS["galaxy"] for k in CONTAMINANT_KINDS)
    assert df["obj_id"].is_unique
    gi = df["gmag"] - df["imag"]
    ast = df[df["kind"] == "asterism"]
    assert ast["n_resolved"].isin([2, 3]).all()
    assert (ast["r_e_arcsec"] <= 0.5 * DEMO.asterism_separation_arcsec).all()
    # blends of two or three stars of g >= 19.5 are brighter than one such star
    assert ast["gmag"].between(18.0, 23.0).all()
    hii = df[df["kind"] == "hii_region"]
    assert gi[hii.index].median() < 0.6  # blue (the GCs' g - i is about 1)
    assert hii["r_e_arcsec"].between(0.4, 2.0).all()
    assert hii["n_resolved"].between(2, 5).all()
    compact = df[df["kind"] == "compact_galaxy"]
    assert (compact["r_e_arcsec"] < 0.4).all()
    assert compact["sersic_n"].between(2.0, 4.0).all()
    edge = df[df["kind"] == "edge_on_galaxy"]
    assert edge["ellipticity"].between(0.7, 0.9).all()


def test_asterism_density_is_the_pair_rate_of_luminous_stars(ring_objects):
    df, box = ring_objects
    n1 = int((df["kind"] == "asterism").sum())
    twice = dataclasses.replace(
        DEMO, luminous_star_density_arcmin2=2 * DEMO.luminous_star_density_arcmin2
    )
    n2 = len(draw_region(twice, kinds=("asterism",), **box))
    # pairs scale as the square of the star density: 4x, within Poisson noise
    assert n2 / n1 == pytest.approx(4.0, abs=6 * 4 / np.sqrt(n1))
    none = dataclasses.replace(DEMO, asterism_separation_arcsec=0.0)
    assert len(draw_region(none, kinds=("asterism",), **box)) == 0


def test_contaminant_cells_do_not_depend_on_the_region(ring_objects):
    df, box = ring_objects
    xi0, eta0 = box["xi_range"][0], box["eta_range"][0]
    part = draw_region(
        DEMO, kinds=CONTAMINANT_KINDS, xi_range=(xi0, xi0 + 0.01), eta_range=(eta0, eta0 + 0.01)
    )
    assert len(part) and set(part["obj_id"]) <= set(df["obj_id"])


def test_asterism_members_carry_its_light(ring_objects):
    df, _ = ring_objects
    for row in df[df["kind"] == "asterism"].head(20).itertuples():
        mem = asterism_members(DEMO, row)
        assert len(mem) == row.n_resolved
        for band in ("g", "i"):
            total = -2.5 * np.log10(np.sum(10 ** (-0.4 * mem[f"{band}mag"])))
            assert total == pytest.approx(getattr(row, f"{band}mag"), abs=1e-9)
        sep = np.hypot(mem["dx_arcsec"], mem["dy_arcsec"])
        assert (sep <= DEMO.asterism_separation_arcsec).all()
        pd.testing.assert_frame_equal(mem, asterism_members(DEMO, row))


def _one_object(s: MockSettings, field: int, kind: str, **props) -> pd.DataFrame:
    """A truth row of ``kind`` at the centre of the field's CCD 0."""
    w = ccd_wcs(s, field, "g", 0)
    ra, dec = w.all_pix2world(s.ccd_nx // 2, s.ccd_ny // 2, 0)
    row = {c: np.nan for c in TRUTH_COLUMNS}
    row.update(obj_id=(KINDS[kind] << 52) + 1, kind=kind, ra=float(ra), dec=float(dec))
    row.update(n_resolved=0, rproj_kpc=40.0)
    row.update(props)
    df = pd.DataFrame([row])
    df["kind"] = df["kind"].astype("string")
    df["n_resolved"] = df["n_resolved"].astype(np.int32)
    return df


def _light(s, field, band, objects):
    """The object's light on CCD 0: the image with it minus the image without it."""
    img, _ = render_ccd(s, field, band, 0, objects=objects)
    empty, _ = render_ccd(s, field, band, 0, objects=objects.iloc[:0])
    return img.astype(float) - empty


def _star_size(s, band, r=25):
    """Second moment (mxx + myy) of a star measured as :func:`_moments` does."""
    star = _one_object(s, 231, "star", gmag=19.0, imag=19.0)
    _, mxx, myy = _moments(_light(s, 231, band, star), r=r)
    return mxx + myy


def _moments(img, r=25):
    n = img.shape[0] // 2
    cut = np.clip(img[n - r : n + r + 1, n - r : n + r + 1], 0, None)
    o = np.arange(-r, r + 1)
    tot = cut.sum()
    return tot, (cut * o[None, :] ** 2).sum() / tot, (cut * o[:, None] ** 2).sum() / tot


def test_saturated_star_spikes_lie_along_the_ccd_axes():
    s = small(n=401)
    star = _one_object(s, 231, "bright_star", gmag=11.0, imag=10.0)
    reach_px = saturated_star_reach_arcsec(11.0, s) / s.pixel_scale_arcsec
    assert reach_px > 60
    n = s.ccd_nx // 2
    for band in ("g", "i"):
        light = _light(s, 231, band, star)
        d = np.arange(20, int(0.45 * reach_px))
        along = np.concatenate([light[n, n + d], light[n, n - d], light[n + d, n], light[n - d, n]])
        dd = np.rint(d / np.sqrt(2)).astype(int)  # same radii, on the diagonals
        diagonal = np.concatenate([light[n + dd, n + dd], light[n - dd, n + dd]])
        assert np.median(along) > 20 * max(np.median(np.abs(diagonal)), 1e-3)
        # beyond the reach the spikes are gone
        far = int(reach_px) + 8
        assert abs(light[n, n + far]) < 0.05 * np.median(along)


def test_hii_region_is_extended_blue_and_clumpy():
    s = small()
    gi = -0.2
    hii = _one_object(
        s, 231, "hii_region", gmag=19.0, imag=19.0 - gi, r_e_arcsec=1.0, sersic_n=0.7,
        ellipticity=0.1, pa_deg=30.0, n_resolved=4,
    )  # fmt: skip
    knots = hii_knots(s, hii.iloc[0])
    assert len(knots) == 4
    g_knots = np.sum(10 ** (-0.4 * knots["gmag"]))
    assert g_knots == pytest.approx(HII_KNOT_FRACTION * 10 ** (-0.4 * 19.0))
    flux = {}
    for band in ("g", "i"):
        tot, mxx, myy = _moments(_light(s, 231, band, hii))
        flux[band] = tot
        assert mxx + myy > 1.5 * _star_size(s, band)  # wider than a star
    measured_gi = -2.5 * np.log10(flux["g"] / flux["i"])
    assert measured_gi == pytest.approx(gi, abs=0.15)


@pytest.mark.parametrize(("kind", "ell"), [("edge_on_galaxy", 0.85), ("compact_galaxy", 0.0)])
def test_background_galaxy_subclasses_render_with_their_shape(kind, ell):
    s = small()
    r_e = 2.0 if kind == "edge_on_galaxy" else 0.2
    gal = _one_object(
        s, 231, kind, gmag=19.0, imag=18.0, r_e_arcsec=r_e, sersic_n=1.0, ellipticity=ell,
        pa_deg=0.0,
    )  # fmt: skip
    tot, mxx, myy = _moments(_light(s, 231, "g", gal), r=40)
    assert tot == pytest.approx(10 ** (-0.4 * (19.0 - s.zero_point)), rel=0.1)
    if kind == "edge_on_galaxy":
        assert mxx > 4 * myy  # pa = 0: major axis along x
    else:
        assert mxx + myy < 1.3 * _star_size(s, "g", r=40)  # barely wider than a star


def test_asterism_renders_as_its_stars():
    s = small()
    ast = _one_object(s, 231, "asterism", gmag=20.0, imag=19.5, r_e_arcsec=0.25, n_resolved=3)
    tot, _, _ = _moments(_light(s, 231, "g", ast))
    assert tot == pytest.approx(10 ** (-0.4 * (20.0 - s.zero_point)), rel=0.1)


def _truth_rows(kinds_mags):
    rows = []
    for k, (kind, g) in enumerate(kinds_mags):
        rows.append({"obj_id": (KINDS[kind] << 52) + k, "kind": kind, "gmag": g, "imag": g - 0.5})
    df = pd.DataFrame(rows)
    df["ra"] = 10.0 + 0.01 * np.arange(len(df))
    df["dec"] = 41.0
    df["rproj_kpc"] = 10.0
    df["r_h_pc"] = np.nan
    df["in_phat"] = False
    return df


def test_rbc_lists_contaminants_with_their_rbc_classes():
    listed = (*CONTAMINANT_KINDS, "galaxy", "star", "globular_cluster")
    truth = _truth_rows([(k, 17.0) for k in listed])
    every = tuple((k, 1.0) for k in listed)
    settings = CatalogueSettings().replace_selection(
        "rbc", rates=every, g50=25.0, rproj_scale_kpc=()
    )
    rbc = make_catalogues(truth, footprint=mock_phat_footprint(), seed=3, settings=settings)["rbc"]
    kind = rbc["truth_id"].map(truth.set_index("obj_id")["kind"])
    assert len(rbc) == len(truth)
    for k, f in zip(kind, rbc["f"], strict=True):
        assert f == (RBC_CLASS[k] if k in RBC_CLASS else 1)
    assert {RBC_CLASS[k] for k in ("galaxy", "hii_region", "star", "asterism")} == {4, 5, 6, 7}
    # the default selection lists every contaminant class the catalogue truth holds
    rates = dict(CatalogueSettings().rbc.rates)
    assert all(rates.get(k, 0) > 0 for k in (*CONTAMINANT_KINDS, "galaxy", "star"))


def test_truth_score_counts_each_contaminant_class():
    truth = _truth_rows(
        [
            ("bright_star", 10.0),
            ("young_cluster", 19.0),
            ("asterism", 20.5),
            ("hii_region", 19.5),
            ("compact_galaxy", 20.0),
            ("edge_on_galaxy", 20.0),
            ("star", 23.5),
        ]
    )
    truth.loc[1, "r_h_pc"] = 4.0
    truth["field"] = 1
    reach = float(saturated_star_reach_arcsec(10.0, DEMO))
    frag = FRAGMENT_RH * 4.0 / M31.pc_per_arcsec
    ra0 = truth["ra"].to_numpy()
    cos = np.cos(np.deg2rad(41.0))
    cand = pd.DataFrame(
        {
            "ra": [
                ra0[0],  # on the star's spike (north)
                ra0[0],  # on the other spike (south)
                ra0[1],  # the cluster
                ra0[1] + 0.8 * frag * ARCSEC / cos,  # a fragment of it
                *ra0[2:6],
                ra0[6] + 0.2 * ARCSEC / cos,  # a faint star far from both
                12.0,  # nothing
            ],
            "dec": [41.0 + 0.5 * reach * ARCSEC, 41.0 - 0.8 * reach * ARCSEC] + [41.0] * 8,
            "field": [1] * 10,
        }
    )
    out = survey_scores(
        cand, truth, rproj_max_kpc=30.0, mag_limit=None, spike_arcsec=DEMO.saturated_spike_arcsec
    )
    c = out["contamination_by_truth_class"]
    assert {k: v["n"] for k, v in c.items()} == {
        "saturated_star_artefact": 2,
        "cluster": 1,
        "cluster_fragment": 1,
        "asterism": 1,
        "hii_region": 1,
        "compact_galaxy": 1,
        "edge_on_galaxy": 1,
        "star": 1,
        "unmatched": 1,
    }
    assert c["saturated_star_artefact"]["truth_objects"] == 1
    assert c["cluster_fragment"]["truth_objects"] == 1
    assert c["unmatched"]["truth_objects"] == 0


def test_spurious_detections_of_a_saturated_star_are_attributed_to_it(tmp_path, monkeypatch):
    """End to end: render a saturated star, detect with the sources stage, score the detections."""
    import pandas_clusters.acquire.mock.render as render
    from pandas_clusters.detect.sources import SourceSettings, build_sources
    from pandas_clusters.report.truth_score import candidate_truth_classes

    s = small(n=401)
    star = _one_object(s, 231, "bright_star", gmag=11.0, imag=10.2)
    monkeypatch.setattr(render, "_field_objects", lambda settings, field_id: star)
    paths = {b: tmp_path / f"{b}.fits" for b in ("g", "i")}
    for b, p in paths.items():
        render.write_field_image(s, 231, b, p)
    src = build_sources(
        paths, field=231, out=tmp_path / "sources.parquet", settings=SourceSettings.from_config()
    )
    classes, _, source = candidate_truth_classes(
        src["ra"], src["dec"], star, spike_arcsec=s.saturated_spike_arcsec, return_source=True
    )
    artefact = classes == "saturated_star_artefact"
    assert artefact.sum() >= 3
    assert (source[artefact] == star["obj_id"].iloc[0]).all()
    # within half the spike reach: the star itself, and artefacts attributed to it
    reach = float(saturated_star_reach_arcsec(11.0, s))
    dra = (src["ra"] - star["ra"].iloc[0]) * np.cos(np.deg2rad(star["dec"].iloc[0]))
    near = np.hypot(dra, src["dec"] - star["dec"].iloc[0]).to_numpy() * 3600 < 0.5 * reach
    assert (classes[near] == "bright_star").sum() <= 1
    assert np.isin(classes[near], ["bright_star", "saturated_star_artefact"]).all()


def test_calibration_report_keeps_the_hand_written_sections(tmp_path):
    from pandas_clusters.acquire.mock.calibration import _kept_sections

    doc = tmp_path / "mock-calibration.md"
    assert _kept_sections(doc) == []
    doc.write_text(
        "# table\n\n<!-- contaminants:start -->\n## Contaminants\ntext\n<!-- contaminants:end -->\n"
    )
    kept = _kept_sections(doc)
    assert kept[1] == "<!-- contaminants:start -->" and kept[-1] == "<!-- contaminants:end -->"
    assert "## Contaminants" in kept


def test_a_clusters_extra_detections_are_its_fragments(tmp_path, monkeypatch):
    """End to end: a partly resolved cluster detected as several sources scores one cluster."""
    import pandas_clusters.acquire.mock.render as render
    from pandas_clusters.detect.sources import SourceSettings, build_sources
    from pandas_clusters.report.truth_score import candidate_truth_classes

    s = small(n=301)
    cl = _one_object(
        s, 231, "young_cluster", gmag=17.5, imag=17.4, r_h_pc=5.0, king_c=1.0, n_resolved=30
    )
    monkeypatch.setattr(render, "_field_objects", lambda settings, field_id: cl)
    paths = {b: tmp_path / f"{b}.fits" for b in ("g", "i")}
    for b, p in paths.items():
        render.write_field_image(s, 231, b, p)
    src = build_sources(
        paths, field=231, out=tmp_path / "sources.parquet", settings=SourceSettings.from_config()
    )
    classes, _, source = candidate_truth_classes(src["ra"], src["dec"], cl, return_source=True)
    assert (classes == "cluster").sum() == 1
    dra = (src["ra"] - cl["ra"].iloc[0]) * np.cos(np.deg2rad(cl["dec"].iloc[0]))
    d = np.hypot(dra, src["dec"] - cl["dec"].iloc[0]).to_numpy() * 3600
    near = d < FRAGMENT_RH * 5.0 / M31.pc_per_arcsec
    assert near.sum() >= 2  # the cluster and at least one fragment
    assert np.isin(classes[near], ["cluster", "cluster_fragment"]).all()
    assert (source[near] == cl["obj_id"].iloc[0]).all()


def test_young_stars_follow_the_ring_and_red_giants_the_disk():
    from pandas_clusters.acquire.mock import population as P

    s = DEMO
    red5, young5 = P._m31_star_densities(P.STAR_DENSITY_RADIUS_KPC, s)
    red_share = P.M31_STAR_SHARES["red"]
    assert young5 == pytest.approx(s.star_density_arcmin2 * (1 - red_share))
    # the red giants drawn one by one are those brighter than the old disk population's
    # brightest star (the fainter ones are the texture's, render._texture): their density
    # per magnitude is that of the luminosity function from RED_GIANT_TIP_G to star_faint_mag
    bright = P._red_giant_bright_share(s)
    assert red5 == pytest.approx(s.star_density_arcmin2 * red_share * bright)
    assert 0.05 < bright < 0.2 and P.DISK_BRIGHTEST_G < s.star_faint_mag
    red2, young2 = P._m31_star_densities(2.0, s)
    red10, young10 = P._m31_star_densities(10.0, s)
    assert red2 > red5 > red10  # the exponential disk
    assert young10 > young5 > young2  # the star-forming ring at 10 kpc
    assert young10 / young5 == pytest.approx(P._ring_shape(10.0, s) / P._ring_shape(5.0, s))
    # the drawn stars: blue M31 stars (g - i < 0.2, g < 24: no foreground dwarf is
    # that blue) are a larger share of the stars on the ring than near the centre
    pa = np.deg2rad(M31.pa_deg)

    def blue_share(r_kpc):
        deg = np.rad2deg(r_kpc / M31.distance_kpc)
        xi, eta = deg * np.sin(pa), deg * np.cos(pa)
        df = P.draw_region(
            s, xi_range=(xi - 0.02, xi + 0.02), eta_range=(eta - 0.02, eta + 0.02), kinds=("star",)
        )
        bright = df.loc[df["gmag"] < 24.0]
        return float(((bright["gmag"] - bright["imag"]) < 0.2).mean())

    assert blue_share(10.0) > 1.5 * blue_share(2.0)
