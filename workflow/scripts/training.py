"""Snakemake adapter: train one model x limiting magnitude x seed.

Expects ``input.training_set``; ``output.weights`` (safetensors),
``output.history`` (CSV), ``output.settings`` (JSON); ``params.training``
(the config's ``training`` section) and ``params.checkpoint`` (path of the
resumable checkpoint, not an output); ``wildcards.model``,
``wildcards.mag_limit``, ``wildcards.seed``; ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.core.logs import log_to
from pandas_clusters.learn.models import use_threads
from pandas_clusters.learn.training import TrainSettings, train

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    use_threads(snakemake.threads)
    settings = TrainSettings.from_config(
        dict(snakemake.params.training),
        model=snakemake.wildcards.model,
        mag_limit=float(snakemake.wildcards.mag_limit),
        seed=int(snakemake.wildcards.seed),
    )
    log.info("training settings: %s", settings.to_dict())
    result = train(
        snakemake.input.training_set,
        settings=settings,
        weights_path=snakemake.output.weights,
        history_path=snakemake.output.history,
        settings_path=snakemake.output.settings,
        checkpoint_path=snakemake.params.checkpoint,
        on_epoch_end=lambda row: log.info("epoch %s", row),
    )
    log.info("result: %s", result)
