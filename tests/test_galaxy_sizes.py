"""The mock's background galaxy sizes: Shen et al. 2003's laws at the drawn redshifts."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM

from pandas_clusters.acquire.mock import MockSettings
from pandas_clusters.acquire.mock.galaxy_sizes import (
    COSMOLOGY,
    GALAXY_G_MINUS_R,
    SHEN03_EARLY,
    SHEN03_LATE,
    circular_half_light_fraction,
    galaxy_half_light_radius,
    petrosian_half_light,
    redshift_cdf,
)
from pandas_clusters.acquire.mock.population import catalogue_truth


def _pixel_growth_curve(q: float, n: float, half: float = 15.0, size: int = 1501):
    """Brute force: (radii, light inside them / total) of an elliptical Sersic image."""
    from pandas_clusters.acquire.mock.galaxy_sizes import sersic_bn

    x = np.linspace(-half, half, size)
    xx, yy = np.meshgrid(x, x)
    img = np.exp(-sersic_bn(n) * (np.hypot(xx, yy / q) ** (1.0 / n) - 1.0))
    r = np.hypot(xx, yy).ravel()
    order = np.argsort(r)
    cum = np.cumsum(img.ravel()[order])
    return r[order], cum / cum[-1]


def _pixel_half_light(q: float, n: float) -> float:
    """Brute force: circular radius holding half an elliptical Sersic profile's light."""
    r, cum = _pixel_growth_curve(q, n)
    return float(r[np.searchsorted(cum, 0.5)])


def test_circular_half_light_radius_of_an_elliptical_profile():
    assert circular_half_light_fraction(1.0, 1.0) == pytest.approx(1.0, abs=1e-3)
    assert circular_half_light_fraction(1.0, 2.0) == pytest.approx(1.0, abs=1e-3)
    for q in (0.3, 0.6):
        assert circular_half_light_fraction(q, 1.0) == pytest.approx(
            _pixel_half_light(q, 1.0), rel=0.02
        )
    # flatter, smaller circle; never below the circularised radius sqrt(q)
    f = [circular_half_light_fraction(q, 1.0) for q in (0.9, 0.6, 0.3, 0.1)]
    assert np.all(np.diff(f) < 0)
    assert all(v > np.sqrt(q) for v, q in zip(f, (0.9, 0.6, 0.3, 0.1), strict=True))
    with pytest.raises(ValueError, match="axis ratio"):
        circular_half_light_fraction(0.0, 1.0)


def test_petrosian_quantities_of_sersic_profiles():
    # Graham et al. 2005: a de Vaucouleurs profile's Petrosian magnitude misses 0.20 mag;
    # an exponential's almost nothing, and its R50 is its r_e
    r50, flux = petrosian_half_light(1.0, 4.0)
    assert -2.5 * np.log10(flux) == pytest.approx(0.20, abs=0.01)
    assert r50 == pytest.approx(0.73, abs=0.01)
    r50, flux = petrosian_half_light(1.0, 1.0)
    assert flux > 0.99 and r50 == pytest.approx(1.0, abs=0.01)
    # an elliptical profile against its pixels: the Petrosian radius where the mean
    # surface brightness of an annulus is 0.2 of the mean inside it (SDSS's definition)
    q, n = 0.6, 2.5
    r, cum = _pixel_growth_curve(q, n, half=12.0, size=3001)
    radii = np.linspace(0.3, 6.0, 400)
    light = np.interp(radii, r, cum)
    ratio = np.gradient(light, radii) / (2 * np.pi * radii) / (light / (np.pi * radii**2))
    r_p = radii[np.nonzero(ratio < 0.2)[0][0]]
    flux = np.interp(2.0 * r_p, r, cum)
    r50 = np.interp(0.5 * flux, cum, r)
    assert petrosian_half_light(q, n)[0] == pytest.approx(r50, rel=0.02)
    assert petrosian_half_light(q, n)[1] == pytest.approx(flux, abs=0.01)


@pytest.mark.parametrize("early", [False, True])
def test_sizes_are_shens_at_the_drawn_redshift(early):
    # round galaxies (circular and major-axis radii agree): each Petrosian R50 over
    # Shen et al.'s median at its own redshift's Petrosian absolute magnitude is
    # lognormal with their scatter
    rng = np.random.default_rng(3)
    n = 40000
    g = np.full(n, 18.0)
    sersic_n = 4.0 if early else 1.0
    r_e, z = galaxy_half_light_radius(rng, g, early, np.ones(n), np.full(n, sersic_n))
    r50_ratio, flux = petrosian_half_light(1.0, sersic_n)
    cosmo = FlatLambdaCDM(**COSMOLOGY)
    m = g - GALAXY_G_MINUS_R - 2.5 * np.log10(flux) - cosmo.distmod(z).value
    if early:
        p = SHEN03_EARLY
        kpc = 10 ** (-0.4 * p["a"] * m + p["b"])
    else:
        p = SHEN03_LATE
        kpc = 10 ** (
            -0.4 * p["alpha"] * m
            + (p["beta"] - p["alpha"]) * np.log10(1 + 10 ** (-0.4 * (m - p["m0"])))
            + p["gamma"]
        )
    median = kpc / cosmo.angular_diameter_distance(z).to("kpc").value * 206264.8
    sigma = p["sigma2"] + (p["sigma1"] - p["sigma2"]) / (1 + 10 ** (-0.8 * (m - p["m0"])))
    dev = np.log(r_e * r50_ratio / median) / sigma
    assert np.median(dev) == pytest.approx(0.0, abs=0.03)
    assert np.std(dev) == pytest.approx(1.0, abs=0.03)


def test_redshifts_of_bright_galaxies():
    # r = 17.3 (g = 18): the SDSS main sample (r < 17.77) has its median near z = 0.1;
    # early types, more luminous (Nakamura+ 2003), lie further; fainter lie further
    def median_z(r, early):
        z, cdf = redshift_cdf(r, early)
        return float(np.interp(0.5, cdf[0], z))

    assert 0.08 < median_z(17.3, False) < 0.14
    assert median_z(17.3, True) > median_z(17.3, False)
    assert median_z(19.0, False) > median_z(17.3, False)


def test_mock_galaxies_take_the_size_laws():
    # bright mock galaxies are larger than faint ones, early types smaller than late
    # types of the same g, edge-on disks longer than face-on ones
    s = MockSettings.demo()
    cat = catalogue_truth(s, kinds=("galaxy", "edge_on_galaxy"))
    gal = cat.loc[cat["kind"] == "galaxy"]
    bright = gal.loc[gal["gmag"].between(17.0, 19.0)]
    faint = gal.loc[gal["gmag"].between(21.0, 23.0)]
    assert bright["r_e_arcsec"].median() > 1.8 * faint["r_e_arcsec"].median()
    late = bright.loc[bright["sersic_n"] < 2.0, "r_e_arcsec"].median()
    early = bright.loc[bright["sersic_n"] >= 2.0, "r_e_arcsec"].median()
    assert early < late
    edge = cat.loc[(cat["kind"] == "edge_on_galaxy") & cat["gmag"].between(17.0, 19.0)]
    assert edge["r_e_arcsec"].median() > late


def test_an_empty_cell_draws_no_sizes():
    r_e, z = galaxy_half_light_radius(
        np.random.default_rng(0), np.array([]), np.array([], bool), np.array([]), np.array([])
    )
    assert r_e.shape == z.shape == (0,)


def _galaxies(n, rng):
    import pandas as pd

    return pd.DataFrame(
        {
            "pa_deg": rng.uniform(0, 180, n),
            "ellipticity": rng.uniform(0, 0.8, n),
            "sersic_n": rng.choice([1.0, 2.5, 4.0], n),
            "r_e_arcsec": rng.uniform(0.15, 0.8, n),
        }
    )


def test_galaxy_profiles_keep_the_fully_sub_sampled_light():
    # render.galaxy_profiles sub-samples only the central 5 x 5 px: each profile sums to one
    # and differs from the profile sub-sampled 3 x 3 everywhere by under 1% of its peak
    from pandas_clusters.acquire.mock.render import _sersic, galaxy_profiles

    rng = np.random.default_rng(3)
    s = MockSettings.demo()
    gal = _galaxies(40, rng)
    fx, fy = rng.uniform(-0.5, 0.5, 40), rng.uniform(-0.5, 0.5, 40)
    half, sub = 12, 3
    prof, ok = galaxy_profiles(fx, fy, gal, half, s)
    assert ok.all() and np.allclose(prof.sum(axis=(1, 2)), 1.0)
    o = (np.arange(-half * sub, (half + 1) * sub) - (sub - 1) / 2.0) / sub
    col = {k: gal[k].to_numpy()[:, None, None] for k in gal}
    full = _sersic(
        o[None, None, :] - fx[:, None, None],
        o[None, :, None] - fy[:, None, None],
        col["pa_deg"],
        col["ellipticity"],
        col["sersic_n"],
        col["r_e_arcsec"] / s.pixel_scale_arcsec,
    )
    size = 2 * half + 1
    full = full.reshape(-1, size, sub, size, sub).mean(axis=(2, 4))
    full /= full.sum(axis=(1, 2))[:, None, None]
    err = np.abs(prof - full).max(axis=(1, 2)) / full.max(axis=(1, 2))
    assert err.max() < 0.03, err.max()
    # as the survey sees them (through the PSF), within 1% of the peak (0.53% at most here)
    from scipy.signal import fftconvolve

    from pandas_clusters.acquire.mock.render import _psf_stamp

    psf = _psf_stamp(s.seeing_arcsec["g"] / s.pixel_scale_arcsec, s.psf_beta)[None]
    seen, seen_full = fftconvolve(prof, psf, axes=(1, 2)), fftconvolve(full, psf, axes=(1, 2))
    err = np.abs(seen - seen_full).max(axis=(1, 2)) / seen_full.max(axis=(1, 2))
    assert err.max() < 0.01, err.max()


def test_galaxies_rendered_in_batches_as_one_by_one():
    # render._galaxy_stamps lays many galaxies at once; the same light as one stamp each
    from pandas_clusters.acquire.mock.render import _extended_profile, _galaxy_stamps

    rng = np.random.default_rng(4)
    s = MockSettings.demo()
    n, half, pad = 30, 6, 10
    gal = _galaxies(n, rng).assign(kind="galaxy", r_e_arcsec=0.18)
    x, y = rng.uniform(0, 60, n), rng.uniform(0, 40, n)
    flux = rng.uniform(10, 1000, n)
    batch = np.zeros((40 + 2 * pad, 60 + 2 * pad))
    _galaxy_stamps(batch, gal, x, y, flux, s, half, pad)
    single = np.zeros_like(batch)
    for row, xi, yi, fi in zip(gal.itertuples(index=False), x, y, flux, strict=True):
        prof, x0, y0 = _extended_profile(row, xi, yi, fi, s)
        assert prof.shape == (2 * half + 1, 2 * half + 1)
        single[y0 + pad : y0 + pad + prof.shape[0], x0 + pad : x0 + pad + prof.shape[1]] += prof
    assert np.allclose(batch, single, rtol=1e-12, atol=1e-9)
    assert np.isclose(batch.sum(), flux.sum())
