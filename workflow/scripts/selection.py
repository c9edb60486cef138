"""Snakemake adapter: select and merge the candidates (pandas_clusters.catalogue.selection).

Expects ``input.inference`` and ``input.sources`` (lists, one file per field,
same order), optionally ``input.phat_clusters``; ``output[0]`` (candidates
Parquet); ``params.selection`` (the config's ``selection`` section, plus
``model``); ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.catalogue.selection import SelectionSettings, write_candidates
from pandas_clusters.core.logs import log_to

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
