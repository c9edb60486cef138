"""M31's own dust: the extinction of its disk's light and of what lies behind the disk.

The mock's disk light (``disk_mu0_g``) is the old disc's intrinsic light of Tamm et al.
(2012), which they took from Tempel et al. (2011)'s SDSS photometry *corrected* for M31's
dust with the dust model of Tempel, Tamm & Tenjes (2010, A&A 509, A91). This module puts
that dust back, from the same model, so that the disk is seen as the survey sees it:

- The light-weighted extinction of the disk's light in V (Tempel et al. 2010, abstract):
  0.25 mag at the centre, rising to 0.4-0.5 mag at R = 6-13 kpc and decreasing smoothly
  beyond (:data:`LIGHT_EXTINCTION_V`, linear between the anchors); beyond 13 kpc the dust's
  column falls with the dust disc's scale length, 1.8 times the stars' (the same
  abstract), on the mock's stellar scale length (Courteau et al. 2011's 5.3 kpc).
- The geometry of Dalcanton et al. (2015, ApJ 814, 3)'s extinction model of the PHAT
  stars: a thin dust layer in the disk's mid-plane, the stars in front of it unreddened,
  those behind it seen through the whole layer. For a layer in the mid-plane of a
  symmetric disk, half the disk's stars lie behind it (:data:`REDDENED_FRACTION`). The
  screen's extinction ``A_screen`` is the one that gives the light-weighted extinction
  above: ``10^(-0.4 A_light) = (1 - f) + f 10^(-0.4 A_screen)``.
- Background galaxies lie behind the whole layer: they take the screen's extinction.
- From V to the MegaCam bands: Gordon et al. (2023)'s average Milky Way extinction law
  (R_V = 3.1, ``dust_extinction``'s ``G23``) at the filters' central wavelengths
  (:data:`CENTRAL_WAVELENGTH_NM`).

The mock's resolved M31 stars, clusters and contaminants keep their magnitudes: their
numbers are calibrated on observed (dust-dimmed) counts (docs/mock-calibration.md).
The bulge and the spheroid take no dust (the dust disc is a disk's).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "CENTRAL_WAVELENGTH_NM",
    "DUST_SCALE_RATIO",
    "LIGHT_EXTINCTION_V",
    "REDDENED_FRACTION",
    "band_ratio",
    "light_extinction_v",
    "screen_extinction",
    "screen_extinction_v",
    "seen_fraction",
]

#: (R_disk in kpc, light-weighted V extinction of the disk's light in mag): Tempel, Tamm &
#: Tenjes (2010, A&A 509, A91; abstract): "rises from 0.25 mag at the centre to 0.4-0.5 mag
#: at R = 6-13 kpc" (0.45, the middle of that range).
LIGHT_EXTINCTION_V = ((0.0, 0.25), (6.0, 0.45), (13.0, 0.45))
#: Scale length of M31's dust disc over that of its stars: Tempel et al. (2010, abstract).
DUST_SCALE_RATIO = 1.8
#: Share of the disk's stars behind a thin mid-plane dust layer (Dalcanton et al. 2015's
#: model: an unreddened foreground and a reddened background population).
REDDENED_FRACTION = 0.5
#: Central wavelengths (nm) of PAndAS's filters (CFHT's MegaPrime filter pages, g.MP9401
#: and i.MP9702; a 10 nm error moves A_band / A_V by under 0.02).
CENTRAL_WAVELENGTH_NM = {"g": 487.0, "i": 764.0}


def light_extinction_v(r_disk_kpc, disk_scale_kpc: float) -> np.ndarray:
    """Light-weighted V extinction (mag) of M31's disk light at disk radius ``r_disk_kpc``.

    Tempel et al. (2010)'s profile (:data:`LIGHT_EXTINCTION_V`) inside 13 kpc; beyond,
    the screen's extinction falls exponentially with the dust disc's scale length
    (``DUST_SCALE_RATIO * disk_scale_kpc``) and this is the light's extinction it gives.
    """
    r = np.asarray(r_disk_kpc, dtype=float)
    return _light_from_screen(screen_extinction_v(r, disk_scale_kpc))


def screen_extinction_v(r_disk_kpc, disk_scale_kpc: float) -> np.ndarray:
    """V extinction (mag) of the whole dust layer at disk radius ``r_disk_kpc``.

    What the disk's stars behind the layer, and the background galaxies, are seen through.
    """
    r = np.asarray(r_disk_kpc, dtype=float)
    knots_r, knots_a = (np.array(v) for v in zip(*LIGHT_EXTINCTION_V, strict=True))
    inner = _screen_from_light(np.interp(np.minimum(r, knots_r[-1]), knots_r, knots_a))
    edge = _screen_from_light(knots_a[-1])
    fall = np.exp(-np.maximum(r - knots_r[-1], 0.0) / (DUST_SCALE_RATIO * disk_scale_kpc))
    return np.where(r <= knots_r[-1], inner, edge * fall)


def screen_extinction(r_disk_kpc, disk_scale_kpc: float, band: str) -> np.ndarray:
    """The dust layer's extinction (mag) in a MegaCam band at disk radius ``r_disk_kpc``."""
    return screen_extinction_v(r_disk_kpc, disk_scale_kpc) * band_ratio(band)


@lru_cache(maxsize=4)
def band_ratio(band: str) -> float:
    """A_band / A_V of Gordon et al. (2023)'s Milky Way law (R_V = 3.1) at the band's centre."""
    import astropy.units as u
    from dust_extinction.parameter_averages import G23

    if band not in CENTRAL_WAVELENGTH_NM:
        msg = f"no central wavelength for band {band!r} (known: {sorted(CENTRAL_WAVELENGTH_NM)})"
        raise ValueError(msg)
    return float(G23(Rv=3.1)(CENTRAL_WAVELENGTH_NM[band] * u.nm))


def seen_fraction(transmission):
    """Share of the disk's intrinsic light seen through the layer of ``transmission``.

    ``transmission`` is the layer's, ``10^(-0.4 A_screen)``: the stars in front are seen
    whole, those behind it (:data:`REDDENED_FRACTION`) dimmed by it.
    """
    return (1.0 - REDDENED_FRACTION) + REDDENED_FRACTION * transmission


def _screen_from_light(a_light) -> np.ndarray:
    """Screen extinction giving the light-weighted extinction ``a_light`` (thin mid-plane layer)."""
    f = REDDENED_FRACTION
    behind = (10 ** (-0.4 * np.asarray(a_light, dtype=float)) - (1.0 - f)) / f
    if np.any(behind <= 0):
        msg = (
            f"a light-weighted extinction of {np.max(a_light):.2f} mag cannot come from a layer "
            f"with {1 - f:.0%} of the stars in front of it"
        )
        raise ValueError(msg)
    return -2.5 * np.log10(behind)


def _light_from_screen(a_screen) -> np.ndarray:
    return -2.5 * np.log10(seen_fraction(10 ** (-0.4 * np.asarray(a_screen, dtype=float))))
