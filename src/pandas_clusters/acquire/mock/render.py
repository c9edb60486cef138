"""Rendering of mock PAndAS fields: multi-extension FITS per field and band.

Each field is a mosaic of CCDs sharing one tangent projection centred on the
field's pointing centre (like a CASU stack); the mosaic is a block that may
sit ``block_offset_arcmin`` off that centre, inside the real 36-CCD MegaCam
mosaic (:func:`block_centre`). The i-band stack differs from the g-band one by a
sub-pixel shift and a small rotation. Pixels are ADU of the stack with the
AB zero point ``MAGZPT``; the model is

    sky + M31 diffuse light (disk + bulge)
    + point sources (stars, cluster member stars) x Moffat PSF
    + extended sources (King clusters, Sersic galaxies) convolved with the PSF
    + the unresolved-star texture: surface-brightness fluctuations of the M31
      light, a Gaussian field of variance (diffuse x fluctuation flux)
      convolved with the PSF
    + noise of variance (signal / GAIN + RDNOISE^2), correlated by a Gaussian
      kernel of sigma ``noise_correlation_px`` as resampling correlates the
      noise of a real stack

then clipped at ``SATURATE``, with a few NaN bad columns per CCD. The gain
is set so that the S/N of a point source at ``depth_mag`` is 10 for optimal
(PSF-weighted) photometry on the dark sky *measured with the correlated
noise*: ``sigma_psf_flux = F_depth / 10`` where ``sigma_psf_flux^2 =
sigma_pix^2 ||p * k||^2 / (sum p^2)^2`` for PSF ``p`` and correlation
kernel ``k``; with ``k`` a delta this is the white-noise ``sigma_sky =
F_depth / (10 sqrt(NEA))``, NEA the noise-equivalent area of the PSF.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.wcs import WCS
from scipy.ndimage import gaussian_filter, map_coordinates
from scipy.signal import fftconvolve

from pandas_clusters.core.geometry import M31, radii_from_offsets_kpc, tangent_plane_deg
from pandas_clusters.core.io import atomic_path

from .population import (
    TRUTH_COLUMNS,
    cluster_members,
    draw_region,
    king_radius_table,
)
from .settings import BANDS, MockSettings

__all__ = [
    "block_centre",
    "ccd_wcs",
    "field_psf",
    "field_truth",
    "moffat_alpha",
    "noise_correlation_gain",
    "noise_equivalent_area",
    "render_ccd",
    "write_field_image",
]

_PSF_RADIUS = 15  # px: stamp half-size of the PSF for ordinary point sources
_POINT_GALAXY_MAG = 24.0  # g: fainter background galaxies are rendered as point sources


def moffat_alpha(fwhm_px: float, beta: float) -> float:
    """Moffat core width alpha (px) for a FWHM (px) and beta."""
    return fwhm_px / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))


@lru_cache(maxsize=64)
def _psf_stamp(fwhm_px: float, beta: float, radius: int = _PSF_RADIUS) -> np.ndarray:
    o = np.arange(-radius, radius + 1)
    r2 = o[None, :] ** 2 + o[:, None] ** 2
    p = (1.0 + r2 / moffat_alpha(fwhm_px, beta) ** 2) ** (-beta)
    return p / p.sum()


def noise_equivalent_area(fwhm_px: float, beta: float) -> float:
    """Noise-equivalent area (px^2) of the sampled Moffat PSF, ``1 / sum(p^2)``."""
    p = _psf_stamp(float(fwhm_px), float(beta))
    return float(1.0 / np.sum(p**2))


@lru_cache(maxsize=64)
def noise_correlation_gain(fwhm_px: float, beta: float, sigma_px: float) -> float:
    """Factor ``c`` by which correlated noise is scaled to keep the PSF-photometry depth.

    Noise ``c * gaussian_filter(white, sigma_px)`` (the filter's kernel ``k``
    sums to 1) has the same variance of optimal PSF-weighted fluxes as white
    noise of the same ``sigma``: ``c^2 = sum(p^2) / ||p * k||^2``. Returns 1
    for ``sigma_px == 0``.
    """
    if sigma_px <= 0:
        return 1.0
    p = _psf_stamp(float(fwhm_px), float(beta))
    pk = gaussian_filter(np.pad(p, 8), sigma_px, mode="constant")
    return float(np.sqrt(np.sum(p**2) / np.sum(pk**2)))


def pixel_noise_factor(fwhm_px: float, beta: float, sigma_px: float) -> float:
    """Per-pixel rms of the correlated noise relative to its white ``sigma``."""
    if sigma_px <= 0:
        return 1.0
    d = np.zeros((33, 33))
    d[16, 16] = 1.0
    k = gaussian_filter(d, sigma_px, mode="constant")
    return float(noise_correlation_gain(fwhm_px, beta, sigma_px) * np.sqrt(np.sum(k**2)))


def field_psf(settings: MockSettings, field_id: int, band: str) -> tuple[float, float]:
    """Seeing FWHM (arcsec) and Moffat beta of one field and band."""
    rng = settings.field_rng(field_id, band, purpose=1)
    fwhm = settings.seeing_arcsec[band] + settings.seeing_scatter_arcsec * rng.uniform(-1, 1)
    return float(round(fwhm, 4)), float(settings.psf_beta)


def _band_offset(settings: MockSettings, field_id: int, band: str) -> tuple[float, float, float]:
    """(dx px, dy px, rotation deg) of this band's stack relative to the g stack."""
    if band == BANDS[0]:
        return 0.0, 0.0, 0.0
    rng = settings.field_rng(field_id, band, purpose=2)
    dx, dy = rng.uniform(-1, 1, 2) * settings.band_shift_px
    rot = rng.uniform(-1, 1) * settings.band_rotation_deg
    return float(dx), float(dy), float(rot)


def ccd_wcs(settings: MockSettings, field_id: int, band: str, ccd: int) -> WCS:
    """TAN WCS of one CCD of a field in a band (CCDs numbered row by row)."""
    f = settings.field(field_id)
    col, row = ccd % settings.ccd_columns, ccd // settings.ccd_columns
    w_tot, h_tot = settings.field_size_px
    x0 = col * (settings.ccd_nx + settings.ccd_gap_px)
    y0 = row * (settings.ccd_ny + settings.ccd_gap_px)
    dx, dy, rot = _band_offset(settings, field_id, band)
    s = settings.pixel_scale_arcsec / 3600.0
    # mock-fields: the block's centre sits block_offset_arcmin (east, north) from the
    # tangent point; x grows westwards (CD1_1 < 0), so east is -x.
    bx = -f.block_offset_arcmin[0] / 60.0 / s
    by = f.block_offset_arcmin[1] / 60.0 / s
    th = np.deg2rad(rot)
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [f.ra_deg, f.dec_deg]
    w.wcs.crpix = [
        (w_tot - 1) / 2.0 - bx - x0 + 1.0 + dx,
        (h_tot - 1) / 2.0 - by - y0 + 1.0 + dy,
    ]
    w.wcs.cd = [[-s * np.cos(th), s * np.sin(th)], [s * np.sin(th), s * np.cos(th)]]
    w.wcs.radesys = "ICRS"
    return w


def block_centre(settings: MockSettings, field_id: int) -> tuple[float, float]:
    """ICRS (ra, dec), deg, of the centre of a field's CCD block (the g stack's WCS)."""
    w = ccd_wcs(settings, field_id, BANDS[0], 0)
    w_tot, h_tot = settings.field_size_px
    ra, dec = w.wcs_pix2world([[(w_tot - 1) / 2.0, (h_tot - 1) / 2.0]], 0)[0]
    return float(ra), float(dec)


def _field_objects(settings: MockSettings, field_id: int) -> pd.DataFrame:
    """Every object that may put light on a field (cells overlapping it, with margin)."""
    xi, eta = tangent_plane_deg(*block_centre(settings, field_id))
    hx, hy = settings.field_half_size_deg
    margin = 0.01 + 0.1 * max(hx, hy)
    return draw_region(
        settings,
        xi_range=(float(xi) - hx - margin, float(xi) + hx + margin),
        eta_range=(float(eta) - hy - margin, float(eta) + hy + margin),
    )


def _add_points(img, x, y, flux, psf_alpha, beta, radius):
    """Add Moffat point sources at (x, y) (0-based px) with total ``flux`` (ADU)."""
    ny, nx = img.shape
    ix = np.rint(x).astype(np.int64)
    iy = np.rint(y).astype(np.int64)
    keep = (ix >= -radius) & (ix < nx + radius) & (iy >= -radius) & (iy < ny + radius)
    ix, iy, fx, fy, flux = ix[keep], iy[keep], (x - ix)[keep], (y - iy)[keep], flux[keep]
    o = np.arange(-radius, radius + 1)
    k = o.size
    flat = img.reshape(-1)
    chunk = max(1, 3_000_000 // (k * k))
    for a in range(0, ix.size, chunk):
        sl = slice(a, a + chunk)
        ddx = o[None, :] - fx[sl, None]
        ddy = o[None, :] - fy[sl, None]
        prof = (1.0 + (ddx[:, None, :] ** 2 + ddy[:, :, None] ** 2) / psf_alpha**2) ** (-beta)
        prof *= (flux[sl] / prof.sum(axis=(1, 2)))[:, None, None]
        xx = ix[sl, None, None] + o[None, None, :]
        yy = iy[sl, None, None] + o[None, :, None]
        inside = (xx >= 0) & (xx < nx) & (yy >= 0) & (yy < ny)
        np.add.at(flat, (yy * nx + xx)[inside], prof[inside])


def _add_stamp(img, stamp, x0, y0):
    """Add ``stamp`` with its [0, 0] pixel at image pixel (x0, y0), clipped."""
    ny, nx = img.shape
    sy, sx = stamp.shape
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + sx, nx), min(y0 + sy, ny)
    if xa >= xb or ya >= yb:
        return
    img[ya:yb, xa:xb] += stamp[ya - y0 : yb - y0, xa - x0 : xb - x0]


def _sersic_bn(n):
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n**2)


def _extended_stamp(obj, x, y, flux, settings, psf, sub=3):
    """PSF-convolved image of a King cluster or Sersic galaxy; returns (stamp, x0, y0)."""
    scale = settings.pixel_scale_arcsec
    if obj.kind in ("young_cluster", "globular_cluster"):
        c_grid, rh_rc, _, _ = king_radius_table()
        k = int(np.clip(np.searchsorted(c_grid, obj.king_c), 0, c_grid.size - 1))
        rc_px = obj.r_h_pc / rh_rc[k] / M31.pc_per_arcsec / scale
        rt_px = rc_px * 10 ** c_grid[k]
        half = int(np.clip(np.ceil(rt_px), 4, 90))
    else:
        re_px = obj.r_e_arcsec / scale
        half = int(np.clip(np.ceil(6 * re_px), 4, 60))
    ix, iy = int(np.rint(x)), int(np.rint(y))
    fx, fy = x - ix, y - iy
    o = (np.arange(-half * sub, (half + 1) * sub) - (sub - 1) / 2.0) / sub
    ddx = o[None, :] - fx
    ddy = o[:, None] - fy
    if obj.kind in ("young_cluster", "globular_cluster"):
        r = np.hypot(ddx, ddy)
        prof = np.where(
            r < rt_px,
            (1 / np.sqrt(1 + (r / rc_px) ** 2) - 1 / np.sqrt(1 + (rt_px / rc_px) ** 2)) ** 2,
            0.0,
        )
    else:
        th = np.deg2rad(obj.pa_deg)
        q = 1.0 - obj.ellipticity
        u_ = ddx * np.cos(th) + ddy * np.sin(th)
        v_ = -ddx * np.sin(th) + ddy * np.cos(th)
        r = np.sqrt(u_**2 + (v_ / q) ** 2)
        n = obj.sersic_n
        prof = np.exp(-_sersic_bn(n) * ((r / re_px) ** (1.0 / n) - 1.0))
    size = 2 * half + 1
    prof = prof.reshape(size, sub, size, sub).mean(axis=(1, 3))
    total = prof.sum()
    if not np.isfinite(total) or total <= 0:
        return None, 0, 0
    prof *= flux / total
    conv = fftconvolve(prof, psf, mode="full")
    pr = psf.shape[0] // 2
    return conv, ix - half - pr, iy - half - pr


def _diffuse(settings, w: WCS, shape, band, step=64):
    """M31 disk + bulge surface brightness in ADU/px on a CCD (coarse grid, interpolated)."""
    ny, nx = shape
    gx = np.linspace(0, nx - 1, max(2, nx // step + 1))
    gy = np.linspace(0, ny - 1, max(2, ny // step + 1))
    xx, yy = np.meshgrid(gx, gy)
    ra, dec = w.all_pix2world(xx, yy, 0)
    xi, eta = tangent_plane_deg(ra.ravel(), dec.ravel())
    r_disk, r_proj = radii_from_offsets_kpc(xi, eta)
    mu_disk = settings.disk_mu0_g + 1.0857 * r_disk / settings.disk_scale_kpc
    bn = _sersic_bn(settings.bulge_n)
    mu_bulge = settings.bulge_mu_e_g + 1.0857 * bn * (
        (r_proj / settings.bulge_r_e_kpc) ** (1.0 / settings.bulge_n) - 1.0
    )
    colour = 0.0 if band == "g" else settings.diffuse_g_minus_i
    area = settings.pixel_scale_arcsec**2
    flux = (
        10 ** (-0.4 * (mu_disk - colour - settings.zero_point))
        + 10 ** (-0.4 * (mu_bulge - colour - settings.zero_point))
    ) * area
    grid = flux.reshape(xx.shape)
    py = np.arange(ny) * (gy.size - 1) / (ny - 1)
    px = np.arange(nx) * (gx.size - 1) / (nx - 1)
    cy, cx = np.meshgrid(py, px, indexing="ij")
    return map_coordinates(grid, [cy, cx], order=1, mode="nearest")


def _texture(settings: MockSettings, diffuse, band, psf, rng):
    """Surface-brightness fluctuations of the unresolved M31 stars (ADU/px), or None.

    Each pixel's unresolved light is ``diffuse`` made of stars of mean
    (luminosity-weighted) flux ``f_bar`` (magnitude
    ``unresolved_fluctuation_mag``, g; i = g - ``diffuse_g_minus_i``), so its
    count fluctuates with variance ``diffuse * f_bar``; the field is blurred by
    the PSF like every source of light.
    """
    m = settings.unresolved_fluctuation_mag
    if not np.isfinite(m):
        return None
    if band != "g":
        m -= settings.diffuse_g_minus_i
    f_bar = 10 ** (-0.4 * (m - settings.zero_point))
    field = rng.standard_normal(diffuse.shape) * np.sqrt(np.maximum(diffuse, 0.0) * f_bar)
    return fftconvolve(field, psf, mode="same")


def _noise_model(settings: MockSettings, band: str, fwhm_px: float, beta: float):
    """(sky ADU/px, gain e-/ADU, read noise ADU) reaching ``depth_mag`` at S/N 10."""
    area = settings.pixel_scale_arcsec**2
    sky = 10 ** (-0.4 * (settings.sky_mag_arcsec2[band] - settings.zero_point)) * area
    f_depth = 10 ** (-0.4 * (settings.depth_mag[band] - settings.zero_point))
    sigma = f_depth / (10.0 * np.sqrt(noise_equivalent_area(fwhm_px, beta)))
    rn = settings.read_noise_fraction * sigma
    gain = sky / (sigma**2 - rn**2)
    return float(sky), float(gain), float(rn)


def _mag_col(band):
    return f"{band}mag"


def _add_point_sources(img, x, y, flux, mag, point, alpha, beta):
    """Add the point sources by brightness class (bigger stamps for bright stars' wings)."""
    for lo, hi, radius in (
        (-99, 14.0, 90),
        (14.0, 18.0, 40),
        (18.0, 24.5, _PSF_RADIUS),
        (24.5, 99, 7),
    ):
        sel = point & (mag >= lo) & (mag < hi)
        if sel.any():
            _add_points(img, x[sel], y[sel], flux[sel], alpha, beta, radius)


def _add_extended(img, obj, x, y, flux, point, settings, band, psf, alpha, beta):
    """Add the extended sources (PSF-convolved stamps), with resolved members of clusters."""
    mcol = _mag_col(band)
    zp = settings.zero_point
    ext_idx = np.flatnonzero(~point)
    mx, my, mf = [], [], []
    for k in ext_idx:
        row = obj.iloc[k]
        smooth = flux[k]
        if row.n_resolved > 0:
            mem = cluster_members(settings, row)
            mflux = 10 ** (-0.4 * (mem[mcol].to_numpy() - zp))
            # members carry 10-40% of the g light, but red members can outshine the
            # cluster's i light: the smooth King component keeps at least 10%
            smooth = max(flux[k] - mflux.sum(), 0.1 * flux[k])
            # member offsets: east = -x direction, north = +y (approximately, small rotation)
            mx.append(x[k] - mem["dx_arcsec"].to_numpy() / settings.pixel_scale_arcsec)
            my.append(y[k] + mem["dy_arcsec"].to_numpy() / settings.pixel_scale_arcsec)
            mf.append(mflux)
        stamp, x0, y0 = _extended_stamp(row, x[k], y[k], smooth, settings, psf)
        if stamp is not None:
            _add_stamp(img, stamp, x0, y0)
    if mx:
        _add_points(
            img,
            np.concatenate(mx),
            np.concatenate(my),
            np.concatenate(mf),
            alpha,
            beta,
            _PSF_RADIUS,
        )


def _add_objects(img, objects, w, settings, band, psf, alpha, beta):
    """Add the light of ``objects`` within 100 px of the CCD to ``img`` (in place)."""
    shape = img.shape
    mcol = _mag_col(band)
    x, y = w.all_world2pix(objects["ra"].to_numpy(), objects["dec"].to_numpy(), 0)
    margin = 100
    near = (x > -margin) & (x < shape[1] + margin) & (y > -margin) & (y < shape[0] + margin)
    obj = objects.loc[near]
    x, y = x[near], y[near]
    flux = 10 ** (-0.4 * (obj[mcol].to_numpy() - settings.zero_point))
    kind = obj["kind"].to_numpy()
    # faint background galaxies (r_e well under the seeing) render as point sources
    faint_galaxy = (kind == "galaxy") & (obj["gmag"].to_numpy() > _POINT_GALAXY_MAG)
    point = (kind == "star") | (kind == "bright_star") | faint_galaxy
    mag = obj[mcol].to_numpy()
    _add_point_sources(img, x, y, flux, mag, point, alpha, beta)
    _add_extended(img, obj, x, y, flux, point, settings, band, psf, alpha, beta)


def _noisy(img, rng, settings: MockSettings, gain, rn, fwhm_px, beta) -> np.ndarray:
    """``img`` plus correlated noise, clipped at saturation, float32, with NaN bad columns."""
    shape = img.shape
    var = np.maximum(img, 0.0) / gain + rn**2
    noise = rng.standard_normal(shape) * np.sqrt(var)
    s_corr = settings.noise_correlation_px
    if s_corr > 0:
        noise = gaussian_filter(noise, s_corr, mode="reflect")
        noise *= noise_correlation_gain(fwhm_px, beta, s_corr)
    img += noise
    np.minimum(img, settings.saturation_adu, out=img)
    img = img.astype(np.float32)
    bad = rng.choice(shape[1], size=min(settings.bad_columns_per_ccd, shape[1]), replace=False)
    img[:, bad] = np.nan
    return img


def _ccd_header(w: WCS, settings: MockSettings, field_id, band, ccd, psf_model, noise_model):
    """FITS header of one rendered CCD: WCS, photometric and noise keywords."""
    fwhm_arcsec, fwhm_px, beta = psf_model
    sky, gain, rn = noise_model
    s_corr = settings.noise_correlation_px
    hdr = w.to_header()
    hdr["EXTNAME"] = f"ccd{ccd:02d}"
    hdr["CCDNUM"] = (ccd, "CCD number in the mosaic")
    hdr["FIELD"] = (int(field_id), "PAndAS field ID")
    hdr["BAND"] = (band, "band")
    hdr["FILTER"] = (settings.filter_name(band), "MegaCam filter")
    hdr["BUNIT"] = "adu"
    hdr["MAGZPT"] = (settings.zero_point, "AB zero point: mag = MAGZPT - 2.5 log10(ADU)")
    hdr["GAIN"] = (round(gain, 4), "effective gain of the stack, e-/ADU")
    hdr["RDNOISE"] = (round(rn, 5), "read noise of the stack, ADU")
    hdr["SATURATE"] = (settings.saturation_adu, "saturation level, ADU")
    hdr["SKYLEVEL"] = (round(sky, 4), "sky level (not subtracted), ADU/px")
    hdr["SEEING"] = (fwhm_arcsec, "PSF FWHM, arcsec")
    hdr["PSFBETA"] = (beta, "Moffat beta of the PSF")
    hdr["DEPTH"] = (settings.depth_mag[band], "target S/N=10 point-source depth, AB mag")
    hdr["NOISECOR"] = (s_corr, "noise correlation kernel sigma, px")
    hdr["PIXNOISE"] = (
        round(pixel_noise_factor(fwhm_px, beta, s_corr) * float(np.sqrt(sky / gain + rn**2)), 5),
        "dark-sky noise rms per pixel, ADU",
    )
    return hdr


def render_ccd(
    settings: MockSettings,
    field_id: int,
    band: str,
    ccd: int,
    *,
    objects: pd.DataFrame | None = None,
) -> tuple[np.ndarray, fits.Header]:
    """Render one CCD: returns the float32 image (ADU) and its header."""
    if band not in BANDS:
        msg = f"unknown band {band!r}; the mock renders {BANDS}"
        raise ValueError(msg)
    if objects is None:
        objects = _field_objects(settings, field_id)
    w = ccd_wcs(settings, field_id, band, ccd)
    shape = (settings.ccd_ny, settings.ccd_nx)
    fwhm_arcsec, beta = field_psf(settings, field_id, band)
    fwhm_px = fwhm_arcsec / settings.pixel_scale_arcsec
    alpha = moffat_alpha(fwhm_px, beta)
    psf = _psf_stamp(fwhm_px, beta)
    sky, gain, rn = _noise_model(settings, band, fwhm_px, beta)

    img = _diffuse(settings, w, shape, band)
    texture = _texture(settings, img, band, psf, settings.field_rng(field_id, band, 200 + ccd))
    img += sky
    if len(objects):
        _add_objects(img, objects, w, settings, band, psf, alpha, beta)
    if texture is not None:
        img += texture
    rng = settings.field_rng(field_id, band, purpose=100 + ccd)
    img = _noisy(img, rng, settings, gain, rn, fwhm_px, beta)
    hdr = _ccd_header(
        w, settings, field_id, band, ccd, (fwhm_arcsec, fwhm_px, beta), (sky, gain, rn)
    )
    return img, hdr


def write_field_image(settings: MockSettings, field_id: int, band: str, path) -> None:
    """Write the multi-extension FITS of one mock field and band (atomically)."""
    objects = _field_objects(settings, field_id)
    primary = fits.PrimaryHDU()
    ph = primary.header
    ph["SURVEY"] = ("mock PAndAS", "simulated by pandas_clusters.acquire.mock")
    ph["FIELD"] = (int(field_id), "PAndAS field ID")
    ph["BAND"] = band
    ph["FILTER"] = settings.filter_name(band)
    ph["TELESCOP"] = "CFHT 3.6m"
    ph["INSTRUME"] = "MegaPrime"
    ph["MOCKSEED"] = (settings.seed, "seed of the mock survey")
    n_ccd = settings.ccd_columns * settings.ccd_rows
    ph["NEXTEND"] = n_ccd
    hdus = [primary]
    for ccd in range(n_ccd):
        img, hdr = render_ccd(settings, field_id, band, ccd, objects=objects)
        hdus.append(fits.ImageHDU(data=img, header=hdr))
    with atomic_path(path, suffix=".fits") as tmp:
        fits.HDUList(hdus).writeto(tmp, overwrite=True)


def field_truth(settings: MockSettings, field_id: int, *, footprint=None) -> pd.DataFrame:
    """Truth table of every object whose centre falls on a CCD of the field (either band).

    Parameters
    ----------
    footprint : dict, optional
        PHAT-like footprint for the ``in_phat`` column (default: the mock one).
    """
    objects = _field_objects(settings, field_id)
    on = np.zeros(len(objects), dtype=bool)
    if len(objects):
        for band in BANDS:
            for ccd in range(settings.ccd_columns * settings.ccd_rows):
                w = ccd_wcs(settings, field_id, band, ccd)
                x, y = w.all_world2pix(objects["ra"].to_numpy(), objects["dec"].to_numpy(), 0)
                on |= (
                    (x >= -0.5)
                    & (x < settings.ccd_nx - 0.5)
                    & (y >= -0.5)
                    & (y < settings.ccd_ny - 0.5)
                )
    truth = objects.loc[on, list(TRUTH_COLUMNS)].reset_index(drop=True)
    truth["in_phat"] = _in_phat(truth, footprint)
    return truth


def _in_phat(df: pd.DataFrame, footprint) -> np.ndarray:
    from pandas_clusters.core.footprint import in_footprint, mock_phat_footprint

    fp = mock_phat_footprint() if footprint is None else footprint
    if len(df) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(in_footprint(df["ra"].to_numpy(), df["dec"].to_numpy(), fp), dtype=bool)


#: Half-size (px) of the largest King-cluster stamp (``_extended_stamp`` clips there).
KING_MAX_STAMP_PX = 90
#: Largest fraction of a cluster's King light that may fall outside that stamp.
KING_MAX_LIGHT_LOSS = 0.01


def king_light_outside_stamp(r_h_pc: float, king_c: float, pixel_scale_arcsec: float) -> float:
    """Fraction of a King cluster's light beyond ``KING_MAX_STAMP_PX`` (0 when it fits)."""
    c_grid, rh_rc, x_grid, cdfs = king_radius_table()
    k = int(np.clip(np.searchsorted(c_grid, king_c), 0, c_grid.size - 1))
    rt_px = r_h_pc / rh_rc[k] / M31.pc_per_arcsec / pixel_scale_arcsec * 10 ** c_grid[k]
    return float(1.0 - np.interp(min(KING_MAX_STAMP_PX / rt_px, 1.0), x_grid, cdfs[k]))


def add_king_cluster(
    img: np.ndarray,
    x: float,
    y: float,
    *,
    flux: float,
    r_h_pc: float,
    king_c: float,
    fwhm_px: float,
    beta: float,
    pixel_scale_arcsec: float,
    members: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> None:
    """Add one cluster of the mock's model (King light + resolved members) to ``img``, noiseless.

    Parameters
    ----------
    img : numpy.ndarray
        float64 C-contiguous image (ADU), changed in place.
    x, y : float
        Centre, 0-based pixels of ``img``.
    flux : float
        Total flux of the cluster, ADU; the members' light is part of it (the smooth
        King component keeps at least 10%, as in :func:`render_ccd`).
    r_h_pc, king_c : float
        Half-light radius (pc at M31's distance) and concentration ``log10(r_t/r_c)``.
    fwhm_px, beta : float
        Moffat PSF of the image.
    pixel_scale_arcsec : float
        Pixel scale of the image.
    members : (x, y, flux) arrays, optional
        Resolved member stars (pixels of ``img``, ADU).

    Raises
    ------
    ValueError
        If the concentration is outside the tabulated King grid, ``r_h_pc <= 0``, or
        more than :data:`KING_MAX_LIGHT_LOSS` of the light falls outside the stamp.
    """
    from types import SimpleNamespace

    c_grid = king_radius_table()[0]
    ok = r_h_pc > 0 and c_grid[0] <= king_c <= c_grid[-1]
    if not ok or king_light_outside_stamp(r_h_pc, king_c, pixel_scale_arcsec) > KING_MAX_LIGHT_LOSS:
        msg = (
            f"King cluster r_h = {r_h_pc} pc, c = {king_c} at {pixel_scale_arcsec} arcsec/px: "
            f"the renderer supports r_h > 0, c in [{c_grid[0]}, {c_grid[-1]}] and at most "
            f"{KING_MAX_LIGHT_LOSS:.0%} of the light beyond {KING_MAX_STAMP_PX} px"
        )
        raise ValueError(msg)
    psf = _psf_stamp(float(fwhm_px), float(beta))
    member_flux = 0.0 if members is None else float(np.sum(members[2]))
    smooth = max(flux - member_flux, 0.1 * flux)
    obj = SimpleNamespace(kind="young_cluster", king_c=king_c, r_h_pc=r_h_pc)
    scale = SimpleNamespace(pixel_scale_arcsec=pixel_scale_arcsec)
    stamp, x0, y0 = _extended_stamp(obj, x, y, smooth, scale, psf)
    if stamp is not None:
        _add_stamp(img, stamp, x0, y0)
    if members is not None and len(members[0]):
        mx, my, mf = (np.asarray(a, dtype=np.float64) for a in members)
        _add_points(img, mx, my, mf, moffat_alpha(fwhm_px, beta), beta, _PSF_RADIUS)
