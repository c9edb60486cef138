"""Snakemake adapter: the model x limiting-magnitude comparison table.

Expects ``input`` (the evaluation summary JSON files of the grid);
``output.tsv``, ``output.markdown``, ``output.plot``; ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.core.logs import log_to
from pandas_clusters.learn.evaluation import summarize

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    table = summarize(
        list(snakemake.input),
        tsv_path=snakemake.output.tsv,
        markdown_path=snakemake.output.markdown,
        plot_path=snakemake.output.plot,
    )
    log.info("summarised %d grid points", len(table))
