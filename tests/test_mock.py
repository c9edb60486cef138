"""The simulated PAndAS: file structure, image quality, depth, determinism, bad settings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from astropy.wcs import WCS
from scipy.optimize import least_squares

from mock_support import DELTA_PSF
from pandas_clusters.acquire.mock import (
    MockField,
    MockSettings,
    field_truth,
    noise_equivalent_area,
    write_field_image,
)
from pandas_clusters.acquire.mock.population import draw_region
from pandas_clusters.acquire.mock.render import (
    _noisy,
    _psf_stamp,
    light_kernel,
    pixel_noise_factor,
    stack_offsets,
)
from pandas_clusters.acquire.mock.settings import typical_exposures

DEMO = MockSettings.demo()


def small(fields=(248,), nx=700, ny=700, **kw) -> MockSettings:
    sheet = tuple(f for f in DEMO.fields if f.id in fields)
    return dataclasses.replace(
        DEMO, fields=sheet, ccd_nx=nx, ccd_ny=ny, ccd_columns=1, ccd_rows=1, **kw
    )


@pytest.fixture(scope="module")
def disk_field(tmp_path_factory):
    """Field 248's block (NE disk, crowded) reduced to one 700x700 CCD, both bands."""
    s = small((248,))
    d = tmp_path_factory.mktemp("mock248")
    paths = {b: d / f"{b}.fits" for b in ("g", "i")}
    for b, p in paths.items():
        write_field_image(s, 248, b, p)
    return s, paths, field_truth(s, 248)


@pytest.fixture(scope="module")
def halo_field(tmp_path_factory):
    """Field 231's block (Rproj 30 kpc, halo, dark sky), one 700x700 CCD, both bands."""
    s = small((231,))
    d = tmp_path_factory.mktemp("mock231")
    paths = {b: d / f"{b}.fits" for b in ("g", "i")}
    for b, p in paths.items():
        write_field_image(s, 231, b, p)
    return s, paths, field_truth(s, 231)


def test_fits_structure(disk_field):
    s, paths, _ = disk_field
    for band, path in paths.items():
        with fits.open(path) as hdul:
            assert hdul[0].header["FIELD"] == 248
            assert hdul[0].header["BAND"] == band
            images = hdul[1:]
            assert len(images) == s.ccd_columns * s.ccd_rows
            for hdu in images:
                w = WCS(hdu.header)
                assert w.has_celestial
                assert w.wcs.ctype[0] == "RA---TAN"
                scale = np.sqrt(abs(np.linalg.det(w.pixel_scale_matrix))) * 3600
                assert scale == pytest.approx(0.187, rel=1e-6)
                for key in ("MAGZPT", "GAIN", "RDNOISE", "SATURATE", "SEEING", "SKYLEVEL"):
                    assert key in hdu.header
                assert hdu.data.dtype.kind == "f" and hdu.data.dtype.itemsize == 4
                assert np.isnan(hdu.data).any(), "bad columns must be NaN"


def test_demo_has_many_ccds_per_field():
    assert DEMO.ccd_columns * DEMO.ccd_rows >= 4
    assert len(DEMO.fields) >= 4


def test_g_and_i_wcs_differ_slightly(disk_field):
    _, paths, _ = disk_field
    wg = WCS(fits.getheader(paths["g"], 1))
    wi = WCS(fits.getheader(paths["i"], 1))
    x, y = 350.0, 350.0
    ra, dec = wg.all_pix2world(x, y, 0)
    xi, yi = wi.all_world2pix(ra, dec, 0)
    shift = np.hypot(xi - x, yi - y)
    assert 0.0 < shift < 2.0
    rot_g = np.degrees(np.arctan2(wg.pixel_scale_matrix[1, 0], wg.pixel_scale_matrix[1, 1]))
    rot_i = np.degrees(np.arctan2(wi.pixel_scale_matrix[1, 0], wi.pixel_scale_matrix[1, 1]))
    assert 1e-4 < abs(rot_i - rot_g) <= DEMO.band_rotation_deg


def _isolated_stars(truth, band, lo, hi, radius_arcsec=3.0):
    mag = truth[f"{band}mag"].to_numpy()
    ra, dec = truth["ra"].to_numpy(), truth["dec"].to_numpy()
    cand = np.flatnonzero((truth["kind"] == "star").to_numpy() & (mag > lo) & (mag < hi))
    out = []
    for k in cand:
        d = np.hypot((ra - ra[k]) * np.cos(np.deg2rad(dec[k])), dec - dec[k]) * 3600
        near = (d < radius_arcsec) & (d > 0) & (mag < mag[k] + 4)
        if not near.any():
            out.append(k)
    return truth.iloc[out]


def _moffat_fwhm(img, x, y, beta, half=10):
    ix, iy = int(round(x)), int(round(y))
    cut = img[iy - half : iy + half + 1, ix - half : ix + half + 1]
    if cut.shape != (2 * half + 1, 2 * half + 1) or not np.isfinite(cut).all():
        return np.nan
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]

    def resid(p):
        amp, x0, y0, alpha, bkg = p
        model = amp * (1 + ((xx - x0) ** 2 + (yy - y0) ** 2) / alpha**2) ** (-beta) + bkg
        return (model - cut).ravel()

    p0 = [cut.max() - np.median(cut), x - ix, y - iy, 3.0, np.median(cut)]
    fit = least_squares(resid, p0)
    return 2 * abs(fit.x[3]) * np.sqrt(2 ** (1 / beta) - 1)


@pytest.mark.parametrize("band", ["g", "i"])
def test_psf_fwhm_matches_header(disk_field, band):
    s, paths, truth = disk_field
    stars = _isolated_stars(truth, band, 17.5, 21.0)
    assert len(stars) >= 5
    with fits.open(paths[band]) as hdul:
        hdu = hdul[1]
        w = WCS(hdu.header)
        x, y = w.all_world2pix(stars["ra"], stars["dec"], 0)
        fwhm = [
            _moffat_fwhm(hdu.data, xi, yi, hdu.header["PSFBETA"])
            for xi, yi in zip(x, y, strict=True)
        ]
        fwhm_arcsec = np.nanmedian(fwhm) * s.pixel_scale_arcsec
        assert fwhm_arcsec == pytest.approx(hdu.header["SEEING"], rel=0.10)


@pytest.mark.parametrize("band", ["g", "i"])
def test_depth_measured_on_sky(halo_field, band):
    """S/N=10 depth of PSF-weighted photometry, from the scatter of forced fluxes on sky.

    Empty sky: positions within the photometry box of a known object brighter than
    the depth + 0.5 mag are skipped (the halo field has Milky Way foreground stars,
    several per arcmin^2 brighter than g = 23, as the real survey).
    """
    s, paths, truth = halo_field
    rng = np.random.default_rng(3)
    with fits.open(paths[band]) as hdul:
        hdu = hdul[1]
        img = hdu.data.astype(np.float64)
        bright = truth.loc[truth[f"{band}mag"] < s.depth_mag[band] + 0.5]
        ox, oy = WCS(hdu.header).all_world2pix(bright["ra"], bright["dec"], 0)
        fwhm_px = hdu.header["SEEING"] / s.pixel_scale_arcsec
        beta = hdu.header["PSFBETA"]
        _, bkg, _ = sigma_clipped_stats(img[np.isfinite(img)], sigma=3)
        half = 12
        yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
        alpha = fwhm_px / (2 * np.sqrt(2 ** (1 / beta) - 1))
        psf = (1 + (xx**2 + yy**2) / alpha**2) ** (-beta)
        psf /= psf.sum()
        fluxes = []
        for _ in range(3000):
            x, y = rng.integers(half, img.shape[1] - half, 2)
            if np.any(np.hypot(ox - x, oy - y) < half + 1):
                continue
            cut = img[y - half : y + half + 1, x - half : x + half + 1] - bkg
            if np.isfinite(cut).all():
                fluxes.append(np.sum(psf * cut) / np.sum(psf**2))
        fluxes = np.asarray(fluxes)
        assert len(fluxes) > 500
        _, _, sigma_f = sigma_clipped_stats(fluxes, sigma=3)
        depth = hdu.header["MAGZPT"] - 2.5 * np.log10(10 * sigma_f)
        assert depth == pytest.approx(s.depth_mag[band], abs=0.5)
        # and the analytic noise-equivalent area agrees with the header's noise model
        nea = noise_equivalent_area(fwhm_px, beta)
        assert nea > 10


def test_deterministic(tmp_path):
    s = small((248,), nx=300, ny=300)
    write_field_image(s, 248, "g", tmp_path / "a.fits")
    write_field_image(s, 248, "g", tmp_path / "b.fits")
    a = fits.getdata(tmp_path / "a.fits", 1)
    b = fits.getdata(tmp_path / "b.fits", 1)
    np.testing.assert_array_equal(a, b)


def test_adding_a_field_changes_no_other_field(tmp_path):
    one = small((248,), nx=300, ny=300)
    two = small((248, 266), nx=300, ny=300)
    write_field_image(one, 248, "i", tmp_path / "one.fits")
    write_field_image(two, 248, "i", tmp_path / "two.fits")
    np.testing.assert_array_equal(
        fits.getdata(tmp_path / "one.fits", 1), fits.getdata(tmp_path / "two.fits", 1)
    )


def test_overlapping_fields_share_objects():
    s = MockSettings.demo()
    a = field_truth(s, 248)  # the blocks of 248 and 266 overlap by 0.7'
    b = field_truth(s, 266)
    common = np.intersect1d(a["obj_id"], b["obj_id"])
    assert len(common) > 50
    merged = a.set_index("obj_id").loc[common, ["ra", "gmag"]]
    np.testing.assert_allclose(
        merged.to_numpy(), b.set_index("obj_id").loc[common, ["ra", "gmag"]].to_numpy()
    )


def test_truth_has_every_class_and_phat_flag(disk_field):
    _, _, truth = disk_field
    kinds = set(truth["kind"])
    assert {"star", "young_cluster", "galaxy"} <= kinds
    assert truth["obj_id"].is_unique
    assert truth["in_phat"].dtype == bool
    yc = truth[truth["kind"] == "young_cluster"]
    assert yc["r_h_pc"].between(1, 6).all()
    assert (yc["gmag"] - yc["imag"]).median() < 0.5  # blue
    assert (yc["n_resolved"] > 0).any()


def test_cells_do_not_depend_on_the_region():
    s = MockSettings.demo()
    big = draw_region(s, xi_range=(0.1, 0.3), eta_range=(0.2, 0.3), kinds=("young_cluster",))
    part = draw_region(s, xi_range=(0.2, 0.21), eta_range=(0.2, 0.21), kinds=("young_cluster",))
    assert set(part["obj_id"]) <= set(big["obj_id"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ccd_nx": -5}, "ccd_nx must be a positive integer"),
        ({"ccd_ny": 0}, "ccd_ny must be a positive integer"),
        ({"pixel_scale_arcsec": 0.0}, "pixel_scale_arcsec must be > 0"),
    ],
)
def test_impossible_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(DEMO, **kwargs)


def test_field_outside_the_sky():
    with pytest.raises(ValueError, match="outside the sky"):
        MockField(id=300, ra_deg=10.0, dec_deg=95.0)
    with pytest.raises(ValueError, match="outside the sky"):
        MockSettings.from_config({"fields": [{"id": 1, "ra_deg": 400.0, "dec_deg": 41.0}]})


def test_unknown_field_and_band():
    with pytest.raises(KeyError, match="not a mock field"):
        DEMO.field(999)
    with pytest.raises(ValueError, match="unknown band"):
        from pandas_clusters.acquire.mock.render import render_ccd

        render_ccd(small((248,), nx=50, ny=50), 248, "r", 0)


def test_unknown_mock_key():
    with pytest.raises(ValueError, match="mock.ccd_nxx: unknown key"):
        MockSettings.from_config({"ccd_nxx": 10})


def test_unresolved_stars_are_the_same_in_both_bands():
    # the texture of the unresolved stars is drawn from one set of stars: with one
    # generator state and the g band's light, the i texture is the g texture times the
    # diffuse light's flux ratio
    from scipy.ndimage import median_filter

    from pandas_clusters.acquire.mock.render import _field_objects, _texture, render_ccd

    s = DEMO
    scale = 10 ** (0.4 * s.diffuse_g_minus_i)
    light = (
        np.random.default_rng(1).uniform(0.5, 2.0, (3, 120, 120))
        * np.array([80, 8, 1.0])[:, None, None]
    )
    tex_g = _texture(s, *light, "g", DELTA_PSF, np.random.default_rng(4))
    tex_i = _texture(s, *light, "i", DELTA_PSF, np.random.default_rng(4))
    np.testing.assert_allclose(tex_i, scale * tex_g, rtol=1e-9, atol=1e-9)
    assert np.std(tex_g) > 0
    # in the rendered stacks (no objects: sky, M31's light, noise): the small-scale
    # residuals of g and i correlate on a bulge field, as the same stars make both
    field = 248
    empty = _field_objects(s, field).iloc[:0]
    cut = (slice(500, 900), slice(300, 700))
    images = [render_ccd(s, field, band, 0, objects=empty)[0][cut].astype(float) for band in "gi"]
    ok = np.isfinite(images[0]) & np.isfinite(images[1])
    res = [np.where(ok, a, np.nanmedian(a)) for a in images]
    res = [a - median_filter(a, 9) for a in res]
    assert np.corrcoef(res[0][ok], res[1][ok])[0, 1] > 0.5


# -- the stack: exposures resampled and averaged (issue 12, docs/mock-realism.md item 32)
def _psf_fluxes(img, psf, step=25):
    half = psf.shape[0] // 2
    out = []
    for y in range(half, img.shape[0] - half, step):
        for x in range(half, img.shape[1] - half, step):
            cut = img[y - half : y + half + 1, x - half : x + half + 1]
            out.append(np.sum(psf * cut) / np.sum(psf**2))
    return np.asarray(out)


def test_resampled_noise_keeps_the_psf_photometry_depth():
    # a flat sky through the stack model: PSF-weighted fluxes scatter as on white noise
    fwhm, beta = 3.6, 3.0
    sky, gain = 100.0, 1.0
    psf = _psf_stamp(fwhm, beta)
    psf = psf / psf.sum()
    white_sigma = np.sqrt(sky / gain) / np.sqrt(np.sum(psf**2))
    offsets = np.array([[0.5, 0.5], [0.2, 0.7], [0.9, 0.4]])
    s = dataclasses.replace(DEMO, bad_columns_per_ccd=0)
    flat = np.full((1200, 1200), sky)
    stacked = _noisy(flat.copy(), np.random.default_rng(5), s, gain, 0.0, fwhm, beta, offsets)
    f = _psf_fluxes(stacked.astype(float) - sky, psf)
    assert np.std(f) == pytest.approx(white_sigma, rel=0.06)
    # and the pixels themselves are less noisy than white noise (the resampling smooths)
    assert np.std(stacked) < 0.8 * np.sqrt(sky / gain)
    assert np.std(stacked) == pytest.approx(
        pixel_noise_factor(fwhm, beta, offsets) * np.sqrt(sky / gain), rel=0.05
    )


def test_bilinear_resampling_correlates_neighbours_as_its_weights_say():
    # one exposure at offset (0.5, 0): along x, lag-1 correlation d (1 - d) / (d^2 + (1 - d)^2)
    s = dataclasses.replace(DEMO, bad_columns_per_ccd=0)
    img = _noisy(
        np.full((800, 800), 50.0), np.random.default_rng(2), s, 1.0, 0.0, 3.6, 3.0, [[0.5, 0.0]]
    ).astype(float)
    r = img - img.mean()
    lag_x = np.sum(r[:, 1:] * r[:, :-1]) / np.sum(r * r)
    lag_y = np.sum(r[1:, :] * r[:-1, :]) / np.sum(r * r)
    assert lag_x == pytest.approx(0.5, abs=0.03)
    assert lag_y == pytest.approx(0.0, abs=0.03)


def test_resampling_blurs_the_light_without_moving_it():
    k = light_kernel([[0.5, 0.5], [0.1, 0.3]])
    assert k.sum() == pytest.approx(1.0)
    assert np.allclose(k, k[::-1, ::-1])  # zero mean offset: sources stay where they are
    yy, xx = np.mgrid[-1:2, -1:2]
    var_x = np.sum(k * xx**2)
    assert var_x == pytest.approx(np.mean([0.5 * 0.5, 0.1 * 0.9]))
    assert np.array_equal(light_kernel(np.zeros((0, 2))), np.pad([[1.0]], 1))


def test_a_field_band_has_one_dither_for_all_its_ccds():
    a = stack_offsets(DEMO, 257, "g")
    assert a.shape == (3, 2) and ((a >= 0) & (a < 1)).all()  # 257: 3 x 450 s in g
    assert np.array_equal(a, stack_offsets(DEMO, 257, "g"))
    assert not np.array_equal(a, stack_offsets(DEMO, 257, "i"))
    assert not np.array_equal(a, stack_offsets(DEMO, 249, "g"))
    assert stack_offsets(dataclasses.replace(DEMO, stack_resampling=False), 257, "g").shape == (
        0,
        2,
    )


def test_each_field_has_its_own_exposures_and_depth():
    # the field sheet (McConnachie+ 2018's log): 248 has 4 x 450 s in g, 3 x 450 s in i
    assert DEMO.field_exposures(248, "g") == (4, 1800.0)
    assert DEMO.field_exposures(248, "i") == (3, 1350.0)
    assert typical_exposures("g") == (3, 1350.0) and typical_exposures("i") == (3, 1350.0)
    assert DEMO.field_depth(257, "g") == pytest.approx(DEMO.depth_mag["g"])
    assert DEMO.field_depth(248, "g") == pytest.approx(
        DEMO.depth_mag["g"] + 1.25 * np.log10(1800 / 1350)
    )
    assert stack_offsets(DEMO, 248, "g").shape == (4, 2)
    # an ID the survey lacks takes the typical stack; a field may carry its own
    assert DEMO.field_exposures(999, "g") == (3, 1350.0)
    own = dataclasses.replace(
        DEMO, fields=(MockField(id=999, ra_deg=10.0, dec_deg=41.0, exposures={"g": (2, 900)}),)
    )
    assert own.field_exposures(999, "g") == (2, 900.0)
    assert own.field_exposures(999, "i") == (3, 1350.0)


def test_the_header_carries_the_fields_depth(disk_field):
    s, paths, _ = disk_field
    with fits.open(paths["g"]) as hdul:
        assert hdul[1].header["EXPTIME"] == 1800.0 and hdul[1].header["NCOMBINE"] == 4
        assert hdul[1].header["DEPTH"] == pytest.approx(s.field_depth(248, "g"), abs=1e-3)


@pytest.mark.parametrize(
    "exposures", [{"r": (3, 1350.0)}, {"g": (0, 1350.0)}, {"g": (3, -1.0)}, {"g": (2.5, 10.0)}]
)
def test_bad_field_exposures_are_refused(exposures):
    with pytest.raises(ValueError, match="exposures"):
        MockField(id=1, ra_deg=10.0, dec_deg=41.0, exposures=exposures)


def test_stack_resampling_must_be_a_boolean():
    with pytest.raises(ValueError, match="stack_resampling"):
        dataclasses.replace(DEMO, stack_resampling=3)


def test_stack_background_mesh_must_be_a_whole_number_of_pixels():
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="stack_background_mesh_px"):
            dataclasses.replace(DEMO, stack_background_mesh_px=bad)


def test_background_flattening_removes_the_light_gradient_and_keeps_its_level_and_noise():
    from pandas_clusters.acquire.mock.render import flatten_background

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:512, :512].astype(float)
    light = 500.0 + 2.0 * xx + 1.0 * yy  # a bulge-like ramp: 1500 ADU across the CCD
    noise = rng.normal(0.0, 10.0, light.shape)
    img = light + noise
    flat = flatten_background(img, 64)
    # the ramp is gone (residual slope under 1% of it), the level and the noise stay
    fit = np.polyfit(xx.ravel(), flat.ravel(), 1)[0]
    assert abs(fit) < 0.02
    assert np.median(flat) == pytest.approx(np.median(img), rel=0.01)
    assert np.std(flat - np.median(flat)) == pytest.approx(10.0, rel=0.05)
    # a star on it keeps its light
    star = np.exp(-0.5 * ((xx - 256) ** 2 + (yy - 256) ** 2) / 1.5**2) * 2000.0
    flat_star = flatten_background(img + star, 64) - flat
    assert flat_star[246:267, 246:267].sum() == pytest.approx(star.sum(), rel=0.05)
    # mesh 0: unchanged
    assert flatten_background(img, 0) is img


def test_stacks_have_no_gradient_of_the_bulge_light_and_say_so():
    s = small(nx=256, ny=256, bad_columns_per_ccd=0)
    near_nucleus = dataclasses.replace(
        s, fields=(MockField(id=1, ra_deg=10.6847, dec_deg=41.2690 + 0.02),)
    )
    from pandas_clusters.acquire.mock.render import render_ccd

    img, hdr = render_ccd(near_nucleus, 1, "g", 0)
    kept, _ = render_ccd(dataclasses.replace(near_nucleus, stack_background_mesh_px=0), 1, "g", 0)
    assert hdr["BACKMESH"] == 64

    def ramp(a):
        rows = np.median(a, axis=1)
        return abs(np.median(rows[-32:]) - np.median(rows[:32]))

    assert ramp(kept) > 10 * ramp(img)
    assert np.median(img) == pytest.approx(np.median(kept), rel=0.05)
