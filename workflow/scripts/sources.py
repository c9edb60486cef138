"""Snakemake adapter: the source list of one field (pandas_clusters.detect.sources).

Expects one named input per band (``input.g``, ``input.i``: the field's
multi-extension FITS) and, with ``method: catalogue``, ``input.catalogue``
(CASU band-merged catalogue); ``output[0]`` (Parquet); ``wildcards.field``;
``params.sources`` (the config's ``sources`` section); ``log[0]``; ``threads``
(CCDs measured at once).
"""

from typing import TYPE_CHECKING

from pandas_clusters.core.logs import log_to
from pandas_clusters.detect.sources import SourceSettings, build_sources

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    settings = SourceSettings.from_config(**snakemake.params.sources)
    images = {band: getattr(snakemake.input, band) for band in settings.bands}
    log.info("sources settings: %s; images: %s", settings.to_dict(), images)
    frame = build_sources(
        images,
        field=int(snakemake.wildcards.field),
        out=snakemake.output[0],
        settings=settings,
        catalogue=getattr(snakemake.input, "catalogue", None),
        threads=snakemake.threads,
    )
    log.info("wrote %d sources to %s", len(frame), snakemake.output[0])
