"""Snakemake adapter: select and merge the candidates (pandas_clusters.select).

Expects ``input.inference`` and ``input.sources`` (lists, one file per field,
same order), optionally ``input.phat_clusters``; ``output[0]`` (candidates
Parquet); ``params.selection`` (the config's ``selection`` section, plus
``model``); ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.logs import log_to
from pandas_clusters.select import SelectionSettings, write_candidates

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    settings = SelectionSettings.from_config(dict(snakemake.params.selection))
    log.info("selection settings: %s", settings.to_dict())
    path = write_candidates(
        list(snakemake.input.inference),
        list(snakemake.input.sources),
        snakemake.output[0],
        settings=settings,
        training_positives=getattr(snakemake.input, "phat_clusters", None),
    )
    log.info("wrote %s", path)
