"""Recovery of the artificial clusters: the pipeline's own stages on the injected images.

:func:`recover_round` runs, on one round's injected images, the library
functions of the workflow's stages with the workflow's settings:
:func:`pandas_clusters.detect.sources.build_sources` on the whole field (so
that crowding, blending and the background are those of the real run),
matches every artificial cluster to its nearest source within
``match_radius_arcsec`` (one to one), then
:func:`pandas_clusters.detect.stamps.cut_stamps` and
:func:`pandas_clusters.catalogue.inference.predict_stamps` (the selected
ensemble) for the matched sources only: stamps and probabilities are per
source, so they are those the full chain would give them, at a fraction of
the cost. The selection cuts are applied later, by the completeness stage,
so that a new threshold does not redo the injections.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pandas_clusters.catalogue.inference import InferenceSettings, predict_stamps
from pandas_clusters.core.io import read_parquet_metadata, write_parquet
from pandas_clusters.core.skymatch import match_nearest_unique
from pandas_clusters.detect.sources import SourceSettings, build_sources
from pandas_clusters.detect.stamps import StampSettings, cut_stamps

__all__ = ["RECOVERED_COLUMNS", "match_injected", "recover_round"]

log = logging.getLogger(__name__)

#: Columns added to the injected-cluster table by the recovery.
RECOVERED_COLUMNS = (
    "detected",
    "source_id",
    "sep_arcsec",
    "gmag",
    "e_gmag",
    "imag",
    "e_imag",
    "flags",
    "prob_mean",
)


def match_injected(
    injected: pd.DataFrame, sources: pd.DataFrame, *, radius_arcsec: float
) -> pd.DataFrame:
    """Nearest one-to-one match of artificial (or true) clusters to sources.

    Parameters
    ----------
    injected : pandas.DataFrame
        ``ra``, ``dec`` (deg) of the clusters.
    sources : pandas.DataFrame
        A sources table (``source_id``, ``ra``, ``dec``, ``gmag``, ``e_gmag``,
        ``imag``, ``e_imag``, ``flags``).
    radius_arcsec : float
        Largest accepted separation.

    Returns
    -------
    pandas.DataFrame
        ``injected`` with ``detected`` (bool), ``source_id`` (-1 when none),
        ``sep_arcsec`` and the matched source's photometry and flags (NaN / 0
        when none).
    """
    idx, sep_arcsec = match_nearest_unique(
        injected["ra"].to_numpy(float),
        injected["dec"].to_numpy(float),
        sources["ra"].to_numpy(float),
        sources["dec"].to_numpy(float),
        radius_arcsec=radius_arcsec,
    )
    out = injected.copy()
    hit = idx >= 0
    out["detected"] = hit

    def take(column: str, fill, dtype) -> np.ndarray:
        values = np.full(len(out), fill, dtype=dtype)
        values[hit] = sources[column].to_numpy(dtype)[idx[hit]]
        return values

    out["source_id"] = take("source_id", -1, np.int64)
    out["sep_arcsec"] = sep_arcsec
    for col in ("gmag", "e_gmag", "imag", "e_imag"):
        out[col] = take(col, np.nan, np.float64)
    out["flags"] = take("flags", 0, np.int32)
    return out


def recover_round(
    images: Mapping[str, str | os.PathLike],
    injected: pd.DataFrame,
    *,
    field: int,
    weights: Sequence[str | os.PathLike],
    workdir: str | os.PathLike,
    src_settings: SourceSettings,
    stamp_settings: StampSettings,
    inference_settings: InferenceSettings,
    match_radius_arcsec: float,
) -> tuple[pd.DataFrame, Path, Path]:
    """Detect, measure and classify the artificial clusters of one round.

    Parameters
    ----------
    images : mapping of str to path
        band -> injected image of the field.
    injected : pandas.DataFrame
        The round's artificial clusters (:func:`..inject.inject_field`).
    field : int
    weights : sequence of path-like
        The selected ensemble (one weights file per seed).
    workdir : path-like
        Folder for the round's sources, matched sources, stamps and inference.
    src_settings, stamp_settings, inference_settings
        The workflow's settings of those stages.
    match_radius_arcsec : float

    Returns
    -------
    recovery : pandas.DataFrame
        ``injected`` plus :data:`RECOVERED_COLUMNS` (``prob_mean`` NaN where no
        source matched or the source was not classified, e.g. fainter than
        the inference limit).
    sources, inference : pathlib.Path
        The matched sources (the sources schema) and their inference table, the
        inputs of the selection cuts.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    all_sources = workdir / "sources_all.parquet"
    frame = build_sources(images, field=field, out=all_sources, settings=src_settings)
    recovery = match_injected(injected, frame, radius_arcsec=match_radius_arcsec)
    matched_ids = recovery.loc[recovery["detected"], "source_id"].to_numpy(np.int64)
    table = pq.read_table(all_sources)
    subset = table.filter(
        pc.is_in(table.column("source_id"), value_set=pa.array(matched_ids, pa.int64()))
    )
    sources_path = workdir / "sources.parquet"
    write_parquet(subset, sources_path, metadata=read_parquet_metadata(all_sources))
    all_sources.unlink()
    stamps_path = workdir / "stamps.parquet"
    cut_stamps(sources_path, images, out=stamps_path, settings=stamp_settings)
    inference_path = workdir / "inference.parquet"
    predict_stamps(
        stamps_path,
        list(weights),
        settings=inference_settings,
        output_path=inference_path,
        sources_path=sources_path,
        progress=False,
    )
    stamps_path.unlink()
    probs = pd.read_parquet(inference_path, columns=["source_id", "prob_mean"])
    recovery = recovery.merge(probs, on="source_id", how="left", validate="many_to_one")
    recovery["prob_mean"] = recovery["prob_mean"].astype(np.float64)
    log.info(
        "field %d: %d of %d artificial clusters detected, %d classified",
        field,
        int(recovery["detected"].sum()),
        len(recovery),
        int(recovery["prob_mean"].notna().sum()),
    )
    return recovery, sources_path, inference_path
