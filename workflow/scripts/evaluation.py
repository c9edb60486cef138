"""Snakemake adapter: evaluate the seeds of one model x limiting magnitude.

Expects ``input.training_set`` and ``input.weights`` (one file per seed);
``output.summary``, ``output.threshold_scan``, ``output.mag_bins``,
``output.predictions``, ``output.curves``, ``output.calibration``,
``output.confusion``; ``params.evaluation`` (the config's ``evaluation``
section); ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.core.logs import log_to
from pandas_clusters.learn.evaluation import EvaluationPaths, EvaluationSettings, evaluate
from pandas_clusters.learn.models import use_threads

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    use_threads(snakemake.threads)
    out = snakemake.output
    summary = evaluate(
        snakemake.input.training_set,
        list(snakemake.input.weights),
        settings=EvaluationSettings.from_config(dict(snakemake.params.evaluation)),
        paths=EvaluationPaths(
            summary=out.summary,
            threshold_scan=out.threshold_scan,
            mag_bins=out.mag_bins,
            predictions=out.predictions,
            curves=out.curves,
            calibration=out.calibration,
            confusion=out.confusion,
        ),
    )
    log.info("ensemble at the chosen threshold: %s", summary["ensemble"])
