"""Snakemake adapter: the labelled, split training set of one limiting magnitude.

Expects ``input.sources`` and ``input.stamps`` (lists over fields),
``input.clusters``, ``input.galaxies``, ``input.footprint``; ``output[0]``
(Parquet); ``params.training`` (the config's ``training`` section);
``wildcards.mag_limit``; ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.core.logs import log_to
from pandas_clusters.learn.training_set import TrainsetSettings, write_trainset

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    settings = TrainsetSettings.from_config(
        dict(snakemake.params.training), mag_limit=float(snakemake.wildcards.mag_limit)
    )
    log.info("training-set settings: %s", settings.to_dict())
    write_trainset(
        snakemake.output[0],
        list(snakemake.input.sources),
        list(snakemake.input.stamps),
        clusters_path=snakemake.input.clusters,
        galaxies_path=snakemake.input.galaxies,
        footprint_path=snakemake.input.footprint,
        settings=settings,
    )
