"""Inference: cluster probabilities for every stamp of a field.

:func:`predict_stamps` streams a stamps Parquet file by row-group batches
(``pyarrow.parquet.ParquetFile.iter_batches``), normalises each batch with
:func:`pandas_clusters.learn.normalize.normalize_stamps` (the function used in
training), runs every seed's model on it (bf16 autocast and channels_last on
the GPU, float32 on the CPU) and writes one row per source: the probability
of each seed, their mean and their standard deviation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from tqdm.auto import tqdm

from pandas_clusters.core.columns import check_stamp_values
from pandas_clusters.core.config import StageSettings
from pandas_clusters.core.io import (
    iter_parquet_batches,
    open_parquet,
    read_parquet,
    read_parquet_metadata,
    write_parquet,
)
from pandas_clusters.learn.datasets import stamps_to_array
from pandas_clusters.learn.models import (
    load_model,
    predict_proba,
    read_weights_metadata,
    resolve_device,
)
from pandas_clusters.learn.normalize import normalize_stamps

__all__ = ["InferenceSettings", "predict_stamps"]


@dataclass(frozen=True)
class InferenceSettings(StageSettings):
    """Settings of inference.

    Attributes
    ----------
    batch_size : int
        Stamps read and classified per batch.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:n]"``.
    mag_limit : float or None
        Classify only sources with ``gmag <= mag_limit`` (the selection's
        limiting magnitude: fainter sources can never become candidates);
        ``None`` classifies every stamp. Needs the sources table.
    """

    _section: ClassVar[str] = "inference"

    batch_size: int
    device: str
    mag_limit: float | None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            msg = f"inference.batch_size must be >= 1, got {self.batch_size}"
            raise ValueError(msg)


def _check_weights(weights_paths: Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    if not weights_paths:
        msg = "no weights files given for inference"
        raise ValueError(msg)
    metas = [read_weights_metadata(w) for w in weights_paths]
    for w, m in zip(weights_paths, metas, strict=True):
        for key in ("model", "bands", "size", "seed"):
            if key not in m:
                msg = f"weights file {str(w)!r} lacks the metadata key {key!r}"
                raise ValueError(msg)

    def kind(m: Mapping[str, Any]) -> tuple:
        return m["model"], m["bands"], m["size"], m.get("mag_limit")

    for w, m in zip(weights_paths, metas, strict=True):
        if kind(m) != kind(metas[0]):
            msg = (
                f"weights file {str(w)!r} ({m['model']}, bands {m['bands']}, size {m['size']}, "
                f"mag_limit {m.get('mag_limit')}) differs from {str(weights_paths[0])!r}"
            )
            raise ValueError(msg)
    seeds = [m["seed"] for m in metas]
    if len(set(seeds)) != len(seeds):
        msg = f"two weights files of the same seed among {[str(w) for w in weights_paths]}"
        raise ValueError(msg)
    return metas


def _classify(stamps_path, models, *, bands, size, keep, settings, device, progress):
    """Ensemble probabilities of the stamps in ``keep`` (all when ``None``), batch by batch."""
    pf = open_parquet(stamps_path, "stamps file")
    ids: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    bar = tqdm(
        total=pf.metadata.num_rows,
        desc=f"infer {Path(stamps_path).name}",
        disable=None if progress is None else not progress,
    )
    with bar, torch.inference_mode():
        for batch in iter_parquet_batches(
            stamps_path,
            what="stamps file",
            batch_size=settings.batch_size,
            columns=["source_id", "stamp", "flags"],
        ):
            n_read = batch.num_rows
            if keep is not None:
                batch = batch.filter(pc.is_in(batch.column("source_id"), value_set=keep))
                if batch.num_rows == 0:
                    bar.update(n_read)
                    continue
            x = stamps_to_array(batch.column("stamp"), n_bands=len(bands), size=size)
            check_stamp_values(
                x,
                batch.column("flags").to_numpy(),
                batch.column("source_id").to_numpy(),
                path=stamps_path,
            )
            xt = normalize_stamps(torch.from_numpy(x).to(device))
            p = np.stack(
                [
                    predict_proba(
                        m, xt, batch_size=settings.batch_size, device=device, normalized=True
                    )
                    for m in models
                ],
                axis=1,
            )
            ids.append(batch.column("source_id").to_numpy().astype(np.int64))
            probs.append(p)
            bar.update(n_read)
    return ids, probs


def _bright_source_ids(sources_path, stamps_path, mag_limit: float) -> pa.Array:
    """source_ids of the sources up to ``mag_limit``; every stamp must be one of the sources."""
    src = read_parquet(sources_path, columns=["source_id", "gmag"], what="sources file")
    stamp_ids = read_parquet(stamps_path, columns=["source_id"], what="stamps file").column(
        "source_id"
    )
    unknown = pc.invert(pc.is_in(stamp_ids, value_set=src.column("source_id")))
    n_unknown = pc.sum(pc.cast(unknown, pa.int64())).as_py() or 0
    if n_unknown:
        first = stamp_ids.filter(unknown)[0].as_py()
        msg = (
            f"stamps file {str(stamps_path)!r}: {n_unknown} of {len(stamp_ids)} source_ids "
            f"(first: {first}) are not in the sources file {str(sources_path)!r}; "
            "are they of different fields?"
        )
        raise ValueError(msg)
    bright = pc.less_equal(src.column("gmag"), mag_limit)
    return src.column("source_id").filter(pc.fill_null(bright, False))


def _stamps_layout(stamps_path: str | os.PathLike, meta_w: Mapping[str, Any]) -> tuple[list, int]:
    """Bands and stamp size of the weights ``meta_w``, checked against the stamps file's."""
    meta_s = read_parquet_metadata(stamps_path)
    bands, size = list(meta_w["bands"]), int(meta_w["size"])
    if list(meta_s.get("bands", [])) != bands or int(meta_s.get("size", -1)) != size:
        msg = (
            f"stamps file {str(stamps_path)!r} has bands {meta_s.get('bands')} size "
            f"{meta_s.get('size')}, but the model was trained on bands {bands} size {size}"
        )
        raise ValueError(msg)
    return bands, size


def _probability_table(
    ids: list[np.ndarray], probs: list[np.ndarray], names: list[str]
) -> pa.Table:
    """``source_id``, one probability column per seed (``names``), their mean and std."""
    sid = np.concatenate(ids) if ids else np.empty(0, np.int64)
    prob = np.concatenate(probs) if probs else np.empty((0, len(names)), np.float32)
    columns: dict[str, Any] = {"source_id": pa.array(sid, pa.int64())}
    for k, name in enumerate(names):
        columns[name] = pa.array(prob[:, k].astype(np.float32), pa.float32())
    columns["prob_mean"] = pa.array(prob.mean(axis=1).astype(np.float32), pa.float32())
    columns["prob_std"] = pa.array(prob.std(axis=1).astype(np.float32), pa.float32())
    return pa.table(columns)


def predict_stamps(
    stamps_path: str | os.PathLike,
    weights_paths: Sequence[str | os.PathLike],
    *,
    settings: InferenceSettings,
    output_path: str | os.PathLike,
    sources_path: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> Path:
    """Classify the stamps of a stamps file with an ensemble of seeds.

    Parameters
    ----------
    stamps_path : path-like
        ``results/stamps/{field}.parquet`` (``source_id``, ``stamp``; metadata
        ``bands`` and ``size``).
    weights_paths : sequence of path-like
        One safetensors file per seed of one model and limiting magnitude.
    settings : InferenceSettings
    output_path : path-like
        Output Parquet: ``source_id`` (int64), ``prob_seed<k>`` for each seed
        ``k``, ``prob_mean`` and ``prob_std`` (float32; standard deviation over
        seeds, 0 for one seed), in the order of the stamps file. Metadata:
        model, mag_limit, seeds, bands, size.
    sources_path : path-like, optional
        The field's sources table; required when ``settings.mag_limit`` is
        set (its ``gmag`` decides which stamps are classified).
    progress : bool, optional
        Show a tqdm bar (default: only on a terminal).

    Raises
    ------
    ValueError
        If the weights disagree with each other or with the stamps' bands or size.
    """
    metas = _check_weights(weights_paths)
    bands, size = _stamps_layout(stamps_path, metas[0])
    device = resolve_device(settings.device)
    models = [load_model(w, device=device) for w in weights_paths]
    names = [f"prob_seed{m['seed']}" for m in metas]
    keep = None
    if settings.mag_limit is not None:
        if sources_path is None:
            msg = "inference.mag_limit is set but no sources table was given"
            raise ValueError(msg)
        keep = _bright_source_ids(sources_path, stamps_path, settings.mag_limit)
    ids, probs = _classify(
        stamps_path,
        models,
        bands=bands,
        size=size,
        keep=keep,
        settings=settings,
        device=device,
        progress=progress,
    )
    table = _probability_table(ids, probs, names)
    metadata = {
        "model": metas[0]["model"],
        "mag_limit": metas[0].get("mag_limit"),
        "seeds": [m["seed"] for m in metas],
        "bands": bands,
        "size": size,
        "weights": [Path(w).name for w in weights_paths],
        "settings": asdict(settings),
    }
    return write_parquet(table, output_path, metadata=metadata, row_group_size=65536)
