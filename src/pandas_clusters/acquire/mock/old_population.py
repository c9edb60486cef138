"""M31's old stars: their luminosity functions, and the spheroid and disk they make.

Two parts of the mock are made of an old metal-poor population: the globular
clusters' resolved giants (the metal-poor ones; the metal-rich below) and the
spheroid (the inner halo, off the disk plane). Both take their stars from one
luminosity function per unit light, measured on a published model isochrone
rather than chosen:

MIST v1.2 (Choi et al. 2016, ApJ 823, 102; Dotter 2016, ApJS 222, 8), one
isochrone of 12 Gyr, [Fe/H] = -1.35, [a/Fe] = 0, v/vcrit = 0.4, Pan-STARRS1
photometry (AB), as computed with the MIST web interpolator and published in
AllenDowney/AstronomicalData, ``data/MIST_iso_5fd2532653c27.iso.cmd`` (commit
ecd3afc), with all phases (main sequence to post-AGB, the core-helium-burning
horizontal branch included). Each isochrone point holds the stars of a
Kroupa (2001) initial mass function between the midpoints to its neighbours
in initial mass. :func:`luminosity_function` does this; ``python -m
pandas_clusters.acquire.mock.old_population ISOCHRONE`` prints the table below
from the file. PS1 g stands for MegaCam g (both AB; the difference is a few
hundredths of a magnitude for these colours).

Measured on that isochrone (per unit light, i.e. per g flux of a star of
M_g = 0): the bin of the horizontal branch (M_g 0.5-0.75) holds 0.30 stars and
17% of the g light; at M31's distance a population of total g = 17.5 has about
370 stars brighter than g = 26 (35 with the power law the mock used before),
180 of them in that bin at g = 25.0-25.2, near the PAndAS stacks' S/N-10 depth
(g = 25.76). The population's fluctuation magnitude is M_g = 0.32.

M31's disk is an old population too, but a metal-rich one (HST colour-magnitude
diagrams of 16 fields at 4.5-35 kpc: a main component at [Fe/H] ~ -0.6, Bellazzini
et al. 2003, A&A 405, 867, abstract; the extended disk beyond 15 kpc at -0.9,
Ibata et al. 2005, ApJ 634, 287, abstract), whose giants are much fainter in g. Its
stars take a second function, measured the same way on PARSEC v1.2S (Bressan et al.
2012, MNRAS 427, 127), 10 Gyr, Z = 0.0055 ([M/H] = -0.44, the grid point nearest
-0.6), UBVRIJHK (Vega), as computed with CMD 2.7 and published in asteca/ASteCA,
``isochrones/parsec12_ubvrijhk/0.005500.dat`` (commit 6dfe89d), B and V turned into g
and r with Lupton (2005)'s transformations for stars (B = g + 0.3130 (g - r) + 0.2271,
V = g - 0.5784 (g - r) - 0.0038, the SDSS transformations page). ``python -m
pandas_clusters.acquire.mock.old_population ISOCHRONE 10.0`` prints it. Measured on
it: the brightest star has M_g = -0.59 (the metal-poor isochrone's -1.8; g = 23.9 at
M31), its red clump (M_g 1.0-1.25) holds 0.43 stars per unit light, and its
fluctuation magnitude is M_g = 1.47. The same recipe on the file's Z = 0.0005 ([M/H]
= -1.49) reproduces the MIST function above: fluctuation magnitude 0.34 (MIST 0.32),
horizontal branch 0.27 stars per unit light (MIST 0.30), brightest M_g = -1.83.

M31's old clusters are not of one metallicity either: half of those within 5 kpc are
richer than [Fe/H] = -0.9 (Caldwell et al. 2011; ``population.cluster_metallicity``
draws each cluster's [Fe/H] from theirs at its Rproj). A cluster's giants take the MIST
function at [Fe/H] = -1.35 and below and the disk's PARSEC functions (below) for the
metal-rich, shared linearly in [M/H] between grid points (:func:`cluster_star_bins`);
the clusters being alpha-enhanced, their [M/H] is taken 0.21 dex above their [Fe/H]
(:func:`cluster_scaled_solar_mh`).

The disk is not of one metallicity: within ~7 kpc its integrated light is near solar,
[M/H] = -0.023 (Gunn et al. 2023, arXiv:2304.09901, abstract: APOGEE spectra of the
inner 7 kpc, the disk old at ~12 Gyr), and its red giants grow poorer outwards by
-0.020 dex/kpc from ~4 to 20 kpc (Gregersen et al. 2015, AJ 150, 189, abstract: PHAT).
So the disk's stars are drawn from three PARSEC functions of the same file set and
age, Z = 0.0055, 0.0105 and 0.0155 ([M/H] = -0.443, -0.153, 0.024), each pixel's light
shared between the two around its radius' metallicity (:func:`disk_metallicity`,
:func:`disk_grid_weights`; docs/mock-realism.md item 49). The metal-richer the
giants, the fainter they are in g: fluctuation magnitudes M_g = 1.46, 1.93 and 2.25,
brightest stars M_g = -0.59, -0.09 and 0.20.

The spheroid's surface brightness along the minor axis (``spheroid_mu_v``)
follows Pritchet & van den Bergh (1994, ApJ 435, L59; abstract of their IAU
proceedings): a single de Vaucouleurs law from 0.2 to 20 kpc with mu_V ~ 28
mag arcsec^-2 at R ~ 10 kpc and ~ 30 at R ~ 20 kpc, and an axis ratio of 0.55
at mu_V = 28; beyond 20 kpc, Irwin et al. (2005, ApJ 628, L105, abstract): a
power law of index -2.3, which from mu_V = 30 at 20 kpc reaches 32.5 at 55 kpc
(they give ~32 there). The spheroid's g - V comes from the isochrone's
integrated g - r through V = g - 0.5784 (g - r) - 0.0038 (Lupton 2005, the
SDSS transformations page).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

from pandas_clusters.core.geometry import M31, M31Geometry, sky_axes_kpc, tangent_plane_deg

__all__ = [
    "FAINT_VARIANCE",
    "G_MINUS_R",
    "G_MINUS_V",
    "CLUSTER_METALLICITY_GRID",
    "GC_ALPHA_FE",
    "METAL_POOR_FEH",
    "MG_EDGES",
    "SPHEROID_AXIS_RATIO",
    "DISK_BRIGHTEST_MG",
    "DISK_FAINT_VARIANCE",
    "DISK_INNER_KPC",
    "DISK_INNER_MH",
    "DISK_METALLICITY_GRID",
    "DISK_MH_GRADIENT_DEX_PER_KPC",
    "DISK_STARS_PER_LIGHT",
    "STARS_PER_LIGHT",
    "SATELLITES",
    "cluster_scaled_solar_mh",
    "cluster_star_bins",
    "disk_grid_weights",
    "grid_weights",
    "disk_metallicity",
    "luminosity_function",
    "read_mist_isochrone",
    "read_parsec_isochrone",
    "satellites_v_flux",
    "spheroid_mu_g",
    "spheroid_mu_v",
    "spheroid_radius_kpc",
    "star_bins",
]

#: Edges (absolute PS1 g, AB) of the magnitude bins in which the old stars are drawn
#: one by one: from above the tip of the red giant branch (M_g = -1.75) to M_g = 4, the
#: main-sequence turn-off region (g = 28.5 at M31, two magnitudes below the PAndAS depth).
MG_EDGES = np.arange(-2.0, 4.001, 0.25)
#: Stars per bin of ``MG_EDGES`` per unit g light (the flux of a star of M_g = 0),
#: measured on the MIST isochrone (module docstring) by :func:`luminosity_function`.
STARS_PER_LIGHT = np.array(
    [
        8.52142e-04, 8.56001e-03, 8.74241e-03, 1.02060e-02, 1.24673e-02, 1.57197e-02,
        1.88096e-02, 3.33380e-02, 2.11706e-02, 4.11740e-02, 2.95764e-01, 3.86080e-02,
        4.79604e-02, 4.91933e-02, 5.95322e-02, 8.81221e-02, 9.02080e-02, 1.06119e-01,
        1.51126e-01, 1.48256e-01, 2.07789e-01, 5.94769e-01, 9.23496e-01, 1.20955e00,
    ]
)  # fmt: skip
#: Flux variance of the stars fainter than the last edge, per unit g light (in units
#: of the flux of a star of M_g = 0): left to a Gaussian field.
FAINT_VARIANCE = 3.05652e-03
#: [M/H] of the disk's isochrones (the PARSEC files' headers: Z = 0.0055, 0.0105 and
#: 0.0155 of asteca/ASteCA ``isochrones/parsec12_ubvrijhk/``, 10 Gyr; module docstring).
DISK_METALLICITY_GRID = np.array([-0.443, -0.153, 0.024])
#: Stars per bin of ``MG_EDGES`` per unit g light of M31's metal-rich disk, one row per
#: point of ``DISK_METALLICITY_GRID``, measured on the PARSEC isochrones by
#: :func:`luminosity_function` (``python -m pandas_clusters.acquire.mock.old_population
#: TABLE 10.0``).
DISK_STARS_PER_LIGHT = np.array(
    [
        [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.00311, 0.0362, 0.02131, 0.03167, 0.04639, 0.03496,
            0.04813, 0.42753, 0.09338, 0.0991, 0.05861, 0.1113, 0.09414, 0.11793, 0.20754,
            0.18411, 0.19203, 0.41922, 2.4306,
        ],
        [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.00689, 0.05064, 0.03986, 0.05995, 0.04476,
            0.06392, 0.51677, 0.07, 0.17516, 0.11404, 0.09482, 0.11653, 0.20104, 0.23381,
            0.18783, 0.34689, 0.32995,
        ],
        [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.005, 0.04963, 0.0641, 0.06506, 0.0583,
            0.14477, 0.51913, 0.08733, 0.2403, 0.09462, 0.16205, 0.14089, 0.23269, 0.20126,
            0.34521, 0.30832,
        ],
    ]
)  # fmt: skip
#: Flux variance of the disk's stars fainter than the last edge, per unit g light (per
#: point of ``DISK_METALLICITY_GRID``).
DISK_FAINT_VARIANCE = np.array([4.92964e-03, 6.21710e-03, 6.05403e-03])
#: [Fe/H] of the metal-poor function ``STARS_PER_LIGHT`` (the MIST isochrone).
METAL_POOR_FEH = -1.35
#: [alpha/Fe] of M31's old clusters: their alpha-element ratios are "generally similar to
#: Milky Way globular cluster and field star ratios" (Colucci et al. 2014, ApJ 797, 116,
#: abstract; high-resolution integrated light of 31 clusters), and the Milky Way's clusters
#: are enhanced by [alpha/Fe] ~ +0.3 (Carney 1996, PASP 108, 900, as quoted by Forbes et al.
#: 2001, ApJ 563, L143). The isochrones are scaled-solar; :func:`cluster_scaled_solar_mh`.
GC_ALPHA_FE = 0.3
#: The old clusters' functions in order of metallicity: the metal-poor MIST one, then the
#: disk's three PARSEC ones (:func:`cluster_star_bins`).
CLUSTER_METALLICITY_GRID = np.concatenate([[METAL_POOR_FEH], DISK_METALLICITY_GRID])
#: Absolute g of the disk population's brightest star: the metal-poorest isochrone's
#: (the others' are fainter: M_g = -0.09 and 0.20).
DISK_BRIGHTEST_MG = -0.59
#: The disk's metallicity: Gunn et al. (2023, arXiv:2304.09901, abstract:
#: APOGEE integrated light, the disk within ~7 kpc [M/H] = -0.023 +0.050 -0.052, old at
#: ~12 Gyr), and outwards the gradient of its red giants, -0.020 +- 0.004 dex/kpc from
#: ~4 to 20 kpc (Gregersen et al. 2015, AJ 150, 189, PHAT; abstract), continued until it
#: reaches the grid's metal-poorest point (at 27.9 kpc), held there beyond (the outer
#: disk's [Fe/H] ~ -0.6 to -0.9 of Bellazzini et al. 2003 and Ibata et al. 2005, alpha-
#: enhanced, lie near it in [M/H]).
DISK_INNER_MH = -0.023
DISK_INNER_KPC = 7.0
DISK_MH_GRADIENT_DEX_PER_KPC = -0.020
#: Integrated g - r of the population (PS1, AB), from the same isochrone.
G_MINUS_R = 0.5120
#: Integrated g - V: Lupton (2005)'s V = g - 0.5784 (g - r) - 0.0038.
G_MINUS_V = 0.5784 * G_MINUS_R + 0.0038

#: Pritchet & van den Bergh (1994): minor-axis mu_V (mag arcsec^-2) at R (kpc), on
#: one de Vaucouleurs law out to ``SPHEROID_BREAK_KPC``.
SPHEROID_MINOR_AXIS_MU_V = ((10.0, 28.0), (20.0, 30.0))
#: Their axis ratio of the spheroid (at mu_V = 28).
SPHEROID_AXIS_RATIO = 0.55
#: Irwin et al. (2005): beyond this radius the profile is a power law of this index.
SPHEROID_BREAK_KPC = 20.0
HALO_POWER_INDEX = -2.3

_DE_VAUCOULEURS_B = 7.669  # b_n of a Sersic n = 4 profile, in e-folds

#: M31's satellite galaxies within 12 deg (the PAndAS area), from McConnachie (2012, AJ
#: 144, 4), the updated NearbyGalaxies.dat (as in gomeshun/pydsph, commit c789ae9): name,
#: RA, Dec (deg), V (mag), position angle of the major axis (deg east of north; 0 where
#: none is given), ellipticity (0 where none) and half-light radius on the major axis
#: (arcmin). Left out: M32 (a compact elliptical, not an exponential), And XVI and And
#: XVIII (more than 0.6 mag off M31's distance modulus; the mock draws every satellite's
#: stars at M31's). Their light is an exponential profile of that V and r_h (for NGC 147
#: and NGC 185 its central surface brightness, 21.2 and 20.8, equals the catalogue's),
#: made of the old population's stars like the spheroid.
SATELLITES = (
    ("Andromeda IX", 13.2208, 43.1958, 16.3, 0, 0.00, 2.50),
    ("NGC 205", 10.0921, 41.6853, 8.1, 28, 0.43, 2.46),
    ("Andromeda I", 11.4158, 38.0411, 12.5, 22, 0.22, 3.10),
    ("Andromeda XVII", 9.2792, 44.3222, 15.8, 122, 0.27, 1.24),
    ("Andromeda XXVII", 9.3629, 45.3869, 16.7, 150, 0.40, 1.80),
    ("Andromeda III", 8.8908, 36.4978, 14.2, 136, 0.52, 2.20),
    ("Andromeda XXV", 7.5371, 46.8519, 14.8, 170, 0.25, 3.00),
    ("Andromeda XXVI", 5.9400, 47.9161, 17.3, 145, 0.25, 1.00),
    ("Andromeda V", 17.5712, 47.6281, 14.9, 32, 0.18, 1.40),
    ("Andromeda XI", 11.5833, 33.8014, 17.5, 0, 0.00, 0.71),
    ("Andromeda XIX", 4.8837, 35.0436, 15.6, 37, 0.17, 6.20),
    ("Andromeda XXIII", 22.3408, 38.7189, 14.2, 138, 0.40, 4.60),
    ("Andromeda XX", 1.8779, 35.1322, 18.2, 80, 0.30, 0.53),
    ("Andromeda XIII", 12.9625, 33.0044, 18.1, 0, 0.00, 0.78),
    ("Andromeda X", 16.6404, 44.8044, 16.6, 46, 0.44, 1.30),
    ("Andromeda XXI", 358.6987, 42.4708, 14.8, 110, 0.20, 3.50),
    ("And XXXII", 8.9975, 51.5597, 12.2, -90, 0.50, 6.50),
    ("NGC 147", 8.3004, 48.5089, 9.5, 25, 0.41, 3.17),
    ("And XXX", 9.1454, 49.6467, 16.2, 0, 0.00, 1.35),
    ("Andromeda XIV", 12.8958, 29.6969, 15.9, 0, 0.31, 1.70),
    ("Andromeda XII", 11.8625, 34.3747, 18.3, 0, 0.00, 1.20),
    ("Andromeda XV", 18.5779, 38.1175, 14.6, 0, 0.00, 1.21),
    ("Andromeda II", 19.1242, 33.4192, 11.5, 34, 0.20, 6.20),
    ("NGC 185", 9.7417, 48.3375, 9.2, 35, 0.15, 2.55),
    ("Andromeda XXIV", 19.6250, 46.3661, 16.3, 5, 0.25, 2.10),
)
#: Half-light radius of an exponential profile in scale lengths.
_EXP_RH_OVER_RD = 1.6783


def _de_vaucouleurs_coefficients() -> tuple[float, float]:
    """(mu_e, slope) of mu(R) = mu_e + slope (R^(1/4) - r_e^(1/4)) through the two points."""
    (r1, m1), (r2, m2) = SPHEROID_MINOR_AXIS_MU_V
    slope = (m2 - m1) / (r2**0.25 - r1**0.25)
    return m1 - slope * r1**0.25, slope


def spheroid_mu_v(r_kpc) -> np.ndarray:
    """V surface brightness (mag arcsec^-2) of the spheroid at minor-axis radius ``r_kpc``.

    A de Vaucouleurs law through Pritchet & van den Bergh's two points inside
    ``SPHEROID_BREAK_KPC``, continued by Irwin et al.'s power law beyond it.
    """
    r = np.maximum(np.asarray(r_kpc, dtype=float), 0.2)
    zero, slope = _de_vaucouleurs_coefficients()
    inner = zero + slope * r**0.25
    at_break = zero + slope * SPHEROID_BREAK_KPC**0.25
    outer = at_break - 2.5 * HALO_POWER_INDEX * np.log10(r / SPHEROID_BREAK_KPC)
    return np.where(r <= SPHEROID_BREAK_KPC, inner, outer)


def spheroid_effective_radius_kpc() -> float:
    """Effective radius (kpc, minor axis) of the de Vaucouleurs law through the two points."""
    _, slope = _de_vaucouleurs_coefficients()
    # mu = mu_e + 2.5 b / ln(10) ((R / r_e)^(1/4) - 1): slope = 1.0857 b / r_e^(1/4)
    return float((2.5 / np.log(10.0) * _DE_VAUCOULEURS_B / slope) ** 4)


def spheroid_radius_kpc(xi_deg, eta_deg, *, geometry: M31Geometry = M31) -> np.ndarray:
    """Minor-axis-equivalent radius (kpc) of the flattened spheroid at offsets (xi, eta), deg."""
    x_major, y_minor = sky_axes_kpc(xi_deg, eta_deg, geometry=geometry)
    return np.hypot(SPHEROID_AXIS_RATIO * x_major, y_minor)


def satellites_v_flux(ra_deg, dec_deg) -> np.ndarray:
    """V surface brightness of M31's satellites at (ra, dec), in flux units ``10^(-0.4 mu_V)``."""
    ra = np.asarray(ra_deg, dtype=float)
    dec = np.asarray(dec_deg, dtype=float)
    total = np.zeros(np.broadcast(ra, dec).shape)
    for _, ra0, dec0, vmag, pa, ell, rh_arcmin in SATELLITES:
        rd = rh_arcmin * 60.0 / _EXP_RH_OVER_RD  # major-axis scale length, arcsec
        near = np.abs(dec - dec0) < 20.0 * rd / 3600.0
        if not near.any():
            continue
        frame = M31Geometry(ra_deg=ra0, dec_deg=dec0)
        xi, eta = tangent_plane_deg(ra[near], dec[near], geometry=frame)
        t = np.deg2rad(pa)
        x_major = (xi * np.sin(t) + eta * np.cos(t)) * 3600.0
        y_minor = (-xi * np.cos(t) + eta * np.sin(t)) * 3600.0
        r = np.hypot(x_major, y_minor / (1.0 - ell))
        mu0 = vmag + 2.5 * np.log10(2.0 * np.pi * rd**2 * (1.0 - ell))
        total[near] += 10 ** (-0.4 * mu0) * np.exp(-r / rd)
    return total


def spheroid_mu_g(xi_deg, eta_deg, *, satellites: bool = True) -> np.ndarray:
    """g surface brightness (mag arcsec^-2) of the spheroid at offsets (xi, eta), deg.

    With ``satellites`` the light of M31's satellite galaxies (:data:`SATELLITES`)
    is added: the old population's light off the disk.
    """
    flux = 10 ** (-0.4 * spheroid_mu_v(spheroid_radius_kpc(xi_deg, eta_deg)))
    if satellites:
        from pandas_clusters.core.geometry import offsets_to_radec

        flux = flux + satellites_v_flux(*offsets_to_radec(xi_deg, eta_deg))
    return -2.5 * np.log10(flux) + G_MINUS_V


def disk_metallicity(r_disk_kpc) -> np.ndarray:
    """[M/H] of M31's old disk at disk radius ``r_disk_kpc`` (:data:`DISK_INNER_MH` and its gradient)."""
    r = np.asarray(r_disk_kpc, dtype=float)
    mh = DISK_INNER_MH + DISK_MH_GRADIENT_DEX_PER_KPC * np.maximum(r - DISK_INNER_KPC, 0.0)
    return np.maximum(mh, DISK_METALLICITY_GRID[0])


def disk_grid_weights(mh) -> np.ndarray:
    """Shares of the disk's light drawn from each isochrone of :data:`DISK_METALLICITY_GRID`.

    Linear in [M/H] between the two grid points around ``mh`` (clipped to the
    grid): shape ``(grid points,) + shape of mh``, summing to 1.
    """
    return grid_weights(mh, DISK_METALLICITY_GRID)


def grid_weights(mh, grid) -> np.ndarray:
    """Shares of a population of [M/H] ``mh`` drawn from each point of ``grid`` (increasing).

    Linear in [M/H] between the two grid points around ``mh`` (clipped to the
    grid): shape ``(grid points,) + shape of mh``, summing to 1.
    """
    grid = np.asarray(grid, dtype=float)
    shape = np.shape(mh)
    x = np.clip(np.asarray(mh, dtype=float).ravel(), grid[0], grid[-1])
    k = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, grid.size - 2)
    t = (x - grid[k]) / (grid[k + 1] - grid[k])
    out = np.zeros((grid.size, x.size))
    cols = np.arange(x.size)
    out[k, cols] += 1.0 - t
    out[k + 1, cols] += t
    return out.reshape((grid.size,) + shape)


def cluster_scaled_solar_mh(feh):
    """[M/H] of the scaled-solar isochrone that stands for an old cluster of [Fe/H] ``feh``.

    Salaris, Chieffi & Straniero (1993)'s ``[M/H] = [Fe/H] + log10(0.638 f + 0.362)``,
    ``f = 10^[alpha/Fe]``, with the clusters' :data:`GC_ALPHA_FE`: 0.21 dex richer.
    """
    return np.asarray(feh, dtype=float) + np.log10(0.638 * 10**GC_ALPHA_FE + 0.362)


def cluster_star_bins(shift_mag: float, feh: float) -> tuple[np.ndarray, np.ndarray]:
    """An old cluster's magnitude bins at apparent magnitude ``M + shift_mag``, by its [Fe/H].

    Returns ``(f, w)`` as :func:`star_bins` does: the cluster's light shared between
    the two functions of :data:`CLUSTER_METALLICITY_GRID` around its scaled-solar
    [M/H] (:func:`cluster_scaled_solar_mh`; linear in [M/H], clipped to the grid): the
    metal-poor MIST function at [M/H] = -1.35 and below, the disk's PARSEC functions for
    the metal-rich clusters.
    """
    weights = grid_weights(cluster_scaled_solar_mh(float(feh)), CLUSTER_METALLICITY_GRID)
    per_light = weights[0] * STARS_PER_LIGHT + weights[1:] @ DISK_STARS_PER_LIGHT
    mid = 0.5 * (MG_EDGES[1:] + MG_EDGES[:-1])
    f_abs = 10 ** (-0.4 * mid)
    return f_abs * 10 ** (-0.4 * shift_mag), per_light * f_abs


def star_bins(
    shift_mag: float, *, disk_grid: int | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """The old stars' magnitude bins at apparent magnitude ``M + shift_mag``.

    Returns ``(f, w, rest)``: the flux of a star at each bin's centre
    (``10^(-0.4 (M + shift_mag))``), the share of the population's light in
    each bin, and the flux variance per unit light of the stars fainter than
    the bins (for a Gaussian field). ``shift_mag`` is the distance modulus for
    apparent g, minus a colour and a zero point for other units. With
    ``disk_grid`` (an index of :data:`DISK_METALLICITY_GRID`), the metal-rich
    disk's function of that metallicity (:data:`DISK_STARS_PER_LIGHT`), else the
    metal-poor spheroid's and clusters' (:data:`STARS_PER_LIGHT`).
    """
    mid = 0.5 * (MG_EDGES[1:] + MG_EDGES[:-1])
    f_abs = 10 ** (-0.4 * mid)
    scale = 10 ** (-0.4 * shift_mag)
    if disk_grid is None:
        per_light, faint = STARS_PER_LIGHT, FAINT_VARIANCE
    else:
        if isinstance(disk_grid, bool) or not 0 <= int(disk_grid) < DISK_METALLICITY_GRID.size:
            msg = f"disk_grid must index DISK_METALLICITY_GRID (0..{DISK_METALLICITY_GRID.size - 1}), got {disk_grid!r}"
            raise ValueError(msg)
        per_light = DISK_STARS_PER_LIGHT[int(disk_grid)]
        faint = float(DISK_FAINT_VARIANCE[int(disk_grid)])
    return f_abs * scale, per_light * f_abs, faint * scale


# -- the measurement on an isochrone -------------------------------------------------------
def _kroupa_cumulative(m) -> np.ndarray:
    """An antiderivative of the Kroupa (2001) IMF above 0.08 Msun (arbitrary units).

    dN/dm = (m / 0.5)^-1.3 below 0.5 Msun and (m / 0.5)^-2.3 above (continuous);
    only differences are used.
    """
    m = np.asarray(m, dtype=float)
    low = 0.5 * (np.minimum(m, 0.5) / 0.5) ** -0.3 / -0.3
    high = 0.5 * ((np.maximum(m, 0.5) / 0.5) ** -1.3 - 1.0) / -1.3
    return low + high


def luminosity_function(initial_mass, g_abs, r_abs, edges=MG_EDGES) -> dict:
    """Stars per magnitude bin per unit g light of an isochrone with a Kroupa IMF.

    Parameters
    ----------
    initial_mass : array
        Initial masses (Msun) of the isochrone points, increasing.
    g_abs, r_abs : array
        Their absolute g and r (AB).
    edges : array
        Bin edges in absolute g.

    Returns
    -------
    dict
        ``stars_per_light`` (per bin, per g flux of a star of M_g = 0),
        ``faint_variance`` (flux variance of the stars fainter than the last
        edge, same units), ``g_minus_r`` (integrated) and ``stars`` (IMF weight
        of each point, for checks).
    """
    m = np.asarray(initial_mass, dtype=float)
    if m.size < 2 or np.any(np.diff(m) < 0):
        msg = "isochrone initial masses must be at least two points, non-decreasing"
        raise ValueError(msg)
    bounds = np.concatenate([[m[0]], 0.5 * (m[1:] + m[:-1]), [m[-1]]])
    cum = _kroupa_cumulative(bounds)
    stars = np.diff(cum)
    g = np.asarray(g_abs, dtype=float)
    f = 10 ** (-0.4 * g)
    light = float(np.sum(stars * f))
    light_r = float(np.sum(stars * 10 ** (-0.4 * np.asarray(r_abs, dtype=float))))
    per_bin = np.histogram(g, edges, weights=stars)[0] / light
    faint = g >= edges[-1]
    return {
        "stars_per_light": per_bin,
        "faint_variance": float(np.sum((stars * f * f)[faint]) / light),
        "g_minus_r": float(-2.5 * np.log10(light / light_r)),
        "stars": stars,
    }


def read_mist_isochrone(path: str | Path) -> dict[str, np.ndarray]:
    """Columns of a MIST ``.iso.cmd`` file with one isochrone (Pan-STARRS1 photometry).

    Returns ``initial_mass``, ``g``, ``r`` (absolute AB) and ``phase``.
    """
    text = Path(path).read_text()
    header = [ln for ln in text.splitlines() if ln.startswith("#") and "initial_mass" in ln]
    if not header:
        msg = f"{path}: no MIST column header (a line naming initial_mass)"
        raise ValueError(msg)
    names = header[-1].lstrip("#").split()
    need = {"initial_mass": "initial_mass", "g": "PS_g", "r": "PS_r", "phase": "phase"}
    missing = [col for col in need.values() if col not in names]
    if missing:
        msg = f"{path}: MIST isochrone lacks column(s) {missing} (Pan-STARRS1 photometry needed)"
        raise ValueError(msg)
    rows = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    data = np.array([[float(v) for v in re.split(r"\s+", ln.strip())] for ln in rows])
    age_col = names.index("isochrone_age_yr") if "isochrone_age_yr" in names else None
    ages = set() if age_col is None else set(data[:, age_col].tolist())
    if len(ages) > 1:
        msg = f"{path}: {len(ages)} isochrones in the file; give one age"
        raise ValueError(msg)
    return {key: data[:, names.index(col)] for key, col in need.items()}


#: Lupton (2005), the SDSS transformations page, for stars: B = g + 0.3130 (g - r) + 0.2271
#: and V = g - 0.5784 (g - r) - 0.0038, solved for g - r and g.
_LUPTON_B = (0.3130, 0.2271)
_LUPTON_V = (-0.5784, -0.0038)


def read_parsec_isochrone(path: str | Path, log_age: float) -> dict[str, np.ndarray]:
    """Initial mass and absolute g, r of one age of a PARSEC (CMD) UBVRIJHK table.

    g and r come from Johnson B and V through Lupton (2005)'s transformations
    (:data:`_LUPTON_B`, :data:`_LUPTON_V`).
    """
    lines = Path(path).read_text().splitlines()
    header = [ln for ln in lines if ln.startswith("#") and "M_ini" in ln]
    if not header:
        msg = f"{path}: no PARSEC column header (a line naming M_ini)"
        raise ValueError(msg)
    names = header[-1].lstrip("#").split()
    missing = [col for col in ("log(age/yr)", "M_ini", "B", "V") if col not in names]
    if missing:
        msg = f"{path}: PARSEC table lacks column(s) {missing} (UBVRIJHK photometry needed)"
        raise ValueError(msg)
    data = np.array([[float(v) for v in ln.split()] for ln in lines if ln.strip() and ln[0] != "#"])
    one = np.abs(data[:, names.index("log(age/yr)")] - float(log_age)) < 1e-3
    if not one.any():
        msg = f"{path}: no isochrone of log(age/yr) = {log_age}"
        raise ValueError(msg)
    b, v = data[one, names.index("B")], data[one, names.index("V")]
    g_r = (b - v - (_LUPTON_B[1] - _LUPTON_V[1])) / (_LUPTON_B[0] - _LUPTON_V[0])
    g = v - _LUPTON_V[0] * g_r - _LUPTON_V[1]
    return {"initial_mass": data[one, names.index("M_ini")], "g": g, "r": g - g_r}


def main(argv=None) -> int:
    """Print the luminosity-function table of an isochrone file (module docstring).

    ``ISOCHRONE`` is a MIST ``.iso.cmd`` file, or a PARSEC table followed by the
    log(age/yr) to take from it.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print(
            "usage: python -m pandas_clusters.acquire.mock.old_population "
            "ISOCHRONE.iso.cmd | PARSEC_TABLE LOG_AGE"
        )
        return 2
    iso = read_mist_isochrone(args[0]) if len(args) == 1 else read_parsec_isochrone(*args)
    lf = luminosity_function(iso["initial_mass"], iso["g"], iso["r"])
    print("STARS_PER_LIGHT =", np.array2string(lf["stars_per_light"], precision=5, separator=", "))
    print(f"FAINT_VARIANCE = {lf['faint_variance']:.5e}")
    print(f"G_MINUS_R = {lf['g_minus_r']:.4f}")
    print(f"brightest M_g = {float(np.min(iso['g'])):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
