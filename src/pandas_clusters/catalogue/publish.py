"""The published catalogue: CDS ``table7.dat`` + ``ReadMe``, and FITS/Parquet copies.

The table reproduces the layout of the paper's CDS catalogue J/ApJS/278/16
(its CDS ReadMe, Zhang et al. 2025, ApJS 278, 16): columns :data:`TABLE7_COLUMNS` (Seq, RAh, RAm,
RAs, DE-, DEd, DEm, DEs, gmag, e_gmag, imag, e_imag, PAndAS, Rproj, Conf,
Score, C09, RBC, C11, W22, W23, H14) with the seed's labels, units,
explanations and notes.

**Formats from the data, as CDS does.** Each column's width is the longest
value written: integers ``I<w>`` with ``w`` the digits of the extremes,
floats ``F<w>.<d>`` with ``d`` fixed per column (the precision of the
paper's table: RAs 3, DEs 2, magnitudes 3, Rproj 2, Conf 4) and ``w`` the
longest value at that precision, strings ``A<w>`` the longest name. Name
columns whose every name is an integer (W22, W23 number their objects) are
written as integers. A column holding blanks gets CDS's ``?`` null flag;
columns marked for limits get ``[min/max]`` (``[v]`` when equal): the
extremes of the written values, trailing zeros dropped. The ReadMe layout
is that of CDS ReadMes prepared from AAS tables (e.g. J/ApJ/954/206): Bytes
``%4d-%3d`` (a single byte from 100 on as ``%8d``, as in seed 001), Format
and Units 6 wide, Label 8 wide, explanations wrapped at 80 characters with
continuation lines indented one past the explanation column. Neither
cdspyreadme nor astropy's MRT writer reproduces seed 001: both round float
limits outward to 0.01 (``[0.0/0.03]`` for e_gmag, ``[13.5/21.0]`` for
gmag), cdspyreadme drops limits whose minimum is 0 (RAh ``[0]``) and
astropy drops limits of columns whose label contains RA or DE; hence this
module formats the table itself and tests that astropy's CDS reader reads
it back.

**Rows** are the cross-matched candidates, sorted by RA then Dec then
``source_id``; Seq numbers them from 1. RA/Dec are rounded once, in integer
units of the last digit (1 ms of time, 0.01 arcsec), so that 59.9996 s
carries into the next minute. Conf is the probability of the predicted
class (:func:`pandas_clusters.catalogue.selection.predicted_class_confidence`).

**Score** (visual inspection): a folder with one CSV file per inspector
(``<inspector>.csv``, header ``source_id,score``, score 0 = not a cluster,
1 = possible, 2 = confirmed; lines starting with ``#`` are comments), as
``pandas-clusters inspect`` exports them from its database
(:mod:`pandas_clusters.inspection`). They are parsed strictly: a blank cell,
a score other than ``0``, ``1`` or ``2`` (``1.5``), a source_id that is not
a candidate or is scored twice is an error naming the file and line, raised
before any output is written.
Score is the sum over inspectors; a candidate not scored by every
inspector gets a blank Score and an :class:`InspectionWarning`. With
``min_score`` set, rows below it (or blank) are dropped, as the paper kept
only 3 and 4. Without inspection files Score is blank in every row and
Note (1) says so; ``min_score`` then is an error.

Every output is written atomically (:func:`pandas_clusters.core.io.atomic_path`).
An empty candidate list writes a valid pair with zero records.
"""

from __future__ import annotations

import csv
import io
import math
import os
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from astropy.table import MaskedColumn, Table

from pandas_clusters import __version__
from pandas_clusters.core.catalogues import LITERATURE_CATALOGUES
from pandas_clusters.core.columns import require_columns
from pandas_clusters.core.config import StageSettings
from pandas_clusters.core.io import atomic_path, read_frame, read_parquet_metadata, write_parquet

__all__ = [
    "TABLE7_COLUMNS",
    "CdsColumnSpec",
    "FormattedColumn",
    "InspectionWarning",
    "PublishSettings",
    "ReadmeHeader",
    "build_table7",
    "byte_by_byte_lines",
    "format_columns",
    "publish_catalogue",
    "read_inspection_scores",
    "write_cds",
]

#: Width of a ReadMe line.
README_WIDTH = 80
_RULE = "-" * README_WIDTH
_DOUBLE_RULE = "=" * README_WIDTH


class InspectionWarning(UserWarning):
    """A candidate was not scored by every inspector, or an inspection file is odd."""


@dataclass(frozen=True)
class CdsColumnSpec:
    """Description of one column of the CDS table.

    Attributes
    ----------
    label, unit, explanation : str
        As in the byte-by-byte description (``---`` for no unit).
    kind : str
        ``"I"`` integer, ``"F"`` float, ``"A"`` string, ``"name"`` a
        catalogue name (integer when every value is one, else string).
    decimals : int
        Decimals of an ``F`` column.
    limits : bool
        Whether ``[min/max]`` is shown.
    note : int or None
        Number of the note the explanation refers to.
    gap_before : bool
        Whether a blank byte precedes the column (not after ``DE-``).
    """

    label: str
    unit: str
    explanation: str
    kind: str
    decimals: int = 0
    limits: bool = False
    note: int | None = None
    gap_before: bool = True


#: The columns of table 7, in order, with seed 001's labels, units and explanations.
TABLE7_COLUMNS: tuple[CdsColumnSpec, ...] = (
    CdsColumnSpec("Seq", "---", "Candidate sequential identifier", "I", limits=True),
    CdsColumnSpec("RAh", "h", "Hour of Right Ascension (J2000)", "I", limits=True),
    CdsColumnSpec("RAm", "min", "Minute of Right Ascension (J2000)", "I", limits=True),
    CdsColumnSpec("RAs", "s", "Second of Right Ascension (J2000)", "F", decimals=3),
    CdsColumnSpec("DE-", "---", "Sign of the Declination (J2000)", "A"),
    CdsColumnSpec(
        "DEd", "deg", "Degree of Declination (J2000)", "I", limits=True, gap_before=False
    ),
    CdsColumnSpec("DEm", "arcmin", "Arcminute of Declination (J2000)", "I"),
    CdsColumnSpec("DEs", "arcsec", "Arcsecond of Declination (J2000)", "F", decimals=2),
    CdsColumnSpec(
        "gmag", "mag", "PAndAS CFHT/MegaCam g-band AB magnitude", "F", decimals=3, limits=True
    ),
    CdsColumnSpec("e_gmag", "mag", "Uncertainty in gmag", "F", decimals=3, limits=True),
    CdsColumnSpec(
        "imag", "mag", "PAndAS CFHT/MegaCam i-band AB magnitude", "F", decimals=3, limits=True
    ),
    CdsColumnSpec("e_imag", "mag", "Uncertainty in imag", "F", decimals=3, limits=True),
    CdsColumnSpec("PAndAS", "---", "PAndAS field ID", "I", limits=True),
    CdsColumnSpec(
        "Rproj", "kpc", "Projected distance to center of M31", "F", decimals=2, limits=True
    ),
    CdsColumnSpec(
        "Conf",
        "---",
        "Classification Confidence (highest probability = most likely class; Section 3.1)",
        "F",
        decimals=4,
        limits=True,
    ),
    CdsColumnSpec("Score", "---", "Visual inspection score", "I", limits=True, note=1),
    CdsColumnSpec("C09", "---", "Name in Caldwell et al. 2009, J/AJ/137/94", "name"),
    CdsColumnSpec("RBC", "---", "Name in Galleti et al. 2004, J/A+A/416/917", "name", note=2),
    CdsColumnSpec("C11", "---", "Name in Caldwell et al. 2011, J/AJ/141/61", "name"),
    CdsColumnSpec("W22", "---", "Name in Wang et al. 2022, J/A+A/658/A51", "name"),
    CdsColumnSpec("W23", "---", "Name in Wang et al. 2023, J/ApJ/954/206", "name"),
    CdsColumnSpec("H14", "---", "Name in Huxor et al. 2014MNRAS.442.2165H", "name"),
)

#: Spec of each column, by label.
_SPECS: dict[str, CdsColumnSpec] = {c.label: c for c in TABLE7_COLUMNS}

#: Catalogue key of each name column.
_NAME_COLUMNS: dict[str, str] = {c.upper(): c for c in LITERATURE_CATALOGUES}

_NOTE1_BASE = (
    "Visual inspection score system corresponds to the sum of",
    "the following values for {who}: 2 points for",
    "confirmed star clusters, 1 point for potential star clusters and",
    "0 points for non-clusters.",
)
_NOTE2 = (
    "RBC = Galleti et al. 2004, J/A+A/416/917; superseded by V/143;",
    "http://www.bo.astro.it/M31/",
)
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

_SEE_ALSO = (
    ("J/AJ/137/94", "Star clusters in M31 (Caldwell+, 2009)"),
    ("J/PASP/122/745", "HST WFPC2 star clusters in M31. III. (Hodge+, 2010)"),
    ("J/AJ/141/61", "Star clusters in M31. II. (Caldwell+, 2011)"),
    ("J/ApJ/752/95", "PHAT stellar cluster survey. I. Year 1 (Johnson+, 2012)"),
    ("J/other/RAA/15.1392", "LAMOST globular clusters in M 31 and M 33 (Chen+, 2015)"),
    ("J/ApJ/802/127", "PHAT stellar cluster survey. II. AP catalog (Johnson+, 2015)"),
    ("J/ApJ/868/55", "Structure of M31 halo. II. PAndAS (McConnachie+, 2018)"),
    ("J/A+A/658/A51", "New M31 star cluster candidates (Wang+, 2022)"),
    ("J/ApJ/954/206", "GC search in M31 with Gaia, PS1, LAMOST, PAndAS (Wang+, 2023)"),
    ("J/ApJS/278/16", "Star clusters in M31 from PAndAS and deep learning (Zhang+, 2025)"),
    ("http://www.cfht.hawaii.edu/Science/PandAS/", "PandAS data access"),
)


@dataclass(frozen=True)
class ReadmeHeader:
    """Descriptive header of the ReadMe (everything above the File Summary).

    ``abstract`` and ``description`` of None are generated from the table
    and the stage metadata (counts, threshold, cuts). ``table_explanation``
    may hold ``{n}`` (number of records).
    """

    catalogue: str = "pandas-clusters"
    short_title: str = "Star cluster candidates in M31 from PAndAS and deep learning"
    first_author: str = ""
    year: str = ""
    title: str = (
        "Young star cluster candidates in M31 from PAndAS images with convolutional "
        "neural networks: an open re-implementation of Zhang et al. (2025, ApJS 278, 16)"
    )
    authors: str = "pandas-clusters developers"
    reference: str = "pandas-clusters pipeline output (not a journal publication)"
    adc_keywords: str = "Galaxies, nearby; Clusters, open; Photometry, RI"
    keywords: str = (
        "Andromeda galaxy ; Young star clusters ; Convolutional neural networks ; Star clusters"
    )
    abstract: str | None = None
    description: str | None = None
    table_explanation: str = "Catalog of the {n} star cluster candidates in M31"

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> ReadmeHeader:
        """Build from a mapping of field overrides; unknown keys are an error."""
        mapping = dict(mapping or {})
        unknown = sorted(set(mapping) - set(cls.__dataclass_fields__))
        if unknown:
            msg = f"publish.readme has unknown key(s) {unknown}"
            raise ValueError(msg)
        return cls(**{k: (None if v is None else str(v)) for k, v in mapping.items()})


@dataclass(frozen=True)
class PublishSettings(StageSettings):
    """Settings of the publication stage.

    Attributes
    ----------
    table_name : str
        Name of the data file as the ReadMe refers to it (``table7.dat``).
    min_score : int or None
        Keep rows with a visual-inspection Score at least this (needs inspection files).
    readme : ReadmeHeader
        Descriptive header of the ReadMe.
    """

    _section: ClassVar[str] = "publish"

    table_name: str
    min_score: int | None
    readme: ReadmeHeader

    @classmethod
    def _derive(cls, values: dict[str, Any]) -> dict[str, Any]:
        """The ReadMe header overrides as a :class:`ReadmeHeader`."""
        readme = values.get("readme")
        if not isinstance(readme, ReadmeHeader):
            values = {**values, "readme": ReadmeHeader.from_mapping(readme)}
        return values


# --------------------------------------------------------------------- scores


def _read_score_file(path: Path, known: set[int]) -> dict[int, int]:
    """Parse one inspector's CSV strictly: source_id -> score.

    Every data line must hold a known integer ``source_id`` and a score
    written exactly ``0``, ``1`` or ``2``; a blank cell, a decimal (``1.5``,
    ``1.0``), an unknown or repeated ``source_id`` is an error naming the
    file and the line. Lines starting with ``#`` and empty lines are skipped.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"inspection file {str(path)!r}: cannot be read ({exc})"
        raise ValueError(msg) from exc
    rows = [
        (n, row)
        for n, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#")
    ]
    header = [c.strip() for c in rows[0][1]] if rows else []
    missing = [c for c in ("source_id", "score") if c not in header]
    if missing:
        msg = f"inspection file {str(path)!r} lacks the column(s) {missing} (header {header})"
        raise ValueError(msg)
    i_sid, i_score = header.index("source_id"), header.index("score")
    scores: dict[int, int] = {}
    lines: dict[int, int] = {}
    for line, row in rows[1:]:
        where = f"inspection file {str(path)!r}, line {line}"
        if len(row) != len(header):
            msg = f"{where}: {len(row)} field(s), the header has {len(header)}"
            raise ValueError(msg)
        sid_text, score_text = row[i_sid].strip(), row[i_score].strip()
        if not sid_text.isdigit() or not sid_text.isascii():
            msg = f"{where}: source_id must be an integer, got {sid_text or 'a blank cell'}"
            raise ValueError(msg)
        if score_text not in ("0", "1", "2"):
            msg = (
                f"{where}: score must be 0, 1 or 2, got {score_text or 'a blank cell'} "
                f"for source_id {sid_text}"
            )
            raise ValueError(msg)
        sid = int(sid_text)
        if sid not in known:
            msg = f"{where}: source_id {sid} is not one of the candidates"
            raise ValueError(msg)
        if sid in scores:
            msg = f"{where}: source_id {sid} is scored twice (also on line {lines[sid]})"
            raise ValueError(msg)
        scores[sid], lines[sid] = int(score_text), line
    return scores


def read_inspection_scores(
    folder: str | os.PathLike | None, source_ids: Sequence[int] | np.ndarray
) -> tuple[pd.Series | None, dict[str, Any]]:
    """Sum the visual-inspection scores of every inspector.

    Parameters
    ----------
    folder : path-like or None
        Folder of ``<inspector>.csv`` files (``source_id,score``, score 0, 1
        or 2; written by ``pandas-clusters inspect`` or by hand). None, a
        missing folder or one without CSV files: no inspection.
    source_ids : sequence of int
        The candidates to score.

    Returns
    -------
    scores : pandas.Series or None
        Nullable Int64 Score indexed like ``source_ids`` (blank where an
        inspector did not score the candidate); None without inspection.
    metadata : dict
        Inspectors (file stems) and counts.

    Raises
    ------
    ValueError
        A file does not parse strictly (see :func:`_read_score_file`): the
        message names the file and the line.
    """
    ids = np.asarray(source_ids, dtype=np.int64)
    if folder is None or not Path(folder).is_dir():
        return None, {"inspectors": [], "folder": None if folder is None else str(folder)}
    files = sorted(Path(folder).glob("*.csv"))
    if not files:
        return None, {"inspectors": [], "folder": str(folder)}
    known = set(ids.tolist())
    total = np.zeros(len(ids), dtype=np.int64)
    complete = np.ones(len(ids), dtype=bool)
    for path in files:
        got = pd.Series(_read_score_file(path, known), dtype="Int64").reindex(ids)
        complete &= got.notna().to_numpy()
        total += got.fillna(0).to_numpy(dtype=np.int64)
    n_incomplete = int((~complete).sum())
    if n_incomplete:
        warnings.warn(
            f"{n_incomplete} candidate(s) not scored by every inspector in {str(folder)!r}; "
            "their Score is left blank",
            InspectionWarning,
            stacklevel=2,
        )
    scores = pd.Series(pd.array(np.where(complete, total, 0), dtype="Int64"))
    scores[~complete] = pd.NA
    meta = {
        "folder": str(folder),
        "inspectors": [p.stem for p in files],
        "incomplete": n_incomplete,
    }
    return scores, meta


# ---------------------------------------------------------------------- table


def _sexagesimal(ra_deg: np.ndarray, dec_deg: np.ndarray) -> dict[str, np.ndarray]:
    """RA (h, min, s; 1 ms) and Dec (sign, deg, arcmin, arcsec; 0.01") with carries."""
    ms = np.rint(np.mod(ra_deg, 360.0) / 15.0 * 3600.0 * 1000.0).astype(np.int64)
    ms = np.mod(ms, 24 * 3600 * 1000)
    cas = np.rint(np.abs(dec_deg) * 3600.0 * 100.0).astype(np.int64)
    sign = np.where((dec_deg < 0) & (cas > 0), "-", "+")
    return {
        "RAh": ms // 3_600_000,
        "RAm": (ms // 60_000) % 60,
        "RAs": (ms % 60_000) / 1000.0,
        "DE-": sign,
        "DEd": cas // 360_000,
        "DEm": (cas // 6000) % 60,
        "DEs": (cas % 6000) / 100.0,
    }


def build_table7(
    candidates: pd.DataFrame,
    *,
    scores: pd.Series | None = None,
    min_score: int | None = None,
) -> pd.DataFrame:
    """Build the rows of table 7 from the cross-matched candidates.

    Parameters
    ----------
    candidates : pandas.DataFrame
        Cross-matched candidates: ``source_id``, ``ra``, ``dec`` (deg),
        ``gmag``, ``e_gmag``, ``imag``, ``e_imag`` (AB mag), ``field``,
        ``rproj_kpc`` (kpc), ``conf`` and the name columns ``c09`` ... ``h14``.
    scores : pandas.Series, optional
        Nullable integer Score per row of ``candidates`` (same order).
    min_score : int, optional
        Drop rows whose Score is below this or blank (needs ``scores``).

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`TABLE7_COLUMNS` (values rounded to the published
        precision; blanks as NA/NaN/None) plus ``source_id``.
    """
    _require_table7_inputs(candidates)
    df = candidates.reset_index(drop=True).copy()
    if scores is not None:
        if len(scores) != len(df):
            msg = f"{len(scores)} scores for {len(df)} candidates"
            raise ValueError(msg)
        df["_score"] = pd.array(scores, dtype="Int64")
    else:
        df["_score"] = pd.array([pd.NA] * len(df), dtype="Int64")
    if min_score is not None:
        if scores is None:
            msg = "publish.min_score is set but no visual-inspection scores were found"
            raise ValueError(msg)
        df = df.loc[(df["_score"] >= min_score).fillna(False).to_numpy(bool)]
    for col in ("ra", "dec"):
        if not np.all(np.isfinite(df[col].to_numpy(float))):
            msg = f"candidates table: column {col!r} has non-finite values"
            raise ValueError(msg)
    df = df.sort_values(["ra", "dec", "source_id"], kind="stable").reset_index(drop=True)
    out: dict[str, Any] = {**_table7_values(df), "Score": df["_score"].array}
    for label, key in _NAME_COLUMNS.items():
        out[label] = _name_column(df[key].tolist())
    table = pd.DataFrame(out)
    table["source_id"] = df["source_id"].to_numpy(np.int64)
    return table


def _require_table7_inputs(candidates: pd.DataFrame) -> None:
    """The columns of the cross-matched candidates that table 7 is built from."""
    required = [
        "source_id",
        "ra",
        "dec",
        "gmag",
        "e_gmag",
        "imag",
        "e_imag",
        "field",
        "rproj_kpc",
        "conf",
        *LITERATURE_CATALOGUES,
    ]
    require_columns(candidates.columns, required, where="candidates table (for table 7)")


def _rounded(values: np.ndarray, label: str) -> np.ndarray:
    """Values rounded to the published precision of column ``label``."""
    return np.round(values, _SPECS[label].decimals)


def _table7_values(df: pd.DataFrame) -> dict[str, Any]:
    """Seq, positions, magnitudes, field, Rproj and Conf of table 7 (rows of ``df`` in order)."""
    n = len(df)
    sexa = _sexagesimal(df["ra"].to_numpy(float), df["dec"].to_numpy(float))

    def column(col: str) -> np.ndarray:
        return df[col].to_numpy(float)

    return {
        "Seq": np.arange(1, n + 1, dtype=np.int64),
        "RAh": sexa["RAh"],
        "RAm": sexa["RAm"],
        "RAs": _rounded(sexa["RAs"], "RAs"),
        "DE-": pd.Series(sexa["DE-"], dtype=object).to_numpy(),
        "DEd": sexa["DEd"],
        "DEm": sexa["DEm"],
        "DEs": _rounded(sexa["DEs"], "DEs"),
        "gmag": _rounded(column("gmag"), "gmag"),
        "e_gmag": _rounded(column("e_gmag"), "e_gmag"),
        "imag": _rounded(column("imag"), "imag"),
        "e_imag": _rounded(column("e_imag"), "e_imag"),
        "PAndAS": df["field"].to_numpy(np.int64),
        "Rproj": _rounded(column("rproj_kpc"), "Rproj"),
        "Conf": _rounded(column("conf"), "Conf"),
    }


def _name_column(values: Sequence[Any]) -> Any:
    """A literature-name column: integers when every name is one (W22, W23), else strings."""
    names = [
        "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()
        for v in values
    ]
    if any(names) and all(s.isdigit() for s in names if s):
        return pd.array([int(s) if s else pd.NA for s in names], dtype="Int64")
    return pd.Series([s if s else None for s in names], dtype=object).to_numpy()


# ----------------------------------------------------------------- formatting


@dataclass(frozen=True)
class FormattedColumn:
    """One column as written: its spec, Fortran format and the text of each value."""

    spec: CdsColumnSpec
    fortran: str
    width: int
    has_null: bool
    limits: str
    values: tuple[str, ...]


def _is_blank(v: Any) -> bool:
    if v is None or v is pd.NA:
        return True
    if isinstance(v, float | np.floating):
        return bool(np.isnan(v))
    if isinstance(v, str):
        return v.strip() == ""
    return False


def _strip_zeros(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _format_column(spec: CdsColumnSpec, values: Sequence[Any]) -> FormattedColumn:
    blank = [_is_blank(v) for v in values]
    present = [v for v, b in zip(values, blank, strict=True) if not b]
    has_null = any(blank)
    kind = spec.kind
    if kind == "name":
        ints = [v for v in present if isinstance(v, int | np.integer)]
        kind = "I" if present and len(ints) == len(present) else "A"
        if not present and isinstance(values, pd.arrays.IntegerArray):
            kind = "I"
    limits = ""
    if kind == "I":
        texts = [str(int(v)) for v in present]
        width = max((len(t) for t in texts), default=1)
        fortran = f"I{width}"
        cells = [
            " " * width if b else str(int(v)).rjust(width)
            for v, b in zip(values, blank, strict=True)
        ]
        if spec.limits and present:
            lo, hi = int(min(present)), int(max(present))
            limits = f"[{lo}]" if lo == hi else f"[{lo}/{hi}]"
    elif kind == "F":
        d = spec.decimals
        texts = [f"{float(v):.{d}f}" for v in present]
        width = max((len(t) for t in texts), default=len(f"{0:.{d}f}"))
        fortran = f"F{width}.{d}"
        cells = [
            " " * width if b else f"{float(v):.{d}f}".rjust(width)
            for v, b in zip(values, blank, strict=True)
        ]
        if spec.limits and present:
            lo = _strip_zeros(f"{min(float(v) for v in present):.{d}f}")
            hi = _strip_zeros(f"{max(float(v) for v in present):.{d}f}")
            limits = f"[{lo}]" if lo == hi else f"[{lo}/{hi}]"
    else:
        texts = [str(v) for v in present]
        bad = [t for t in texts if not t.isascii() or "\n" in t]
        if bad:
            msg = f"column {spec.label}: value {bad[0]!r} is not printable ASCII"
            raise ValueError(msg)
        width = max((len(t) for t in texts), default=1)
        fortran = f"A{width}"
        cells = [
            " " * width if b else str(v).ljust(width) for v, b in zip(values, blank, strict=True)
        ]
        has_null = has_null and spec.kind != "name" and spec.label != "DE-"
    return FormattedColumn(spec, fortran, width, has_null, limits, tuple(cells))


def format_columns(table: pd.DataFrame) -> list[FormattedColumn]:
    """Derive the format of every table-7 column from its values.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`build_table7`.

    Returns
    -------
    list of FormattedColumn
        One per :data:`TABLE7_COLUMNS` entry, in order.
    """
    cols = []
    for spec in TABLE7_COLUMNS:
        if spec.label not in table.columns:
            msg = f"table 7 lacks the column {spec.label!r}"
            raise ValueError(msg)
        arr = table[spec.label].array
        values = arr if isinstance(arr, pd.arrays.IntegerArray) else list(arr)
        cols.append(_format_column(spec, values))
    return cols


def _byte_ranges(cols: Sequence[FormattedColumn]) -> list[tuple[int, int]]:
    ranges = []
    pos = 0  # last byte used
    for k, col in enumerate(cols):
        start = pos + (2 if (k > 0 and col.spec.gap_before) else 1)
        end = start + col.width - 1
        ranges.append((start, end))
        pos = end
    return ranges


def _bytes_field(start: int, end: int) -> str:
    if start == end and start >= 100:
        return f"{start:8d}"
    return f"{start:4d}-{end:3d}"


def _wrap(prefix: str, text: str, indent: int) -> list[str]:
    lines = textwrap.wrap(
        text,
        width=README_WIDTH,
        initial_indent=prefix,
        subsequent_indent=" " * indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return lines or [prefix.rstrip()]


def byte_by_byte_lines(
    cols: Sequence[FormattedColumn],
    *,
    table_name: str,
    notes: Sequence[Sequence[str]] = (),
) -> list[str]:
    """The byte-by-byte description of the table, from its title to the closing rule.

    Parameters
    ----------
    cols : sequence of FormattedColumn
        From :func:`format_columns`.
    table_name : str
        File name of the data file.
    notes : sequence of sequences of str
        Note texts (one sequence of lines per note, numbered from 1).

    Returns
    -------
    list of str
        ReadMe lines (without newlines).
    """
    label_width = max(8, *(len(c.spec.label) for c in cols))
    unit_width = max(6, *(len(c.spec.unit) for c in cols))
    lines = [f"Byte-by-byte Description of file: {table_name}", _RULE]
    lines.append(
        f"{'Bytes':>8} {'Format':<6} {'Units':<{unit_width}} {'Label':<{label_width}} Explanations"
    )
    lines.append(_RULE)
    for col, (start, end) in zip(cols, _byte_ranges(cols), strict=True):
        prefix = (
            f"{_bytes_field(start, end)} {col.fortran:<6} {col.spec.unit:<{unit_width}} "
            f"{col.spec.label:<{label_width}} "
        )
        parts = []
        if col.limits or col.has_null:
            parts.append(col.limits + ("?" if col.has_null else ""))
        parts.append(col.spec.explanation)
        if col.spec.note is not None:
            parts.append(f"({col.spec.note})")
        lines.extend(_wrap(prefix, " ".join(parts), len(prefix) + 1))
    lines.append(_RULE)
    if notes:
        for k, note in enumerate(notes, start=1):
            head = f"Note ({k}): "
            for i, text in enumerate(note):
                lines.append((head if i == 0 else " " * len(head)) + text)
        lines.append(_RULE)
    return lines


def _score_note(n_inspectors: int, min_score: int | None) -> list[str]:
    if n_inspectors == 0:
        who = "each manual inspector"
    else:
        words = (
            _NUMBER_WORDS[n_inspectors] if n_inspectors < len(_NUMBER_WORDS) else str(n_inspectors)
        )
        who = f"{words} manual inspector{'s' if n_inspectors > 1 else ''}"
    lines = [line.format(who=who) for line in _NOTE1_BASE]
    if n_inspectors == 0:
        lines.append("No visual inspection was made for this table: Score is blank.")
    elif min_score is not None:
        kept = [str(s) for s in range(max(min_score, 0), 2 * n_inspectors + 1)]
        if len(kept) == 1:
            tail = f"Only scores of {kept[0]} are included."
        else:
            tail = f"Only scores of {', '.join(kept[:-1])} or {kept[-1]} are included."
        lines[-1] = f"{lines[-1]} {tail}"
    else:
        lines[-1] = f"{lines[-1]} All scores are included."
    return lines


def _paragraph(text: str) -> list[str]:
    return textwrap.wrap(
        text, width=README_WIDTH - 2, initial_indent="  ", subsequent_indent="  "
    ) or [""]


def _readme_text(
    cols: Sequence[FormattedColumn],
    *,
    lrecl: int,
    n_rows: int,
    settings: PublishSettings,
    notes: Sequence[Sequence[str]],
    abstract: str,
    description: str,
) -> str:
    h = settings.readme
    who = ", ".join(v for v in (h.first_author, h.year) if v)
    first = f"{h.catalogue}  {h.short_title}" + (f"  ({who})" if who else "")
    out = [first, _DOUBLE_RULE]
    out += textwrap.wrap(h.title, width=README_WIDTH)
    out += textwrap.wrap(
        h.authors, width=README_WIDTH, initial_indent="    ", subsequent_indent="    "
    )
    out.append(f"   <{h.reference}>")
    out.append(_DOUBLE_RULE)
    out += textwrap.wrap(
        f"ADC_Keywords: {h.adc_keywords}", width=README_WIDTH, subsequent_indent=" " * 14
    )
    out += textwrap.wrap(f"Keywords: {h.keywords}", width=README_WIDTH, subsequent_indent=" " * 10)
    out += ["", "Abstract:", *_paragraph(abstract), "", "Description:", *_paragraph(description)]
    out += [
        "",
        "Objects:",
        "    " + "-" * 56,
        "       RA   (ICRS)   DE        Designation(s)",
        "    " + "-" * 56,
        "    00 42 44.33 +41 16 07.5   M31 = NAME Andromeda Galaxy",
        "    " + "-" * 56,
        "",
        "File Summary:",
        _RULE,
        " FileName    Lrecl  Records  Explanations",
        _RULE,
        f" {'ReadMe':<10} {README_WIDTH:>6} {'.':>8}  This file",
    ]
    explanation = h.table_explanation.format(n=n_rows)
    out += textwrap.wrap(
        f" {settings.table_name:<10} {lrecl:>6} {n_rows:>8}  {explanation}",
        width=README_WIDTH,
        subsequent_indent=" " * 29,
    )
    out += [_RULE, "", "See also:"]
    for ref, text in _SEE_ALSO:
        out += textwrap.wrap(f"  {ref} : {text}", width=README_WIDTH, subsequent_indent=" " * 6)
    out.append("")
    out += byte_by_byte_lines(cols, table_name=settings.table_name, notes=notes)
    out += [
        "",
        "History:",
        f"    Written by pandas-clusters {__version__} (pandas_clusters.catalogue.publish)",
        _DOUBLE_RULE,
        f"(End){'pandas-clusters':>{README_WIDTH - 5}}",
    ]
    too_long = [line for line in out if len(line) > README_WIDTH]
    if too_long:
        msg = f"ReadMe line longer than {README_WIDTH} characters: {too_long[0]!r}"
        raise ValueError(msg)
    return "\n".join(out) + "\n"


def _default_abstract(table: pd.DataFrame, context: Mapping[str, Any]) -> str:
    n = len(table)
    n_new = int(context.get("n_new", 0))
    sel = context.get("selection", {})
    bits = [
        f"This table lists {n} star cluster candidates in M31 found by a convolutional "
        "neural network in PAndAS CFHT/MegaCam g- and i-band images"
    ]
    if sel:
        bits.append(
            f" (classification threshold {sel.get('threshold')} on the mean probability, "
            f"g <= {sel.get('mag_limit')} mag, projected radius <= {sel.get('rproj_max_kpc')} kpc)"
        )
    absent = [c.upper() for c in context.get("absent", [])]
    present = [c.upper() for c in LITERATURE_CATALOGUES if c.upper() not in absent]
    if not present:
        return "".join(bits) + "; no literature catalogue was available to the cross-match."
    listed = ", ".join(present[:-1]) + (" and " if len(present) > 1 else "") + present[-1]
    bits.append(f"; {n_new} of them match none of the literature catalogues {listed}")
    if absent:
        bits.append(f" ({', '.join(absent)} not available to the cross-match)")
    return "".join(bits) + "."


def _default_description(context: Mapping[str, Any]) -> str:
    radius = context.get("crossmatch", {}).get("radius_arcsec")
    dup = context.get("selection", {}).get("duplicate_radius_arcsec")
    text = (
        "Produced by the pandas-clusters workflow, an open re-implementation of "
        "Zhang et al. (2025, ApJS 278, 16; J/ApJS/278/16) whose column layout it follows. "
        "Candidates seen in several overlapping PAndAS fields are kept once (the copy with "
        "the smallest photometric error)"
    )
    if dup is not None:
        text += f", copies being closer than {dup} arcsec"
    text += ". Literature names come from a one-to-one nearest-first cross-match"
    if radius is not None:
        text += f" within {radius} arcsec"
    return text + "."


def write_cds(
    table: pd.DataFrame,
    dat_path: str | os.PathLike,
    readme_path: str | os.PathLike,
    *,
    settings: PublishSettings,
    n_inspectors: int = 0,
    context: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``table`` as a CDS data file and its ReadMe, atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`build_table7`.
    dat_path, readme_path : path-like
        Output paths (the ReadMe names the data file ``settings.table_name``).
    settings : PublishSettings
        Table name, ``min_score``, ReadMe header.
    n_inspectors : int
        Number of visual inspectors (0: none; Note (1) then says Score is blank).
    context : mapping, optional
        Stage metadata for the generated abstract/description (``n_new``,
        ``selection``, ``crossmatch`` settings).

    Returns
    -------
    tuple of pathlib.Path
        ``(dat_path, readme_path)``.
    """
    context = dict(context or {})
    cols = format_columns(table)
    ranges = _byte_ranges(cols)
    lrecl = ranges[-1][1]
    records = []
    for r in range(len(table)):
        line = [" "] * lrecl
        for col, (start, end) in zip(cols, ranges, strict=True):
            line[start - 1 : end] = col.values[r]
        records.append("".join(line))
    notes = [_score_note(n_inspectors, settings.min_score), list(_NOTE2)]
    h = settings.readme
    abstract = h.abstract if h.abstract is not None else _default_abstract(table, context)
    description = h.description if h.description is not None else _default_description(context)
    readme = _readme_text(
        cols,
        lrecl=lrecl,
        n_rows=len(table),
        settings=settings,
        notes=notes,
        abstract=abstract,
        description=description,
    )
    with atomic_path(dat_path) as tmp:
        tmp.write_text("".join(f"{rec}\n" for rec in records), encoding="ascii")
    with atomic_path(readme_path) as tmp:
        tmp.write_text(readme, encoding="ascii")
    return Path(dat_path), Path(readme_path)


def _to_astropy(table: pd.DataFrame) -> Table:
    out = Table()
    for name in table.columns:
        arr = table[name].array
        if isinstance(arr, pd.arrays.IntegerArray):
            mask = np.asarray(arr.isna())
            col = MaskedColumn(arr.to_numpy(dtype=np.int64, na_value=0), mask=mask, name=name)
        elif table[name].dtype.kind == "f":
            data = table[name].to_numpy(float)
            col = MaskedColumn(data, mask=np.isnan(data), name=name)
        elif table[name].dtype.kind in "iu":
            col = MaskedColumn(table[name].to_numpy(np.int64), name=name)
        else:
            vals = ["" if _is_blank(v) else str(v) for v in table[name].tolist()]
            width = max((len(v) for v in vals), default=1) or 1
            col = MaskedColumn(
                np.array(vals, dtype=f"U{width}"),
                mask=np.array([v == "" for v in vals], dtype=bool),
                name=name,
            )
        spec = _SPECS.get(name)
        if spec is not None and spec.unit != "---":
            col.unit = spec.unit
        col.description = spec.explanation if spec else "Source identifier in the pipeline"
        out.add_column(col)
    return out


def publish_catalogue(
    candidates: str | os.PathLike,
    *,
    dat_path: str | os.PathLike,
    readme_path: str | os.PathLike,
    fits_path: str | os.PathLike,
    parquet_path: str | os.PathLike,
    settings: PublishSettings,
    inspection_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Write table 7 (CDS pair, FITS, Parquet) from the cross-matched candidates.

    Parameters
    ----------
    candidates : path-like
        Cross-matched candidates Parquet (from :mod:`pandas_clusters.catalogue.crossmatch`).
    dat_path, readme_path, fits_path, parquet_path : path-like
        Outputs. The FITS and Parquet copies hold the same columns and values
        as the CDS table, plus ``source_id``.
    settings : PublishSettings
        Publication settings.
    inspection_dir : path-like, optional
        Folder of visual-inspection files (see the module docstring).

    Returns
    -------
    dict
        The metadata stored in the Parquet copy (counts, inspectors, settings).
    """
    df = read_frame(candidates, what="candidates file")
    upstream = read_parquet_metadata(candidates)
    scores, inspection = read_inspection_scores(inspection_dir, df["source_id"].to_numpy())
    table = build_table7(df, scores=scores, min_score=settings.min_score)
    context = {
        "n_new": int(df.loc[df["source_id"].isin(table["source_id"]), "new"].sum())
        if "new" in df.columns
        else 0,
        "selection": upstream.get("select", {}).get("settings", {}),
        "crossmatch": upstream.get("settings", {}),
        "absent": upstream.get("absent", []),
    }
    write_cds(
        table,
        dat_path,
        readme_path,
        settings=settings,
        n_inspectors=len(inspection["inspectors"]),
        context=context,
    )
    with atomic_path(fits_path, suffix=".fits") as tmp:
        _to_astropy(table).write(tmp, format="fits", overwrite=True)
    metadata = {
        "stage": "publish",
        "settings": settings.to_dict(),
        "candidates": str(candidates),
        "inspection": inspection,
        "records": len(table),
        "new": context["n_new"],
    }
    write_parquet(table, parquet_path, metadata=metadata)
    return metadata
