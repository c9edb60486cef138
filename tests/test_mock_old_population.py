"""The old populations of the mock (``acquire.mock.old_population``): the luminosity
functions measured on isochrones (the metal-poor spheroid and clusters, the metal-rich
disk), the spheroid's light, and their stars in the rendered pixels (issue 12)."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from mock_support import flat_texture
from pandas_clusters.acquire.mock import MockSettings
from pandas_clusters.acquire.mock import old_population as op
from pandas_clusters.core.geometry import M31

_HEADER = textwrap.dedent(
    """\
    # MIST version number  = 1.2
    # photometric system   = PanSTARRS (AB)
    # EEP isochrone_age_yr initial_mass star_mass PS_g PS_r phase
    """
)


def _write_isochrone(path, rows, header=_HEADER):
    body = "\n".join(" ".join(f"{v:.8g}" for v in r) for r in rows)
    path.write_text(header + body + "\n")
    return path


def test_luminosity_function_counts_imf_stars_per_unit_light(tmp_path):
    # three points: two faint dwarfs and one bright giant
    rows = [
        (1, 1.2e10, 0.2, 0.2, 10.0, 9.0, 0),
        (2, 1.2e10, 0.4, 0.4, 8.0, 7.5, 0),
        (3, 1.2e10, 0.8, 0.7, 0.6, 0.1, 3),
    ]
    iso = op.read_mist_isochrone(_write_isochrone(tmp_path / "iso.cmd", rows))
    lf = op.luminosity_function(iso["initial_mass"], iso["g"], iso["r"])
    # Kroupa weights between the midpoints 0.2-0.3, 0.3-0.6, 0.6-0.8 (x = m / 0.5)
    w1 = 0.5 * ((0.3 / 0.5) ** -0.3 - (0.2 / 0.5) ** -0.3) / -0.3
    w2 = 0.5 * (1 - (0.3 / 0.5) ** -0.3) / -0.3 + 0.5 * ((0.6 / 0.5) ** -1.3 - 1) / -1.3
    w3 = 0.5 * ((0.8 / 0.5) ** -1.3 - (0.6 / 0.5) ** -1.3) / -1.3
    np.testing.assert_allclose(lf["stars"], [w1, w2, w3], rtol=1e-12)
    light = w1 * 10**-4.0 + w2 * 10**-3.2 + w3 * 10**-0.24
    per_bin = lf["stars_per_light"]
    k = np.searchsorted(op.MG_EDGES, 0.6, side="right") - 1
    np.testing.assert_allclose(per_bin[k], w3 / light, rtol=1e-12)
    assert per_bin.sum() == pytest.approx(w3 / light)  # the dwarfs lie beyond the bins
    faint_var = (w1 * 10**-8.0 + w2 * 10**-6.4) / light
    assert lf["faint_variance"] == pytest.approx(faint_var, rel=1e-12)


def test_isochrone_reader_names_the_file_and_the_problem(tmp_path):
    bad = _write_isochrone(
        tmp_path / "bad.cmd",
        [(1, 1e10, 0.2, 0.2, 10.0, 0)],
        header="# EEP isochrone_age_yr initial_mass star_mass SDSS_g phase\n",
    )
    with pytest.raises(ValueError, match=r"bad\.cmd.*PS_g"):
        op.read_mist_isochrone(bad)
    two = _write_isochrone(
        tmp_path / "two.cmd",
        [(1, 1e10, 0.2, 0.2, 10.0, 9.0, 0), (2, 2e10, 0.3, 0.3, 9.0, 8.0, 0)],
    )
    with pytest.raises(ValueError, match=r"two\.cmd: 2 isochrones"):
        op.read_mist_isochrone(two)
    (tmp_path / "none.cmd").write_text("1 2 3\n")
    with pytest.raises(ValueError, match="no MIST column header"):
        op.read_mist_isochrone(tmp_path / "none.cmd")


def test_old_population_table_has_its_horizontal_branch_and_giants():
    f, w, rest = op.star_bins(M31.distance_modulus)
    mids = -2.5 * np.log10(f)
    assert 0.5 < w.sum() < 1.0 and rest > 0  # the main sequence's light lies fainter
    hb = np.abs(mids - M31.distance_modulus - 0.625) < 0.01  # the bin M_g 0.5-0.75
    # the horizontal branch: ~15% of the g light of an old metal-poor population
    assert 0.1 < w[hb].sum() < 0.2
    # a g = 17.5 cluster: a few hundred stars brighter than g = 26 (PAndAS resolves them)
    n = 10 ** (-0.4 * 17.5) * w / f
    assert 300 < n[mids < 26].sum() < 450
    assert op.G_MINUS_V == pytest.approx(0.5784 * op.G_MINUS_R + 0.0038)


_PARSEC_HEADER = (
    "# PARSEC isochrones, release v1.2S\n"
    "#\tIsochrone  Z = 0.00550\tY = 0.25836\t[M/H] = -0.443\tAge = \t1.0000e+10 yr\n"
    "#      Z\tlog(age/yr)\tM_ini   \tM_act\tlogL/Lo\tlogTe\tlogG\tmbol    U       B"
    "       V       R       I       J       H       K\tint_IMF\n"
)


def _parsec_row(log_age, mass, b, v):
    return (
        f"\t0.005500\t{log_age:.4f}\t{mass:.8f}\t{mass:.4f}"
        + "\t0.0" * 4
        + (f"\t0.0\t{b:.3f}\t{v:.3f}" + "\t0.0" * 5 + "\t1.0\n")
    )


def test_parsec_table_gives_g_and_r_by_lupton_2005(tmp_path):
    path = tmp_path / "z.dat"
    path.write_text(
        _PARSEC_HEADER
        + _parsec_row(9.9, 0.5, 9.0, 8.0)
        + _parsec_row(10.0, 0.6, 7.0, 6.5)
        + _parsec_row(10.0, 0.9, 1.5, 0.0)
    )
    iso = op.read_parsec_isochrone(path, 10.0)
    np.testing.assert_array_equal(iso["initial_mass"], [0.6, 0.9])
    # back through Lupton (2005): B = g + 0.3130 (g - r) + 0.2271, V = g - 0.5784 (g - r) - 0.0038
    g, r = iso["g"], iso["r"]
    np.testing.assert_allclose(g + 0.3130 * (g - r) + 0.2271, [7.0, 1.5], atol=1e-12)
    np.testing.assert_allclose(g - 0.5784 * (g - r) - 0.0038, [6.5, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match=r"z\.dat: no isochrone of log\(age/yr\) = 9\.5"):
        op.read_parsec_isochrone(path, 9.5)
    bad = tmp_path / "bad.dat"
    bad.write_text(_PARSEC_HEADER.replace(" B ", " X ") + _parsec_row(10.0, 0.6, 7.0, 6.5))
    with pytest.raises(ValueError, match=r"bad\.dat.*\['B'\]"):
        op.read_parsec_isochrone(bad, 10.0)
    (tmp_path / "none.dat").write_text("1 2 3\n")
    with pytest.raises(ValueError, match="no PARSEC column header"):
        op.read_parsec_isochrone(tmp_path / "none.dat", 10.0)


def test_disk_stars_are_metal_rich_fainter_in_g():
    f_old, w_old, rest_old = op.star_bins(0.0)
    f, w, rest = op.star_bins(0.0, disk_grid=0)  # the metal-poorest of the disk's grid
    mids = -2.5 * np.log10(f)
    # no disk star brighter than M_g = -0.75 (the metal-poor population reaches -1.8)
    assert w[mids < -0.75].sum() == 0 and w_old[mids < -1.5].sum() > 0
    # its red clump (M_g 1.0-1.25) holds the most stars of the bins brighter than M_g = 2
    bright = mids < 2.0
    assert np.argmax((w / f)[bright]) == np.flatnonzero(np.abs(mids - 1.125) < 0.01)[0]

    def sbf(f, w, rest):
        return -2.5 * np.log10(np.sum(w * f) + rest)

    # fluctuation magnitude: fainter than the metal-poor population's by more than 1 mag
    assert 1.0 < sbf(f, w, rest) - sbf(f_old, w_old, rest_old) < 1.5
    assert 0.5 < w.sum() < 1.0


def test_disk_stars_are_discrete_with_the_population_variance():
    s = MockSettings.demo()
    # 2 ADU/px of disk light in g, of the grid's metal-poorest isochrone
    a = flat_texture(s, 5, disk=2.0, metallicity=op.DISK_METALLICITY_GRID[0])
    f, w, rest = op.star_bins(M31.distance_modulus - s.zero_point, disk_grid=0)
    var = 2.0 * (np.sum(w * f) + rest)
    np.testing.assert_allclose(a.var(), var, rtol=0.15)
    assert abs(a.mean()) < 5 * np.sqrt(var / a.size)
    assert np.mean((a - a.mean()) ** 3) / a.var() ** 1.5 > 1.0  # skewed: discrete stars


def test_disk_metallicity_follows_the_published_inner_value_and_gradient():
    # Gunn+ 2023: [M/H] = -0.023 within ~7 kpc; Gregersen+ 2015: -0.020 dex/kpc outwards
    assert op.disk_metallicity(0.0) == pytest.approx(-0.023)
    assert op.disk_metallicity(7.0) == pytest.approx(-0.023)
    assert op.disk_metallicity(17.0) == pytest.approx(-0.223)
    # held at the grid's metal-poorest isochrone beyond ~28 kpc
    assert op.disk_metallicity(27.0) > op.DISK_METALLICITY_GRID[0]
    assert op.disk_metallicity(40.0) == pytest.approx(op.DISK_METALLICITY_GRID[0])
    # each pixel's light shared linearly between the two isochrones around its [M/H]
    mh = np.array([[-0.443, -0.298], [-0.153, 0.0]])
    a = op.disk_grid_weights(mh)
    assert a.shape == (3, 2, 2)
    np.testing.assert_allclose(a.sum(axis=0), 1.0)
    np.testing.assert_allclose(a[:, 0, 0], [1, 0, 0])
    np.testing.assert_allclose(a[:, 0, 1], [0.5, 0.5, 0], atol=1e-9)
    np.testing.assert_allclose(a[:, 1, 0], [0, 1, 0], atol=1e-12)
    assert a[0, 1, 1] == 0 and a[2, 1, 1] == pytest.approx(0.153 / 0.177)
    np.testing.assert_allclose(op.disk_grid_weights(0.3), [0, 0, 1])  # clipped to the grid
    with pytest.raises(ValueError, match="disk_grid"):
        op.star_bins(0.0, disk_grid=True)
    with pytest.raises(ValueError, match="disk_grid"):
        op.star_bins(0.0, disk_grid=3)


def test_metal_richer_disk_stars_fluctuate_less_in_g():
    def sbf(f, w, rest):
        return -2.5 * np.log10(np.sum(w * f) + rest)

    mags = [sbf(*op.star_bins(0.0, disk_grid=k)) for k in range(op.DISK_METALLICITY_GRID.size)]
    assert np.all(np.diff(mags) > 0.25)  # the giants grow fainter in g with [M/H]
    # the texture of a light between two isochrones has the shared variance
    s = MockSettings.demo()
    dm = M31.distance_modulus - s.zero_point
    mh = 0.5 * (op.DISK_METALLICITY_GRID[1] + op.DISK_METALLICITY_GRID[2])
    v = [np.sum(w * f) + rest for f, w, rest in (op.star_bins(dm, disk_grid=k) for k in (1, 2))]
    mixed = flat_texture(s, 3, disk=2.0, metallicity=mh)
    np.testing.assert_allclose(mixed.var(), 2.0 * 0.5 * (v[0] + v[1]), rtol=0.15)
    poor = flat_texture(s, 3, disk=2.0, metallicity=op.DISK_METALLICITY_GRID[0])
    assert mixed.var() < 0.75 * poor.var()


def test_rendered_disk_takes_the_metallicity_of_its_radius():
    from pandas_clusters.acquire.mock.render import _diffuse

    s = MockSettings.demo()
    for r_major in (3.0, 15.0, 30.0):
        deg = np.rad2deg(r_major / M31.distance_kpc)
        pa = np.deg2rad(M31.pa_deg)
        w = _tan_wcs(deg * np.sin(pa), deg * np.cos(pa))  # on the major axis
        *_, mh = _diffuse(s, w, (100, 100), "g", parts=True)
        assert float(mh[50, 50]) == pytest.approx(float(op.disk_metallicity(r_major)), abs=0.01)


def test_spheroid_profile_follows_the_published_minor_axis():
    for r, mu in op.SPHEROID_MINOR_AXIS_MU_V:
        assert op.spheroid_mu_v(r) == pytest.approx(mu)
    # continuous at the break, a power law of index -2.3 beyond it
    assert op.spheroid_mu_v(op.SPHEROID_BREAK_KPC * 1.0001) == pytest.approx(30.0, abs=1e-3)
    slope = (op.spheroid_mu_v(50.0) - op.spheroid_mu_v(25.0)) / np.log10(2.0)
    assert slope == pytest.approx(-2.5 * op.HALO_POWER_INDEX)
    assert 30.0 < op.spheroid_mu_v(55.0) < 33.0  # Irwin+ 2005: ~32 at 55 kpc
    assert op.spheroid_effective_radius_kpc() == pytest.approx(3.85, abs=0.01)
    # flattened along the disk: 10 kpc out on the major axis lies on the isophote of
    # 5.5 kpc on the minor axis
    deg = np.rad2deg(10.0 / M31.distance_kpc)
    pa = np.deg2rad(M31.pa_deg)
    on_major = op.spheroid_mu_g(deg * np.sin(pa), deg * np.cos(pa), satellites=False)
    on_minor = op.spheroid_mu_g(-deg * np.cos(pa), deg * np.sin(pa), satellites=False)
    assert on_minor == pytest.approx(28.0 + op.G_MINUS_V)
    assert on_major == pytest.approx(op.spheroid_mu_v(10.0 * op.SPHEROID_AXIS_RATIO) + op.G_MINUS_V)
    assert on_major < on_minor - 1.0


def test_satellites_have_their_catalogued_light():
    names = [row[0] for row in op.SATELLITES]
    for name, mu0 in (("NGC 185", 20.8), ("NGC 147", 21.2), ("NGC 205", 19.2)):
        _, ra, dec, *_ = op.SATELLITES[names.index(name)]
        # the exponential of the catalogue's V and r_h has its central surface brightness
        assert -2.5 * np.log10(op.satellites_v_flux(ra, dec)) == pytest.approx(mu0, abs=0.05)
    _, ra, dec, vmag, pa, ell, rh = op.SATELLITES[names.index("NGC 185")]
    # half the light inside the half-light ellipse: sample the profile on a grid
    step = 2.0 / 3600.0
    off = np.arange(-12 * rh / 60, 12 * rh / 60, step)
    dx, dy = np.meshgrid(off, off)
    flux = op.satellites_v_flux(ra + dx / np.cos(np.deg2rad(dec)), dec + dy) * (2.0**2)
    assert -2.5 * np.log10(flux.sum()) == pytest.approx(vmag, abs=0.05)
    # far from the satellites: no light to speak of (M31's centre, 37 arcmin from NGC 205)
    assert op.satellites_v_flux(10.68, 41.27) < 10 ** (-0.4 * 35.0)


def test_spheroid_stars_are_discrete_with_the_population_variance():
    from pandas_clusters.acquire.mock.render import _psf_stamp

    s = MockSettings.demo()
    a = flat_texture(s, 2, spheroid=0.5)  # 0.5 ADU/px of spheroid light in g
    b = flat_texture(s, 2, spheroid=0.5)
    np.testing.assert_array_equal(a, b)
    f, w, rest = op.star_bins(M31.distance_modulus - s.zero_point)
    var = 0.5 * (np.sum(w * f) + rest)
    np.testing.assert_allclose(a.var(), var, rtol=0.15)
    assert abs(a.mean()) < 5 * np.sqrt(var / a.size)
    assert np.mean((a - a.mean()) ** 3) / a.var() ** 1.5 > 5.0  # rare bright stars
    assert _psf_stamp(3.5, 3.0).shape[0] > 3  # the real call blurs by a PSF


def test_old_cluster_stars_follow_the_isochrone():
    from pandas_clusters.acquire.mock.population import cluster_metallicity
    from pandas_clusters.acquire.mock.render import GC_GIANT_FAINT_G, globular_giants

    s = MockSettings.demo()
    row = SimpleNamespace(obj_id=11, gmag=17.0, king_c=1.5, r_h_pc=2.5, rproj_kpc=40.0)
    feh = float(cluster_metallicity(s.seed, 11, 40.0))
    assert op.cluster_scaled_solar_mh(feh) <= op.METAL_POOR_FEH  # the MIST function alone
    a = globular_giants(s, row)
    tip = op.MG_EDGES[0] + M31.distance_modulus
    assert a["gmag"].between(tip, GC_GIANT_FAINT_G + 0.25).all()
    hb = a["gmag"].between(*(op.MG_EDGES[10:12] + M31.distance_modulus)).sum()
    expected = 10 ** (-0.4 * (17.0 - M31.distance_modulus)) * op.STARS_PER_LIGHT[10]
    assert abs(hb - expected) < 5 * np.sqrt(expected)


def test_cluster_star_bins_follow_the_cluster_metallicity():
    """Metal-poor clusters take MIST's function, metal-rich ones the disk's PARSEC ones."""
    dm = M31.distance_modulus
    # alpha-enhanced: a cluster stands for the scaled-solar isochrone 0.21 dex richer
    # (Salaris et al. 1993 with [alpha/Fe] = +0.3)
    alpha = float(op.cluster_scaled_solar_mh(0.0))
    assert alpha == pytest.approx(0.2136, abs=1e-3)
    f, w = op.cluster_star_bins(dm, -2.0)
    f0, w0, _ = op.star_bins(dm)
    np.testing.assert_allclose(f, f0)
    np.testing.assert_allclose(w, w0)  # clipped to the metal-poorest point
    np.testing.assert_allclose(op.cluster_star_bins(dm, op.METAL_POOR_FEH - alpha)[1], w0)
    _, w_rich = op.cluster_star_bins(dm, float(op.DISK_METALLICITY_GRID[0]) - alpha)
    np.testing.assert_allclose(w_rich, op.star_bins(dm, disk_grid=0)[1])
    mid = 0.5 * (op.METAL_POOR_FEH + op.DISK_METALLICITY_GRID[0]) - alpha
    np.testing.assert_allclose(op.cluster_star_bins(dm, mid)[1], 0.5 * (w0 + w_rich))

    def giants(w):  # stars per unit light of the bins brighter than M_g = -0.5
        return float(np.sum((w / f)[op.MG_EDGES[1:] <= -0.5]))

    poor, rich, solar = giants(w0), giants(w_rich), giants(op.cluster_star_bins(dm, 0.0)[1])
    assert rich < 0.5 * poor  # the metal-rich giant branch is fainter in g
    assert solar < 0.1 * poor


def test_cluster_metallicities_are_m31s_by_radius():
    """Drawn [Fe/H] per Rproj bin follow the Caldwell+ 2011 deciles; one value per cluster."""
    from pandas_clusters.acquire.mock.population import (
        GC_FEH_DECILES,
        GC_FEH_RPROJ_EDGES_KPC,
        cluster_metallicity,
    )

    s = MockSettings.demo()
    ids = np.arange(4000)
    for b, r in enumerate((1.0, 3.0, 7.0, 12.0, 20.0, 50.0)):
        assert GC_FEH_RPROJ_EDGES_KPC[b] <= r < GC_FEH_RPROJ_EDGES_KPC[b + 1]
        feh = cluster_metallicity(s.seed, ids, r)
        np.testing.assert_allclose(
            np.percentile(feh, [10, 50, 90]), GC_FEH_DECILES[b, [1, 5, 9]], atol=0.08
        )
    np.testing.assert_array_equal(
        cluster_metallicity(s.seed, ids, 3.0), cluster_metallicity(s.seed, ids, 3.0)
    )
    assert (
        float(cluster_metallicity(s.seed, 7, 3.0))
        == cluster_metallicity(s.seed, np.array([7]), 3.0)[0]
    )
    inner, outer = cluster_metallicity(s.seed, ids, 3.0), cluster_metallicity(s.seed, ids, 50.0)
    assert (inner > -0.9).mean() > 0.4 and (outer > -0.9).mean() < 0.05


def test_metal_rich_clusters_have_fewer_resolved_giants():
    from pandas_clusters.acquire.mock.population import cluster_metallicity
    from pandas_clusters.acquire.mock.render import globular_giants

    s = MockSettings.demo()
    ids = np.arange(400)
    feh = cluster_metallicity(s.seed, ids, 1.0)  # inside 2 kpc: from -2.6 to +0.4
    poor, rich = ids[feh < -1.4][:15], ids[feh > -0.3][:15]
    assert len(poor) == len(rich) == 15

    def bright(k):
        row = SimpleNamespace(obj_id=int(k), gmag=17.0, king_c=1.5, r_h_pc=2.5, rproj_kpc=1.0)
        return int((globular_giants(s, row)["gmag"] < 24.0).sum())

    assert np.mean([bright(k) for k in rich]) < 0.3 * np.mean([bright(k) for k in poor])


def test_gc_metallicity_deciles_are_caldwell2011s(reference):
    """The constants re-measured on the shared CfA catalogue (skips without it)."""
    from pandas_clusters.acquire.mock.calibration import (
        CALDWELL_OLD_CATALOGUE,
        _feh_table_lines,
        caldwell_feh_deciles,
        read_caldwell_old_clusters,
    )
    from pandas_clusters.acquire.mock.catalogues import C11_FEH_ERROR_DEX
    from pandas_clusters.acquire.mock.population import GC_FEH_DECILES, GC_FEH_RPROJ_EDGES_KPC

    path = reference / CALDWELL_OLD_CATALOGUE
    if not path.is_file():
        pytest.skip(f"{path} not at hand")
    t = read_caldwell_old_clusters(path)
    assert np.nanmedian(t.loc[t["feh"].notna(), "feh_err"]) == pytest.approx(C11_FEH_ERROR_DEX)
    rows = caldwell_feh_deciles(path, GC_FEH_RPROJ_EDGES_KPC)
    assert [n for _, _, n, _ in rows] == [66, 106, 92, 42, 19, 14]
    np.testing.assert_allclose([d for *_, d in rows], GC_FEH_DECILES, atol=0.006)
    # docs/mock-calibration.md's table: the catalogue's median against the mock's draw
    table = _feh_table_lines(reference, 20250616)[2:]
    assert len(table) == len(rows)
    for line in table:
        cells = [c.strip() for c in line.strip("|").split("|")]
        catalogue, mock = float(cells[2].split("/")[1]), float(cells[4].split("/")[1])
        assert mock == pytest.approx(catalogue, abs=0.05), line


def test_caldwell_catalogue_without_its_header_is_refused(tmp_path):
    from pandas_clusters.acquire.mock.calibration import read_caldwell_old_clusters

    bad = tmp_path / "old.dat"
    bad.write_text("name\tRA\tDEC\nB001\t0:40:00\t41:00:00\n", encoding="ascii")
    with pytest.raises(ValueError, match="old.dat.*header"):
        read_caldwell_old_clusters(bad)


def _tan_wcs(xi_deg, eta_deg, scale_arcsec=0.187):
    from astropy.wcs import WCS

    from pandas_clusters.core.geometry import offsets_to_radec

    ra, dec = offsets_to_radec(np.asarray([xi_deg]), np.asarray([eta_deg]))
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [float(ra[0]), float(dec[0])]
    w.wcs.crpix = [50.5, 50.5]
    w.wcs.cdelt = [-scale_arcsec / 3600.0, scale_arcsec / 3600.0]
    return w


@pytest.mark.parametrize("r_minor_kpc", [2.0, 5.0, 12.0, 40.0])
def test_spheroid_map_is_its_light_beyond_the_bulge(r_minor_kpc):
    # Pritchet & van den Bergh's law is the whole spheroid, bulge included: the
    # rendered spheroid carries only its light beyond the bulge's, so that the two
    # together are the brighter law, not their sum
    from pandas_clusters.acquire.mock.render import _diffuse

    s = MockSettings.demo()
    deg = np.rad2deg(r_minor_kpc / M31.distance_kpc)
    pa = np.deg2rad(M31.pa_deg)
    xi, eta = -deg * np.cos(pa), deg * np.sin(pa)  # on the minor axis
    w = _tan_wcs(xi, eta)
    disk, bulge, spheroid, _, _ = _diffuse(s, w, (100, 100), "g", parts=True)
    area = s.pixel_scale_arcsec**2
    law = 10 ** (-0.4 * (op.spheroid_mu_g(xi, eta, satellites=False) - s.zero_point)) * area
    b = float(bulge[50, 50])
    tiny = 1e-4 * max(float(law), b)  # the satellites' far wings
    assert float(spheroid[50, 50]) == pytest.approx(max(float(law) - b, 0.0), rel=0.02, abs=tiny)
    assert float(bulge[50, 50] + spheroid[50, 50]) == pytest.approx(max(float(law), b), rel=0.02)
    if r_minor_kpc <= 5.0:  # the bulge outshines the law there: no spheroid stars
        assert float(spheroid[50, 50]) < tiny
    if r_minor_kpc >= 40.0:  # the bulge is negligible there: the whole law
        assert float(spheroid[50, 50]) == pytest.approx(float(law), rel=0.02)


def test_globular_cluster_half_light_radii_grow_outwards_as_m31s_do():
    # Peacock+ 2010's M31 clusters: r_h = 2.09 pc (Rproj / kpc)^0.157, held flat inside
    # the fit's innermost cluster (2.4 kpc) and continued beyond its outermost (22.8 kpc)
    from pandas_clusters.acquire.mock.population import (
        GC_RH_INNER_KPC,
        GC_RH_LOG_SCATTER,
        GC_RH_MEDIAN_PC,
        GC_RH_REFERENCE_KPC,
        GC_RH_SLOPE,
        catalogue_truth,
    )
    from pandas_clusters.core.geometry import projected_radius_kpc

    truth = catalogue_truth(MockSettings.from_config({}), kinds=("globular_cluster",))
    gc = truth.loc[truth["kind"] == "globular_cluster"]
    r = projected_radius_kpc(gc["ra"].to_numpy(), gc["dec"].to_numpy())
    rh = gc["r_h_pc"].to_numpy()
    law = GC_RH_MEDIAN_PC * (np.maximum(r, GC_RH_INNER_KPC) / GC_RH_REFERENCE_KPC) ** GC_RH_SLOPE
    ratio = np.log(rh / law)
    assert abs(np.median(ratio)) < 0.05
    assert np.std(ratio) == pytest.approx(GC_RH_LOG_SCATTER, rel=0.2)
    # the medians per radius bin follow the law: ~2.5 pc at 5 kpc, ~3.3 pc at 20 kpc
    for lo, hi in ((2.0, 8.0), (15.0, 30.0)):
        s = (r >= lo) & (r < hi)
        assert s.sum() >= 30
        assert np.median(rh[s]) == pytest.approx(np.median(law[s]), rel=0.15)
    outer = r >= 15.0
    inner = r < 5.0
    assert 1.1 < np.median(rh[outer]) / np.median(rh[inner]) < 1.6


def test_gc_half_light_law_is_the_fit_to_peacock2010(reference):
    # the constants are the fit the calibration measures on the shared table
    from pandas_clusters.acquire.mock.calibration import PEACOCK_TABLE, peacock_rh_relation
    from pandas_clusters.acquire.mock.population import (
        GC_RH_INNER_KPC,
        GC_RH_LOG_SCATTER,
        GC_RH_MEDIAN_PC,
        GC_RH_RANGE_PC,
        GC_RH_REFERENCE_KPC,
        GC_RH_SLOPE,
    )

    path = reference / PEACOCK_TABLE
    if not path.is_file():
        pytest.skip(f"{path} absent")
    fit = peacock_rh_relation(path)
    assert fit["n"] == 213
    assert GC_RH_REFERENCE_KPC == 1.0
    assert GC_RH_MEDIAN_PC == pytest.approx(fit["r_h_at_1kpc_pc"], abs=0.01)
    assert GC_RH_SLOPE == pytest.approx(fit["slope"], abs=0.001)
    assert GC_RH_LOG_SCATTER == pytest.approx(fit["log_scatter"], abs=0.01)
    assert GC_RH_INNER_KPC == pytest.approx(fit["rproj_min_kpc"], abs=0.05)
    assert GC_RH_RANGE_PC == pytest.approx(fit["normalised_p01_p99"], abs=0.1)
    # the published medians per bin (Peacock+ 2010 r_h, class 1)
    assert [b[3] for b in fit["bins"]] == pytest.approx([2.39, 2.77, 2.97, 3.285], abs=0.01)


def test_disk_light_is_the_published_old_disc():
    """The mock's disk surface brightness is Tamm+ 2012's old-disc g light on Courteau+ 2011's
    exponential (docs/mock-calibration.md), within 0.05 mag."""
    from pandas_clusters.acquire.mock.calibration import disk_central_mu_g

    s = MockSettings.demo()
    published = disk_central_mu_g(s.disk_scale_kpc)
    assert abs(s.disk_mu0_g - published) < 0.05
    # a longer disk spreads the same light thinner: 2.5 log10(4) fainter at twice the length
    assert disk_central_mu_g(2 * s.disk_scale_kpc) - published == pytest.approx(2.5 * np.log10(4.0))
