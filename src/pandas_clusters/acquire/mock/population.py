"""Objects of the mock sky, drawn per sky cell.

The sky around M31 is divided into square cells in the offset frame
centred on M31 (``lon``, ``lat`` = xi, eta in degrees). Each cell and each
object class has its own random generator seeded from ``(seed, class, i,
j)``, so the objects of a cell never depend on which fields are rendered:
overlapping fields show the same objects, and adding a field changes no
other field's pixels. ``obj_id`` encodes class, cell and index.

Populations (all magnitudes AB, total):

``star``
    Resolved M31 stars (red giants brighter than the old disk population's
    brightest star, blue main sequence and blue-loop stars, red supergiants)
    whose surface density follows the exponential disk, and Milky Way foreground
    dwarfs (uniform), down to ``star_faint_mag``. The old stars of M31's disk
    and spheroid (its inner halo) are drawn by the renderer from their light
    (:mod:`~pandas_clusters.acquire.mock.old_population`), like the bulge's.
``bright_star``
    Rare saturated foreground stars.
``young_cluster``
    Young disk clusters: King profiles, r_h log-uniform in
    ``young_cluster_rh_pc``, blue, in a star-forming ring; partly resolved
    into bright member stars.
``globular_cluster``
    Old clusters: red, compact, centrally concentrated in projection, out to
    the halo.
``galaxy``
    Background Sersic galaxies, their half-light radii from published size laws
    (:mod:`~pandas_clusters.acquire.mock.galaxy_sizes`).

Contaminants (issue 12, part 3; references in ``docs/mock-calibration.md``):

``asterism``
    Chance blends of 2-3 luminous M31 stars closer than
    ``asterism_separation_arcsec``, detected as one extended source: the
    Poisson pair rate of ``luminous_star_density_arcmin2`` stars, following
    the star-forming ring. The row holds the blend's total light and centre;
    :func:`asterism_members` gives its stars.
``hii_region``
    Compact HII regions and emission knots in the rings: a small, blue,
    g-bright Sersic body plus 2-5 unresolved knots (:func:`hii_knots`).
``compact_galaxy``, ``edge_on_galaxy``
    Background galaxies with r_e < 0.4" or ellipticity 0.7-0.9, as fractions
    of the ordinary galaxies.

Saturated stars' spikes and halos are drawn by the renderer; their reach
(:func:`saturated_star_reach_arcsec`) lets the truth score attribute the
spurious detections they cause to the star's truth row.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from pandas_clusters.core.geometry import M31, offsets_to_radec, radii_from_offsets_kpc

from . import dust
from .galaxy_sizes import galaxy_half_light_radius
from .old_population import DISK_BRIGHTEST_MG
from .settings import BANDS, MockSettings

__all__ = [
    "CONTAMINANTS_OFF",
    "CATALOGUE_KINDS",
    "CONTAMINANT_KINDS",
    "KINDS",
    "asterism_members",
    "cluster_metallicity",
    "metallicity_quantile",
    "hii_knots",
    "saturated_star_reach_arcsec",
    "catalogue_truth",
    "cluster_members",
    "draw_region",
    "galaxy_g_counts_total",
    "galaxy_g_mags",
    "king_radius_table",
]

#: Object classes and their codes in ``obj_id``.
KINDS = {"star": 1, "bright_star": 2, "young_cluster": 3, "globular_cluster": 4, "galaxy": 5}
#: Cell size factor per class (clusters and galaxies use coarser cells).
_CELL_FACTOR = {"star": 1, "bright_star": 5, "young_cluster": 5, "globular_cluster": 5, "galaxy": 5}
# contaminants (issue 12, part 3): codes after the original classes, so that their obj_ids sort
# after every older object and the catalogues' per-row draws of older objects do not move
#: The contaminant classes (each its own truth ``kind``).
CONTAMINANT_KINDS = ("asterism", "hii_region", "compact_galaxy", "edge_on_galaxy")
KINDS.update({k: 6 + n for n, k in enumerate(CONTAMINANT_KINDS)})
_CELL_FACTOR.update(dict.fromkeys(CONTAMINANT_KINDS, 5))
#: Classes behind M31's disk, seen through its whole dust layer (acquire.mock.dust).
BACKGROUND_KINDS = ("galaxy", "compact_galaxy", "edge_on_galaxy")
#: Settings that turn every contaminant off (for ``dataclasses.replace``; benchmarks, tests).
CONTAMINANTS_OFF = {
    "luminous_star_density_arcmin2": 0.0,
    "hii_region_density_arcmin2": 0.0,
    "compact_galaxy_fraction": 0.0,
    "edge_on_galaxy_fraction": 0.0,
    "saturated_spike_arcsec": 0.0,
}
_OFF = 1 << 15  # cell index offset so that indices are non-negative in obj_id

TRUTH_COLUMNS = {
    "obj_id": "int64",
    "kind": "string",
    "ra": "float64",
    "dec": "float64",
    "gmag": "float64",
    "imag": "float64",
    "r_h_pc": "float64",
    "king_c": "float64",
    "r_e_arcsec": "float64",
    "sersic_n": "float64",
    "ellipticity": "float64",
    "pa_deg": "float64",
    "n_resolved": "int32",
    "rproj_kpc": "float64",
}


def _lf(rng, n, m1, m2, slope):
    """Draw n magnitudes from dN/dm ~ 10**(slope*m) on [m1, m2]."""
    a, b = 10 ** (slope * m1), 10 ** (slope * m2)
    return np.log10(a + rng.random(n) * (b - a)) / slope


# issue 12, item 2 (mock-labels): the Milky Way foreground's luminosity function.
#: g range of the published foreground count (Wang+ 2023, docs/mock-calibration.md) and
#: the foreground's slope over it (dex/mag; the mock's own, not published).
FOREGROUND_BRIGHT = (16.0, 19.5)
_FG_BRIGHT_SLOPE = 0.15


def _foreground_parts(s: MockSettings) -> tuple[float, float]:
    """Foreground stars per arcmin^2 in the bright range and fainter, to ``star_faint_mag``.

    The bright part is ``foreground_density_arcmin2``; the faint part continues the
    luminosity function at the break with slope ``foreground_faint_slope``.
    """
    (m0, m1), a, a2 = FOREGROUND_BRIGHT, _FG_BRIGHT_SLOPE, s.foreground_faint_slope
    bright = s.foreground_density_arcmin2
    at_break = bright * np.log(10) * a * 10 ** (a * m1) / (10 ** (a * m1) - 10 ** (a * m0))
    span = max(s.star_faint_mag - m1, 0.0)
    if a2 == 0:
        return bright, at_break * span
    return bright, at_break * (10 ** (a2 * span) - 1) / (a2 * np.log(10))


def foreground_density_total(s: MockSettings) -> float:
    """Milky Way foreground stars per arcmin^2 from g = 16 to ``star_faint_mag``."""
    return float(sum(_foreground_parts(s)))


def _foreground_mags(rng, n: int, s: MockSettings) -> np.ndarray:
    """g of ``n`` foreground stars: a broken power law at the end of the published range."""
    bright, faint = _foreground_parts(s)
    (m0, m1), a2 = FOREGROUND_BRIGHT, s.foreground_faint_slope
    is_faint = rng.random(n) < faint / max(bright + faint, 1e-12)
    g = _lf(rng, n, m0, m1, _FG_BRIGHT_SLOPE)
    k = int(is_faint.sum())
    if a2 == 0:
        g[is_faint] = rng.uniform(m1, s.star_faint_mag, k)
    else:
        g[is_faint] = _lf(rng, k, m1, s.star_faint_mag, a2)
    return g


def _density(kind: str, xi, eta, s: MockSettings) -> float:
    """Surface density per arcmin^2 of a class at offsets (xi, eta)."""
    r_disk, r_proj = radii_from_offsets_kpc(xi, eta)
    if kind == "star":
        # M31's old stars off the disk belong to the spheroid's light (render._texture)
        red, young = _m31_star_densities(r_disk, s)
        return red + young + foreground_density_total(s)
    if kind == "bright_star":
        return s.bright_star_density_arcmin2
    if kind == "young_cluster":
        return s.young_cluster_density_arcmin2 * _ring_shape(r_disk, s)
    if kind == "globular_cluster":
        return (
            s.globular_cluster_density_arcmin2
            * (1 + (r_proj / s.globular_cluster_core_kpc) ** 2) ** -1.5
        )
    if kind == "galaxy":
        return s.galaxy_density_arcmin2
    if kind in CONTAMINANT_KINDS:
        return _contaminant_density(kind, r_disk, s)
    msg = f"unknown object class {kind!r}"
    raise ValueError(msg)


@lru_cache(maxsize=1)
def king_radius_table():
    """Tabulated King (1962) projected profiles.

    Returns
    -------
    c_grid : ndarray
        Concentrations ``log10(r_t / r_c)``.
    rh_over_rc : ndarray
        Half-light radius in units of the core radius for each ``c``.
    x_grid, cdf : ndarray
        Radius grid (units of r_t) and cumulative projected light per ``c``
        (rows), for drawing member-star radii.
    """
    c_grid = np.linspace(0.3, 2.6, 47)  # steps of 0.05
    x = np.linspace(0.0, 1.0, 2001)
    rh = np.empty_like(c_grid)
    cdfs = np.empty((c_grid.size, x.size))
    for k, c in enumerate(c_grid):
        rt_rc = 10**c
        r_rc = x * rt_rc
        prof = (1 / np.sqrt(1 + r_rc**2) - 1 / np.sqrt(1 + rt_rc**2)) ** 2
        w = prof * x
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(x))])
        cum /= cum[-1]
        cdfs[k] = cum
        rh[k] = np.interp(0.5, cum, x) * rt_rc
    return c_grid, rh, x, cdfs


def _cell_rng(s: MockSettings, kind: str, i: int, j: int) -> np.random.Generator:
    return np.random.default_rng([s.seed, KINDS[kind], i + _OFF, j + _OFF])


#: g of the brightest of M31's resolved red giants on the disk (a choice of the mock; M_g =
#: -2.2 at M31's distance) and the slope (dex/mag) of their luminosity function,
#: dN/dm ~ 10^(slope m).
RED_GIANT_TIP_G = 22.3
RED_GIANT_LF_SLOPE = 0.35
#: g of the brightest star of M31's old disk population (the metal-rich isochrone's,
#: ``old_population.DISK_BRIGHTEST_MG``): the disk's old red giants and red clump,
#: fainter, are drawn per unit light in its texture (render._texture), so the resolved
#: red giants drawn one by one stop there (docs/mock-realism.md, item 45).
DISK_BRIGHTEST_G = M31.distance_modulus + DISK_BRIGHTEST_MG
#: Shares of M31's resolved stars (brighter than ``star_faint_mag``) at the density's
#: reference radius of 5 kpc: red giants, and the young populations (blue main
#: sequence / blue loop, yellow supergiants, red supergiants). Choices of the mock.
M31_STAR_SHARES = {"red": 0.55, "blue": 0.33, "yellow": 0.09, "rsg": 0.03}
#: Disk radius (kpc) at which ``star_density_arcmin2`` gives M31's resolved stars.
STAR_DENSITY_RADIUS_KPC = 5.0


def _red_giant_faint_g(s: MockSettings) -> float:
    """Faintest resolved red giant: the old disk population's brightest star, or the limit."""
    return min(DISK_BRIGHTEST_G, s.star_faint_mag)


def _red_giant_bright_share(s: MockSettings) -> float:
    """Share of the red giants' luminosity function (tip to ``star_faint_mag``) drawn one by one.

    Those brighter than :func:`_red_giant_faint_g`: the density per magnitude of the
    bright ones (the LGGS's V < 23 counts, docs/mock-calibration.md) stays as it was.
    """
    a, tip = RED_GIANT_LF_SLOPE, RED_GIANT_TIP_G
    full = 10 ** (a * s.star_faint_mag) - 10 ** (a * tip)
    return float((10 ** (a * _red_giant_faint_g(s)) - 10 ** (a * tip)) / full)


def _m31_star_densities(r_disk, s: MockSettings) -> tuple:
    """(red giants, young stars) per arcmin^2 at disk radius ``r_disk``.

    The red giants follow the exponential disk of the diffuse light; the young
    stars (blue, yellow and red supergiants) follow the star-forming ring, as the
    young clusters and the luminous stars of the asterisms do (:func:`_ring_shape`),
    with ``M31_STAR_SHARES`` of ``star_density_arcmin2`` at ``STAR_DENSITY_RADIUS_KPC``.
    """
    r0 = STAR_DENSITY_RADIUS_KPC
    young_share = 1.0 - M31_STAR_SHARES["red"]
    red = (
        s.star_density_arcmin2
        * M31_STAR_SHARES["red"]
        * _red_giant_bright_share(s)
        * np.exp(-(r_disk - r0) / s.disk_scale_kpc)
    )
    young = s.star_density_arcmin2 * young_share * _ring_shape(r_disk, s) / _ring_shape(r0, s)
    return red, young


def _star_mags(rng, n: int, dens: float, s: MockSettings, out: dict) -> tuple:
    """(g, g - i) of field stars: Milky Way foreground dwarfs and M31 populations."""
    fg_frac = foreground_density_total(s) / max(dens, 1e-9)
    pop = rng.random(n)
    g = np.empty(n)
    gi = np.empty(n)
    fg = pop < fg_frac
    # Milky Way foreground dwarfs
    g[fg] = _foreground_mags(rng, int(fg.sum()), s)
    gi[fg] = rng.uniform(0.4, 2.8, fg.sum())
    # M31: red giants on the disk, young stars on the ring (_m31_star_densities), at
    # each star's own disk radius; the young ones split by M31_STAR_SHARES
    red_d, young_d = _m31_star_densities(radii_from_offsets_kpc(out["xi"], out["eta"])[0], s)
    p_red = red_d / np.maximum(red_d + young_d, 1e-12)
    sh = M31_STAR_SHARES
    u_young = rng.random(n) * (1.0 - sh["red"])
    red = ~fg & (rng.random(n) < p_red)
    young = ~fg & ~red
    blue = young & (u_young < sh["blue"])
    yellow = young & (u_young >= sh["blue"]) & (u_young < sh["blue"] + sh["yellow"])
    rsg = young & (u_young >= sh["blue"] + sh["yellow"])
    g[red] = _lf(rng, red.sum(), RED_GIANT_TIP_G, _red_giant_faint_g(s), RED_GIANT_LF_SLOPE)
    gi[red] = rng.normal(1.55, 0.3, red.sum())
    g[blue] = _lf(rng, blue.sum(), 19.5, s.star_faint_mag, 0.3)
    gi[blue] = rng.normal(-0.15, 0.15, blue.sum())
    g[yellow] = _lf(rng, yellow.sum(), 20.5, s.star_faint_mag, 0.3)
    gi[yellow] = rng.normal(0.8, 0.2, yellow.sum())
    g[rsg] = _lf(rng, rsg.sum(), 19.5, 23.5, 0.3)
    gi[rsg] = rng.normal(2.0, 0.3, rsg.sum())
    return g, gi


def _bright_star_mags(rng, n: int, dens: float, s: MockSettings, out: dict) -> tuple:
    """(g, g - i) of bright foreground stars."""
    g = rng.uniform(9.0, 16.0, n)
    gi = rng.uniform(0.4, 2.5, n)
    return g, gi


def _young_cluster_props(rng, n: int, dens: float, s: MockSettings, out: dict) -> tuple:
    """(g, g - i) of young clusters; fills their King structure and resolved members."""
    lo, hi = s.young_cluster_mag_range
    g = _lf(rng, n, lo, hi, 0.3)
    gi = rng.uniform(-0.35, 0.65, n)
    rlo, rhi = s.young_cluster_rh_pc
    out["r_h_pc"] = np.exp(rng.uniform(np.log(rlo), np.log(rhi), n))
    out["king_c"] = rng.uniform(0.6, 1.6, n)
    lam = np.minimum(5.0 * 10 ** (-0.4 * (g - 19.0)), 30.0)
    out["n_resolved"] = rng.poisson(lam).astype(np.int32)
    return g, gi


#: Tanvir et al. (2012, MNRAS 422, 162; abstract): the classical globular clusters of
#: M31's halo at projected radii of 13 to 100 kpc, fit with King profiles on deep HST
#: images, have photometric tidal radii of 50-100 pc. Beyond this radius the mock's old
#: clusters take a tidal radius uniform in that range (their half-light radius as
#: elsewhere); inside it, the concentration ``GC_KING_C`` (a choice, tidal radii of
#: 19-49 pc for a half-light radius of 2.5 pc).
GC_REMOTE_RPROJ_KPC = 13.0
GC_REMOTE_TIDAL_PC = (50.0, 100.0)
GC_KING_C = (1.2, 2.0)

#: The old clusters' half-light radii grow slowly outwards, as M31's own clusters' do:
#: Peacock et al. (2010, MNRAS 402, 803; J/MNRAS/402/803 table 1) give r_h for 213
#: confirmed clusters (class 1) at Rproj 2.4-22.8 kpc, medians 2.39, 2.77, 2.97 and 3.28 pc
#: at 0-5, 5-10, 10-15 and 15-30 kpc. A least-squares line through their log r_h against
#: log Rproj (``calibration.peacock_rh_relation``, which the tests re-measure on the table)
#: gives r_h = GC_RH_MEDIAN_PC (Rproj / GC_RH_REFERENCE_KPC)^GC_RH_SLOPE with a scatter of
#: GC_RH_LOG_SCATTER in ln r_h. The mock draws each cluster's r_h log-normally around that
#: relation (the draw at the reference clipped to ``GC_RH_RANGE_PC``, the 1st-99th
#: percentiles of the 213 clusters' r_h divided by the relation), held at its value at
#: ``GC_RH_INNER_KPC`` (the fit's innermost cluster) inside and continued beyond 22.8 kpc:
#: 3.3 pc at 20 kpc, 3.9 pc at 60 kpc, 4.4 pc at 120 kpc. (Until December 2026 the growth
#: was van den Bergh's (2011) R_gc^(2/3) for the Galaxy's clusters: 5.7 pc at 20 kpc, which
#: M31's measured clusters at 15-30 kpc, 2.5-4.1 pc between their 16th and 84th
#: percentiles, do not show; docs/mock-realism.md, item 31.)
GC_RH_MEDIAN_PC = 2.09
GC_RH_RANGE_PC = (1.0, 6.0)
GC_RH_REFERENCE_KPC = 1.0
GC_RH_SLOPE = 0.157
GC_RH_LOG_SCATTER = 0.40
GC_RH_INNER_KPC = 2.4


#: The old clusters' metallicities, by projected radius, as M31's own: the CfA "M31
#: Hectospec Catalog of Old Clusters" (Caldwell et al. 2011, AJ 141, 61, their table 1 of
#: integrated-light [Fe/H], with the halo clusters' [Fe/H] from colour-magnitude diagrams
#: in its 2015 version; the shared ``caldwell2011-auriga``) gives [Fe/H] for 339 clusters.
#: Their deciles (0th to 100th percentile) per Rproj bin between ``GC_FEH_RPROJ_EDGES_KPC``
#: (66, 106, 92, 42, 19 and 14 clusters; ``calibration.caldwell_feh_deciles``, which the
#: tests re-measure on the file): each mock old cluster's [Fe/H] is drawn from its bin's
#: distribution (:func:`cluster_metallicity`), and its giants from the luminosity function
#: of that metallicity (``old_population.cluster_star_bins``). Half the clusters inside 5
#: kpc are richer than [Fe/H] = -0.9, a third at 15-30 kpc, none beyond 30 kpc.
GC_FEH_RPROJ_EDGES_KPC = (0.0, 2.0, 5.0, 10.0, 15.0, 30.0, np.inf)
GC_FEH_DECILES = np.array(
    [
        [-2.57, -1.46, -1.22, -1.10, -0.94, -0.59, -0.46, -0.28, -0.18, -0.01, 0.40],
        [-2.76, -1.68, -1.39, -1.25, -1.03, -0.93, -0.82, -0.78, -0.66, -0.46, 0.00],
        [-2.45, -1.70, -1.46, -1.35, -1.11, -0.98, -0.85, -0.74, -0.62, -0.39, 0.40],
        [-2.78, -2.13, -1.87, -1.70, -1.54, -1.48, -1.43, -1.21, -1.12, -0.87, -0.40],
        [-1.98, -1.90, -1.75, -1.66, -1.24, -1.19, -0.97, -0.79, -0.69, -0.46, -0.42],
        [-2.14, -2.14, -2.14, -1.96, -1.84, -1.84, -1.76, -1.62, -1.55, -1.54, -0.95],
    ]
)


def metallicity_quantile(u, rproj_kpc) -> np.ndarray:
    """[Fe/H] at quantile ``u`` of M31's old clusters at ``rproj_kpc`` (``GC_FEH_DECILES``).

    The inverse of the distribution of the clusters' bin, linear between its deciles.
    """
    u, r = np.broadcast_arrays(np.asarray(u, dtype=float), np.asarray(rproj_kpc, dtype=float))
    last = GC_FEH_DECILES.shape[0] - 1
    bins = np.clip(np.searchsorted(GC_FEH_RPROJ_EDGES_KPC, r, side="right") - 1, 0, last)
    q = np.linspace(0.0, 1.0, GC_FEH_DECILES.shape[1])
    out = np.empty(u.shape)
    for b in np.unique(bins):
        s = bins == b
        out[s] = np.interp(u[s], q, GC_FEH_DECILES[b])
    return out


def cluster_metallicity(seed: int, obj_id, rproj_kpc) -> np.ndarray:
    """[Fe/H] of old clusters: a draw from ``GC_FEH_DECILES`` at each one's Rproj.

    Deterministic per cluster (from the mock's ``seed`` and its ``obj_id``), so that
    its giants (``render.globular_giants``) and the mock C11 catalogue's [Fe/H] see one
    metallicity (:func:`metallicity_quantile` of a uniform drawn for the cluster).
    """
    ids = np.asarray(obj_id, dtype=np.int64)
    u = np.array([np.random.default_rng([int(seed), 80, int(k)]).random() for k in ids.ravel()])
    return metallicity_quantile(u.reshape(ids.shape), rproj_kpc)


def _king_c_for_tidal_radius(rt_over_rh) -> np.ndarray:
    """King concentration whose tidal radius is ``rt_over_rh`` half-light radii (clipped)."""
    c_grid, rh_rc, _, _ = king_radius_table()
    ratio = 10**c_grid / rh_rc  # increasing with c
    return np.interp(np.asarray(rt_over_rh, dtype=float), ratio, c_grid)


def _globular_cluster_props(rng, n: int, dens: float, s: MockSettings, out: dict) -> tuple:
    """(g, g - i) of globular clusters; fills their King structure."""
    # GC luminosity function: V turnover ~17.7 (RBC v5 class 1, docs/mock-calibration.md)
    g = np.clip(rng.normal(18.1, 1.2, n), 14.5, 22.0)
    gi = rng.normal(1.05, 0.12, n)
    r_h = np.clip(
        np.exp(rng.normal(np.log(GC_RH_MEDIAN_PC), GC_RH_LOG_SCATTER, n)), *GC_RH_RANGE_PC
    )
    u = rng.random(n)
    _, r_proj = radii_from_offsets_kpc(out["xi"], out["eta"])
    r_h = r_h * (np.maximum(np.asarray(r_proj), GC_RH_INNER_KPC) / GC_RH_REFERENCE_KPC) ** (
        GC_RH_SLOPE
    )
    lo, hi = GC_KING_C
    rt_lo, rt_hi = GC_REMOTE_TIDAL_PC
    remote = _king_c_for_tidal_radius((rt_lo + (rt_hi - rt_lo) * u) / r_h)
    out["r_h_pc"] = r_h
    out["king_c"] = np.where(r_proj >= GC_REMOTE_RPROJ_KPC, remote, lo + (hi - lo) * u)
    return g, gi


# --------------------------------------------------------------------------- galaxy counts
# (issue 12, part 2: mock-galaxies; the reference: docs/mock-calibration.md)


def _count_curve(knots, lo: float, hi: float, step: float = 0.002):
    """g grid over [lo, hi] and log10 dN/dg on it from the knots (end slopes continued)."""
    k = np.asarray(knots, dtype=float)
    if k.ndim != 2 or k.shape[0] < 2 or np.any(np.diff(k[:, 0]) <= 0):
        msg = (
            f"mock.galaxy_g_counts must be >= 2 [g, log10 N] pairs with g increasing, got {knots!r}"
        )
        raise ValueError(msg)
    g = np.linspace(lo, hi, max(int(round((hi - lo) / step)), 1) + 1)
    logn = np.interp(g, k[:, 0], k[:, 1])
    s0 = (k[1, 1] - k[0, 1]) / (k[1, 0] - k[0, 0])
    s1 = (k[-1, 1] - k[-2, 1]) / (k[-1, 0] - k[-2, 0])
    logn = np.where(g < k[0, 0], k[0, 1] + s0 * (g - k[0, 0]), logn)
    logn = np.where(g > k[-1, 0], k[-1, 1] + s1 * (g - k[-1, 0]), logn)
    return g, logn


@lru_cache(maxsize=8)
def _count_cdf(knots, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(g grid, cumulative fraction, galaxies per deg^2 in [lo, hi]) of the knots' counts."""
    g, logn = _count_curve(knots, lo, hi)
    dn = 10**logn
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (dn[1:] + dn[:-1]) * np.diff(g))])
    return g, cum / cum[-1], float(cum[-1])


def galaxy_g_counts_total(s: MockSettings) -> float:
    """Galaxies per arcmin^2 within ``galaxy_mag_range`` that the knots of ``galaxy_g_counts`` give.

    The default ``galaxy_density_arcmin2`` is this total shared among the three galaxy
    classes: total / (1 + ``compact_galaxy_fraction`` + ``edge_on_galaxy_fraction``).
    """
    lo, hi = s.galaxy_mag_range
    return _count_cdf(tuple(map(tuple, s.galaxy_g_counts)), float(lo), float(hi))[2] / 3600.0


def galaxy_g_mags(rng, n: int, s: MockSettings) -> np.ndarray:
    """g of ``n`` background galaxies drawn from the ``galaxy_g_counts`` shape (inverse CDF)."""
    lo, hi = s.galaxy_mag_range
    g, cdf, _ = _count_cdf(tuple(map(tuple, s.galaxy_g_counts)), float(lo), float(hi))
    return np.interp(rng.random(n), cdf, g)


#: Fraction of the ordinary background galaxies that are disks (Sersic n 0.6-1.5, Shen
#: et al. 2003's late types); the others are early types (:data:`EARLY_TYPE_SERSIC_N`).
#: A choice.
LATE_TYPE_FRACTION = 0.6
#: Sersic index range of the early types: Shen et al. 2003 call a galaxy early-type where
#: its Sersic index exceeds 2.5 (the index their size law for early types holds for), up
#: to de Vaucouleurs's 4.
EARLY_TYPE_SERSIC_N = (2.5, 4.0)
#: Largest major-axis r_e (arcsec) of a background galaxy (a numerical bound: a late
#: type of g = 15 has a median r_e of 7").
GALAXY_RE_MAX_ARCSEC = 15.0


def _galaxy_props(rng, n: int, dens: float, s: MockSettings, out: dict) -> tuple:
    """(g, g - i) of background galaxies; fills their Sersic shape.

    Half-light radii from Shen et al. 2003's size laws at the redshift a galaxy of
    that magnitude has (:func:`~pandas_clusters.acquire.mock.galaxy_sizes.galaxy_half_light_radius`).
    """
    g = galaxy_g_mags(rng, n, s)
    gi = rng.uniform(0.3, 1.6, n)
    early = rng.random(n) >= LATE_TYPE_FRACTION
    out["sersic_n"] = np.where(
        early, rng.uniform(*EARLY_TYPE_SERSIC_N, n), rng.uniform(0.6, 1.5, n)
    )
    out["ellipticity"] = rng.uniform(0.0, 0.7, n)
    out["pa_deg"] = rng.uniform(0.0, 180.0, n)
    r_e, _ = galaxy_half_light_radius(rng, g, early, 1.0 - out["ellipticity"], out["sersic_n"])
    out["r_e_arcsec"] = np.clip(r_e, 0.2, GALAXY_RE_MAX_ARCSEC)
    return g, gi


# --------------------------------------------------------------------------- contaminants
# (issue 12, part 3; the numbers and their references: docs/mock-calibration.md, "Contaminants")


def _ring_shape(r_disk, s: MockSettings):
    """Star-forming ring profile (1 at the ring): the young clusters' radial shape."""
    ring = np.exp(
        -0.5 * ((r_disk - s.young_cluster_ring_kpc) / s.young_cluster_ring_width_kpc) ** 2
    )
    inner = 0.3 * np.exp(-r_disk / s.disk_scale_kpc)
    return (ring + inner) * np.exp(-np.maximum(r_disk - 20.0, 0.0) / 2.0)


def _contaminant_density(kind: str, r_disk, s: MockSettings):
    """Surface density per arcmin^2 of a contaminant class at disk radius ``r_disk``."""
    if kind == "asterism":
        # Poisson pairs closer than d among stars of density n: n^2 pi d^2 / 2
        n = s.luminous_star_density_arcmin2 * _ring_shape(r_disk, s) / 3600.0  # per arcsec^2
        return 0.5 * n**2 * np.pi * s.asterism_separation_arcsec**2 * 3600.0
    if kind == "hii_region":
        return s.hii_region_density_arcmin2 * _ring_shape(r_disk, s)
    if kind == "compact_galaxy":
        return s.compact_galaxy_fraction * s.galaxy_density_arcmin2
    return s.edge_on_galaxy_fraction * s.galaxy_density_arcmin2


def _luminous_star_colours(rng, n: int) -> np.ndarray:
    """g - i of luminous M31 stars: blue main sequence / blue loop or red supergiants."""
    blue = rng.random(n) < 0.6
    return np.where(blue, rng.normal(-0.15, 0.15, n), rng.normal(1.8, 0.4, n))


def _asterism_props(rng, n: int, dens: float, s: MockSettings, out: dict) -> tuple:
    """(g, g - i) of blends of 2-3 luminous stars (LGGS-like luminosity function)."""
    k = 2 + (rng.random(n) < 0.25)
    g3 = _lf(rng, 3 * n, 19.5, 23.0, 0.3).reshape(n, 3)
    gi3 = _luminous_star_colours(rng, 3 * n).reshape(n, 3)
    use = np.arange(3)[None, :] < k[:, None]
    fg = np.where(use, 10 ** (-0.4 * g3), 0.0)
    fi = np.where(use, 10 ** (-0.4 * (g3 - gi3)), 0.0)
    g = -2.5 * np.log10(fg.sum(axis=1))
    i = -2.5 * np.log10(fi.sum(axis=1))
    out["n_resolved"] = k.astype(np.int32)
    out["r_e_arcsec"] = rng.uniform(0.25, 0.5, n) * s.asterism_separation_arcsec
    return g, g - i


def _hii_region_props(rng, n: int, dens: float, s: MockSettings, out: dict) -> tuple:
    """(g, g - i) of compact HII regions; fills their Sersic body and knot count."""
    lo, hi = s.hii_region_mag_range
    g = _lf(rng, n, lo, hi, 0.608)  # dN/dL ~ L^-2.52 (Azimlu et al. 2011): 0.4 x 1.52 dex/mag
    gi = np.clip(rng.normal(0.27, 0.45, n), -1.0, 1.5)  # RBC/Peacock+ 2010 class 5: median 0.27
    out["r_e_arcsec"] = np.exp(rng.uniform(np.log(0.4), np.log(2.0), n))
    out["sersic_n"] = rng.uniform(0.5, 1.0, n)
    out["ellipticity"] = rng.uniform(0.0, 0.4, n)
    out["pa_deg"] = rng.uniform(0.0, 180.0, n)
    out["n_resolved"] = (2 + rng.poisson(1.5, n)).clip(2, 5).astype(np.int32)
    return g, gi


def _compact_galaxy_props(rng, n: int, dens: float, s: MockSettings, out: dict) -> tuple:
    """(g, g - i) of compact background galaxies (red, r_e < 0.4", concentrated)."""
    g = galaxy_g_mags(rng, n, s)
    gi = rng.normal(1.46, 0.3, n)  # RBC/Peacock+ 2010 class 4: median g - i 1.46
    out["r_e_arcsec"] = np.exp(rng.uniform(np.log(0.12), np.log(0.4), n))
    out["sersic_n"] = rng.uniform(2.0, 4.0, n)
    out["ellipticity"] = rng.uniform(0.0, 0.3, n)
    out["pa_deg"] = rng.uniform(0.0, 180.0, n)
    return g, gi


def _edge_on_galaxy_props(rng, n: int, dens: float, s: MockSettings, out: dict) -> tuple:
    """(g, g - i) of edge-on background disks (exponential, ellipticity 0.7-0.9).

    Late types: their half-light radii as :func:`_galaxy_props` draws them.
    """
    g = galaxy_g_mags(rng, n, s)
    gi = rng.uniform(0.3, 1.6, n)
    out["sersic_n"] = rng.uniform(0.6, 1.2, n)
    out["ellipticity"] = rng.uniform(0.7, 0.9, n)
    out["pa_deg"] = rng.uniform(0.0, 180.0, n)
    r_e, _ = galaxy_half_light_radius(rng, g, False, 1.0 - out["ellipticity"], out["sersic_n"])
    out["r_e_arcsec"] = np.clip(r_e, 0.3, GALAXY_RE_MAX_ARCSEC)
    return g, gi


def _split_light(rng, k: int, row) -> tuple[np.ndarray, np.ndarray]:
    """(g, i) magnitudes of ``k`` parts summing to the row's g and i light."""
    w = rng.pareto(1.5, k) + 1.0
    gi = _luminous_star_colours(rng, k)
    fg = w / w.sum() * 10 ** (-0.4 * row.gmag)
    fi = fg * 10 ** (0.4 * gi)
    fi *= 10 ** (-0.4 * row.imag) / fi.sum()
    return -2.5 * np.log10(fg), -2.5 * np.log10(fi)


def asterism_members(settings: MockSettings, row) -> pd.DataFrame:
    """The stars of one asterism (deterministic from its obj_id).

    Returns ``dx_arcsec``, ``dy_arcsec`` (east, north offsets from the row's
    position, the light-weighted centre), ``gmag``, ``imag``: ``n_resolved``
    stars inside a circle of diameter ``asterism_separation_arcsec`` whose g and
    i light add up to the row's.
    """
    k = int(row.n_resolved)
    rng = np.random.default_rng([settings.seed, 78, int(row.obj_id)])
    g, i = _split_light(rng, k, row)
    r = 0.5 * settings.asterism_separation_arcsec * np.sqrt(rng.uniform(0.3, 1.0, k))
    phi = rng.uniform(0, 2 * np.pi, k)
    dx, dy = r * np.cos(phi), r * np.sin(phi)
    w = 10 ** (-0.4 * g)
    dx -= np.sum(w * dx) / w.sum()
    dy -= np.sum(w * dy) / w.sum()
    return pd.DataFrame({"dx_arcsec": dx, "dy_arcsec": dy, "gmag": g, "imag": i})


#: Fraction of an HII region's g light in its knots (i: 0.6 of that fraction; the knots'
#: Hbeta and [OIII] lines fall in g).
HII_KNOT_FRACTION = 0.4


def hii_knots(settings: MockSettings, row) -> pd.DataFrame:
    """Emission knots of one HII region (deterministic from its obj_id).

    Returns ``dx_arcsec``, ``dy_arcsec``, ``gmag``, ``imag`` of ``n_resolved``
    unresolved knots within 1.5 r_e, carrying :data:`HII_KNOT_FRACTION` of the
    region's g light and 0.6 times that fraction of its i light.
    """
    k = int(row.n_resolved)
    rng = np.random.default_rng([settings.seed, 79, int(row.obj_id)])
    w = rng.pareto(1.5, k) + 1.0
    w /= w.sum()
    fg = HII_KNOT_FRACTION * w * 10 ** (-0.4 * row.gmag)
    fi = 0.6 * HII_KNOT_FRACTION * w * 10 ** (-0.4 * row.imag)
    r = 1.5 * row.r_e_arcsec * np.sqrt(rng.random(k))
    phi = rng.uniform(0, 2 * np.pi, k)
    return pd.DataFrame(
        {
            "dx_arcsec": r * np.cos(phi),
            "dy_arcsec": r * np.sin(phi),
            "gmag": -2.5 * np.log10(fg),
            "imag": -2.5 * np.log10(fi),
        }
    )


def saturated_star_reach_arcsec(gmag, settings_or_spike) -> np.ndarray:
    """How far (arcsec) a star's diffraction spikes reach: ``spike * 10**(-0.2 (g - 12))``.

    ``settings_or_spike`` is a :class:`MockSettings` or the spike half-length at
    g = 12 (``saturated_spike_arcsec``). Spurious detections on the spikes or in
    the halo (radius half of this) lie within this distance of the star.
    """
    spike = getattr(settings_or_spike, "saturated_spike_arcsec", settings_or_spike)
    return float(spike) * 10 ** (-0.2 * (np.asarray(gmag, dtype=float) - 12.0))


#: Per class: draws (g, g - i) and fills the class's structural columns of ``out``.
_KIND_PROPS = {
    "star": _star_mags,
    "bright_star": _bright_star_mags,
    "young_cluster": _young_cluster_props,
    "globular_cluster": _globular_cluster_props,
    "galaxy": _galaxy_props,
    # contaminants (issue 12, part 3)
    "asterism": _asterism_props,
    "hii_region": _hii_region_props,
    "compact_galaxy": _compact_galaxy_props,
    "edge_on_galaxy": _edge_on_galaxy_props,
}


def _draw_cell(kind: str, i: int, j: int, s: MockSettings) -> dict[str, np.ndarray]:
    cell = s.cell_deg * _CELL_FACTOR[kind]
    xi0, eta0 = i * cell, j * cell
    rng = _cell_rng(s, kind, i, j)
    dens = float(_density(kind, xi0 + 0.5 * cell, eta0 + 0.5 * cell, s))
    n = int(rng.poisson(dens * (cell * 60.0) ** 2))
    xi = xi0 + rng.random(n) * cell
    eta = eta0 + rng.random(n) * cell
    nan = np.full(n, np.nan)
    out = {
        "xi": xi,
        "eta": eta,
        "r_h_pc": nan,
        "king_c": nan,
        "r_e_arcsec": nan,
        "sersic_n": nan,
        "ellipticity": nan,
        "pa_deg": nan,
        "n_resolved": np.zeros(n, dtype=np.int32),
    }
    props = _KIND_PROPS.get(kind)
    if props is None:  # pragma: no cover - guarded by _density
        raise AssertionError(kind)
    g, gi = props(rng, n, dens, s, out)
    out["gmag"] = g
    out["imag"] = g - gi
    if kind in BACKGROUND_KINDS and s.m31_dust:
        # behind M31's whole dust layer (acquire.mock.dust): seen dimmer and redder
        r_disk, _ = radii_from_offsets_kpc(xi, eta)
        for band in BANDS:
            out[f"{band}mag"] = out[f"{band}mag"] + dust.screen_extinction(
                r_disk, s.disk_scale_kpc, band
            )
    code = KINDS[kind]
    out["obj_id"] = (((code << 16) + (i + _OFF)) << 16 | (j + _OFF)) << 20 | np.arange(
        n, dtype=np.int64
    )
    out["kind"] = np.full(n, kind, dtype=object)
    return out


@dataclass(frozen=True)
class _Box:
    xi_min: float
    xi_max: float
    eta_min: float
    eta_max: float


def draw_region(
    settings: MockSettings,
    *,
    xi_range: tuple[float, float],
    eta_range: tuple[float, float],
    kinds=tuple(KINDS),
    faint_limit: dict[str, float] | None = None,
    radius_deg: float | None = None,
) -> pd.DataFrame:
    """All objects of the given classes in cells overlapping a box of offsets.

    Parameters
    ----------
    settings : MockSettings
    xi_range, eta_range : (float, float)
        Box in the M31 offset frame, degrees. Whole cells are returned, so
        the caller trims to its exact footprint.
    kinds : iterable of str
        Object classes to draw.
    faint_limit : dict, optional
        Per class, drop objects fainter than this g magnitude.
    radius_deg : float, optional
        Skip the cells that lie wholly farther than this from M31's centre (a
        caller that trims to that circle gets the same objects, faster).

    Returns
    -------
    pandas.DataFrame
        Truth columns (see ``docs/data-model.md``) plus ``xi``, ``eta``.
    """
    parts = []
    for kind in kinds:
        cell = settings.cell_deg * _CELL_FACTOR[kind]
        i0, i1 = int(np.floor(xi_range[0] / cell)), int(np.floor(xi_range[1] / cell))
        j0, j1 = int(np.floor(eta_range[0] / cell)), int(np.floor(eta_range[1] / cell))
        for i in range(i0, i1 + 1):
            near_xi = max(i * cell, -(i + 1) * cell, 0.0)  # the cell's nearest offsets to 0
            for j in range(j0, j1 + 1):
                near_eta = max(j * cell, -(j + 1) * cell, 0.0)
                if radius_deg is not None and np.hypot(near_xi, near_eta) > radius_deg:
                    continue
                d = _draw_cell(kind, i, j, settings)
                if faint_limit and kind in faint_limit:
                    keep = d["gmag"] <= faint_limit[kind]
                    d = {k: v[keep] for k, v in d.items()}
                if len(d["xi"]):
                    parts.append(d)
    if not parts:
        df = pd.DataFrame({k: pd.Series(dtype=t) for k, t in TRUTH_COLUMNS.items()})
        df["xi"] = pd.Series(dtype="float64")
        df["eta"] = pd.Series(dtype="float64")
        return df
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ra, dec = offsets_to_radec(cols["xi"], cols["eta"])
    _, r_proj = radii_from_offsets_kpc(cols["xi"], cols["eta"])
    df = pd.DataFrame(
        {
            "obj_id": cols["obj_id"].astype(np.int64),
            "kind": pd.array(cols["kind"], dtype="string"),
            "ra": ra,
            "dec": dec,
            "gmag": cols["gmag"],
            "imag": cols["imag"],
            "r_h_pc": cols["r_h_pc"],
            "king_c": cols["king_c"],
            "r_e_arcsec": cols["r_e_arcsec"],
            "sersic_n": cols["sersic_n"],
            "ellipticity": cols["ellipticity"],
            "pa_deg": cols["pa_deg"],
            "n_resolved": cols["n_resolved"].astype(np.int32),
            "rproj_kpc": r_proj,
            "xi": cols["xi"],
            "eta": cols["eta"],
        }
    )
    return df.sort_values("obj_id", kind="stable").reset_index(drop=True)


def cluster_members(settings: MockSettings, row) -> pd.DataFrame:
    """Resolved member stars of one cluster (deterministic from its obj_id).

    Returns a frame with ``dx_arcsec``, ``dy_arcsec`` (east, north offsets),
    ``gmag``, ``imag``. Together the members carry a fraction (10-40%) of the
    cluster's light; the smooth King component carries the rest.
    """
    n = int(row.n_resolved)
    if n == 0:
        return pd.DataFrame({"dx_arcsec": [], "dy_arcsec": [], "gmag": [], "imag": []})
    rng = np.random.default_rng([settings.seed, 77, int(row.obj_id)])
    c_grid, rh_rc, x_grid, cdfs = king_radius_table()
    k = int(np.clip(np.searchsorted(c_grid, row.king_c), 0, c_grid.size - 1))
    rt_rc = 10 ** c_grid[k]
    rc_pc = row.r_h_pc / rh_rc[k]
    rt_arcsec = rt_rc * rc_pc / M31.pc_per_arcsec
    r = np.interp(rng.random(n), cdfs[k], x_grid) * rt_arcsec
    phi = rng.uniform(0, 2 * np.pi, n)
    frac = rng.uniform(0.1, 0.4)
    weights = rng.pareto(1.5, n) + 1.0
    weights *= frac / weights.sum()
    f_g = 10 ** (-0.4 * row.gmag) * weights
    red = rng.random(n) < 0.3
    gi = np.where(red, rng.normal(2.0, 0.3, n), rng.normal(-0.2, 0.12, n))
    gmag = -2.5 * np.log10(f_g)
    return pd.DataFrame(
        {
            "dx_arcsec": r * np.cos(phi),
            "dy_arcsec": r * np.sin(phi),
            "gmag": gmag,
            "imag": gmag - gi,
        }
    )


#: Truth classes of the catalogue truth (:func:`catalogue_truth`).
CATALOGUE_KINDS = ("young_cluster", "globular_cluster", "galaxy", *CONTAMINANT_KINDS, "star")


def catalogue_truth(settings: MockSettings, *, kinds=CATALOGUE_KINDS) -> pd.DataFrame:
    """Cluster-like objects over ``catalogue_radius_deg`` around M31.

    The input of the mock literature and PHAT catalogues: every young and
    globular cluster, and galaxies brighter than ``catalogue_galaxy_faint_mag``,
    independent of the field list; the contaminant classes brighter than
    ``catalogue_galaxy_faint_mag`` and the stars (Milky Way foreground and M31)
    brighter than ``catalogue_star_faint_mag`` (the RBC lists some, with their
    classes). ``kinds`` (a subset of :data:`CATALOGUE_KINDS`) draws only those
    classes: the same objects, faster (the stars take most of the time).
    """
    unknown = sorted(set(kinds) - set(CATALOGUE_KINDS))
    if unknown:
        msg = f"catalogue truth classes {unknown} unknown; expected some of {CATALOGUE_KINDS}"
        raise ValueError(msg)
    # the same settings draw the same objects: one process (the realism measurement's
    # draws, the tests) draws them once
    key = (repr(settings), tuple(k for k in CATALOGUE_KINDS if k in kinds))
    if key not in _CATALOGUE_CACHE:
        while len(_CATALOGUE_CACHE) >= _CATALOGUE_CACHE_SIZE:
            _CATALOGUE_CACHE.pop(next(iter(_CATALOGUE_CACHE)))
        _CATALOGUE_CACHE[key] = _catalogue_truth(settings, key[1])
    return _CATALOGUE_CACHE[key].copy()


#: catalogue_truth's draws of this process, by settings and classes (oldest dropped first).
_CATALOGUE_CACHE: dict[tuple, pd.DataFrame] = {}
_CATALOGUE_CACHE_SIZE = 4


def _catalogue_truth(settings: MockSettings, kinds: tuple[str, ...]) -> pd.DataFrame:
    r = settings.catalogue_radius_deg
    faint = settings.catalogue_galaxy_faint_mag
    df = draw_region(
        settings,
        xi_range=(-r, r),
        eta_range=(-r, r),
        kinds=kinds,
        radius_deg=r,
        faint_limit={
            "galaxy": faint,
            **dict.fromkeys(CONTAMINANT_KINDS, faint),
            "star": settings.catalogue_star_faint_mag,
        },
    )
    keep = np.hypot(df["xi"], df["eta"]) <= r
    return df.loc[keep].drop(columns=["xi", "eta"]).reset_index(drop=True)
