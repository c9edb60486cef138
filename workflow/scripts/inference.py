"""Snakemake adapter: cluster probabilities for one field's stamps (seed ensemble).

Expects ``input.stamps``, ``input.sources`` (the field's sources table, for
``inference.mag_limit``) and ``input.weights`` (one file per seed of the
selected model and limiting magnitude); ``output[0]`` (Parquet);
``params.inference`` (the config's ``inference`` section); ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.catalogue.inference import InferenceSettings, predict_stamps
from pandas_clusters.core.logs import log_to
from pandas_clusters.learn.models import use_threads

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    use_threads(snakemake.threads)
    path = predict_stamps(
        snakemake.input.stamps,
        list(snakemake.input.weights),
        settings=InferenceSettings.from_config(**snakemake.params.inference),
        output_path=snakemake.output[0],
        sources_path=snakemake.input.sources,
    )
    log.info("wrote %s", path)
