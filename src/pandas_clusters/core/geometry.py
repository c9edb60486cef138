"""M31 geometry: centre, distance, disk orientation and projected radii.

Values (McConnachie et al. 2005-like constants): centre
RA 10.6847 deg, Dec +41.2690 deg, distance 785 kpc, disk position angle
38 deg and inclination 77 deg.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import ICRS, SkyCoord

__all__ = [
    "M31",
    "M31Geometry",
    "deprojected_radius_kpc",
    "offsets_to_radec",
    "projected_radius_kpc",
    "radii_from_offsets_kpc",
    "radius_bin_labels",
    "sky_axes_kpc",
    "tangent_plane_deg",
]


@dataclass(frozen=True)
class M31Geometry:
    """Orientation and distance of the M31 disk.

    Attributes
    ----------
    ra_deg, dec_deg : float
        Centre (ICRS), degrees.
    distance_kpc : float
        Distance, kpc (785 kpc: 1 arcsec = 3.8 pc).
    pa_deg : float
        Position angle of the major axis, east of north, degrees.
    inclination_deg : float
        Disk inclination, degrees (0 = face on).
    """

    ra_deg: float = 10.6847
    dec_deg: float = 41.2690
    distance_kpc: float = 785.0
    pa_deg: float = 38.0
    inclination_deg: float = 77.0

    @property
    def centre(self) -> SkyCoord:
        return SkyCoord(self.ra_deg * u.deg, self.dec_deg * u.deg, frame="icrs")

    @property
    def pc_per_arcsec(self) -> float:
        """Physical scale, parsec per arcsecond."""
        return self.distance_kpc * 1e3 * np.deg2rad(1.0 / 3600.0)

    @property
    def distance_modulus(self) -> float:
        """m - M of the distance, mag."""
        return float(5.0 * np.log10(self.distance_kpc * 1e3) - 5.0)


M31 = M31Geometry()


def projected_radius_kpc(ra_deg, dec_deg, *, geometry: M31Geometry = M31) -> np.ndarray:
    """On-sky projected distance to the centre of M31, kpc (the paper's Rproj).

    Parameters
    ----------
    ra_deg, dec_deg : array_like
        ICRS coordinates, degrees.
    """
    coords = SkyCoord(np.asarray(ra_deg) * u.deg, np.asarray(dec_deg) * u.deg, frame="icrs")
    sep = coords.separation(geometry.centre).to_value(u.rad)
    return np.asarray(sep * geometry.distance_kpc)


def tangent_plane_deg(ra_deg, dec_deg, *, geometry: M31Geometry = M31):
    """Offsets (xi, eta) from the M31 centre, degrees (xi east, eta north).

    The longitude and latitude in astropy's sky-offset frame centred on M31
    (a rotation of the sphere, so the on-sky separation from the centre is
    ``arccos(cos xi cos eta)``); :func:`offsets_to_radec` is the inverse.
    """
    coords = SkyCoord(np.asarray(ra_deg) * u.deg, np.asarray(dec_deg) * u.deg, frame="icrs")
    local = coords.transform_to(geometry.centre.skyoffset_frame())
    return (
        np.asarray(local.lon.wrap_at(180 * u.deg).to_value(u.deg)),
        np.asarray(local.lat.to_value(u.deg)),
    )


def offsets_to_radec(xi_deg, eta_deg, *, geometry: M31Geometry = M31):
    """ICRS (ra, dec) in degrees of offsets (xi, eta) from :func:`tangent_plane_deg`."""
    frame = geometry.centre.skyoffset_frame()
    coords = SkyCoord(np.asarray(xi_deg) * u.deg, np.asarray(eta_deg) * u.deg, frame=frame)
    icrs = coords.transform_to(ICRS())
    return np.asarray(icrs.ra.deg), np.asarray(icrs.dec.deg)


def sky_axes_kpc(xi_deg, eta_deg, *, geometry: M31Geometry = M31):
    """(x along the major axis, y along the minor axis), kpc on the sky, of offsets in degrees.

    The offsets are rotated so that x runs along the position angle ``pa_deg``;
    nothing is deprojected.
    """
    xi = np.deg2rad(np.asarray(xi_deg, dtype=float))
    eta = np.deg2rad(np.asarray(eta_deg, dtype=float))
    pa = np.deg2rad(geometry.pa_deg)
    x_major = (xi * np.sin(pa) + eta * np.cos(pa)) * geometry.distance_kpc
    y_minor = (-xi * np.cos(pa) + eta * np.sin(pa)) * geometry.distance_kpc
    return x_major, y_minor


def radii_from_offsets_kpc(xi_deg, eta_deg, *, geometry: M31Geometry = M31):
    """(deprojected disk radius, projected radius Rproj), kpc, of offsets in degrees.

    The disk radius takes the sky axes of :func:`sky_axes_kpc` and stretches the
    minor-axis offset by ``1/cos(inclination)``; Rproj is the on-sky separation
    from the centre.
    """
    x_major, y_minor = sky_axes_kpc(xi_deg, eta_deg, geometry=geometry)
    y_disk = y_minor / np.cos(np.deg2rad(geometry.inclination_deg))
    xi = np.deg2rad(np.asarray(xi_deg, dtype=float))
    eta = np.deg2rad(np.asarray(eta_deg, dtype=float))
    sep = np.arccos(np.clip(np.cos(xi) * np.cos(eta), -1.0, 1.0))
    return np.hypot(x_major, y_disk), sep * geometry.distance_kpc


def deprojected_radius_kpc(ra_deg, dec_deg, *, geometry: M31Geometry = M31) -> np.ndarray:
    """Galactocentric radius in the plane of the inclined M31 disk, kpc.

    See :func:`radii_from_offsets_kpc` for the deprojection.
    """
    xi, eta = tangent_plane_deg(ra_deg, dec_deg, geometry=geometry)
    return np.asarray(radii_from_offsets_kpc(xi, eta, geometry=geometry)[0])


def radius_bin_labels(edges_kpc) -> list[str]:
    """Labels of the radius bins between ``edges_kpc``: ``'0-15'``, ..., ``'30+'`` (last edge inf)."""
    edges = np.asarray(edges_kpc, dtype=float)
    return [
        f"{lo:g}-{hi:g}" if np.isfinite(hi) else f"{lo:g}+"
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
