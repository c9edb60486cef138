"""Survey-level selection: cut the per-field inference, merge fields, drop duplicates.

Input, per field: the inference table (``results/inference/{field}.parquet``:
``source_id``, ``prob_mean``, ``prob_std``, ``prob_seed<k>``...) and the
sources table (``results/sources/{field}.parquet``, see docs/data-model.md).
They are joined on ``source_id``; every inferred ``source_id`` must be in the
sources file of its field.

The cuts, in order (each count is recorded in the output metadata):

1. ``prob_mean >= threshold`` (the classification threshold);
2. ``gmag <= mag_limit`` (g not fainter than the limiting magnitude; a NaN
   ``gmag`` fails the cut); skipped when ``mag_limit`` is None;
3. ``rproj_kpc <= rproj_max_kpc``;
4. ``flags & reject_flags == 0`` (``reject_flags = 0`` keeps every source);
5. optionally, candidates within ``training_match_radius_arcsec`` of a PHAT
   cluster (the training positives) are removed; when the PHAT catalogue is
   given they are flagged (``training_positive``) either way;
6. duplicates across overlapping fields are removed (below).

**Duplicates.** Two candidates from *different* fields closer than
``duplicate_radius_arcsec`` are two detections of one object; the copy kept is
chosen by the project's one de-duplication policy
(:func:`pandas_clusters.core.skymatch.deduplicate_across_fields`: best photometry,
``e_gmag`` then ``e_imag``, then the lowest ``source_id``), the same policy the
training set uses, so an object keeps its ``source_id`` from the training set to the
catalogue. A copy near a CCD edge or gap has part of its light off the detector or on
fewer exposures of the stack, so its photometric error is larger. Duplicates are
removed *after* the cuts, so an object is a candidate when any of its copies passes
them. The kept row records ``n_copies`` (itself plus the copies dropped for it) and
``duplicate_fields`` (the fields of those copies, comma-separated).

**Confidence.** ``conf`` is the probability of the predicted class:
``prob_mean`` when ``prob_mean >= threshold`` (cluster), ``1 - prob_mean``
otherwise; for the selected candidates it is therefore ``prob_mean``.

**Provenance.** Rows keep ``field`` and ``ccd``; the file metadata records
the settings (threshold, mag limit, radii), the model name, the inputs and
the metadata of each inference file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from pandas_clusters.core.catalogues import read_catalogue
from pandas_clusters.core.columns import require_columns
from pandas_clusters.core.config import StageSettings
from pandas_clusters.core.io import parquet_errors, read_frame, read_parquet_metadata, write_parquet
from pandas_clusters.core.skymatch import deduplicate_across_fields, match_nearest_unique

__all__ = [
    "CANDIDATE_COLUMNS",
    "SelectionSettings",
    "predicted_class_confidence",
    "select_candidates",
    "write_candidates",
]

#: Columns taken from the sources tables.
SOURCE_COLUMNS: tuple[str, ...] = (
    "source_id",
    "field",
    "ccd",
    "ra",
    "dec",
    "gmag",
    "e_gmag",
    "imag",
    "e_imag",
    "rproj_kpc",
    "flags",
)
#: Columns every inference table must have.
INFERENCE_COLUMNS: tuple[str, ...] = ("source_id", "prob_mean", "prob_std")
#: Leading columns of the candidates table (the ``prob_seed<k>`` columns follow).
CANDIDATE_COLUMNS: tuple[str, ...] = (
    *SOURCE_COLUMNS,
    "prob_mean",
    "prob_std",
    "conf",
    "training_positive",
    "n_copies",
    "duplicate_fields",
)


@dataclass(frozen=True)
class SelectionSettings(StageSettings):
    """Settings of the survey-level selection.

    Attributes
    ----------
    threshold : float
        Classification threshold on ``prob_mean`` (0-1).
    mag_limit : float or None
        Keep ``gmag <= mag_limit`` (AB mag); None keeps every magnitude.
    rproj_max_kpc : float
        Keep ``rproj_kpc <= rproj_max_kpc`` (kpc).
    duplicate_radius_arcsec : float
        Two candidates of different fields closer than this are one object, arcsec.
    exclude_training_positives : bool
        Drop candidates matched to a PHAT cluster (needs the PHAT catalogue).
    training_match_radius_arcsec : float
        Radius of the match to the PHAT clusters, arcsec.
    reject_flags : int
        Bit mask of source flags that exclude a source (0: none).
    model : str
        Name of the model whose probabilities are used (provenance only).
    """

    _section: ClassVar[str] = "selection"

    threshold: float
    mag_limit: float | None
    rproj_max_kpc: float
    duplicate_radius_arcsec: float
    exclude_training_positives: bool
    training_match_radius_arcsec: float
    reject_flags: int
    model: str

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            msg = f"selection.threshold must be in [0, 1], got {self.threshold}"
            raise ValueError(msg)
        for key in ("rproj_max_kpc", "duplicate_radius_arcsec", "training_match_radius_arcsec"):
            if not getattr(self, key) > 0:
                msg = f"selection.{key} must be > 0, got {getattr(self, key)}"
                raise ValueError(msg)
        if self.reject_flags < 0:
            msg = f"selection.reject_flags must be a non-negative bit mask, got {self.reject_flags}"
            raise ValueError(msg)


def predicted_class_confidence(prob, threshold: float) -> np.ndarray:
    """Probability of the predicted class.

    Parameters
    ----------
    prob : array_like
        Probability of the cluster class (0-1).
    threshold : float
        Classification threshold: ``prob >= threshold`` predicts a cluster.

    Returns
    -------
    numpy.ndarray
        ``prob`` where a cluster is predicted, ``1 - prob`` elsewhere.
    """
    p = np.asarray(prob, dtype=float)
    return np.where(p >= threshold, p, 1.0 - p)


def _read_inference(path: str | os.PathLike) -> pd.DataFrame:
    with parquet_errors(path, "inference file"):
        schema = pq.read_schema(path)
    require_columns(schema.names, INFERENCE_COLUMNS, where=f"inference file {str(path)!r}")
    seeds = [c for c in schema.names if c.startswith("prob_seed")]  # ordered by the caller
    with parquet_errors(path, "inference file"):
        df = read_frame(path, columns=[*INFERENCE_COLUMNS, *seeds], what="inference file")
    if df["source_id"].duplicated().any():
        dup = int(df.loc[df["source_id"].duplicated(), "source_id"].iloc[0])
        msg = f"inference file {str(path)!r}: source_id {dup} occurs twice"
        raise ValueError(msg)
    bad = ~np.isfinite(df["prob_mean"].to_numpy(float))
    if bad.any():
        sid = int(df.loc[bad, "source_id"].iloc[0])
        msg = f"inference file {str(path)!r}: prob_mean is not finite for source_id {sid}"
        raise ValueError(msg)
    return df


def _seed_key(name: str) -> tuple[int, str]:
    tail = name.removeprefix("prob_seed")
    return (int(tail), name) if tail.isdigit() else (10**9, name)


def _read_sources(path: str | os.PathLike) -> pd.DataFrame:
    with parquet_errors(path, "sources file"):
        schema = pq.read_schema(path)
    require_columns(schema.names, SOURCE_COLUMNS, where=f"sources file {str(path)!r}")
    with parquet_errors(path, "sources file"):
        return read_frame(path, columns=list(SOURCE_COLUMNS), what="sources file")


def _join_field(inference_path, sources_path) -> pd.DataFrame:
    inf = _read_inference(inference_path)
    src = _read_sources(sources_path)
    merged = inf.merge(src, on="source_id", how="left", indicator=True, validate="one_to_one")
    orphan = merged["_merge"] == "left_only"
    if orphan.any():
        sid = int(merged.loc[orphan, "source_id"].iloc[0])
        msg = (
            f"inference file {str(inference_path)!r}: {int(orphan.sum())} source_id(s) "
            f"(e.g. {sid}) are not in the sources file {str(sources_path)!r}"
        )
        raise ValueError(msg)
    return merged.drop(columns="_merge")


def select_candidates(
    inference: Sequence[str | os.PathLike],
    sources: Sequence[str | os.PathLike],
    *,
    settings: SelectionSettings,
    training_positives: str | os.PathLike | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply the cuts to every field, merge the fields and drop duplicates.

    Parameters
    ----------
    inference : sequence of path-like
        Per-field inference Parquet files.
    sources : sequence of path-like
        Per-field sources Parquet files, in the same order as ``inference``.
    settings : SelectionSettings
        The cuts (see the module docstring).
    training_positives : path-like, optional
        PHAT cluster catalogue (``name``, ``ra_deg``, ``dec_deg``); required
        when ``settings.exclude_training_positives``.

    Returns
    -------
    candidates : pandas.DataFrame
        Columns :data:`CANDIDATE_COLUMNS` then the ``prob_seed<k>`` columns,
        sorted by ``source_id``.
    metadata : dict
        Settings, inputs, counts after each cut, inference metadata per file.
    """
    _check_selection_inputs(inference, sources, settings, training_positives)
    df, seed_cols, inference_meta = _join_fields(inference, sources)
    counts: dict[str, int] = {"inferred": len(df)}
    df = _apply_cuts(df, settings, counts)
    df = _flag_training_positives(df, settings, training_positives)
    counts["training"] = len(df)
    df["conf"] = predicted_class_confidence(df["prob_mean"], settings.threshold)
    df = deduplicate_across_fields(df, radius_arcsec=settings.duplicate_radius_arcsec)
    counts["unique"] = len(df)

    df = df.sort_values("source_id", kind="stable").reset_index(drop=True)
    df = df[[*CANDIDATE_COLUMNS, *seed_cols]]
    metadata = {
        "stage": "selection",
        "settings": settings.to_dict(),
        "inference": [str(p) for p in inference],
        "sources": [str(p) for p in sources],
        "training_positives": None if training_positives is None else str(training_positives),
        "counts": counts,
        "inference_metadata": inference_meta,
    }
    return df, metadata


def _check_selection_inputs(
    inference: Sequence[str | os.PathLike],
    sources: Sequence[str | os.PathLike],
    settings: SelectionSettings,
    training_positives: str | os.PathLike | None,
) -> None:
    """Inference and sources files come in pairs; the PHAT catalogue is there when needed."""
    if len(inference) != len(sources):
        msg = (
            f"{len(inference)} inference file(s) but {len(sources)} sources file(s): "
            "they must be given in pairs, one per field"
        )
        raise ValueError(msg)
    if settings.exclude_training_positives and training_positives is None:
        msg = "selection.exclude_training_positives is set but no PHAT cluster catalogue was given"
        raise ValueError(msg)


def _join_fields(
    inference: Sequence[str | os.PathLike], sources: Sequence[str | os.PathLike]
) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    """All fields' inference joined with their sources, each ``source_id`` once.

    Returns the joined table, the ``prob_seed<k>`` columns in seed order and
    the metadata of each inference file.
    """
    frames = []
    inference_meta: dict[str, Any] = {}
    for inf_path, src_path in zip(inference, sources, strict=True):
        frames.append(_join_field(inf_path, src_path))
        inference_meta[str(inf_path)] = read_parquet_metadata(inf_path)
    seed_cols = sorted(
        {c for f in frames for c in f.columns if c.startswith("prob_seed")}, key=_seed_key
    )
    df = pd.concat(frames, ignore_index=True) if frames else _empty_joined(seed_cols)
    if df["source_id"].duplicated().any():
        dup = int(df.loc[df["source_id"].duplicated(), "source_id"].iloc[0])
        msg = f"source_id {dup} occurs in more than one inference file"
        raise ValueError(msg)
    return df, seed_cols, inference_meta


def _apply_cuts(
    df: pd.DataFrame, settings: SelectionSettings, counts: dict[str, int]
) -> pd.DataFrame:
    """Cuts 1-4 of the module docstring, recording the rows left after each in ``counts``."""
    prob = df["prob_mean"].to_numpy(float)
    df = df.loc[prob >= settings.threshold]
    counts["threshold"] = len(df)
    if settings.mag_limit is not None:
        df = df.loc[df["gmag"].to_numpy(float) <= settings.mag_limit]
    counts["mag_limit"] = len(df)
    df = df.loc[df["rproj_kpc"].to_numpy(float) <= settings.rproj_max_kpc]
    counts["rproj"] = len(df)
    if settings.reject_flags:
        df = df.loc[(df["flags"].to_numpy(np.int64) & settings.reject_flags) == 0]
    counts["flags"] = len(df)
    return df.reset_index(drop=True)


def _flag_training_positives(
    df: pd.DataFrame,
    settings: SelectionSettings,
    training_positives: str | os.PathLike | None,
) -> pd.DataFrame:
    """Flag (``training_positive``) and optionally drop candidates near a PHAT cluster."""
    training = np.zeros(len(df), dtype=bool)
    if training_positives is not None:
        phat = read_catalogue(training_positives, catalogue="phat_clusters")
        idx, _ = match_nearest_unique(
            df["ra"].to_numpy(float),
            df["dec"].to_numpy(float),
            phat["ra_deg"].to_numpy(float),
            phat["dec_deg"].to_numpy(float),
            radius_arcsec=settings.training_match_radius_arcsec,
        )
        training = idx >= 0
    df["training_positive"] = training
    if settings.exclude_training_positives:
        df = df.loc[~training].reset_index(drop=True)
    return df


def _empty_joined(seed_cols: Sequence[str]) -> pd.DataFrame:
    dtypes = {
        "source_id": "int64",
        "prob_mean": "float64",
        "prob_std": "float64",
        "field": "int32",
        "ccd": "int16",
        "ra": "float64",
        "dec": "float64",
        "gmag": "float64",
        "e_gmag": "float64",
        "imag": "float64",
        "e_imag": "float64",
        "rproj_kpc": "float64",
        "flags": "int32",
    }
    dtypes.update(dict.fromkeys(seed_cols, "float64"))
    return pd.DataFrame({k: pd.Series([], dtype=v) for k, v in dtypes.items()})


def write_candidates(
    inference: Sequence[str | os.PathLike],
    sources: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    settings: SelectionSettings,
    training_positives: str | os.PathLike | None = None,
) -> Path:
    """Run :func:`select_candidates` and write the candidates to Parquet atomically.

    Parameters
    ----------
    inference, sources, settings, training_positives
        As for :func:`select_candidates`.
    output : path-like
        Output Parquet file (zero rows and the full schema when nothing passes).

    Returns
    -------
    pathlib.Path
        ``output``.
    """
    df, metadata = select_candidates(
        inference, sources, settings=settings, training_positives=training_positives
    )
    return write_parquet(df, output, metadata=metadata)
