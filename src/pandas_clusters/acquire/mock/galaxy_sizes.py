"""Half-light radii of the mock's background galaxies from published size-luminosity laws.

A galaxy of apparent magnitude g is put at a redshift drawn from the redshift
distribution of galaxies of that magnitude: the comoving volume element (flat
LambdaCDM, H0 = 70 km/s/Mpc, Omega_m = 0.3) times its type's Schechter luminosity
function in r (:data:`LATE_TYPE_LF`, :data:`EARLY_TYPE_LF`), with no evolution and no
K-correction, r = g - :data:`GALAXY_G_MINUS_R`. Its absolute magnitude there sets the
median and the lognormal scatter of its half-light radius in kpc (Shen et al. 2003,
:data:`SHEN03_LATE`, :data:`SHEN03_EARLY`), and the angular diameter distance turns it
into arcsec. Shen et al.'s radii and magnitudes are SDSS Petrosian quantities: R50
is the radius of the circle holding half the Petrosian flux (the light inside twice
the radius where the azimuthally averaged surface brightness is 0.2 of the mean
inside it), which misses part of a concentrated profile's light (0.20 mag of a de
Vaucouleurs profile, Graham et al. 2005, AJ 130, 1535). The mock's Sersic ``r_e`` is
along the major axis and its g is total: each galaxy's Petrosian magnitude and R50
are those of its own elliptical Sersic profile in circular apertures
(:func:`petrosian_half_light`), so that its Petrosian r sets its redshift and
absolute magnitude and its Petrosian R50 is the one Shen et al.'s law gives.

No evolution makes the faintest galaxies too large (at g = 26 a late type's median is
0.35", where Smail et al. 1995 find about 0.2"; the mock draws every galaxy with its
size, docs/mock-realism.md item 47): the law is measured for the bright ones, at the
redshifts (z < 0.3) where the local luminosity functions and size laws were measured.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "EARLY_TYPE_LF",
    "GALAXY_G_MINUS_R",
    "LATE_TYPE_LF",
    "SHEN03_EARLY",
    "SHEN03_LATE",
    "circular_half_light_fraction",
    "galaxy_half_light_radius",
    "petrosian_half_light",
    "redshift_cdf",
    "sersic_bn",
]

#: Shen et al. 2003 (MNRAS 343, 978), table 1, late-type galaxies (Sersic n < 2.5),
#: r band, h = 0.7: median log10(R50 / kpc) = -0.4 alpha M + (beta - alpha)
#: log10(1 + 10^(-0.4 (M - M0))) + gamma (their eq. 15); scatter sigma_lnR = sigma2 +
#: (sigma1 - sigma2) / (1 + 10^(-0.8 (M - M0))) (eq. 16). The values as SkyPy's
#: ``late_type_lognormal_size`` tests and examples carry them.
SHEN03_LATE = {
    "alpha": 0.21,
    "beta": 0.53,
    "gamma": -1.31,
    "m0": -20.52,
    "sigma1": 0.48,
    "sigma2": 0.25,
}
#: Shen et al. 2003, early-type galaxies: median log10(R50 / kpc) = -0.4 a M + b (eq. 14),
#: the scatter law of :data:`SHEN03_LATE` (SkyPy's size example's early-type values).
SHEN03_EARLY = {"a": 0.6, "b": -4.63, "m0": -20.52, "sigma1": 0.48, "sigma2": 0.25}
#: Blanton et al. 2003 (ApJ 592, 819), r band at z = 0.1: M* - 5 log10 h = -20.44,
#: alpha = -1.05, here with h = 0.7: the late types' (most galaxies') luminosity function.
LATE_TYPE_LF = {"mstar": -20.44 + 5.0 * float(np.log10(0.7)), "alpha": -1.05}
#: Nakamura et al. 2003 (AJ 125, 1682, abstract): the early types' characteristic
#: magnitude is 0.45 mag brighter than the spirals' in r, their faint end slightly
#: flatter (alpha ~ -1).
EARLY_TYPE_LF = {"mstar": LATE_TYPE_LF["mstar"] - 0.45, "alpha": -1.0}
#: g - r of the background galaxies (a choice: SDSS main-sample galaxies lie at 0.4-0.9;
#: 0.2 mag more or less moves a galaxy's median size by under 10%).
GALAXY_G_MINUS_R = 0.7
#: Cosmology of Shen et al. 2003's sizes (h = 0.7, Omega_m = 0.3, flat).
COSMOLOGY = {"H0": 70.0, "Om0": 0.3}

_Z = np.geomspace(1e-3, 4.0, 1200)
_R_STEP = 0.05
_R_GRID = np.arange(8.0, 34.0 + _R_STEP / 2, _R_STEP)
_N_QUANTILES = 257


@lru_cache(maxsize=1)
def _distances() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distance modulus, angular diameter distance in kpc, dV/dz per sr) on the z grid."""
    from astropy.cosmology import FlatLambdaCDM

    cosmo = FlatLambdaCDM(**COSMOLOGY)
    dm = np.asarray(cosmo.distmod(_Z).value)
    da = np.asarray(cosmo.angular_diameter_distance(_Z).to("kpc").value)
    dv = np.asarray(cosmo.differential_comoving_volume(_Z).value)
    return dm, da, dv


def redshift_cdf(r_mag, early: bool) -> tuple[np.ndarray, np.ndarray]:
    """(z grid, cumulative fraction) of galaxies of apparent ``r_mag`` of one type."""
    lf = EARLY_TYPE_LF if early else LATE_TYPE_LF
    dm, _, dv = _distances()
    x = 10 ** (-0.4 * (np.atleast_1d(np.asarray(r_mag, dtype=float))[:, None] - dm - lf["mstar"]))
    dens = dv * x ** (lf["alpha"] + 1.0) * np.exp(-x)
    steps = 0.5 * (dens[:, 1:] + dens[:, :-1]) * np.diff(_Z)
    cdf = np.concatenate([np.zeros((dens.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1)
    return _Z, cdf / cdf[:, -1:]


@lru_cache(maxsize=2)
def _redshift_quantiles(early: bool) -> np.ndarray:
    """Redshift at ``_N_QUANTILES`` even quantiles (columns) for each r of ``_R_GRID``."""
    z, cdf = redshift_cdf(_R_GRID, early)
    u = np.linspace(0.0, 1.0, _N_QUANTILES)
    return np.stack([np.interp(u, c, z) for c in cdf])


def _median_kpc(m: np.ndarray, early: np.ndarray) -> np.ndarray:
    lt, et = SHEN03_LATE, SHEN03_EARLY
    late = (
        -0.4 * lt["alpha"] * m
        + (lt["beta"] - lt["alpha"]) * np.log10(1.0 + 10 ** (-0.4 * (m - lt["m0"])))
        + lt["gamma"]
    )
    return 10 ** np.where(early, -0.4 * et["a"] * m + et["b"], late)


def _sigma_ln(m: np.ndarray, early: np.ndarray) -> np.ndarray:
    s1 = np.where(early, SHEN03_EARLY["sigma1"], SHEN03_LATE["sigma1"])
    s2 = np.where(early, SHEN03_EARLY["sigma2"], SHEN03_LATE["sigma2"])
    m0 = np.where(early, SHEN03_EARLY["m0"], SHEN03_LATE["m0"])
    return s2 + (s1 - s2) / (1.0 + 10 ** (-0.8 * (m - m0)))


def sersic_bn(n):
    """Sersic b_n (half the light inside r_e), Ciotti & Bertin 1999's expansion."""
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n**2)


def _circle_light(radius, q: float, n: float, steps: int = 2048) -> np.ndarray:
    """Share of an elliptical Sersic profile's light inside circles of ``radius``.

    The profile has axis ratio ``q``, index ``n`` and ``r_e`` = 1 along the major
    axis. Along a ray at angle theta it is the circular one stretched by
    s = sqrt(cos^2 + sin^2 / q^2), so the light inside a circle of radius R is the
    mean over theta of P(2n, b (R s)^(1/n)) / s^2, over q (P the regularised lower
    incomplete gamma function), on ``steps`` angles.
    """
    from scipy.special import gammainc

    if not (0.0 < q <= 1.0) or n <= 0:
        msg = f"axis ratio {q} must be in (0, 1] and Sersic index {n} positive"
        raise ValueError(msg)
    th = (np.arange(steps) + 0.5) * (np.pi / 2) / steps
    s = np.sqrt(np.cos(th) ** 2 + (np.sin(th) / q) ** 2)
    rr = np.atleast_1d(np.asarray(radius, dtype=float))[:, None]
    return np.mean(gammainc(2 * n, sersic_bn(n) * (rr * s) ** (1.0 / n)) / s**2, axis=1) / q


def circular_half_light_fraction(q: float, n: float) -> float:
    """Radius of the circle holding half the light of a Sersic profile, in major-axis r_e.

    The profile is elliptical (axis ratio ``q``, index ``n``); see :func:`_circle_light`.
    """
    from scipy.optimize import brentq

    _circle_light(1.0, q, n)  # validates q and n
    return float(brentq(lambda r: float(_circle_light(r, q, n)[0]) - 0.5, 1e-6, 2.0))


#: SDSS's Petrosian ratio at the Petrosian radius, and the Petrosian aperture in
#: Petrosian radii (Blanton et al. 2001; Graham et al. 2005).
PETROSIAN_RATIO = 0.2
PETROSIAN_APERTURE = 2.0


def petrosian_half_light(q: float, n: float) -> tuple[float, float]:
    """(Petrosian R50 in major-axis r_e, Petrosian flux / total flux) of a Sersic profile.

    In circular apertures, as SDSS measures them: the Petrosian radius R_P is where
    the azimuthally averaged surface brightness is :data:`PETROSIAN_RATIO` of the mean
    inside R_P, i.e. where d ln L / d ln R = 2 x that ratio (L the light inside R);
    the Petrosian flux is the light inside :data:`PETROSIAN_APERTURE` R_P and R50 the
    radius holding half of it. A de Vaucouleurs profile (n = 4) keeps 82.9% (0.20
    mag missed, as Graham et al. 2005 find) and its R50 is 0.73 r_e; an exponential
    one keeps 99.4%, R50 0.99 r_e.
    """
    # 200 radii and 64 angles: within 1e-4 of 400 and 256 for 0.05 <= q <= 1, n 0.5-4.5
    lr = np.linspace(np.log(0.05), np.log(40.0), 200)
    light = _circle_light(np.exp(lr), q, n, steps=64)
    slope = np.gradient(np.log(light), lr)
    i = int(np.nonzero(slope < 2.0 * PETROSIAN_RATIO)[0][0])
    lr_p = np.interp(2.0 * PETROSIAN_RATIO, slope[i - 1 : i + 1][::-1], lr[i - 1 : i + 1][::-1])
    flux = min(1.0, float(_circle_light(PETROSIAN_APERTURE * np.exp(lr_p), q, n, steps=64)[0]))
    return float(np.exp(np.interp(0.5 * flux, light, lr))), flux


@lru_cache(maxsize=1)
def _petrosian_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    qs = np.linspace(0.05, 1.0, 20)
    ns = np.linspace(0.5, 4.5, 17)
    tab = np.array([[petrosian_half_light(q, n) for n in ns] for q in qs])
    return qs, ns, tab[..., 0], tab[..., 1]


def _petrosian(q: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Petrosian R50 / major-axis r_e, Petrosian flux fraction), interpolated."""
    from scipy.interpolate import RegularGridInterpolator

    qs, ns, r50, flux = _petrosian_table()
    pts = np.column_stack([np.clip(q, qs[0], qs[-1]), np.clip(n, ns[0], ns[-1])])
    return (
        RegularGridInterpolator((qs, ns), r50)(pts),
        RegularGridInterpolator((qs, ns), flux)(pts),
    )


def galaxy_half_light_radius(rng, g, early, q, sersic_n) -> tuple[np.ndarray, np.ndarray]:
    """(Sersic r_e along the major axis in arcsec, redshift) of galaxies of apparent ``g``.

    ``early`` marks the early types (their luminosity function and size law), ``q``
    is each galaxy's axis ratio and ``sersic_n`` its index. Draws one uniform and one
    normal deviate per galaxy from ``rng``.
    """
    g = np.atleast_1d(np.asarray(g, dtype=float))
    early = np.broadcast_to(np.asarray(early, dtype=bool), g.shape)
    r50_ratio, petro_flux = _petrosian(
        np.broadcast_to(np.asarray(q, dtype=float), g.shape),
        np.broadcast_to(np.asarray(sersic_n, dtype=float), g.shape),
    )
    r = g - GALAXY_G_MINUS_R - 2.5 * np.log10(petro_flux)  # Petrosian r
    row = np.clip(np.rint((r - _R_GRID[0]) / _R_STEP).astype(int), 0, _R_GRID.size - 1)
    u = rng.random(g.shape) * (_N_QUANTILES - 1)
    k = np.minimum(u.astype(int), _N_QUANTILES - 2)
    f = u - k
    z = np.empty(g.shape)
    for typ in (False, True):
        sel = early == typ
        tab = _redshift_quantiles(typ)
        z[sel] = tab[row[sel], k[sel]] * (1.0 - f[sel]) + tab[row[sel], k[sel] + 1] * f[sel]
    dm, da, _ = _distances()
    m = r - np.interp(z, _Z, dm)
    kpc = _median_kpc(m, early) * np.exp(rng.normal(0.0, 1.0, g.shape) * _sigma_ln(m, early))
    r50 = kpc / np.interp(z, _Z, da) * (180.0 / np.pi * 3600.0)
    return r50 / r50_ratio, z
