"""The two steps of the workflow: one injection round of a field, and the survey summary."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pandas_clusters.catalogue.inference import InferenceSettings
from pandas_clusters.catalogue.selection import SelectionSettings
from pandas_clusters.core.io import atomic_path, write_parquet
from pandas_clusters.detect.sources import SourceSettings
from pandas_clusters.detect.stamps import StampSettings

from .figures import plot_completeness_g, plot_completeness_variables
from .function import fit_completeness, write_completeness
from .inject import inject_field
from .recover import recover_round
from .settings import CompletenessSettings
from .tables import (
    apply_selection,
    compare_with_truth,
    completeness_table,
    g_edges,
    mag50_table,
    truth_recovery,
)

__all__ = ["run_round", "summarize"]

log = logging.getLogger(__name__)


def run_round(
    images: Mapping[str, str | os.PathLike],
    sources_path: str | os.PathLike,
    weights: Sequence[str | os.PathLike],
    outputs: Mapping[str, str | os.PathLike],
    *,
    field: int,
    rnd: int,
    seed: int,
    params: Mapping[str, Any],
) -> pd.DataFrame:
    """Inject one round into a field, run the recovery chain and write its three tables.

    Parameters
    ----------
    images : mapping of str to path
        band -> the field's image.
    sources_path : path-like
        The field's sources table (before injection).
    weights : sequence of path-like
        The selected ensemble.
    outputs : mapping
        ``recovery``, ``sources``, ``inference``: output Parquet paths (the last two
        are the inputs of the selection cuts).
    field, rnd, seed : int
    params : mapping
        Config sections ``completeness``, ``sources``, ``stamps``, ``inference``
        (as the workflow's params helpers give them).

    Returns
    -------
    pandas.DataFrame
        The recovery table written.
    """
    settings = CompletenessSettings.from_config(params["completeness"])
    src_settings = SourceSettings.from_config(**params["sources"])
    out = Path(outputs["recovery"])
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".round{rnd}-") as tmp:
        image_dir = out.parent / f"round{rnd}" if settings.keep_images else Path(tmp) / "images"
        injected, table = inject_field(
            images,
            sources_path,
            image_dir,
            field=field,
            rnd=rnd,
            seed=seed,
            settings=settings,
            src_settings=src_settings,
        )
        recovery, src_path, inf_path = recover_round(
            injected,
            table,
            field=field,
            weights=weights,
            workdir=Path(tmp) / "recovery",
            src_settings=src_settings,
            stamp_settings=StampSettings.from_config(**params["stamps"]),
            inference_settings=InferenceSettings.from_config(**params["inference"]),
            match_radius_arcsec=settings.match_radius_arcsec,
        )
        os.replace(src_path, outputs["sources"])
        os.replace(inf_path, outputs["inference"])
        meta = {
            "stage": "injection",
            "field": field,
            "round": rnd,
            "seed": seed,
            "settings": settings.to_dict(),
            "images_kept": settings.keep_images,
        }
        write_parquet(recovery, out, metadata=meta)
    return recovery


def summarize(
    rounds: Sequence[Mapping[str, str | os.PathLike]],
    outputs: Mapping[str, str | os.PathLike],
    *,
    params: Mapping[str, Any],
    training_positives: str | os.PathLike | None = None,
    truth: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Apply the selection cuts to every round, write the tables, function and figures.

    Parameters
    ----------
    rounds : sequence of mappings
        Per round: ``recovery``, ``sources``, ``inference`` paths.
    outputs : mapping
        ``recovery``, ``table``, ``table_tsv``, ``mag50``, ``truth``, ``function``,
        ``figure_variables``, ``figure_g`` paths.
    params : mapping
        ``completeness`` and ``selection`` config sections, ``dpi``.
    training_positives : path-like, optional
        PHAT clusters, for ``selection.exclude_training_positives``.
    truth : mapping, optional
        Mock only: ``truth`` (truth table path), ``sources`` (the fields' sources
        tables) and ``candidates`` (the catalogue's candidates).

    Returns
    -------
    pandas.DataFrame
        The comparison with the truth per g bin (empty without ``truth``).
    """
    settings = CompletenessSettings.from_config(params["completeness"])
    selection = SelectionSettings.from_config(params["selection"])
    parts = [
        apply_selection(
            pd.read_parquet(r["recovery"]),
            r["sources"],
            r["inference"],
            settings=selection,
            training_positives=training_positives,
        )
        for r in rounds
    ]
    recovery = pd.concat(parts, ignore_index=True)
    table = completeness_table(recovery, settings)
    mag50 = mag50_table(recovery)
    function = fit_completeness(recovery)
    function["selection"] = selection.to_dict()
    comparison = pd.DataFrame()
    if truth is not None:
        true = truth_recovery(
            pd.read_parquet(truth["truth"]),
            [pd.read_parquet(p) for p in truth["sources"]],
            pd.read_parquet(truth["candidates"]),
            settings=settings,
        )
        comparison = compare_with_truth(recovery, true, g_edges(settings))
    meta = {"stage": "completeness", "settings": settings.to_dict(), "n": len(recovery)}
    write_parquet(recovery, outputs["recovery"], metadata=meta)
    write_parquet(table, outputs["table"], metadata=meta)
    for frame, key in ((table, "table_tsv"), (mag50, "mag50"), (comparison, "truth")):
        with atomic_path(outputs[key]) as tmp:
            frame.to_csv(tmp, sep="\t", index=False, float_format="%.4f")
    write_completeness(function, outputs["function"])
    dpi = int(params.get("dpi", 110))
    plot_completeness_variables(table, outputs["figure_variables"], dpi=dpi)
    plot_completeness_g(
        table,
        mag50,
        function,
        outputs["figure_g"],
        truth=comparison if len(comparison) else None,
        dpi=dpi,
    )
    log.info("completeness: %d artificial clusters; 50%% magnitudes:\n%s", len(recovery), mag50)
    return comparison
