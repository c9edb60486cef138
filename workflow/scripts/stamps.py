"""Snakemake adapter: the stamps of one field (pandas_clusters.detect.stamps).

Expects ``input.sources`` (the field's sources Parquet) and one named input
per band (``input.g``, ``input.i``); ``output[0]`` (Parquet);
``params.stamps`` (the config's ``stamps`` section, with the magnitude limit that
decides which sources get a stamp); ``wildcards.field``; ``log[0]``; ``threads``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.core.logs import log_to
from pandas_clusters.detect.stamps import StampSettings, cut_stamps

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    settings = StampSettings.from_config(**snakemake.params.stamps)
    images = {band: getattr(snakemake.input, band) for band in settings.bands}
    log.info("stamps settings: %s; images: %s", settings.to_dict(), images)
    n = cut_stamps(
        snakemake.input.sources,
        images,
        out=snakemake.output[0],
        settings=settings,
        field=int(snakemake.wildcards.field),
        threads=snakemake.threads,
    )
    log.info("wrote %d stamps to %s", n, snakemake.output[0])
