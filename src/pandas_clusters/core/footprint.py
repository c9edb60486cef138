"""The PHAT survey footprint: reading, writing, point-in-footprint and a mock.

A footprint is a mapping ``brick name -> list of [ra, dec] corners`` (ICRS
degrees), the layout of androcmd's ``phat_brick_footprints.json`` (Sick et
al., built from the PHAT brick images with ``WCS.calc_footprint()``): 23
bricks named ``"1"`` .. ``"23"``, four corners each.

:func:`in_footprint` projects every brick on a gnomonic (tangent) plane around
the brick's own centre with astropy and tests the points against the
projected polygon, so that the test is exact for the great-circle-like edges
of bricks a fraction of a degree across, whatever their position on the sky.

:func:`mock_phat_footprint` builds a PHAT-like footprint for the simulated
survey. The real PHAT bricks, measured from the ACS field outlines in
androcmd's ``phat_field_patches.json``, are about 0.16-0.20 deg along the
M31 major axis by 0.22-0.23 deg across it, laid in two staggered columns
(centres about 0.02 deg and 0.21 deg south-east of the major axis) with a
step of about 0.115 deg along the axis between consecutive bricks, from the
nucleus out to about 1.3 deg along the north-east major axis (position angle
38 deg). The mock follows that recipe with rectangles (not a copy of the
real corners).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from matplotlib.path import Path as MplPath

from pandas_clusters.core.geometry import M31, M31Geometry
from pandas_clusters.core.io import atomic_path

__all__ = [
    "Footprint",
    "footprint_bricks",
    "in_footprint",
    "load_footprint",
    "mock_phat_footprint",
    "validate_footprint",
    "write_footprint",
]

#: A footprint: brick name -> polygon corners as ``[ra_deg, dec_deg]`` pairs.
Footprint = dict[str, list[list[float]]]


def validate_footprint(footprint, *, source: str = "footprint") -> Footprint:
    """Check a footprint mapping and return it as plain ``dict[str, list[list[float]]]``.

    Parameters
    ----------
    footprint : mapping
        Brick name -> sequence of at least 3 ``[ra, dec]`` corners, degrees.
    source : str, optional
        What to name in error messages (e.g. the file it came from).

    Raises
    ------
    ValueError
        If the mapping is empty, a brick has fewer than 3 corners, a corner is
        not a pair of finite numbers, or a declination lies outside
        [-90, 90] deg.
    """
    if not isinstance(footprint, Mapping):
        msg = f"{source}: expected a mapping brick -> list of [ra, dec] corners, got {type(footprint).__name__}"
        raise ValueError(msg)
    if len(footprint) == 0:
        msg = f"{source}: the footprint holds no bricks"
        raise ValueError(msg)
    out: Footprint = {}
    for name, corners in footprint.items():
        try:
            arr = np.asarray(corners, dtype=np.float64)
        except (TypeError, ValueError) as err:
            msg = f"{source}: brick {name!r}: corners are not numbers ({err})"
            raise ValueError(msg) from err
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 3:
            msg = f"{source}: brick {name!r}: expected at least 3 [ra, dec] corners, got shape {arr.shape}"
            raise ValueError(msg)
        if not np.all(np.isfinite(arr)):
            msg = f"{source}: brick {name!r}: corners contain NaN or infinity"
            raise ValueError(msg)
        if np.any(np.abs(arr[:, 1]) > 90.0):
            msg = f"{source}: brick {name!r}: declination outside [-90, 90] deg"
            raise ValueError(msg)
        out[str(name)] = [[float(ra) % 360.0, float(dec)] for ra, dec in arr]
    return out


def load_footprint(path: str | os.PathLike) -> Footprint:
    """Read a footprint JSON file (androcmd ``phat_brick_footprints.json`` layout).

    Parameters
    ----------
    path : str or path-like
        JSON document: an object mapping brick name to a list of ``[ra, dec]``
        corners in ICRS degrees.

    Returns
    -------
    dict
        Brick name -> list of ``[ra_deg, dec_deg]`` corners.

    Raises
    ------
    ValueError
        If the file is not valid JSON or does not have that layout; the
        message names the file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        msg = f"{path}: not a valid JSON footprint ({err})"
        raise ValueError(msg) from err
    return validate_footprint(data, source=str(path))


def write_footprint(footprint: Mapping, path: str | os.PathLike) -> Path:
    """Write a footprint to JSON atomically.

    Parameters
    ----------
    footprint : mapping
        Brick name -> list of ``[ra, dec]`` corners, degrees.
    path : str or path-like
        Output path.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    checked = validate_footprint(footprint, source=str(path))
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(checked, indent=1) + "\n")
    return Path(path)


def _unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra = np.deg2rad(ra_deg)
    dec = np.deg2rad(dec_deg)
    cd = np.cos(dec)
    return np.stack([cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)], axis=-1)


def footprint_bricks(footprint: Mapping) -> list[tuple[str, SkyCoord, MplPath, float]]:
    """Brick polygons prepared for point-in-polygon tests.

    Returns
    -------
    list of (name, centre, path, radius_deg)
        ``centre`` is the mean corner direction (SkyCoord), ``path`` the
        polygon in gnomonic offsets (deg) around it, ``radius_deg`` the
        largest centre-corner separation.
    """
    bricks = []
    for name, corners in validate_footprint(footprint).items():
        arr = np.asarray(corners, dtype=np.float64)
        vec = _unit_vectors(arr[:, 0], arr[:, 1]).mean(axis=0)
        vec /= np.linalg.norm(vec)
        centre = SkyCoord(
            np.rad2deg(np.arctan2(vec[1], vec[0])) % 360.0 * u.deg,
            np.rad2deg(np.arcsin(np.clip(vec[2], -1.0, 1.0))) * u.deg,
            frame="icrs",
        )
        cc = SkyCoord(arr[:, 0] * u.deg, arr[:, 1] * u.deg, frame="icrs")
        local = cc.transform_to(centre.skyoffset_frame())
        xy = np.column_stack([local.lon.to_value(u.deg), local.lat.to_value(u.deg)])
        # skyoffset lon/lat are spherical offsets; project them gnomonically
        xy = _gnomonic(xy[:, 0], xy[:, 1])
        radius = float(np.max(cc.separation(centre).to_value(u.deg)))
        bricks.append((name, centre, MplPath(np.vstack([xy, xy[:1]]), closed=True), radius))
    return bricks


def _gnomonic(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    """Tangent-plane (gnomonic) coordinates, deg, of offset-frame lon/lat."""
    lon = np.deg2rad(lon_deg)
    lat = np.deg2rad(lat_deg)
    cosc = np.cos(lat) * np.cos(lon)
    x = np.cos(lat) * np.sin(lon) / cosc
    y = np.sin(lat) / cosc
    return np.column_stack([np.rad2deg(x), np.rad2deg(y)])


def in_footprint(ra_deg, dec_deg, footprint: Mapping) -> np.ndarray:
    """Whether sky positions fall inside any brick of a footprint.

    Parameters
    ----------
    ra_deg, dec_deg : array_like
        ICRS coordinates, degrees (any matching shapes; scalars allowed).
    footprint : mapping
        Brick name -> list of ``[ra, dec]`` corners, degrees.

    Returns
    -------
    numpy.ndarray of bool
        Same shape as the broadcast inputs; True inside at least one brick.
        Non-finite coordinates are outside.

    Notes
    -----
    A cheap angular-distance cut (unit vectors) selects the points near each
    brick; only those are projected with astropy onto the gnomonic plane
    around the brick centre and tested with :class:`matplotlib.path.Path`.
    """
    ra, dec = np.broadcast_arrays(
        np.asarray(ra_deg, dtype=np.float64), np.asarray(dec_deg, dtype=np.float64)
    )
    shape = ra.shape
    ra = ra.ravel()
    dec = dec.ravel()
    inside = np.zeros(ra.size, dtype=bool)
    finite = np.isfinite(ra) & np.isfinite(dec)
    if not finite.any():
        return inside.reshape(shape)
    idx_finite = np.flatnonzero(finite)
    vec = _unit_vectors(ra[finite], dec[finite])
    for _name, centre, path, radius in footprint_bricks(footprint):
        cvec = _unit_vectors(np.array(centre.ra.deg), np.array(centre.dec.deg))
        near = vec @ cvec >= math.cos(math.radians(min(radius * 1.01 + 1e-6, 89.0)))
        todo = idx_finite[near & ~inside[idx_finite]]
        if todo.size == 0:
            continue
        pts = SkyCoord(ra[todo] * u.deg, dec[todo] * u.deg, frame="icrs")
        local = pts.transform_to(centre.skyoffset_frame())
        xy = _gnomonic(local.lon.to_value(u.deg), local.lat.to_value(u.deg))
        inside[todo] = path.contains_points(xy)
    return inside.reshape(shape)


def mock_phat_footprint(
    *,
    geometry: M31Geometry = M31,
    n_bricks: int = 20,
    brick_major_deg: float = 0.18,
    brick_minor_deg: float = 0.22,
    step_deg: float = 0.125,
    column_offsets_deg: tuple[float, float] = (-0.02, -0.21),
    start_major_deg: float = 0.0,
) -> Footprint:
    """A PHAT-like footprint of rectangular bricks along the NE major axis of M31.

    Bricks alternate between two columns parallel to the major axis
    (position angle ``geometry.pa_deg``); brick ``k`` (1-based) sits at
    ``start_major_deg + (k - 1) * step_deg / 2`` along the axis, in column
    ``(k - 1) % 2``, so consecutive bricks in one column are ``step_deg``
    apart and overlap slightly when ``brick_major_deg > step_deg``.

    Parameters
    ----------
    geometry : M31Geometry, optional
        Centre and position angle of M31.
    n_bricks : int, optional
        Number of bricks (PHAT has 23).
    brick_major_deg, brick_minor_deg : float, optional
        Brick size along and across the major axis, degrees.
    step_deg : float, optional
        Distance along the major axis between consecutive bricks of one
        column, degrees.
    column_offsets_deg : (float, float), optional
        Minor-axis offsets of the two columns' centres, degrees: positive
        towards position angle ``pa_deg - 90`` (north-west for PA 38 deg),
        negative towards the south-east, where the real PHAT columns lie.
    start_major_deg : float, optional
        Major-axis offset of brick 1's centre from the M31 centre, degrees.

    Returns
    -------
    dict
        Brick name (``"1"``, ``"2"``, ...) -> four ``[ra, dec]`` corners, ICRS deg.
    """
    if n_bricks < 1:
        msg = f"n_bricks must be >= 1, got {n_bricks}"
        raise ValueError(msg)
    pa = math.radians(geometry.pa_deg)
    # unit vectors (xi east, eta north) along the major axis and across it
    major = np.array([math.sin(pa), math.cos(pa)])
    minor = np.array([-math.cos(pa), math.sin(pa)])
    half = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]) * np.array(
        [brick_major_deg / 2.0, brick_minor_deg / 2.0]
    )
    frame = geometry.centre.skyoffset_frame()
    footprint: Footprint = {}
    for k in range(n_bricks):
        along = start_major_deg + k * step_deg / 2.0
        across = column_offsets_deg[k % 2]
        a = along + half[:, 0]
        c = across + half[:, 1]
        xi = a * major[0] + c * minor[0]
        eta = a * major[1] + c * minor[1]
        # gnomonic plane offsets -> sky (inverse of the tangent projection)
        x = np.deg2rad(xi)
        y = np.deg2rad(eta)
        lon = np.arctan2(x, 1.0)
        lat = np.arctan2(y * np.cos(lon), 1.0)
        sky = SkyCoord(lon * u.rad, lat * u.rad, frame=frame).icrs
        footprint[str(k + 1)] = [
            [float(r), float(d)] for r, d in zip(sky.ra.deg, sky.dec.deg, strict=True)
        ]
    return footprint
