"""Rendering of mock PAndAS fields: multi-extension FITS per field and band.

Each field is a mosaic of CCDs sharing one tangent projection centred on the
field's pointing centre (like a CASU stack); the mosaic is a block that may
sit ``block_offset_arcmin`` off that centre, inside the real 36-CCD MegaCam
mosaic (:func:`block_centre`). The i-band stack differs from the g-band one by a
sub-pixel shift and a small rotation. Pixels are ADU of the stack with the
AB zero point ``MAGZPT``; the model is

    sky + M31 diffuse light (disk + bulge + spheroid and satellites)
    + point sources (stars, cluster member stars) x Moffat PSF
    + extended sources (King clusters, Sersic galaxies) convolved with the PSF
    + the unresolved-star texture: surface-brightness fluctuations of the M31
      light, discrete stars (a compound Poisson sum) per pixel: the disk's old
      metal-rich stars and the old metal-poor population's (spheroid,
      satellites), each from an isochrone's luminosity function per unit light
      (:mod:`.old_population`), and the bulge's giants (variance diffuse x
      fluctuation flux), convolved with the PSF (old clusters' stars are drawn
      as stars too)
    + noise of variance (signal / GAIN + RDNOISE^2)

resampled as a stack is (the field's exposures, each interpolated bilinearly
onto the stack's grid at its own sub-pixel offset, averaged: the noise is
correlated and the light slightly blurred, :func:`light_kernel`), its
large-scale background flattened as the stacks' pipeline does (the light's
gradients removed, its level and noise kept: :func:`flatten_background`),
then clipped at ``SATURATE``, with a few NaN bad columns per CCD. The gain
is set so that the S/N of a point source at the field's depth
(:meth:`MockSettings.field_depth`: ``depth_mag`` moved by the field's exposure
time) is 10 for optimal
(PSF-weighted) photometry on the dark sky *measured with the correlated
noise*: the white-noise ``sigma_sky = F_depth / (10 sqrt(NEA))`` (NEA the
noise-equivalent area of the PSF), and the resampled noise scaled so that
PSF-weighted fluxes scatter as much as they would on that white noise
(:func:`stack_noise_gain`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.wcs import WCS
from scipy.ndimage import convolve, correlate1d
from scipy.signal import fftconvolve

from pandas_clusters.core.background import background
from pandas_clusters.core.geometry import M31, radii_from_offsets_kpc, tangent_plane_deg
from pandas_clusters.core.io import atomic_path

from . import dust
from .galaxy_sizes import sersic_bn
from .old_population import (
    DISK_INNER_MH,
    cluster_star_bins,
    disk_grid_weights,
    disk_metallicity,
    spheroid_mu_g,
    star_bins,
)
from .old_population import MG_EDGES as OLD_MG_EDGES
from .population import (
    HII_KNOT_FRACTION,
    RED_GIANT_LF_SLOPE,
    RED_GIANT_TIP_G,
    TRUTH_COLUMNS,
    asterism_members,
    cluster_members,
    cluster_metallicity,
    draw_region,
    hii_knots,
    king_radius_table,
    saturated_star_reach_arcsec,
)
from .settings import BANDS, MockSettings

__all__ = [
    "block_centre",
    "ccd_wcs",
    "field_psf",
    "flatten_background",
    "field_truth",
    "moffat_alpha",
    "light_kernel",
    "noise_equivalent_area",
    "pixel_noise_factor",
    "render_ccd",
    "stack_noise_gain",
    "stack_offsets",
    "write_field_image",
]

_PSF_RADIUS = 15  # px: stamp half-size of the PSF for ordinary point sources
_OBJECT_MARGIN_PX = 100  # px: objects this far outside a CCD still add their light to it


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


def stack_offsets(settings: MockSettings, field_id: int, band: str) -> np.ndarray:
    """Sub-pixel offsets ``(dx, dy)`` in [0, 1) of the stack's exposures, one row each.

    Each exposure of a real stack samples the sky on its own grid, shifted by a
    fraction of a pixel from the stack's; the same dither holds for every CCD of
    the field. One row per exposure of the field's stack
    (:meth:`MockSettings.field_exposures`), none without ``stack_resampling``;
    drawn per field and band.
    """
    n = settings.field_exposures(field_id, band)[0] if settings.stack_resampling else 0
    rng = settings.field_rng(field_id, band, purpose=3)
    return rng.random((n, 2))


def _noise_taps(d: float) -> np.ndarray:
    """Bilinear weights on an exposure's pixels ``x - 1`` and ``x`` for output pixel ``x``."""
    return np.array([d, 1.0 - d])


def light_kernel(offsets) -> np.ndarray:
    """3 x 3 kernel by which the stack's resampling blurs the light (mean over exposures).

    Bilinear interpolation at offset ``d`` weighs the two nearest samples, which
    lie ``d - 1`` and ``d`` px from the output pixel, by ``d`` and ``1 - d``: a
    kernel of zero mean and variance ``d (1 - d)``; on a well-sampled image it
    acts as ``[v/2, 1 - v, v/2]`` with ``v = d (1 - d)`` (the same mean and
    variance) along each axis.
    """
    k = np.zeros((3, 3))
    for dx, dy in np.asarray(offsets, dtype=float).reshape(-1, 2):
        vx, vy = dx * (1.0 - dx), dy * (1.0 - dy)
        k += np.outer([vy / 2, 1.0 - vy, vy / 2], [vx / 2, 1.0 - vx, vx / 2])
    if not k.any():
        k[1, 1] = 1.0
        return k
    return k / k.sum()


def _noise_kernels(offsets) -> list[np.ndarray]:
    return [np.outer(_noise_taps(dy), _noise_taps(dx)) for dx, dy in np.asarray(offsets)]


@lru_cache(maxsize=256)
def _stack_noise_gain(fwhm_px: float, beta: float, offsets: tuple) -> float:
    p = _psf_stamp(float(fwhm_px), float(beta))
    if not offsets:
        return 1.0
    stacked = fftconvolve(np.pad(p, 2), light_kernel(offsets), mode="same")
    var = np.mean([np.sum(fftconvolve(stacked, k) ** 2) for k in _noise_kernels(offsets)])
    return float(np.sqrt(np.sum(stacked**2) ** 2 / (np.sum(p**2) * var)))


def stack_noise_gain(fwhm_px: float, beta: float, offsets) -> float:
    """Factor ``c`` on the resampled noise that keeps the PSF-photometry depth.

    The stack's noise is ``c / sqrt(N) sum_k k_k * n_k`` for the exposures' white
    noise ``n_k`` of rms ``sigma`` and bilinear kernels ``k_k``; its light has the
    PSF ``p' = p * K`` (``K``: :func:`light_kernel`). Optimal PSF-weighted
    photometry then measures fluxes with the variance of white noise ``sigma`` and
    PSF ``p`` (the depth of :func:`_noise_model`) when ``c^2 = (sum p'^2)^2 /
    (sum p^2 mean_k ||p' * k_k||^2)``. Returns 1 without exposures to resample.
    """
    key = tuple(tuple(round(float(v), 12) for v in row) for row in np.asarray(offsets))
    return _stack_noise_gain(float(fwhm_px), float(beta), key)


def pixel_noise_factor(fwhm_px: float, beta: float, offsets) -> float:
    """Per-pixel rms of the stack's noise relative to the white ``sigma`` of the depth."""
    ks = _noise_kernels(offsets)
    if not ks:
        return 1.0
    per_pixel = np.sqrt(np.mean([np.sum(k**2) for k in ks]))
    return float(stack_noise_gain(fwhm_px, beta, offsets) * per_pixel)


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


#: Largest half-width (px) of a Sersic stamp: 6 r_e up to 30" (a bright galaxy's profile
#: is cut there and its light renormalised inside; 60 px before the galaxies' sizes came
#: from Shen et al. 2003).
SERSIC_STAMP_HALF_MAX_PX = 160


def _extended_stamp(obj, x, y, flux, settings, psf, sub=3):
    """PSF-convolved image of a King cluster or Sersic galaxy; returns (stamp, x0, y0)."""
    prof, x0, y0 = _extended_profile(obj, x, y, flux, settings, sub)
    if prof is None:
        return None, 0, 0
    pr = psf.shape[0] // 2
    return fftconvolve(prof, psf, mode="full"), x0 - pr, y0 - pr


def _extended_profile(obj, x, y, flux, settings, sub=3):
    """Image of a King cluster or Sersic galaxy before the PSF; returns (stamp, x0, y0).

    A King profile is sub-sampled ``sub`` x ``sub`` over its stamp; a galaxy's is
    :func:`galaxy_profiles`' (sub-sampled where it is steep, at its centre).
    """
    ix, iy = int(np.rint(x)), int(np.rint(y))
    if obj.kind not in ("young_cluster", "globular_cluster"):
        half = int(_galaxy_halves(obj.r_e_arcsec, settings))
        prof, ok = galaxy_profiles(
            *(np.array([v], dtype=float) for v in (x - ix, y - iy)),
            pd.DataFrame([{k: getattr(obj, k) for k in _SERSIC_COLUMNS}]),
            half,
            settings,
            sub=sub,
        )
        if not ok[0]:
            return None, 0, 0
        return prof[0] * flux, ix - half, iy - half
    scale = settings.pixel_scale_arcsec
    c_grid, rh_rc, _, _ = king_radius_table()
    k = int(np.clip(np.searchsorted(c_grid, obj.king_c), 0, c_grid.size - 1))
    rc_px = obj.r_h_pc / rh_rc[k] / M31.pc_per_arcsec / scale
    rt_px = rc_px * 10 ** c_grid[k]
    half = int(np.clip(np.ceil(rt_px), 4, KING_MAX_STAMP_PX))
    o = (np.arange(-half * sub, (half + 1) * sub) - (sub - 1) / 2.0) / sub
    r = np.hypot(o[None, :] - (x - ix), o[:, None] - (y - iy))
    prof = np.where(
        r < rt_px,
        (1 / np.sqrt(1 + (r / rc_px) ** 2) - 1 / np.sqrt(1 + (rt_px / rc_px) ** 2)) ** 2,
        0.0,
    )
    size = 2 * half + 1
    prof = prof.reshape(size, sub, size, sub).mean(axis=(1, 3))
    total = prof.sum()
    if not np.isfinite(total) or total <= 0:
        return None, 0, 0
    prof *= flux / total
    return prof, ix - half, iy - half


def _sersic(ddx, ddy, pa_deg, ellipticity, n, re_px):
    """Sersic surface brightness (1 at r_e) at offsets ``ddx``, ``ddy`` (px) from the centre.

    The parameters broadcast against the offsets (arrays of shape (N, 1, 1) for N
    galaxies, :func:`galaxy_profiles`).
    """
    th = np.deg2rad(pa_deg)
    q = 1.0 - ellipticity
    u_ = ddx * np.cos(th) + ddy * np.sin(th)
    v_ = -ddx * np.sin(th) + ddy * np.cos(th)
    r = np.sqrt(u_**2 + (v_ / q) ** 2)
    return np.exp(-sersic_bn(n) * ((r / re_px) ** (1.0 / n) - 1.0))


#: Half-width (px) of the block around a galaxy's centre whose pixels
#: :func:`galaxy_profiles` sub-sample: the profile's steep part at the mock's sizes (r_e
#: 0.2-0.5", 1-3 px, for most galaxies); beyond it, pixel centres.
SUBSAMPLED_HALF_PX = 2
_SERSIC_COLUMNS = ("pa_deg", "ellipticity", "sersic_n", "r_e_arcsec")


def _galaxy_halves(re_arcsec, settings) -> np.ndarray:
    """Stamp half-widths (px) of Sersic galaxies: 6 r_e, within [4, SERSIC_STAMP_HALF_MAX_PX]."""
    re_px = np.asarray(re_arcsec, dtype=float) / settings.pixel_scale_arcsec
    return np.clip(np.ceil(6 * re_px), 4, SERSIC_STAMP_HALF_MAX_PX).astype(int)


def galaxy_profiles(fx, fy, gal: pd.DataFrame, half: int, settings, *, sub=3):
    """Sersic images of N galaxies on stamps of ``2 half + 1`` px, each summing to one.

    ``fx``, ``fy``: each centre's offset from its stamp's central pixel (px);
    ``gal``: their ``pa_deg``, ``ellipticity``, ``sersic_n`` and ``r_e_arcsec``. The
    central ``2 SUBSAMPLED_HALF_PX + 1`` px square is the mean of ``sub`` x ``sub``
    samples per pixel, the rest the profile at the pixel centres. Returns the
    (N, 2 half + 1, 2 half + 1) images and whether each could be normalised.
    """
    c = SUBSAMPLED_HALF_PX
    if half < c:
        msg = f"galaxy stamp half-width {half} px is under the sub-sampled block's {c}"
        raise ValueError(msg)
    fx, fy = np.asarray(fx, dtype=float)[:, None, None], np.asarray(fy, dtype=float)[:, None, None]
    col = {k: gal[k].to_numpy(dtype=float)[:, None, None] for k in _SERSIC_COLUMNS}
    shape = (col["pa_deg"], col["ellipticity"], col["sersic_n"])
    re_px = col["r_e_arcsec"] / settings.pixel_scale_arcsec
    grid = np.arange(-half, half + 1, dtype=float)
    prof = _sersic(grid[None, None, :] - fx, grid[None, :, None] - fy, *shape, re_px)
    o = (np.arange(-c * sub, (c + 1) * sub) - (sub - 1) / 2.0) / sub
    centre = _sersic(o[None, None, :] - fx, o[None, :, None] - fy, *shape, re_px)
    block = 2 * c + 1
    prof[:, half - c : half + c + 1, half - c : half + c + 1] = centre.reshape(
        -1, block, sub, block, sub
    ).mean(axis=(2, 4))
    total = prof.sum(axis=(1, 2))
    ok = np.isfinite(total) & (total > 0)
    return prof / np.where(ok, total, 1.0)[:, None, None], ok


#: Profile points per batch of :func:`_galaxy_stamps` (bounds its memory: 16 MB per
#: float64 array).
_BATCH_SAMPLES = 2_000_000


def _galaxy_stamps(layer, gal: pd.DataFrame, x, y, flux, settings, half: int, offset: int):
    """Add the galaxies' profiles (:func:`galaxy_profiles`, stamps of one ``half``) to
    ``layer`` (in place), many at once.

    Each stamp's [0, 0] pixel lands at its galaxy's pixel minus ``half`` plus ``offset``
    (the layer's padding), inside the layer.
    """
    size = 2 * half + 1
    span = np.arange(size)
    flat = layer.reshape(-1)
    x, y, flux = (np.asarray(v, dtype=float) for v in (x, y, flux))
    step = max(1, _BATCH_SAMPLES // size**2)
    for start in range(0, len(gal), step):
        part = slice(start, start + step)
        ix, iy = np.rint(x[part]).astype(int), np.rint(y[part]).astype(int)
        prof, ok = galaxy_profiles(x[part] - ix, y[part] - iy, gal.iloc[part], half, settings)
        prof = prof[ok] * flux[part][ok][:, None, None]
        rows = (iy[ok] - half + offset)[:, None, None] + span[None, :, None]
        cols = (ix[ok] - half + offset)[:, None, None] + span[None, None, :]
        flat += np.bincount(
            (rows * layer.shape[1] + cols).ravel(), weights=prof.ravel(), minlength=flat.size
        )


def _diffuse(settings, w: WCS, shape, band, step=64, *, parts=False):
    """M31 disk + bulge + spheroid surface brightness in ADU/px on a CCD (coarse grid, interpolated).

    M31's dust (:mod:`~pandas_clusters.acquire.mock.dust`, unless ``m31_dust`` is off)
    dims the disk's light: the sum is what the survey sees. With ``parts``, returns the
    (disk, bulge, spheroid, transmission) maps instead: the disk's intrinsic light and
    the dust layer's transmission in ``band`` (ones without dust), which dims the share
    of the disk's stars behind the layer (:func:`~pandas_clusters.acquire.mock.dust.seen_fraction`),
    and the disk's [M/H] (:func:`~pandas_clusters.acquire.mock.old_population.disk_metallicity`)
    as a fifth map.
    The spheroid is the old population's light off the disk plane
    (:func:`~pandas_clusters.acquire.mock.old_population.spheroid_mu_g`). Its law
    (Pritchet & van den Bergh 1994) is the whole spheroid, bulge included (one de
    Vaucouleurs law from 0.2 to 20 kpc), so the spheroid map holds its light beyond
    the bulge's, never below zero: the bulge and spheroid together are the brighter
    of the two laws (docs/mock-realism.md, seventh round), plus the satellites.
    """
    ny, nx = shape
    gx = np.linspace(0, nx - 1, max(2, nx // step + 1))
    gy = np.linspace(0, ny - 1, max(2, ny // step + 1))
    xx, yy = np.meshgrid(gx, gy)
    ra, dec = w.all_pix2world(xx, yy, 0)
    xi, eta = tangent_plane_deg(ra.ravel(), dec.ravel())
    r_disk, r_proj = radii_from_offsets_kpc(xi, eta)
    mu_disk = settings.disk_mu0_g + 1.0857 * r_disk / settings.disk_scale_kpc
    bn = sersic_bn(settings.bulge_n)
    mu_bulge = settings.bulge_mu_e_g + 1.0857 * bn * (
        (r_proj / settings.bulge_r_e_kpc) ** (1.0 / settings.bulge_n) - 1.0
    )
    colour = 0.0 if band == "g" else settings.diffuse_g_minus_i
    area = settings.pixel_scale_arcsec**2
    disk, bulge, spheroid, with_satellites = (
        10 ** (-0.4 * (mu - colour - settings.zero_point)) * area
        for mu in (
            mu_disk,
            mu_bulge,
            spheroid_mu_g(xi, eta, satellites=False),
            spheroid_mu_g(xi, eta),
        )
    )
    satellites = with_satellites - spheroid
    if settings.m31_dust:
        transmission = 10 ** (-0.4 * dust.screen_extinction(r_disk, settings.disk_scale_kpc, band))
    else:
        transmission = np.ones_like(r_disk)
    maps = [
        disk,
        bulge,
        np.maximum(spheroid - bulge, 0.0) + satellites,
        transmission,
        disk_metallicity(r_disk),
    ]
    if not parts:
        maps = [maps[0] * dust.seen_fraction(transmission) + maps[1] + maps[2]]
    wy = _linear_weights(ny, gy.size)
    wx = _linear_weights(nx, gx.size)
    out = [wy @ f.reshape(xx.shape) @ wx.T for f in maps]
    return tuple(out) if parts else out[0]


def _linear_weights(n: int, m: int) -> np.ndarray:
    """(n, m) weights that interpolate m grid nodes spanning 0..n-1 linearly onto n pixels.

    ``W_y @ F @ W_x.T`` is the bilinear interpolation of the node values ``F``
    (as ``scipy.ndimage.map_coordinates`` with ``order=1``), at a fraction of its cost.
    """
    pos = np.arange(n) * (m - 1) / max(n - 1, 1)
    lo = np.minimum(np.floor(pos).astype(int), m - 2) if m > 1 else np.zeros(n, dtype=int)
    frac = pos - lo
    w = np.zeros((n, m))
    rows = np.arange(n)
    w[rows, lo] = 1.0 - frac
    if m > 1:
        w[rows, lo + 1] += frac
    return w


# --------------------------------------------------------------------------- texture
# (issue 12, part 1, mock-pixels2): the unresolved stars' fluctuations drawn as discrete
# giants, so that the bulge's background is skewed like the real one, not Gaussian.

#: How much fainter the bulge's brightest red giants are than the disk's: Jablonka et al.
#: (1999, ApJ 518, 627; HST WFPC2) find the first-ascent red giant branch tip at a mean
#: projected 1.1 kpc 1.3 mag fainter in I than at 7 kpc, the bulge near solar
#: metallicity, and the brighter stars that ground-based images had shown there blends.
#: A metal-rich tip descends further in bluer bands, so in g this is a lower bound.
BULGE_TIP_FAINTER_MAG = 1.3
#: g of the brightest unresolved giant of the bulge: the tip of the mock's own red-giant
#: luminosity function on the disk (population.py ``RED_GIANT_TIP_G``) made
#: ``BULGE_TIP_FAINTER_MAG`` fainter. The mock's resolved stars follow the disk; the
#: bulge's giants exist only in this texture (docs/mock-realism.md, items 36-37).
GIANT_TIP_G = RED_GIANT_TIP_G + BULGE_TIP_FAINTER_MAG
#: Slope (dex/mag) of the giants' luminosity function, dN/dm ~ 10^(slope m): the slope of
#: the mock's resolved red giants (population.py ``RED_GIANT_LF_SLOPE``), a choice of the
#: mock, for the disk and the metal-rich bulge (the metal-poor spheroid and globular
#: clusters take theirs from an isochrone, :mod:`~pandas_clusters.acquire.mock.old_population`).
GIANT_LF_SLOPE = RED_GIANT_LF_SLOPE
#: Width (mag) and number of the magnitude bins in which the giants are drawn per pixel;
#: fainter giants' share of the fluctuation variance (about 1% for the slope above) stays
#: a Gaussian field.
GIANT_LF_SPAN_MAG = 6.0
GIANT_LF_BINS = 12
#: Expected giants per pixel above which a pixel's giants are drawn as a Gaussian sum.
_POISSON_GAUSS_LAMBDA = 30.0
#: Share of a pixel's light (sky + M31) below which the bulge gets no discrete giants
#: (the bulge's share of the fluctuations is negligible there; saves time on disk fields).
BULGE_GIANTS_MIN = 1e-3


def giant_bins(m_tip: float, m_bar: float):
    """Magnitude bins of the discrete giants: (flux per star, share of the diffuse light).

    The giants follow ``dN/dm ~ 10^(GIANT_LF_SLOPE m)`` from ``m_tip`` down (fluxes in
    units of the zero-point flux, ``10^(-0.4 m)``). Their share of the diffuse light is
    set so that the whole population's fluctuation flux ``sum(n f^2) / sum(n f)`` is
    ``10^(-0.4 m_bar)`` (the surface-brightness-fluctuation magnitude): returns
    ``(f, w, rest)`` with ``rest`` the fluctuation flux (variance per unit diffuse
    flux) left to a Gaussian field (0 when the giants carry all of it).
    """
    a = GIANT_LF_SLOPE
    edges = m_tip + np.linspace(0.0, GIANT_LF_SPAN_MAG, GIANT_LF_BINS + 1)
    mids = 0.5 * (edges[1:] + edges[:-1])
    f = 10 ** (-0.4 * mids)
    # light of each bin for an LF of unit normalisation, and of the whole LF (to m = inf)
    light = np.array(
        [_lf_moment(a, lo, hi, 1) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    )
    total_light = _lf_moment(a, m_tip, np.inf, 1)
    total_var = _lf_moment(a, m_tip, np.inf, 2)
    f_bar_lf = total_var / total_light
    share = min(1.0, 10 ** (-0.4 * m_bar) / f_bar_lf)
    w = share * light / total_light
    rest = max(10 ** (-0.4 * m_bar) - float(np.sum(w * f)), 0.0)
    return f, w, rest


def _lf_moment(a: float, lo: float, hi: float, k: int) -> float:
    """``integral 10^(a m) (10^(-0.4 m))^k dm`` from ``lo`` to ``hi`` (requires a < 0.4 k)."""
    b = a - 0.4 * k
    top = 0.0 if not np.isfinite(hi) else 10 ** (b * hi)
    return float((top - 10 ** (b * lo)) / (b * np.log(10.0)))


def _texture(
    settings: MockSettings,
    disk,
    bulge,
    spheroid,
    band,
    psf,
    rng,
    *,
    transmission=None,
    metallicity=None,
):
    """Surface-brightness fluctuations of the unresolved M31 stars (ADU/px), or None.

    Each pixel's unresolved light fluctuates with variance ``light * f_bar``,
    ``f_bar`` the flux of the fluctuation magnitude ``unresolved_fluctuation_mag``
    (g; i = g - ``diffuse_g_minus_i``). The disk's light (``disk``) is made of its
    old metal-rich stars, drawn per pixel like the spheroid's below from the disk's
    measured luminosity functions (:func:`~pandas_clusters.acquire.mock.old_population.star_bins`
    with ``disk_grid``, one per metallicity; brightest g = 23.9 at M31): its red clump
    and giants, which the stacks half resolve in the outer disk (docs/mock-realism.md,
    item 45). The
    resolved stars the mock draws one by one on the disk (population.py, calibrated on
    the LGGS's V < 23 counts) hold under 1% of its light, so their light is not taken
    out of it. The bulge's
    (``bulge``), which has no resolved stars in the mock, as discrete giants
    (:func:`giant_bins`) drawn per pixel as a compound Poisson sum minus its mean
    (:func:`_giant_counts`), so that the field is skewed where bright giants are few
    per PSF, as in the real bulge. The spheroid's light (``spheroid``) is made of
    the old metal-poor population's stars, drawn the same way from its measured
    luminosity function down to M_g = 4
    (:func:`~pandas_clusters.acquire.mock.old_population.star_bins`): its red giants
    and horizontal branch, which the stacks resolve off the disk. The field is
    blurred by the PSF like every source of light.

    The stars are the same in every band: the maps are the g band's (on the g stack's
    pixel grid, for every band) and the field, drawn in g units, is scaled by the
    diffuse light's flux ratio of ``band`` to g, so that one ``rng`` state gives each
    band's texture from the same stars, every random number drawn alike (the caller
    passes the g band's generator and maps for both; the stacks' WCS differ by under
    a pixel). Maps of the band's own grid would differ slightly, and where a Poisson
    draw consumes a variable count of random numbers one differing pixel would
    desynchronise every later star (docs/mock-realism.md, item 36).

    ``transmission`` (the band's map of M31's dust layer, :func:`_diffuse`): the disk's
    stars behind the layer (:data:`~pandas_clusters.acquire.mock.dust.REDDENED_FRACTION`
    of its intrinsic light ``disk``) are drawn apart from those in front and dimmed by
    it. The draws do not depend on the band, only the dimming does.

    ``metallicity`` (the disk's [M/H], a map or a number; ``None``: its inner value
    :data:`~pandas_clusters.acquire.mock.old_population.DISK_INNER_MH`): each pixel's
    disk light is shared between the luminosity functions of the two isochrones of
    :data:`~pandas_clusters.acquire.mock.old_population.DISK_METALLICITY_GRID` around it
    (:func:`~pandas_clusters.acquire.mock.old_population.disk_grid_weights`), each
    share's stars drawn from its own function (docs/mock-realism.md, item 49).
    """
    m = settings.unresolved_fluctuation_mag
    if not np.isfinite(m):
        return None
    colour = 0.0 if band == "g" else settings.diffuse_g_minus_i
    scale = 10 ** (0.4 * colour)  # this band's flux per g flux of the diffuse light
    zp = settings.zero_point
    f, w, rest = giant_bins(GIANT_TIP_G - zp, m - zp)
    f_old, w_old, rest_old = star_bins(M31.distance_modulus - zp)
    d = np.maximum(disk, 0.0)
    mh = DISK_INNER_MH if metallicity is None else metallicity
    shares = disk_grid_weights(np.broadcast_to(mh, d.shape))
    grids = [
        (shares[k], star_bins(M31.distance_modulus - zp, disk_grid=k))
        for k in range(shares.shape[0])
        if shares[k].any()
    ]
    rest_disk = sum(share * rest for share, (_, _, rest) in grids)
    b = np.maximum(bulge, 0.0)
    sph = np.maximum(spheroid, 0.0)
    field = rng.standard_normal(d.shape) * np.sqrt(b * rest + sph * rest_old)
    field += _giant_counts(sph.ravel(), f_old, w_old, rng).reshape(sph.shape)
    if transmission is None:
        layers = ((d, 1.0),)
    else:
        behind = dust.REDDENED_FRACTION
        layers = ((d * (1.0 - behind), 1.0), (d * behind, transmission))
    for light, dimming in layers:
        stars = rng.standard_normal(d.shape) * np.sqrt(light * rest_disk)
        for share, (f_disk, w_disk, _) in grids:
            on_grid = share > 0
            part = np.zeros(d.shape)
            part[on_grid] = _giant_counts((light * share)[on_grid], f_disk, w_disk, rng)
            stars += part
        field += stars * dimming
    # pixels where the bulge is under BULGE_GIANTS_MIN of the light: no discrete giants
    on = b > BULGE_GIANTS_MIN * (b + d + _sky_adu(settings, "g"))
    if on.any():
        field[on] += _giant_counts(b[on], f, w, rng)
    return fftconvolve(field * scale, psf, mode="same")


def _giant_counts(light, f, w, rng) -> np.ndarray:
    """Light of discrete giants minus its mean, per pixel of ``light`` (a compound Poisson).

    A pixel of light ``L`` holds ``Poisson(L * sum(w / f))`` giants, each in
    magnitude bin ``b`` with probability proportional to ``w_b / f_b``; where
    more than ``_POISSON_GAUSS_LAMBDA`` are expected the sum is drawn as a
    Gaussian of the same variance ``L * sum(w f)``.
    """
    rate = w / f
    lam = light * rate.sum()
    big = lam > _POISSON_GAUSS_LAMBDA
    out = np.zeros(light.shape)
    n = rng.poisson(np.where(big, 0.0, lam))
    stars = rng.choice(f.size, size=int(n.sum()), p=rate / rate.sum())
    pix = np.repeat(np.arange(light.size), n)
    out += np.bincount(pix, weights=f[stars], minlength=light.size)
    out -= np.where(big, 0.0, light * np.sum(w))
    if big.any():
        out[big] = rng.standard_normal(int(big.sum())) * np.sqrt(light[big] * np.sum(w * f))
    return out


def _sky_adu(settings: MockSettings, band: str) -> float:
    area = settings.pixel_scale_arcsec**2
    return float(10 ** (-0.4 * (settings.sky_mag_arcsec2[band] - settings.zero_point)) * area)


#: Faintest giant of an old cluster drawn as a star (g); fainter giants stay in the smooth
#: King light (a choice: well beyond the stacks' S/N-10 g depth, 25.76, so that every giant
#: the stacks could show is drawn).
GC_GIANT_FAINT_G = 27.0
#: g - i of an old cluster's giants: mean and scatter (a choice: metal-poor to solar
#: upper red giant branch).
GC_GIANT_G_MINUS_I = (1.6, 0.3)


def globular_giants(settings: MockSettings, row) -> pd.DataFrame:
    """The giants of an old cluster, drawn as stars (deterministic from its obj_id).

    The cluster's stars follow the old population's luminosity function at the
    cluster's own [Fe/H] (:func:`~pandas_clusters.acquire.mock.population.cluster_metallicity`,
    M31's clusters' metallicities at its Rproj;
    :func:`~pandas_clusters.acquire.mock.old_population.cluster_star_bins`: the
    metal-poor MIST function, the metal-rich PARSEC ones; red giants, horizontal
    branch, asymptotic giants): each magnitude bin holds a Poisson number of stars
    of mean ``L * w / f`` for the cluster's g light ``L``; those of the bins that begin
    brighter than ``GC_GIANT_FAINT_G`` are returned (uniform in magnitude within
    a bin), spread over the cluster's King profile. Returns ``dx_arcsec``,
    ``dy_arcsec`` (east, north), ``gmag``, ``imag``.
    """
    rng = np.random.default_rng([settings.seed, 79, int(row.obj_id)])
    feh = float(cluster_metallicity(settings.seed, row.obj_id, row.rproj_kpc))
    f, w = cluster_star_bins(M31.distance_modulus, feh)
    mids = -2.5 * np.log10(f)
    half = 0.5 * float(np.diff(OLD_MG_EDGES)[0])
    keep = mids - half < GC_GIANT_FAINT_G
    counts = rng.poisson(10 ** (-0.4 * row.gmag) * w[keep] / f[keep])
    g = np.repeat(mids[keep], counts) + rng.uniform(-half, half, int(counts.sum()))
    n = g.size
    c_grid, rh_rc, x_grid, cdfs = king_radius_table()
    k = int(np.clip(np.searchsorted(c_grid, row.king_c), 0, c_grid.size - 1))
    rt_arcsec = 10 ** c_grid[k] * row.r_h_pc / rh_rc[k] / M31.pc_per_arcsec
    r = np.interp(rng.random(n), cdfs[k], x_grid) * rt_arcsec
    phi = rng.uniform(0, 2 * np.pi, n)
    gi = rng.normal(*GC_GIANT_G_MINUS_I, n)
    return pd.DataFrame(
        {"dx_arcsec": r * np.cos(phi), "dy_arcsec": r * np.sin(phi), "gmag": g, "imag": g - gi}
    )


def _noise_model(settings: MockSettings, band: str, fwhm_px: float, beta: float, depth: float):
    """(sky ADU/px, gain e-/ADU, read noise ADU) reaching ``depth`` (AB) at S/N 10."""
    area = settings.pixel_scale_arcsec**2
    sky = 10 ** (-0.4 * (settings.sky_mag_arcsec2[band] - settings.zero_point)) * area
    f_depth = 10 ** (-0.4 * (depth - settings.zero_point))
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
    """Add the extended sources, with resolved members of clusters.

    Their profiles are laid on one layer, padded to hold every stamp of an object
    within ``_OBJECT_MARGIN_PX`` of the CCD, and the layer is blurred by the PSF once
    (the sum of the blurred profiles, at a fraction of the cost of one convolution
    per object).
    """
    mcol = _mag_col(band)
    zp = settings.zero_point
    ext_idx = np.flatnonzero(~point)
    if ext_idx.size == 0:
        return
    pad = _OBJECT_MARGIN_PX + max(SERSIC_STAMP_HALF_MAX_PX, KING_MAX_STAMP_PX) + 1
    layer = np.zeros((img.shape[0] + 2 * pad, img.shape[1] + 2 * pad))
    # the galaxies in batches of one stamp size, then the clusters one by one
    ext = obj.iloc[ext_idx]
    galaxy = ~ext["kind"].isin(["young_cluster", "globular_cluster"]).to_numpy()
    halves = np.where(galaxy, _galaxy_halves(ext["r_e_arcsec"].fillna(0.0), settings), -1)
    for half in np.unique(halves[galaxy]):
        sel = ext_idx[galaxy & (halves == half)]
        _galaxy_stamps(layer, obj.iloc[sel], x[sel], y[sel], flux[sel], settings, int(half), pad)
    ext_idx = ext_idx[~galaxy]
    rows = list(obj.iloc[ext_idx].itertuples(index=False))
    mx, my, mf = [], [], []
    for k, row in zip(ext_idx, rows, strict=True):
        smooth = flux[k]
        if row.kind == "globular_cluster" and np.isfinite(settings.unresolved_fluctuation_mag):
            mem = globular_giants(settings, row)
            mflux = 10 ** (-0.4 * (mem[mcol].to_numpy() - zp))
            smooth = max(flux[k] - mflux.sum(), 0.1 * flux[k])
            mx.append(x[k] - mem["dx_arcsec"].to_numpy() / settings.pixel_scale_arcsec)
            my.append(y[k] + mem["dy_arcsec"].to_numpy() / settings.pixel_scale_arcsec)
            mf.append(mflux)
        elif row.n_resolved > 0:
            mem = cluster_members(settings, row)
            mflux = 10 ** (-0.4 * (mem[mcol].to_numpy() - zp))
            # members carry 10-40% of the g light, but red members can outshine the
            # cluster's i light: the smooth King component keeps at least 10%
            smooth = max(flux[k] - mflux.sum(), 0.1 * flux[k])
            # member offsets: east = -x direction, north = +y (approximately, small rotation)
            mx.append(x[k] - mem["dx_arcsec"].to_numpy() / settings.pixel_scale_arcsec)
            my.append(y[k] + mem["dy_arcsec"].to_numpy() / settings.pixel_scale_arcsec)
            mf.append(mflux)
        prof, x0, y0 = _extended_profile(row, x[k], y[k], smooth, settings)
        if prof is not None:
            _add_stamp(layer, prof, x0 + pad, y0 + pad)
    img += fftconvolve(layer, psf, mode="same")[pad:-pad, pad:-pad]
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
    margin = _OBJECT_MARGIN_PX
    near = (x > -margin) & (x < shape[1] + margin) & (y > -margin) & (y < shape[0] + margin)
    obj = objects.loc[near]
    x, y = x[near], y[near]
    flux = 10 ** (-0.4 * (obj[mcol].to_numpy() - settings.zero_point))
    # contaminants (issue 12, part 3): asterisms' stars, HII knots, saturated stars' spikes
    obj, x, y, flux = _add_contaminant_light(img, obj, x, y, flux, settings, band, alpha, beta)
    kind = obj["kind"].to_numpy()
    # every background galaxy, however faint, with its size: at g = 24-26 the mock's size
    # law gives r_e ~ 0.4", as large as the PSF's own half-light radius (docs/mock-realism.md,
    # item 47)
    point = (kind == "star") | (kind == "bright_star")
    mag = obj[mcol].to_numpy()
    _add_point_sources(img, x, y, flux, mag, point, alpha, beta)
    _add_extended(img, obj, x, y, flux, point, settings, band, psf, alpha, beta)


# --------------------------------------------------------------------------- contaminants
# (issue 12, part 3)

#: Fraction of a saturated star's light in each of its four diffraction spikes, and in its
#: halo ring (choices, docs/mock-calibration.md "Contaminants").
SPIKE_ARM_FRACTION = 5e-4
HALO_FRACTION = 2e-4


def _add_contaminant_light(img, obj, x, y, flux, settings, band, alpha, beta):
    """Add the asterisms' stars, the HII regions' knots and the saturated stars' spikes.

    Returns ``(obj, x, y, flux)`` for the ordinary renderer: without the
    asterisms (no light of their own beyond their stars), the HII regions'
    bodies with the light their knots do not carry and ``n_resolved`` 0 (their
    knots are not cluster members).
    """
    kind = obj["kind"].to_numpy()
    mcol = _mag_col(band)
    flux = flux.copy()
    px, py, pf = [], [], []
    for k in np.flatnonzero((kind == "asterism") | (kind == "hii_region")):
        row = obj.iloc[k]
        parts = (
            asterism_members(settings, row) if kind[k] == "asterism" else hii_knots(settings, row)
        )
        if kind[k] == "hii_region":
            flux[k] *= 1.0 - HII_KNOT_FRACTION * (1.0 if band == "g" else 0.6)
        # offsets: east = -x, north = +y (as for the cluster members)
        px.append(x[k] - parts["dx_arcsec"].to_numpy() / settings.pixel_scale_arcsec)
        py.append(y[k] + parts["dy_arcsec"].to_numpy() / settings.pixel_scale_arcsec)
        pf.append(10 ** (-0.4 * (parts[mcol].to_numpy() - settings.zero_point)))
    if px:
        _add_points(
            img,
            np.concatenate(px),
            np.concatenate(py),
            np.concatenate(pf),
            alpha,
            beta,
            _PSF_RADIUS,
        )
    bright = np.flatnonzero(kind == "bright_star")
    reach = saturated_star_reach_arcsec(obj["gmag"].to_numpy()[bright], settings)
    fwhm_px = 2.0 * alpha * np.sqrt(2.0 ** (1.0 / beta) - 1.0)
    for k, r_arcsec in zip(bright, reach, strict=True):
        length = r_arcsec / settings.pixel_scale_arcsec
        if length >= 3.0:
            stamp, x0, y0 = _spike_stamp(x[k], y[k], flux[k], length, fwhm_px)
            _add_stamp(img, stamp, x0, y0)
    own = kind != "asterism"
    obj = obj.loc[own].copy()
    obj.loc[obj["kind"].to_numpy() == "hii_region", "n_resolved"] = 0
    return obj, x[own], y[own], flux[own]


def _spike_stamp(x, y, flux, length_px, fwhm_px):
    """Four diffraction spikes along the CCD axes plus a halo ring; (stamp, x0, y0).

    Each spike carries :data:`SPIKE_ARM_FRACTION` of ``flux``, falling as
    ``(1 - d/L)^2 / d`` from 2 px to ``L = length_px`` with a Gaussian cross
    profile of the seeing; the halo ring (radius ``L/2``, Gaussian width ``L/16``)
    carries :data:`HALO_FRACTION`.
    """
    half = int(np.ceil(length_px)) + 2
    ix, iy = int(np.rint(x)), int(np.rint(y))
    o = np.arange(-half, half + 1, dtype=float)
    dx = o[None, :] - (x - ix)
    dy = o[:, None] - (y - iy)
    sig = max(fwhm_px / 2.355, 0.5)

    def arm(along, across):
        d = np.abs(along)
        inside = (d >= 2.0) & (d < length_px)
        prof = np.where(inside, (1.0 - d / length_px) ** 2 / np.maximum(d, 2.0), 0.0)
        return prof * np.exp(-0.5 * (across / sig) ** 2)

    spikes = arm(dx, dy) + arm(dy, dx)
    r = np.hypot(dx, dy)
    ring = np.exp(-0.5 * ((r - 0.5 * length_px) / max(length_px / 16.0, 1.0)) ** 2)
    stamp = spikes * (4 * SPIKE_ARM_FRACTION * flux / spikes.sum())
    stamp += ring * (HALO_FRACTION * flux / ring.sum())
    return stamp, ix - half, iy - half


def _noisy(img, rng, settings: MockSettings, gain, rn, fwhm_px, beta, offsets) -> np.ndarray:
    """The stack of ``img``: its exposures resampled and averaged, clipped at saturation,
    float32, with NaN bad columns.

    Each exposure's noise (variance ``signal / GAIN + RDNOISE^2`` times the
    number of exposures) is interpolated bilinearly at the exposure's offset and
    the exposures are averaged; the light is blurred by :func:`light_kernel`;
    the noise is scaled by :func:`stack_noise_gain` to keep the depth. The
    stack's large-scale background is then flattened (:func:`flatten_background`).
    """
    shape = img.shape
    sd = np.sqrt(np.maximum(img, 0.0) / gain + rn**2)
    offsets = np.asarray(offsets, dtype=float).reshape(-1, 2)
    if len(offsets) == 0:
        noise = rng.standard_normal(shape) * sd
    else:
        img = convolve(img, light_kernel(offsets), mode="reflect")
        noise = np.zeros(shape)
        for dx, dy in offsets:
            n = rng.standard_normal(shape) * sd
            n = correlate1d(n, _noise_taps(dx), axis=1, mode="reflect")
            noise += correlate1d(n, _noise_taps(dy), axis=0, mode="reflect")
        noise *= stack_noise_gain(fwhm_px, beta, offsets) / np.sqrt(len(offsets))
    img += noise
    img = flatten_background(img, settings.stack_background_mesh_px)
    np.minimum(img, settings.saturation_adu, out=img)
    img = img.astype(np.float32)
    bad = rng.choice(shape[1], size=min(settings.bad_columns_per_ccd, shape[1]), replace=False)
    img[:, bad] = np.nan
    return img


def flatten_background(img: np.ndarray, mesh_px: int) -> np.ndarray:
    """``img`` with its large-scale background flattened, as the stacks' pipeline does.

    The background (sky and M31's diffuse light) is estimated on a mesh of
    ``mesh_px`` pixels (:func:`pandas_clusters.core.background.background`, the
    pipeline's sep wrapper: sigma-clipped mode per mesh, 3 x 3 median filter, spline
    between the meshes), subtracted, and its median over the image added back: the light keeps its level and its photon noise, not its
    gradients. The real PAndAS stacks show no gradient of M31's light even 0.2 kpc
    from its nucleus, where the bulge's light changes by half across a 24"
    cutout (docs/mock-realism.md item 48). ``mesh_px`` 0 returns ``img`` unchanged.
    """
    if not mesh_px:
        return img
    data = np.ascontiguousarray(img, dtype=np.float64)
    back, _ = background(data, None, box=mesh_px, filter_size=3, with_rms=False, dtype=np.float64)
    return data - (back - np.median(back))


def _ccd_header(
    w: WCS, settings: MockSettings, field_id, band, ccd, psf_model, noise_model, offsets
):
    """FITS header of one rendered CCD: WCS, photometric and noise keywords."""
    fwhm_arcsec, fwhm_px, beta = psf_model
    sky, gain, rn = noise_model
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
    hdr["BACKMESH"] = (
        int(settings.stack_background_mesh_px),
        "background flattened on this mesh, px (0: none)",
    )
    hdr["SEEING"] = (fwhm_arcsec, "PSF FWHM, arcsec")
    hdr["PSFBETA"] = (beta, "Moffat beta of the PSF")
    n_exp, t_exp = settings.field_exposures(field_id, band)
    hdr["EXPTIME"] = (t_exp, "summed exposure time of the stack, s")
    hdr["DEPTH"] = (
        round(settings.field_depth(field_id, band), 4),
        "target S/N=10 point-source depth, AB mag",
    )
    hdr["NCOMBINE"] = (len(offsets), "exposures resampled (bilinear) and averaged")
    hdr["PIXNOISE"] = (
        round(pixel_noise_factor(fwhm_px, beta, offsets) * float(np.sqrt(sky / gain + rn**2)), 5),
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
    sky, gain, rn = _noise_model(
        settings, band, fwhm_px, beta, settings.field_depth(field_id, band)
    )

    disk, bulge, spheroid, transmission, _ = _diffuse(settings, w, shape, band, parts=True)
    img = disk * dust.seen_fraction(transmission) + bulge + spheroid
    # the unresolved stars are the same in both bands: one generator and one light
    # map (the g band's); the dust dims them by the band's own transmission
    first = BANDS[0]
    disk, bulge, spheroid, _, metallicity = _diffuse(
        settings, ccd_wcs(settings, field_id, first, ccd), shape, first, parts=True
    )
    rng_tex = settings.field_rng(field_id, first, 200 + ccd)
    texture = _texture(
        settings,
        disk,
        bulge,
        spheroid,
        band,
        psf,
        rng_tex,
        transmission=transmission if settings.m31_dust else None,
        metallicity=metallicity,
    )
    img += sky
    if len(objects):
        _add_objects(img, objects, w, settings, band, psf, alpha, beta)
    if texture is not None:
        img += texture
    rng = settings.field_rng(field_id, band, purpose=100 + ccd)
    offsets = stack_offsets(settings, field_id, band)
    img = _noisy(img, rng, settings, gain, rn, fwhm_px, beta, offsets)
    hdr = _ccd_header(
        w, settings, field_id, band, ccd, (fwhm_arcsec, fwhm_px, beta), (sky, gain, rn), offsets
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


#: Half-size (px) of the largest King-cluster stamp (``_extended_profile`` clips there).
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
