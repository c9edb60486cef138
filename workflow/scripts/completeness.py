"""Snakemake adapter: completeness tables, function and figures (pandas_clusters.completeness).

Expects ``input.recovery``, ``input.sources``, ``input.inference`` (lists, one
file per field and round, same order), ``input.phat_clusters`` and, on the
mock, ``input.truth``, ``input.field_sources`` and ``input.candidates``;
outputs ``recovery``, ``table``, ``table_tsv``, ``mag50``, ``truth``,
``function``, ``figure_variables``, ``figure_g``; ``params.completeness``,
``params.selection``, ``params.dpi``; ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.completeness.stage import summarize
from pandas_clusters.core.logs import log_to

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    inp = snakemake.input
    rounds = [
        {"recovery": r, "sources": s, "inference": i}
        for r, s, i in zip(inp.recovery, inp.sources, inp.inference, strict=True)
    ]
    truth = None
    if hasattr(inp, "truth"):
        truth = {
            "truth": inp.truth,
            "sources": list(inp.field_sources),
            "candidates": inp.candidates,
        }
    keys = ("recovery", "table", "table_tsv", "mag50", "truth", "function")
    outputs = {k: snakemake.output[k] for k in (*keys, "figure_variables", "figure_g")}
    comparison = summarize(
        rounds,
        outputs,
        params={
            "completeness": dict(snakemake.params.completeness),
            "selection": dict(snakemake.params.selection),
            "dpi": snakemake.params.dpi,
        },
        training_positives=getattr(inp, "phat_clusters", None),
        truth=truth,
    )
    if len(comparison):
        log.info("injection vs truth completeness per g bin:\n%s", comparison.to_string())
