"""Completeness by injection: settings, injection into a small mock field, tables, function."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from pandas_clusters.acquire.mock import MockField, MockSettings, write_field_image
from pandas_clusters.completeness import (
    CompletenessSettings,
    evaluate_completeness,
    fit_completeness,
)
from pandas_clusters.completeness.inject import inject_field
from pandas_clusters.completeness.recover import match_injected
from pandas_clusters.completeness.tables import (
    compare_with_truth,
    completeness_table,
    g_edges,
    mag50_table,
)
from pandas_clusters.core.config import sources_params, validate_config
from pandas_clusters.detect.sources import SourceSettings, build_sources

CONFIG = validate_config({})


def _settings(**changes) -> CompletenessSettings:
    return CompletenessSettings.from_config({**CONFIG["completeness"], **changes})


SOURCES = SourceSettings.from_config(**sources_params(CONFIG))


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    """One 1x1-CCD mock field of 500x500 px per band and its source list."""
    mock = dataclasses.replace(
        MockSettings.demo(),
        ccd_nx=500,
        ccd_ny=500,
        ccd_columns=1,
        ccd_rows=1,
        fields=(MockField(id=3, ra_deg=11.0, dec_deg=41.6),),
    )
    root = tmp_path_factory.mktemp("completeness")
    images = {b: root / f"{b}.fits" for b in ("g", "i")}
    for band, path in images.items():
        write_field_image(mock, field_id=3, band=band, path=path)
    sources = root / "sources.parquet"
    build_sources(images, field=3, out=sources, settings=SOURCES)
    return {"images": images, "sources": sources, "root": root}


def _inject(field, out, settings=None, rnd=0, images=None):
    return inject_field(
        images or field["images"],
        field["sources"],
        out,
        field=3,
        rnd=rnd,
        seed=7,
        settings=settings or _settings(),
        src_settings=SOURCES,
    )


# --- settings: what the renderer supports ----------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("king_c", [0.6, 2.8], "completeness.king_c"),
        ("resolved_fraction", [0.1, 0.95], "completeness.resolved_fraction"),
        ("g_range", [23.0, 18.0], "completeness.g_range"),
        ("r_h_pc", [0.0, 4.0], "completeness.r_h_pc"),
    ],
)
def test_range_outside_renderer_is_an_error_naming_the_setting(key, value, words):
    with pytest.raises(ValueError, match=words):
        _settings(**{key: value})


def test_sizes_too_large_for_the_pixel_scale_name_field_and_setting(field, tmp_path):
    with pytest.raises(ValueError, match=r"field 3, band g, CCD 0.*completeness\.r_h_pc"):
        _inject(field, tmp_path / "big", _settings(r_h_pc=[1.0, 40.0]))


# --- injection ----------------------------------------------------------------------------


def test_injection_adds_the_drawn_light_at_the_zero_point(field, tmp_path):
    with fits.open(field["images"]["g"]) as hdul:
        before, head = hdul[1].data.astype(float), hdul[1].header
    checked = 0
    for rnd in range(4):  # one cluster per round; rounds whose cluster is well inside the CCD
        images, table = _inject(
            field, tmp_path / f"r{rnd}", _settings(fraction_of_sources=0.001), rnd
        )
        assert len(table) == 1 and table["psf_source_g"].iloc[0] == "header"
        diff = np.nan_to_num(fits.getdata(images["g"], 1).astype(float) - before)
        x, y = WCS(head).world_to_pixel_values(table["ra"].iloc[0], table["dec"].iloc[0])
        lit = np.argwhere(diff != 0)
        # the light lies around the cluster only (King stamp + PSF wings of members)
        assert np.abs(lit[:, 1] - x).max() <= 110 and np.abs(lit[:, 0] - y).max() <= 110
        if not (110 < x < 390 and 110 < y < 390):
            continue
        expected = 10 ** (-0.4 * (table["gmag_in"].iloc[0] - head["MAGZPT"]))
        noise = np.sqrt(np.abs(diff).sum() / head["GAIN"])
        assert abs(diff.sum() - expected) < 0.01 * expected + 5 * noise
        checked += 1
    assert checked >= 1


def test_rounds_are_deterministic_and_distinct(field, tmp_path):
    _, a = _inject(field, tmp_path / "a")
    _, b = _inject(field, tmp_path / "b")
    _, c = _inject(field, tmp_path / "c", rnd=1)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["ra"].to_numpy()[: len(c)], c["ra"].to_numpy()[: len(a)])
    assert set(a["inj_id"]).isdisjoint(c["inj_id"])


def _strip_psf(src, dst, blank=False):
    with fits.open(src) as hdul:
        for hdu in hdul[1:]:
            for key in ("SEEING", "PSFBETA"):
                del hdu.header[key]
            if blank:
                rng = np.random.default_rng(1)
                hdu.data = (1000.0 + rng.normal(0, 10, hdu.data.shape)).astype(np.float32)
        hdul.writeto(dst)


def test_psf_measured_on_the_stars_when_the_header_lacks_it(field, tmp_path):
    images = {}
    for band, path in field["images"].items():
        images[band] = tmp_path / f"{band}.fits"
        _strip_psf(path, images[band])
    _, table = _inject(field, tmp_path / "out", images=images)
    seeing = fits.getheader(field["images"]["g"], 1)["SEEING"]
    assert (table["psf_source_g"] == "measured").all()
    assert table["fwhm_arcsec_g"].iloc[0] == pytest.approx(seeing, rel=0.15)


def test_no_psf_and_too_few_stars_is_an_error_naming_field_and_setting(field, tmp_path):
    images = {}
    for band, path in field["images"].items():
        images[band] = tmp_path / f"{band}.fits"
        _strip_psf(path, images[band], blank=True)
    with pytest.raises(ValueError, match=r"field 3, band g, CCD 0.*completeness\.psf_min_stars"):
        _inject(field, tmp_path / "out", images=images)


def test_injected_clusters_are_found_by_the_sources_stage(field, tmp_path):
    recs = []
    for rnd in range(3):
        images, table = _inject(
            field, tmp_path / f"r{rnd}", _settings(g_range=[18.0, 20.0]), rnd=rnd
        )
        out = tmp_path / f"s{rnd}.parquet"
        frame = build_sources(images, field=3, out=out, settings=SOURCES)
        recs.append(match_injected(table, frame, radius_arcsec=1.0))
    rec = pd.concat(recs, ignore_index=True)
    assert rec["detected"].mean() > 0.9
    # a compact bright cluster in this crowded 5 kpc disk field is never lost in a
    # detection of the faint stars around it (sep's matched filter lost one: issue 12)
    compact = (rec["gmag_in"] < 19.0) & (rec["r_h_pc"] < 3.0)
    assert compact.sum() >= 5
    assert rec.loc[compact, "detected"].all()
    assert np.nanmedian(np.abs(rec["gmag"] - rec["gmag_in"])) < 1.5


# --- tables and the completeness function ------------------------------------------------


def _synthetic(n=3000, g50=22.0, width=0.3, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.uniform(18, 26, n)
    frame = pd.DataFrame(
        {
            "gmag_in": g,
            "r_h_pc": np.exp(rng.uniform(0, np.log(6), n)),
            "g_minus_i_in": rng.uniform(-0.3, 0.6, n),
            "bkg_mu_g": rng.uniform(21, 22, n),
            "source_density_arcmin2": rng.uniform(50, 150, n),
            "rproj_kpc": rng.uniform(5, 15, n),
            "field": rng.choice([207, 208], n).astype(np.int32),
        }
    )
    p = 1.0 / (1.0 + np.exp((g - g50) / width))
    frame["detected"] = rng.random(n) < p
    frame["selected"] = frame["detected"] & (rng.random(n) < 0.8)
    return frame


def test_function_recovers_the_drawn_completeness():
    rec = _synthetic()
    fitted = fit_completeness(rec)
    assert fitted["kinds"]["detection"]["p_max"] > 0.95
    g = np.array([20.0, 22.0, 24.0])
    c = evaluate_completeness(fitted, g, kind="detection")
    assert c == pytest.approx([1.0, 0.5, 0.0], abs=0.06)
    assert evaluate_completeness(fitted, 19.0, kind="selection") == pytest.approx(0.8, abs=0.05)
    mag50 = mag50_table(rec).set_index("field")
    assert mag50.loc["all", "g50_detected"] == pytest.approx(22.0, abs=0.1)
    assert np.isfinite(mag50.loc["207", "g50_detected"])


def test_table_counts_and_intervals():
    rec = _synthetic(n=500)
    table = completeness_table(rec, _settings(g_range=[18.0, 26.0], g_bin_width=1.0, bins=4))
    g = table.loc[table["variable"] == "gmag_in"]
    assert g["n"].sum() == len(rec) and len(g) == 8
    assert g["n_detected"].sum() == rec["detected"].sum()
    ok = g["n"] > 0
    assert (g.loc[ok, "detected_lo"] <= g.loc[ok, "detected"] + 1e-12).all()
    assert (g.loc[ok, "detected_hi"] >= g.loc[ok, "detected"] - 1e-12).all()
    assert set(table["variable"]) >= {"field", "rproj_kpc", "source_density_arcmin2"}


def test_truth_comparison_flags_a_different_completeness():
    a, b = _synthetic(seed=1), _synthetic(seed=2)
    edges = g_edges(_settings(g_range=[18.0, 26.0], g_bin_width=1.0))
    same = compare_with_truth(a, b, edges)
    assert np.nanmax(np.abs(same["z_detected"])) < 4
    shifted = compare_with_truth(a, _synthetic(seed=2, g50=21.0), edges)
    assert np.nanmax(np.abs(shifted["z_detected"])) > 5


def test_recovery_chain_and_selection_cuts(field, tmp_path):
    """recover_round: sources, stamps and inference of the matched sources; then the cuts."""
    import torch

    from pandas_clusters.catalogue.inference import InferenceSettings
    from pandas_clusters.catalogue.selection import SelectionSettings
    from pandas_clusters.completeness.recover import recover_round
    from pandas_clusters.completeness.tables import apply_selection
    from pandas_clusters.core.config import stamps_params
    from pandas_clusters.detect.stamps import StampSettings
    from pandas_clusters.learn.models import build_model, save_weights

    torch.manual_seed(0)
    meta = {"model": "resnet18", "in_channels": 2, "bands": ["g", "i"], "size": 32, "seed": 0}
    weights = save_weights(build_model("resnet18", in_channels=2), tmp_path / "w.st", metadata=meta)
    stamps = StampSettings.from_config(**{**stamps_params(CONFIG), "size": 32})
    images, table = _inject(field, tmp_path / "img", _settings(g_range=[18.0, 24.0]))
    rec, src, inf = recover_round(
        images,
        table,
        field=3,
        weights=[weights],
        workdir=tmp_path / "work",
        src_settings=SOURCES,
        stamp_settings=stamps,
        inference_settings=InferenceSettings.from_config(
            batch_size=64, device="cpu", mag_limit=22.0
        ),
        match_radius_arcsec=1.0,
    )
    assert len(rec) == len(table) and rec["detected"].any()
    classified = rec["prob_mean"].notna()
    # classified: exactly the detected clusters whose measured g passes the inference limit
    assert (classified == (rec["detected"] & (rec["gmag"] <= 22.0))).all()
    cut = SelectionSettings.from_config(
        {**CONFIG["selection"], "threshold": 0.0, "mag_limit": 22.0}
    )
    sel = apply_selection(rec, src, inf, settings=cut)
    assert (sel["selected"] == classified).all()
    strict = SelectionSettings.from_config({**CONFIG["selection"], "threshold": 1.0})
    assert not apply_selection(rec, src, inf, settings=strict)["selected"].any()
    # nothing matched (a radius no source meets): empty stamps and inference, no selection
    none, src0, inf0 = recover_round(
        images,
        table,
        field=3,
        weights=[weights],
        workdir=tmp_path / "work0",
        src_settings=SOURCES,
        stamp_settings=stamps,
        inference_settings=InferenceSettings.from_config(
            batch_size=64, device="cpu", mag_limit=22.0
        ),
        match_radius_arcsec=1e-9,
    )
    assert not none["detected"].any() and none["prob_mean"].isna().all()
    assert not apply_selection(none, src0, inf0, settings=cut)["selected"].any()


def test_match_with_no_source_detects_nothing():
    clusters = pd.DataFrame({"ra": [10.0, 10.001], "dec": [41.0, 41.0]})
    empty = pd.DataFrame(
        {c: pd.Series(dtype=float) for c in ("ra", "dec", "gmag", "e_gmag", "imag", "e_imag")}
    ).assign(source_id=pd.Series(dtype="int64"), flags=pd.Series(dtype="int32"))
    rec = match_injected(clusters, empty, radius_arcsec=1.0)
    assert not rec["detected"].any() and (rec["source_id"] == -1).all()
    one = empty.iloc[:0].copy()
    one.loc[0] = {
        "ra": 10.001,
        "dec": 41.0,
        "gmag": 20.0,
        "e_gmag": 0.01,
        "imag": 19.5,
        "e_imag": 0.01,
        "source_id": 42,
        "flags": 8,
    }
    rec = match_injected(clusters, one, radius_arcsec=1.0)
    assert rec["detected"].tolist() == [False, True]
    assert rec["source_id"].tolist() == [-1, 42] and rec["flags"].tolist() == [0, 8]
    assert rec["gmag"].iloc[1] == 20.0 and np.isnan(rec["gmag"].iloc[0])


def test_stellar_locus_keeps_the_stars_among_many_galaxies():
    # stars share the PSF's half-light radius; galaxies spread above it and outnumber
    # them: the locus around the mode keeps the stars, the median of all would not
    from pandas_clusters.completeness.inject import _stellar_locus

    rng = np.random.default_rng(3)
    stars = rng.normal(2.2, 0.05, 20)
    galaxies = rng.uniform(2.6, 8.0, 40)
    locus = _stellar_locus(np.concatenate([galaxies, stars]))
    assert np.median(locus) == pytest.approx(2.2, rel=0.03)
    assert set(np.round(stars, 9)) <= set(np.round(locus, 9))
    assert np.median(np.concatenate([galaxies, stars])) > 3.0
    assert _stellar_locus(np.zeros(0)).size == 0
