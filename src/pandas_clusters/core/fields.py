"""The real PAndAS field sheet: centre, i filter, exposure times and Rproj of every field.

The sheet shipped with the package (``data/pandas_fields.csv``) is built by
:func:`build_field_sheet` from two public files (``python -m
pandas_clusters.core.fields --centres ... --log ... --out ...``):

* the 406 PAndAS field centres ``m001..m406`` (``pandas_field_centres.csv`` of
  the OscarKlemenz/Star-Cluster-Classifier repository: the mean pointing of
  each field's exposures in the observing log below);
* the observing log of the 2,985 CFHT/MegaCam exposures of the PAndAS
  stacks, McConnachie et al. 2018, CDS J/ApJ/868/55 ``datafile2`` (a CDS
  ReadMe-described table), which gives each exposure's field, filter
  (``g.MP9401``, ``i.MP9701`` or ``i.MP9702``) and exposure time.

Each field's footprint is the 36-CCD MegaCam mosaic, a rectangle in the
field's own sky-offset frame (MegaCam's WCS has no rotation: ``CD1_2 = CD2_1
= 0``). Its size is measured from a real MegaCam header (the CFHT/CADC
cutout of astroquery's CADC test data): ``PIXSCAL1 =
0.1850`` arcsec/px, ``CCDSIZE = [1:2048,1:4612]``, ``DETSIZE =
[1:23219,1:19354]`` for the 40-CCD mosaic whose middle rows hold 11 CCD
columns (the header's amplifier map: 9 science CCDs plus two "ear" CCDs,
amplifiers 72-79); the 36 science CCDs are its 9 central columns and all
4 rows, gaps included. ``rproj_min_kpc`` is the projected radius
(:func:`pandas_clusters.core.geometry.projected_radius_kpc`) of the
footprint point nearest M31: a field can hold a source within ``R`` kpc of
M31 only if ``rproj_min_kpc <= R``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord

from pandas_clusters.core.geometry import M31, M31Geometry, projected_radius_kpc
from pandas_clusters.core.io import atomic_path

__all__ = [
    "FIELD_SHEET_COLUMNS",
    "FOOTPRINT_HALF_SIZE_DEG",
    "build_field_sheet",
    "fields_within",
    "footprint_contains",
    "load_field_sheet",
    "main",
    "read_field_centres",
    "read_observing_log",
    "summarise_observing_log",
    "write_field_sheet",
]

#: Columns of the field sheet, in order.
FIELD_SHEET_COLUMNS = (
    "field",  # PAndAS field number (m207 -> 207)
    "ra_deg",  # field centre, ICRS deg
    "dec_deg",
    "i_filter",  # MegaCam i filter of the field's stack: i.MP9701 (old) or i.MP9702 (new)
    "g_exposures",  # number of g exposures in the stack
    "g_exptime_s",  # summed g exposure time, s
    "i_exposures",
    "i_exptime_s",
    "rproj_kpc",  # projected radius of the centre, kpc
    "rproj_min_kpc",  # projected radius of the footprint point nearest M31, kpc
)

_PIXEL_SCALE_ARCSEC = 0.1850  # PIXSCAL1/PIXSCAL2 of the MegaCam header
_CCD_NX = 2048  # CCDSIZE [1:2048,1:4612]
_DETSIZE = (23219, 19354)  # DETSIZE of the 40-CCD mosaic, px (gaps included)
_MOSAIC_COLUMNS = 11  # CCD columns of the middle rows (9 science + 2 ears)
_SCIENCE_COLUMNS = 9
_GAP_X = (_DETSIZE[0] - _MOSAIC_COLUMNS * _CCD_NX) / (_MOSAIC_COLUMNS - 1)

#: Half sizes (along RA, along Dec) of a field's 36-CCD footprint, degrees.
FOOTPRINT_HALF_SIZE_DEG = (
    (_SCIENCE_COLUMNS * _CCD_NX + (_SCIENCE_COLUMNS - 1) * _GAP_X) * _PIXEL_SCALE_ARCSEC / 7200.0,
    _DETSIZE[1] * _PIXEL_SCALE_ARCSEC / 7200.0,
)

_FIELD_ID = re.compile(r"^m(\d{3})$")
_BAND_OF_FILTER = {"g.MP9401": "g", "i.MP9701": "i", "i.MP9702": "i"}
_PACKAGED = "pandas_fields.csv"


def _field_number(name: str, *, where: str) -> int:
    match = _FIELD_ID.match(str(name).strip())
    if match is None:
        msg = f"{where}: field identifier {name!r} is not of the form mNNN"
        raise ValueError(msg)
    return int(match[1])


def read_field_centres(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``pandas_field_centres.csv`` (``FieldID, coord_ra_deg, coord_dec_deg``).

    Returns
    -------
    pandas.DataFrame
        ``field`` (int), ``ra_deg``, ``dec_deg`` (ICRS degrees), one row per field.

    Raises
    ------
    ValueError
        On a missing column, a bad field identifier, a duplicate field or a
        position out of range; the message names the file and row.
    """
    path = Path(path)
    df = pd.read_csv(path)
    missing = {"FieldID", "coord_ra_deg", "coord_dec_deg"} - set(df.columns)
    if missing:
        msg = f"{path}: missing column(s) {sorted(missing)} (has {list(df.columns)})"
        raise ValueError(msg)
    fields = [
        _field_number(name, where=f"{path} row {row + 2}") for row, name in enumerate(df.FieldID)
    ]
    out = pd.DataFrame(
        {
            "field": np.asarray(fields, dtype=np.int64),
            "ra_deg": df["coord_ra_deg"].to_numpy(dtype=float),
            "dec_deg": df["coord_dec_deg"].to_numpy(dtype=float),
        }
    )
    bad = ~((out.ra_deg >= 0) & (out.ra_deg < 360) & (out.dec_deg.abs() <= 90))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        msg = f"{path} row {row + 2}: position ({out.ra_deg[row]}, {out.dec_deg[row]}) out of range"
        raise ValueError(msg)
    dup = out.field[out.field.duplicated()]
    if len(dup):
        msg = f"{path}: field m{int(dup.iloc[0]):03d} listed more than once"
        raise ValueError(msg)
    return out


def read_observing_log(path: str | os.PathLike) -> pd.DataFrame:
    """Read the PAndAS observing log (CDS J/ApJ/868/55 ``datafile2``, ReadMe header included).

    Returns
    -------
    pandas.DataFrame
        ``field`` (int), ``filter`` (str) and ``exptime_s`` (float) of every exposure.
    """
    from astropy.io import ascii as astropy_ascii

    path = Path(path)
    with warnings.catch_warnings():
        # The log's ReadMe uses the unit "month", which the CDS unit standard lacks.
        warnings.simplefilter("ignore", u.UnitsWarning)
        try:
            table = astropy_ascii.read(path, format="cds")
        except Exception as exc:  # astropy raises several kinds on a malformed table
            msg = f"{path}: not a readable CDS table: {type(exc).__name__}: {exc}"
            raise ValueError(msg) from exc
    missing = {"FieldID", "Filter", "Exp"} - set(table.colnames)
    if missing:
        msg = f"{path}: missing column(s) {sorted(missing)} (has {table.colnames})"
        raise ValueError(msg)
    fields = [
        _field_number(name, where=f"{path} record {row + 1}")
        for row, name in enumerate(table["FieldID"])
    ]
    return pd.DataFrame(
        {
            "field": np.asarray(fields, dtype=np.int64),
            "filter": [str(f).strip() for f in table["Filter"]],
            "exptime_s": np.asarray(table["Exp"], dtype=float),
        }
    )


def summarise_observing_log(log: pd.DataFrame, *, label: str = "observing log") -> pd.DataFrame:
    """Per field: the i filter, and the number and summed time of the g and i exposures.

    Raises
    ------
    ValueError
        On an unknown filter, or a field observed through both i filters
        (its stack would mix two passbands), naming the field.
    """
    unknown = sorted(set(log["filter"]) - set(_BAND_OF_FILTER))
    if unknown:
        msg = f"{label}: unknown filter(s) {unknown} (known: {sorted(_BAND_OF_FILTER)})"
        raise ValueError(msg)
    log = log.assign(band=log["filter"].map(_BAND_OF_FILTER))
    i_filters = log[log.band == "i"].groupby("field")["filter"].unique()
    mixed = i_filters[i_filters.map(len) > 1]
    if len(mixed):
        field = int(mixed.index[0])
        msg = f"{label}: field m{field:03d} has exposures in both {sorted(mixed.iloc[0])}"
        raise ValueError(msg)
    stats = log.groupby(["field", "band"])["exptime_s"].agg(["count", "sum"]).unstack("band")
    out = pd.DataFrame(index=stats.index)
    for band in ("g", "i"):
        out[f"{band}_exposures"] = stats[("count", band)].fillna(0).astype(np.int64)
        out[f"{band}_exptime_s"] = stats[("sum", band)].fillna(0.0)
    out["i_filter"] = i_filters.map(lambda f: f[0]).reindex(out.index).fillna("")
    return out.reset_index()


def _nearest_footprint_point(ra_deg, dec_deg, geometry: M31Geometry):
    """(ra, dec) of the point of each field's footprint nearest the centre of M31."""
    centres = SkyCoord(np.asarray(ra_deg) * u.deg, np.asarray(dec_deg) * u.deg)
    half_ra, half_dec = FOOTPRINT_HALF_SIZE_DEG
    out_ra, out_dec = [], []
    for centre in centres:
        frame = centre.skyoffset_frame()
        m31 = geometry.centre.transform_to(frame)
        lon = np.clip(m31.lon.wrap_at(180 * u.deg).deg, -half_ra, half_ra)
        lat = np.clip(m31.lat.deg, -half_dec, half_dec)
        point = SkyCoord(lon * u.deg, lat * u.deg, frame=frame).icrs
        out_ra.append(point.ra.deg)
        out_dec.append(point.dec.deg)
    return np.asarray(out_ra), np.asarray(out_dec)


def footprint_contains(field_ra_deg: float, field_dec_deg: float, ra_deg, dec_deg) -> np.ndarray:
    """Whether sky positions lie in the 36-CCD footprint of a field centred at the given position.

    Parameters
    ----------
    field_ra_deg, field_dec_deg : float
        Field centre, ICRS degrees.
    ra_deg, dec_deg : array_like
        Positions, ICRS degrees.

    Returns
    -------
    numpy.ndarray of bool
    """
    frame = SkyCoord(field_ra_deg * u.deg, field_dec_deg * u.deg).skyoffset_frame()
    local = SkyCoord(np.asarray(ra_deg) * u.deg, np.asarray(dec_deg) * u.deg).transform_to(frame)
    half_ra, half_dec = FOOTPRINT_HALF_SIZE_DEG
    return (np.abs(local.lon.wrap_at(180 * u.deg).deg) <= half_ra) & (
        np.abs(local.lat.deg) <= half_dec
    )


def build_field_sheet(
    centres: pd.DataFrame,
    log: pd.DataFrame,
    *,
    geometry: M31Geometry = M31,
    label: str = "field sheet",
) -> pd.DataFrame:
    """Join the field centres and the observing-log summary; add Rproj of centre and footprint.

    Parameters
    ----------
    centres : pandas.DataFrame
        From :func:`read_field_centres`.
    log : pandas.DataFrame
        From :func:`read_observing_log`.
    geometry : M31Geometry
        Centre and distance of M31.
    label : str
        How to name the inputs in messages.

    Returns
    -------
    pandas.DataFrame
        :data:`FIELD_SHEET_COLUMNS`, one row per field, sorted by field.

    Raises
    ------
    ValueError
        If a field has a centre but no exposure, or exposures but no centre.
    """
    summary = summarise_observing_log(log, label=label)
    no_log = sorted(set(centres.field) - set(summary.field))
    no_centre = sorted(set(summary.field) - set(centres.field))
    if no_log or no_centre:
        msg = (
            f"{label}: fields without exposures {no_log[:5]} / exposures without a "
            f"field centre {no_centre[:5]}"
        )
        raise ValueError(msg)
    sheet = centres.merge(summary, on="field").sort_values("field").reset_index(drop=True)
    sheet["rproj_kpc"] = projected_radius_kpc(sheet.ra_deg, sheet.dec_deg, geometry=geometry)
    near_ra, near_dec = _nearest_footprint_point(sheet.ra_deg, sheet.dec_deg, geometry)
    sheet["rproj_min_kpc"] = projected_radius_kpc(near_ra, near_dec, geometry=geometry)
    return sheet[list(FIELD_SHEET_COLUMNS)]


def write_field_sheet(sheet: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the sheet as CSV (positions to 1e-6 deg, radii to 1e-3 kpc), atomically."""
    path = Path(path)
    rounded = sheet.round({"ra_deg": 6, "dec_deg": 6, "rproj_kpc": 3, "rproj_min_kpc": 3})
    header = (
        "# PAndAS field sheet: built by `python -m pandas_clusters.core.fields` from\n"
        "# pandas_field_centres.csv (OscarKlemenz/Star-Cluster-Classifier) and the PAndAS\n"
        "# observing log (McConnachie+ 2018, CDS J/ApJ/868/55 datafile2). See\n"
        "# pandas_clusters.core.fields for the columns and the footprint.\n"
    )
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(header)
        rounded.to_csv(fh, index=False)
    return path


def load_field_sheet(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The field sheet: ``path``, or the one shipped with the package.

    Raises
    ------
    ValueError
        If a column of :data:`FIELD_SHEET_COLUMNS` is missing (naming the file).
    """
    if path is None:
        resource = importlib.resources.files("pandas_clusters") / "data" / _PACKAGED
        with importlib.resources.as_file(resource) as packaged:
            return load_field_sheet(packaged)
    df = pd.read_csv(path, comment="#", dtype={"i_filter": str})
    missing = [c for c in FIELD_SHEET_COLUMNS if c not in df.columns]
    if missing:
        msg = f"{path}: not a field sheet, missing column(s) {missing}"
        raise ValueError(msg)
    return df[list(FIELD_SHEET_COLUMNS)]


def fields_within(sheet: pd.DataFrame, rproj_max_kpc: float) -> list[int]:
    """The fields whose footprint reaches within ``rproj_max_kpc`` of M31, in field order."""
    return sorted(int(f) for f in sheet.field[sheet.rproj_min_kpc <= rproj_max_kpc])


def main(argv: Sequence[str] | None = None) -> int:
    """Build the field sheet from the centres file and the observing log (command line)."""
    parser = argparse.ArgumentParser(
        prog="python -m pandas_clusters.core.fields", description=main.__doc__
    )
    parser.add_argument("--centres", required=True, help="pandas_field_centres.csv")
    parser.add_argument("--log", required=True, help="pandas_observing_log.txt (CDS table)")
    parser.add_argument("--out", required=True, help="output CSV")
    parser.add_argument(
        "--rproj", type=float, default=30.0, help="print the fields within this Rproj, kpc"
    )
    args = parser.parse_args(argv)
    sheet = build_field_sheet(
        read_field_centres(args.centres), read_observing_log(args.log), label=args.log
    )
    write_field_sheet(sheet, args.out)
    within = fields_within(sheet, args.rproj)
    print(f"{len(sheet)} fields -> {args.out}; {len(within)} within Rproj {args.rproj} kpc:")
    print(within)
    return 0


if __name__ == "__main__":
    sys.exit(main())
