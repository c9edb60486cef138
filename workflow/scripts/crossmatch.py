"""Snakemake adapter: cross-match the candidates with the literature (pandas_clusters.catalogue.crossmatch).

Expects ``input.candidates`` and one named input per catalogue present
(``input.c09`` ... ``input.h14``); ``output[0]`` (Parquet);
``params.crossmatch`` (the config's ``crossmatch`` section); ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.catalogue.crossmatch import CrossmatchSettings, write_crossmatch
from pandas_clusters.core.logs import log_to

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    settings = CrossmatchSettings.from_config(dict(snakemake.params.crossmatch))
    catalogues = {key: getattr(snakemake.input, key, None) for key in settings.catalogues}
    log.info("crossmatch settings: %s; catalogues: %s", settings.to_dict(), catalogues)
    path = write_crossmatch(
        snakemake.input.candidates, catalogues, snakemake.output[0], settings=settings
    )
    log.info("wrote %s", path)
