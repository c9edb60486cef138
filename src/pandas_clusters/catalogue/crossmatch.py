"""Cross-match of the candidates with the literature catalogues.

The six catalogues of the paper's table 7 (:data:`LITERATURE_CATALOGUES`):

=====  ===========================================================
c09    Caldwell et al. 2009, J/AJ/137/94
rbc    Revised Bologna Catalogue, Galleti et al. 2004, J/A+A/416/917
c11    Caldwell et al. 2011, J/AJ/141/61
w22    Wang et al. 2022, J/A+A/658/A51
w23    Wang et al. 2023, J/ApJ/954/206
h14    Huxor et al. 2014, MNRAS 442, 2165
=====  ===========================================================

Each is read from ``resources/catalogues/{catalogue}.parquet`` (normalised
columns ``name``, ``ra_deg``, ``dec_deg``; see docs/data-model.md).

**Matching policy (one-to-one, nearest first).** All candidate-entry pairs
closer than ``radius_arcsec`` are sorted by separation (ties by candidate,
then entry index) and accepted greedily when neither the candidate nor the
catalogue entry is already taken. Hence each catalogue entry is assigned to
at most one candidate, each candidate receives at most one entry of a given
catalogue, and a mutual-nearest pair is always matched. When two candidates
compete for one entry the nearer one gets it and the other may take its
next-nearest free entry within the radius.

**Output.** The candidate table with, per catalogue, the matched name in a
column named after the catalogue (``c09`` ... ``h14``, empty string when
none) and the separation ``{catalogue}_sep_arcsec`` (NaN when none), and
``new``: True where no catalogue matched. A catalogue listed in
``optional`` may be absent (its file missing or not given): its columns are
then empty, a :class:`MissingCatalogueWarning` is issued and the metadata
lists it under ``absent``; any other missing catalogue is an error naming it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from pandas_clusters.core.catalogues import (
    read_catalogue,
)
from pandas_clusters.core.config import StageSettings
from pandas_clusters.core.io import read_frame, read_parquet_metadata, write_parquet
from pandas_clusters.core.skymatch import match_nearest_unique

__all__ = [
    "CrossmatchSettings",
    "MissingCatalogueWarning",
    "crossmatch_candidates",
    "write_crossmatch",
]


class MissingCatalogueWarning(UserWarning):
    """An optional catalogue is absent; its name column is left empty."""


@dataclass(frozen=True)
class CrossmatchSettings(StageSettings):
    """Settings of the literature cross-match.

    Attributes
    ----------
    radius_arcsec : float
        Largest candidate-entry separation accepted, arcsec.
    optional : tuple of str
        Catalogues that may be absent.
    catalogues : tuple of str
        Catalogues to match, in output column order.
    """

    _section: ClassVar[str] = "crossmatch"

    radius_arcsec: float
    optional: tuple[str, ...]
    catalogues: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.radius_arcsec > 0:
            msg = f"crossmatch.radius_arcsec must be > 0, got {self.radius_arcsec}"
            raise ValueError(msg)
        object.__setattr__(self, "optional", tuple(str(c) for c in self.optional))
        object.__setattr__(self, "catalogues", tuple(str(c) for c in self.catalogues))
        unknown = sorted(set(self.optional) - set(self.catalogues))
        if unknown:
            msg = f"crossmatch.optional names unknown catalogue(s) {unknown}"
            raise ValueError(msg)
        if len(set(self.catalogues)) != len(self.catalogues):
            msg = f"crossmatch.catalogues lists a catalogue twice: {list(self.catalogues)}"
            raise ValueError(msg)


def crossmatch_candidates(
    candidates: pd.DataFrame,
    catalogues: Mapping[str, str | os.PathLike | None],
    *,
    settings: CrossmatchSettings,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add the literature names of each candidate and the ``new`` flag.

    Parameters
    ----------
    candidates : pandas.DataFrame
        Candidates with ``ra``, ``dec`` (ICRS deg).
    catalogues : mapping
        Catalogue key -> Parquet path (None or a missing file: absent).
    settings : CrossmatchSettings
        Radius, optional catalogues, catalogue order.

    Returns
    -------
    table : pandas.DataFrame
        ``candidates`` plus, per catalogue, ``{key}`` (matched name, "" if none)
        and ``{key}_sep_arcsec`` (NaN if none), and ``new`` (bool).
    metadata : dict
        Settings, catalogue paths, absent catalogues, match counts.
    """
    for col in ("ra", "dec"):
        if col not in candidates.columns:
            msg = f"candidates table lacks the column {col!r}"
            raise ValueError(msg)
    out = candidates.copy().reset_index(drop=True)
    ra = out["ra"].to_numpy(float)
    dec = out["dec"].to_numpy(float)
    matched_any = np.zeros(len(out), dtype=bool)
    absent: list[str] = []
    counts: dict[str, int] = {}
    paths: dict[str, str | None] = {}
    for key in settings.catalogues:
        path = catalogues.get(key)
        paths[key] = None if path is None else str(path)
        if path is None or not Path(path).is_file():
            where = "not given" if path is None else f"file {str(path)!r} not found"
            if key not in settings.optional:
                msg = f"catalogue {key!r} is required but absent ({where})"
                raise FileNotFoundError(msg)
            warnings.warn(
                f"optional catalogue {key!r} absent ({where}); column {key!r} left empty",
                MissingCatalogueWarning,
                stacklevel=2,
            )
            absent.append(key)
            out[key] = pd.Series([""] * len(out), dtype=object)
            out[f"{key}_sep_arcsec"] = np.full(len(out), np.nan)
            continue
        cat = read_catalogue(path, catalogue=key)
        idx, sep = match_nearest_unique(
            ra,
            dec,
            cat["ra_deg"].to_numpy(float),
            cat["dec_deg"].to_numpy(float),
            radius_arcsec=settings.radius_arcsec,
        )
        names = cat["name"].to_numpy(dtype=object)
        out[key] = pd.Series([names[i] if i >= 0 else "" for i in idx.tolist()], dtype=object)
        out[f"{key}_sep_arcsec"] = sep
        counts[key] = int((idx >= 0).sum())
        matched_any |= idx >= 0
    out["new"] = ~matched_any
    counts["new"] = int(out["new"].sum())
    metadata = {
        "stage": "crossmatch",
        "settings": settings.to_dict(),
        "catalogues": paths,
        "absent": absent,
        "counts": counts,
    }
    return out, metadata


def write_crossmatch(
    candidates: str | os.PathLike,
    catalogues: Mapping[str, str | os.PathLike | None],
    output: str | os.PathLike,
    *,
    settings: CrossmatchSettings,
) -> Path:
    """Cross-match a candidates Parquet file and write the result atomically.

    Parameters
    ----------
    candidates : path-like
        Candidates Parquet file (from :mod:`pandas_clusters.catalogue.selection`).
    catalogues, settings
        As for :func:`crossmatch_candidates`.
    output : path-like
        Output Parquet file; the metadata of the input is kept under ``select``.

    Returns
    -------
    pathlib.Path
        ``output``.
    """
    df = read_frame(candidates, what="candidates file")
    table, metadata = crossmatch_candidates(df, catalogues, settings=settings)
    metadata["candidates"] = str(candidates)
    metadata["select"] = read_parquet_metadata(candidates)
    return write_parquet(table, output, metadata=metadata)
