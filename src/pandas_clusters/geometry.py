"""M31 geometry: centre, distance, disk orientation and projected radii.

Values follow DESIGN.md §2 (McConnachie et al. 2005-like constants): centre
RA 10.6847 deg, Dec +41.2690 deg, distance 785 kpc, disk position angle
38 deg and inclination 77 deg.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

__all__ = [
    "M31",
    "M31Geometry",
    "deprojected_radius_kpc",
    "projected_radius_kpc",
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
    """Gnomonic offsets (xi, eta) from the M31 centre, degrees (xi east, eta north)."""
    coords = SkyCoord(np.asarray(ra_deg) * u.deg, np.asarray(dec_deg) * u.deg, frame="icrs")
    off = geometry.centre.skyoffset_frame()
    local = coords.transform_to(off)
    return np.asarray(local.lon.to_value(u.deg)), np.asarray(local.lat.to_value(u.deg))


def deprojected_radius_kpc(ra_deg, dec_deg, *, geometry: M31Geometry = M31) -> np.ndarray:
    """Galactocentric radius in the plane of the inclined M31 disk, kpc.

    The offsets are rotated so that x runs along the major axis (position
    angle ``pa_deg``) and the minor-axis offset is stretched by
    ``1/cos(inclination)``.
    """
    xi, eta = tangent_plane_deg(ra_deg, dec_deg, geometry=geometry)
    pa = np.deg2rad(geometry.pa_deg)
    x_major = xi * np.sin(pa) + eta * np.cos(pa)
    y_minor = -xi * np.cos(pa) + eta * np.sin(pa)
    y_disk = y_minor / np.cos(np.deg2rad(geometry.inclination_deg))
    r_deg = np.hypot(x_major, y_disk)
    return np.asarray(np.deg2rad(r_deg) * geometry.distance_kpc)
