"""The catalogue registry: every catalogue the pipeline knows, by key.

The keys name the files ``resources/catalogues/{key}.parquet``, the config's
``catalogues`` entries (real survey) and the cross-match columns. The config schema's
enumerations of catalogue keys are checked against these tuples by the tests.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd

from pandas_clusters.core.columns import require_columns
from pandas_clusters.core.io import read_frame

__all__ = [
    "CATALOGUES",
    "LITERATURE_CATALOGUES",
    "TRAINING_CATALOGUES",
    "CatalogueWarning",
    "read_catalogue",
]

#: PHAT (Johnson+ 2015) clusters and background galaxies: the training labels.
TRAINING_CATALOGUES: tuple[str, ...] = ("phat_clusters", "phat_galaxies")

#: The literature catalogues of the cross-match, in output column order (Zhang+ 2025):
#: Caldwell+ 2009, the Revised Bologna Catalogue, Caldwell+ 2011, Wang+ 2022,
#: Wang+ 2023 and Huxor+ 2014.
LITERATURE_CATALOGUES: tuple[str, ...] = ("c09", "rbc", "c11", "w22", "w23", "h14")

#: Every catalogue key.
CATALOGUES: tuple[str, ...] = TRAINING_CATALOGUES + LITERATURE_CATALOGUES


class CatalogueWarning(UserWarning):
    """A catalogue entry was skipped (e.g. without a finite position)."""


def read_catalogue(path: str | os.PathLike, *, catalogue: str) -> pd.DataFrame:
    """Read a normalised catalogue and check its columns.

    Parameters
    ----------
    path : path-like
        Parquet file with ``name`` (str), ``ra_deg``, ``dec_deg`` (ICRS deg).
    catalogue : str
        Catalogue key, for messages.

    Returns
    -------
    pandas.DataFrame
        ``name`` (str, stripped; empty for a missing name), ``ra_deg``,
        ``dec_deg`` (float64); entries without a finite position are dropped
        with a :class:`CatalogueWarning`.
    """
    df = read_frame(path, what=f"catalogue {catalogue!r}")
    require_columns(
        df.columns, ("name", "ra_deg", "dec_deg"), where=f"catalogue {catalogue!r} ({str(path)!r})"
    )
    names = [
        ("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())
        for v in df["name"].tolist()
    ]
    out = pd.DataFrame(
        {
            "name": pd.Series(names, dtype=object),
            "ra_deg": pd.to_numeric(df["ra_deg"], errors="coerce").to_numpy(float),
            "dec_deg": pd.to_numeric(df["dec_deg"], errors="coerce").to_numpy(float),
        }
    )
    bad = ~(np.isfinite(out["ra_deg"]) & np.isfinite(out["dec_deg"]))
    if bad.any():
        msg = (
            f"catalogue {catalogue!r} ({str(path)!r}): {int(bad.sum())} entr(ies) without a "
            "finite position skipped"
        )
        warnings.warn(msg, CatalogueWarning, stacklevel=2)
        out = out.loc[~bad].reset_index(drop=True)
    return out
