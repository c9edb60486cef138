"""Catalogue tables from local files, and the normalisation shared with VizieR.

Every literature catalogue ends up as ``resources/catalogues/{catalogue}.parquet``
with the normalised columns ``name`` (text), ``ra_deg`` and ``dec_deg``
(ICRS degrees) first, then every original column under its original name
(see ``docs/data-model.md``). :func:`normalise_catalogue` builds that layout
from any table; :func:`read_local_catalogue` reads the formats a user may have
on disk instead of querying VizieR: a CDS ``ReadMe`` + fixed-width ``.dat``
pair (astropy's CDS reader), FITS tables, VOTables and CSV/ECSV files.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import Angle
from astropy.table import Table

from pandas_clusters.core.catalogues import CATALOGUES
from pandas_clusters.core.io import write_parquet

__all__ = [
    "CATALOGUES",
    "NORMALISED_COLUMNS",
    "CatalogueColumnDroppedWarning",
    "CatalogueRowsDroppedWarning",
    "CatalogueSpec",
    "fetch_local_catalogue",
    "normalise_catalogue",
    "read_local_catalogue",
    "table_to_dataframe",
    "write_catalogue",
]


#: The leading columns of every normalised catalogue.
NORMALISED_COLUMNS = ("name", "ra_deg", "dec_deg")

_FORMATS = ("cds", "fits", "votable", "csv", "ecsv")


class CatalogueRowsDroppedWarning(UserWarning):
    """Rows without a usable sky position were left out of a catalogue."""


class CatalogueColumnDroppedWarning(UserWarning):
    """An original column that cannot be stored in Parquet (multidimensional) was left out."""


@dataclass(frozen=True)
class CatalogueSpec:
    """Where one catalogue comes from and which columns hold name and position.

    Exactly one of ``vizier`` and ``file`` is set.

    Parameters
    ----------
    name_col : str
        Column holding the object's name in that catalogue.
    ra_col, dec_col : str or tuple of str
        Right ascension and declination: one column each (degrees, decimal
        hours if its unit says so, or sexagesimal text), or the CDS split
        columns ``(RAh, RAm, RAs)`` and ``(DE-, DEd, DEm, DEs)``.
    vizier : str, optional
        VizieR catalogue identifier, e.g. ``"J/AJ/141/61"``.
    table : str, optional
        Table within the catalogue (VizieR: ``"table1"`` or the full
        ``"J/AJ/141/61/table1"``; FITS: HDU name or index; VOTable: table ID
        or index). ``None``: the only table there is.
    file : str, optional
        Local file to read instead of VizieR.
    readme : str, optional
        CDS ``ReadMe`` describing ``file`` (fixed-width ``.dat`` files).
    format : str, optional
        ``cds``, ``fits``, ``votable``, ``csv`` or ``ecsv``; guessed from the
        file name when ``None``.
    required : bool
        When ``False``, a VizieR table missing from the response gives an
        empty catalogue (with a warning) instead of an error.
    """

    name_col: str
    ra_col: str | tuple[str, ...]
    dec_col: str | tuple[str, ...]
    vizier: str | None = None
    table: str | None = None
    file: str | None = None
    readme: str | None = None
    format: str | None = None
    required: bool = True

    def __post_init__(self) -> None:
        if (self.vizier is None) == (self.file is None):
            msg = (
                "a catalogue spec needs exactly one of 'vizier' (a VizieR identifier) and "
                f"'file' (a local file); got vizier={self.vizier!r}, file={self.file!r} "
                "(to read a local file instead of VizieR, set 'vizier: null')"
            )
            raise ValueError(msg)
        if self.format is not None and self.format not in _FORMATS:
            msg = f"unknown catalogue file format {self.format!r}; expected one of {_FORMATS}"
            raise ValueError(msg)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CatalogueSpec:
        """Build a spec from one entry of the config's ``catalogues`` mapping."""
        known = {
            "name_col",
            "ra_col",
            "dec_col",
            "vizier",
            "table",
            "file",
            "readme",
            "format",
            "required",
        }
        unknown = sorted(set(config) - known)
        if unknown:
            msg = f"unknown catalogue setting(s) {unknown}; known: {sorted(known)}"
            raise ValueError(msg)
        kwargs = dict(config)
        for key in ("ra_col", "dec_col"):
            if key in kwargs and not isinstance(kwargs[key], str):
                kwargs[key] = tuple(kwargs[key])
        if kwargs.get("table") is not None:
            kwargs["table"] = str(kwargs["table"])
        return cls(**kwargs)


def _guess_format(path: Path, readme: str | os.PathLike | None) -> str:
    name = path.name.lower()
    if readme is not None:
        return "cds"
    for suffixes, fmt in (
        ((".fits", ".fit", ".fits.gz", ".fit.gz", ".fz"), "fits"),
        ((".xml", ".vot", ".votable"), "votable"),
        ((".ecsv",), "ecsv"),
        ((".csv", ".csv.gz"), "csv"),
    ):
        if name.endswith(suffixes):
            return fmt
    msg = (
        f"cannot tell the format of catalogue file {path}: name it .fits, .xml/.vot, "
        ".csv or .ecsv, give a CDS 'readme' for a .dat file, or set 'format'"
    )
    raise ValueError(msg)


def read_local_catalogue(
    path: str | os.PathLike,
    *,
    readme: str | os.PathLike | None = None,
    format: str | None = None,
    table: str | int | None = None,
) -> Table:
    """Read a catalogue table from a local file.

    Parameters
    ----------
    path : str or path-like
        The data file.
    readme : str or path-like, optional
        CDS ``ReadMe`` whose byte-by-byte description covers ``path`` (matched
        by file name, as at CDS). Implies ``format="cds"``.
    format : {'cds', 'fits', 'votable', 'csv', 'ecsv'}, optional
        Guessed from the file name (and ``readme``) when omitted.
    table : str or int, optional
        FITS: HDU name or index; VOTable: table ID/name or index. Default:
        the first table.

    Returns
    -------
    astropy.table.Table
        The table with its column units (unparseable units are kept as
        unrecognised units, without a warning).

    Raises
    ------
    FileNotFoundError
        If ``path`` or ``readme`` does not exist.
    ValueError
        If the file cannot be read as the given format.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"catalogue file {path} not found"
        raise FileNotFoundError(msg)
    if readme is not None and not Path(readme).is_file():
        msg = f"CDS ReadMe {readme} (for catalogue file {path}) not found"
        raise FileNotFoundError(msg)
    fmt = format or _guess_format(path, readme)
    try:
        if fmt == "cds":
            if readme is None:
                return Table.read(path, format="ascii.cds")
            return Table.read(path, format="ascii.cds", readme=os.fspath(readme))
        if fmt == "fits":
            return _read_fits_table(path, table)
        if fmt == "votable":
            return _read_votable_file(path, table)
        if fmt == "ecsv":
            return Table.read(path, format="ascii.ecsv")
        return Table.read(path, format="ascii.csv")
    except (FileNotFoundError, KeyError, IndexError, ValueError, TypeError, OSError) as exc:
        msg = f"cannot read catalogue file {path} as {fmt}: {exc}"
        raise ValueError(msg) from exc


def _read_fits_table(path: Path, table: str | int | None) -> Table:
    """A FITS table; a cut or damaged file (astropy only warns) is an error."""
    from astropy.io.fits.verify import VerifyWarning
    from astropy.utils.exceptions import AstropyUserWarning

    hdu = 1 if table is None else (int(table) if str(table).isdigit() else table)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VerifyWarning)
        warnings.filterwarnings("error", message="File may have been truncated")
        try:
            return Table.read(path, format="fits", hdu=hdu, unit_parse_strict="silent")
        except (VerifyWarning, AstropyUserWarning) as exc:
            first = str(exc).strip().splitlines()[0]
            msg = f"FITS file {path} is truncated or corrupt: {first}"
            raise ValueError(msg) from None


def _read_votable_file(path: Path, table: str | int | None) -> Table:
    from astropy.io import votable

    tree = votable.parse(os.fspath(path), verify="ignore")
    tables = list(tree.iter_tables())
    if not tables:
        msg = f"VOTable {path} holds no table"
        raise ValueError(msg)
    if table is None:
        chosen = tables[0]
    elif str(table).isdigit():
        chosen = tables[int(table)]
    else:
        matches = [t for t in tables if table in (t.ID, t.name)]
        if not matches:
            names = [t.ID or t.name for t in tables]
            msg = f"VOTable {path} has no table {table!r}; tables: {names}"
            raise ValueError(msg)
        chosen = matches[0]
    return chosen.to_table(use_names_over_ids=True)


def table_to_dataframe(table: Table, *, catalogue: str) -> pd.DataFrame:
    """Convert an astropy table to a DataFrame, keeping units in ``df.attrs``.

    Masked integers become pandas nullable integers, masked floats NaN,
    masked text ``None``; byte strings are decoded. Multidimensional columns
    (which Parquet tables of scalars cannot hold) are left out with a
    :class:`CatalogueColumnDroppedWarning`.

    Parameters
    ----------
    table : astropy.table.Table
        The catalogue as read.
    catalogue : str
        Catalogue key, used in messages.

    Returns
    -------
    pandas.DataFrame
        One column per scalar column of ``table``; ``df.attrs["units"]`` maps
        column name to unit string for the columns that have one.
    """
    dropped = [name for name in table.colnames if table[name].ndim > 1]
    if dropped:
        warnings.warn(
            f"catalogue {catalogue}: multidimensional column(s) {dropped} left out",
            CatalogueColumnDroppedWarning,
            stacklevel=2,
        )
        table = table[[name for name in table.colnames if name not in dropped]]
    table = Table(table, copy=True)
    table.convert_bytestring_to_unicode()
    units = {
        name: table[name].unit.to_string()
        for name in table.colnames
        if table[name].unit is not None
    }
    df = table.to_pandas(index=False)
    for name in df.columns:
        if df[name].dtype == object:
            df[name] = df[name].map(lambda v: None if v is None or v is np.ma.masked else v)
    df.attrs["units"] = units
    return df


def _is_decimal(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_format(values: pd.Series, *, catalogue: str, column: str) -> str:
    """``"decimal"`` or ``"sexagesimal"``: one format for the whole column, decided once.

    A text column is sexagesimal when its first filled cell is not a plain number; every
    other filled cell must then be of the same kind, else the first odd row is named.
    """
    if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
        return "decimal"
    text = values.map(lambda v: "" if v is None or pd.isna(v) else str(v).strip())
    filled = np.flatnonzero(text.to_numpy() != "")
    if not len(filled):
        return "decimal"
    decimal = np.array([_is_decimal(t) for t in text.iloc[filled]])
    kind = "decimal" if decimal[0] else "sexagesimal"
    odd = np.flatnonzero(decimal != decimal[0])
    if len(odd):
        first, row = int(filled[0]), int(filled[odd[0]])
        other = "sexagesimal" if decimal[0] else "decimal"
        msg = (
            f"catalogue {catalogue}: column {column!r} mixes formats: row {first} "
            f"({text.iloc[first]!r}) is {kind} but row {row} ({text.iloc[row]!r}) is {other} "
            f"({len(odd)} such row(s)); one column holds one format"
        )
        raise ValueError(msg)
    return kind


def _sexagesimal_degrees(
    values: pd.Series, *, hours: bool, catalogue: str, column: str
) -> np.ndarray:
    """Degrees from sexagesimal text (``"00:42:44.3"``, ``"+41 16 09"``); blanks give NaN."""
    text = values.map(lambda v: "" if v is None or pd.isna(v) else str(v).strip())
    valid = (text != "").to_numpy()
    unit = u.hourangle if hours else u.deg
    out = np.full(len(values), np.nan)
    try:
        out[valid] = Angle(text[valid].to_numpy(), unit=unit).deg
    except (ValueError, u.UnitsError):
        for row in np.flatnonzero(valid):
            try:
                Angle(text.iloc[row], unit=unit)
            except (ValueError, u.UnitsError) as exc:
                msg = (
                    f"catalogue {catalogue}: column {column!r} row {int(row)} "
                    f"({text.iloc[row]!r}) is not a sexagesimal angle: {exc}"
                )
                raise ValueError(msg) from exc
        raise
    return out


def _to_degrees(values: pd.Series, unit: str | None, *, hours: bool, catalogue: str, column: str):
    if _column_format(values, catalogue=catalogue, column=column) == "sexagesimal":
        return _sexagesimal_degrees(values, hours=hours, catalogue=catalogue, column=column)
    numeric = pd.to_numeric(values, errors="coerce")
    factor = 1.0
    if unit:
        if unit.strip() in ("h", "hour", "hourangle"):
            factor = 15.0
        else:
            try:
                factor = u.Unit(unit, parse_strict="silent").to(u.deg)
            except (ValueError, u.UnitsError) as exc:
                msg = (
                    f"catalogue {catalogue}: column {column!r} has unit {unit!r}, "
                    "which is not an angle"
                )
                raise ValueError(msg) from exc
    return numeric.to_numpy(dtype=float) * factor


def _split_columns(
    df: pd.DataFrame, cols: Sequence[str], *, hours: bool, catalogue: str
) -> np.ndarray:
    """Degrees from CDS split columns (h m s) or (sign d m s)."""
    if hours:
        if len(cols) != 3:
            msg = f"catalogue {catalogue}: split RA needs 3 columns (h, m, s), got {list(cols)}"
            raise ValueError(msg)
        h, m, s = (pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float) for c in cols)
        return 15.0 * (h + m / 60.0 + s / 3600.0)
    if len(cols) == 4:
        sign_col, *dms = cols
        signs = df[sign_col].astype(object).map(lambda v: "-" if str(v).strip() == "-" else "+")
        sign = np.where(signs.to_numpy() == "-", -1.0, 1.0)
    elif len(cols) == 3:
        dms = list(cols)
        sign = None
    else:
        msg = (
            f"catalogue {catalogue}: split Dec needs columns (sign, d, m, s) or (d, m, s), "
            f"got {list(cols)}"
        )
        raise ValueError(msg)
    d, m, s = (pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float) for c in dms)
    if sign is None:
        sign = np.where(np.signbit(d), -1.0, 1.0)
    return sign * (np.abs(d) + m / 60.0 + s / 3600.0)


def _names_as_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.map(lambda v: None if pd.isna(v) else str(int(v)))
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if np.all(np.mod(finite.to_numpy(), 1.0) == 0.0):
            return values.map(lambda v: None if pd.isna(v) else str(int(v)))
        return values.map(lambda v: None if pd.isna(v) else repr(float(v)))
    return values.map(lambda v: None if v is None or pd.isna(v) else str(v).strip() or None)


def _require_columns(
    df: pd.DataFrame, columns: Sequence[str | Sequence[str]], catalogue: str
) -> None:
    """Raise a :class:`KeyError` listing the columns there are if one of ``columns`` is missing."""
    wanted = []
    for col in columns:
        wanted.extend([col] if isinstance(col, str) else list(col))
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        msg = (
            f"catalogue {catalogue}: column(s) {missing} not found; "
            f"columns present: {list(df.columns)}"
        )
        raise KeyError(msg)


def _coordinates(
    df: pd.DataFrame,
    ra_col: str | Sequence[str],
    dec_col: str | Sequence[str],
    units: Mapping[str, Any],
    catalogue: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Right ascension and declination in degrees (float64; NaN where missing)."""
    if isinstance(ra_col, str):
        ra = _to_degrees(
            df[ra_col], units.get(ra_col), hours=True, catalogue=catalogue, column=ra_col
        )
    else:
        ra = _split_columns(df, list(ra_col), hours=True, catalogue=catalogue)
    if isinstance(dec_col, str):
        dec = _to_degrees(
            df[dec_col], units.get(dec_col), hours=False, catalogue=catalogue, column=dec_col
        )
    else:
        dec = _split_columns(df, list(dec_col), hours=False, catalogue=catalogue)
    return np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)


def _usable_rows(
    ra: np.ndarray,
    dec: np.ndarray,
    names: pd.Series,
    *,
    ra_col: str | Sequence[str],
    dec_col: str | Sequence[str],
    catalogue: str,
) -> np.ndarray:
    """Rows with a position; warns about the others, raises on a position out of range.

    Called by :func:`normalise_catalogue` only (the warning points at its caller).
    """
    good = np.isfinite(ra) & np.isfinite(dec)
    if not good.all():
        bad_names = names[~good].head(5).tolist()
        warnings.warn(
            f"catalogue {catalogue}: {int((~good).sum())} row(s) without a position in "
            f"{ra_col!r}/{dec_col!r} left out (first: {bad_names})",
            CatalogueRowsDroppedWarning,
            stacklevel=3,
        )
    ra_bad = good & ((ra < 0.0) | (ra > 360.0))
    dec_bad = good & ((dec < -90.0) | (dec > 90.0))
    for bad, col, lim in ((ra_bad, ra_col, "[0, 360]"), (dec_bad, dec_col, "[-90, 90]")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = ra[i] if col is ra_col else dec[i]
            msg = (
                f"catalogue {catalogue}: {int(bad.sum())} position(s) from {col!r} outside "
                f"{lim} deg (row {i}, {names.iloc[i]!r}: {value}); wrong column or unit?"
            )
            raise ValueError(msg)
    return good


def _require_names(names: pd.Series, good: np.ndarray, name_col: str, catalogue: str) -> None:
    """Raise a :class:`ValueError` if a row with a position has no name."""
    no_name = names.isna().to_numpy() & good
    if no_name.any():
        rows = np.flatnonzero(no_name)[:5].tolist()
        msg = f"catalogue {catalogue}: {int(no_name.sum())} row(s) without a name in {name_col!r} (rows {rows})"
        raise ValueError(msg)


def _normalised_frame(
    df: pd.DataFrame,
    names: pd.Series,
    ra: np.ndarray,
    dec: np.ndarray,
    good: np.ndarray,
    units: Mapping[str, Any],
) -> pd.DataFrame:
    """``name, ra_deg, dec_deg`` of the ``good`` rows, then their original columns."""
    # If ra == 360 exactly, wrap to 0.
    ra = np.mod(ra, 360.0)

    originals = df.loc[good, [c for c in df.columns if c not in NORMALISED_COLUMNS]]
    out = pd.concat(
        [
            pd.DataFrame(
                {
                    "name": names[good].astype(object).to_numpy(),
                    "ra_deg": ra[good],
                    "dec_deg": dec[good],
                }
            ),
            originals.reset_index(drop=True),
        ],
        axis=1,
    )
    out.attrs["units"] = {k: v for k, v in units.items() if k in out.columns}
    return out


def normalise_catalogue(
    df: pd.DataFrame,
    *,
    name_col: str,
    ra_col: str | Sequence[str],
    dec_col: str | Sequence[str],
    catalogue: str,
) -> pd.DataFrame:
    """Put a catalogue in the pipeline's layout: ``name, ra_deg, dec_deg``, then the originals.

    Parameters
    ----------
    df : pandas.DataFrame
        The catalogue with its original columns; ``df.attrs["units"]`` (as
        set by :func:`table_to_dataframe`) gives column units, if known.
    name_col : str
        Column with the object names. Integer names (W22, W23) become text.
    ra_col : str or sequence of str
        One column in degrees (or in hours when its unit is ``h``; or
        sexagesimal text in hours, ``"00:42:44.3"``/``"00 42 44.3"``), or the
        three CDS columns ``(RAh, RAm, RAs)``.
    dec_col : str or sequence of str
        One column in degrees (or sexagesimal text), or the CDS columns
        ``(DE-, DEd, DEm, DEs)`` (a blank sign means ``+``).
    catalogue : str
        Catalogue key, used in every message.

    Returns
    -------
    pandas.DataFrame
        ``name`` (str), ``ra_deg``, ``dec_deg`` (float64, degrees as given by
        the catalogue: J2000/ICRS), then the original columns in their order;
        an original column named ``name``, ``ra_deg`` or ``dec_deg`` is
        replaced by the normalised one. ``attrs["units"]`` is kept.

    Raises
    ------
    KeyError
        If a named column is missing (the message lists the columns there are).
    ValueError
        If a name is missing, or a coordinate is outside [0, 360) / [-90, 90]
        (wrong column or unit).

    Warns
    -----
    CatalogueRowsDroppedWarning
        For rows without a position (left out).
    """
    units = dict(df.attrs.get("units", {}))
    _require_columns(df, [name_col, ra_col, dec_col], catalogue)
    ra, dec = _coordinates(df, ra_col, dec_col, units, catalogue)
    names = _names_as_text(df[name_col])
    good = _usable_rows(ra, dec, names, ra_col=ra_col, dec_col=dec_col, catalogue=catalogue)
    _require_names(names, good, name_col, catalogue)
    return _normalised_frame(df, names, ra, dec, good, units)


def write_catalogue(
    df: pd.DataFrame,
    path: str | os.PathLike,
    *,
    catalogue: str,
    source: Mapping[str, Any],
) -> Path:
    """Write a normalised catalogue to Parquet, atomically, with its provenance.

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`normalise_catalogue`.
    path : str or path-like
        Output path (``resources/catalogues/{catalogue}.parquet``).
    catalogue : str
        Catalogue key.
    source : mapping
        Provenance stored in the file metadata (VizieR id and server, or the
        local file and its SHA-256).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if list(df.columns[:3]) != list(NORMALISED_COLUMNS):
        msg = f"catalogue {catalogue}: not normalised (first columns {list(df.columns[:3])})"
        raise ValueError(msg)
    metadata = {
        "stage": "catalogue",
        "catalogue": catalogue,
        "n_rows": len(df),
        "source": dict(source),
        "units": dict(df.attrs.get("units", {})),
    }
    return write_parquet(df, path, metadata=metadata)


def _sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_local_catalogue(
    spec: CatalogueSpec, output: str | os.PathLike, *, catalogue: str
) -> Path:
    """Read a local catalogue file, normalise it and write it to Parquet.

    Parameters
    ----------
    spec : CatalogueSpec
        With ``file`` set (and ``readme`` for a CDS pair).
    output : str or path-like
        Output Parquet path.
    catalogue : str
        Catalogue key.

    Returns
    -------
    pathlib.Path
        ``output``.
    """
    if spec.file is None:
        msg = f"catalogue {catalogue}: no local 'file' in its spec"
        raise ValueError(msg)
    table = read_local_catalogue(
        spec.file, readme=spec.readme, format=spec.format, table=spec.table
    )
    df = table_to_dataframe(table, catalogue=catalogue)
    try:
        out = normalise_catalogue(
            df,
            name_col=spec.name_col,
            ra_col=spec.ra_col,
            dec_col=spec.dec_col,
            catalogue=catalogue,
        )
    except (KeyError, ValueError) as exc:
        text = exc.args[0] if exc.args else str(exc)
        msg = f"catalogue file {spec.file}: {text}"
        raise type(exc)(msg) from exc
    source = {"kind": "file", "file": os.fspath(spec.file), "sha256": _sha256(spec.file)}
    if spec.readme is not None:
        source.update(readme=os.fspath(spec.readme), readme_sha256=_sha256(spec.readme))
    return write_catalogue(out, output, catalogue=catalogue, source=source)
