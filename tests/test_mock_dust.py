"""M31's own dust in the mock (acquire.mock.dust): the published profile, the layer's
geometry, and what it does to the rendered disk, its texture and the galaxies behind it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from astropy.wcs import WCS

from mock_support import flat_texture
from pandas_clusters.acquire.mock import MockSettings, dust
from pandas_clusters.acquire.mock import old_population as op
from pandas_clusters.acquire.mock.population import draw_region
from pandas_clusters.acquire.mock.render import _diffuse
from pandas_clusters.core.geometry import M31, offsets_to_radec, radii_from_offsets_kpc

DEMO = MockSettings.demo()
NO_DUST = dataclasses.replace(DEMO, m31_dust=False)


def test_light_extinction_is_tempel2010s_profile():
    h = DEMO.disk_scale_kpc
    for r, a in dust.LIGHT_EXTINCTION_V:
        assert float(dust.light_extinction_v(r, h)) == pytest.approx(a, abs=1e-9)
    # "rises from 0.25 mag at the centre to 0.4-0.5 mag at R = 6-13 kpc and decreases
    # smoothly thereafter"
    r = np.linspace(0.0, 60.0, 601)
    a = dust.light_extinction_v(r, h)
    assert np.all(np.diff(a[r <= 6.0]) > 0)
    assert np.all((a[(r >= 6) & (r <= 13)] >= 0.4) & (a[(r >= 6) & (r <= 13)] <= 0.5))
    assert np.all(np.diff(a[r >= 13.0]) < 0)
    assert np.max(np.abs(np.diff(a))) < 0.02  # no jump at 13 kpc
    # beyond 13 kpc the layer's column falls with the dust disc's scale length
    screen = dust.screen_extinction_v(np.array([13.0, 13.0 + 1.8 * h]), h)
    assert screen[1] / screen[0] == pytest.approx(np.exp(-1.0), rel=1e-9)


def test_the_layer_dims_half_the_stars_to_the_lights_extinction():
    # a thin mid-plane layer: the stars in front are seen whole, those behind through
    # the whole layer; together they are dimmed by the light-weighted extinction
    r = np.array([0.0, 4.0, 10.0, 20.0])
    h = DEMO.disk_scale_kpc
    t = 10 ** (-0.4 * dust.screen_extinction_v(r, h))
    seen = 0.5 + 0.5 * t
    np.testing.assert_allclose(-2.5 * np.log10(seen), dust.light_extinction_v(r, h), atol=1e-12)
    np.testing.assert_allclose(dust.seen_fraction(t), seen)
    with pytest.raises(ValueError, match="cannot come from a layer"):
        dust._screen_from_light(0.8)  # more than a half-covering layer can take


def test_band_ratios_follow_the_extinction_law():
    # bluer bands are dimmed more; G23 at 487 and 764 nm
    g, i = dust.band_ratio("g"), dust.band_ratio("i")
    assert 1.1 < g < 1.25
    assert 0.55 < i < 0.7
    with pytest.raises(ValueError, match="central wavelength"):
        dust.band_ratio("z")


def _disk_wcs(r_major_kpc: float) -> WCS:
    deg = np.rad2deg(r_major_kpc / M31.distance_kpc)
    pa = np.deg2rad(M31.pa_deg)
    ra, dec = offsets_to_radec(deg * np.sin(pa), deg * np.cos(pa))
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [float(ra), float(dec)]
    w.wcs.crpix = [50.5, 50.5]
    s = DEMO.pixel_scale_arcsec / 3600.0
    w.wcs.cdelt = [-s, s]
    return w


@pytest.mark.parametrize("band", ["g", "i"])
def test_rendered_disk_light_is_dimmed_by_the_dust(band):
    w = _disk_wcs(10.0)
    disk, bulge, spheroid, t, _ = _diffuse(DEMO, w, (100, 100), band, parts=True)
    disk0, _, _, t0, _ = _diffuse(NO_DUST, w, (100, 100), band, parts=True)
    np.testing.assert_allclose(disk, disk0)  # the intrinsic light is the same
    np.testing.assert_allclose(t0, 1.0)
    a = dust.screen_extinction(10.0, DEMO.disk_scale_kpc, band)
    assert float(t[50, 50]) == pytest.approx(10 ** (-0.4 * a), rel=0.01)
    seen = _diffuse(DEMO, w, (100, 100), band)
    np.testing.assert_allclose(seen, disk * dust.seen_fraction(t) + bulge + spheroid)
    assert _diffuse(NO_DUST, w, (100, 100), band) == pytest.approx(disk0 + bulge + spheroid)


def test_texture_behind_the_layer_is_dimmed():
    # variance of the disk's fluctuations: the front half's in full, the back half's
    # times the transmission squared
    s = DEMO
    t = 0.25
    mh = op.DISK_METALLICITY_GRID[0]  # one isochrone: the variance is its own
    a = flat_texture(s, 5, disk=2.0, transmission=t, metallicity=mh)
    f, w, rest = op.star_bins(M31.distance_modulus - s.zero_point, disk_grid=0)
    v = np.sum(w * f) + rest
    np.testing.assert_allclose(a.var(), 2.0 * v * (0.5 + 0.5 * t**2), rtol=0.15)
    full = flat_texture(s, 5, disk=2.0, metallicity=mh)
    np.testing.assert_allclose(full.var(), 2.0 * v, rtol=0.15)
    # the draws do not depend on the band: only the dimming does
    b = flat_texture(s, 5, disk=2.0, transmission=1.0)
    c = flat_texture(s, 5, disk=2.0, transmission=0.0)
    d = flat_texture(s, 5, disk=2.0, transmission=t)
    np.testing.assert_allclose(d, c + t * (b - c), atol=1e-9)


def test_background_galaxies_are_seen_through_the_whole_layer():
    box = {"xi_range": (0.45, 0.55), "eta_range": (0.55, 0.65), "kinds": ("galaxy", "star")}
    with_dust = draw_region(DEMO, **box)
    without = draw_region(NO_DUST, **box)
    assert len(with_dust) == len(without)
    gal = (with_dust["kind"] == "galaxy").to_numpy()
    assert gal.sum() > 20
    r_disk, _ = radii_from_offsets_kpc(with_dust["xi"].to_numpy(), with_dust["eta"].to_numpy())
    for band in "gi":
        dimmed = with_dust[f"{band}mag"].to_numpy() - without[f"{band}mag"].to_numpy()
        a = dust.screen_extinction(r_disk, DEMO.disk_scale_kpc, band)
        np.testing.assert_allclose(dimmed[gal], a[gal], atol=1e-9)
        np.testing.assert_allclose(dimmed[~gal], 0.0)  # M31's stars keep their magnitudes
    assert np.median(a[gal]) > 0.3  # the box is on the disk


def test_m31_dust_must_be_a_boolean():
    with pytest.raises(ValueError, match="m31_dust"):
        dataclasses.replace(DEMO, m31_dust="yes")
