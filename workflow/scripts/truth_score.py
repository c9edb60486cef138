"""Snakemake adapter: score the selected model and the candidates against the mock truth."""

from typing import TYPE_CHECKING

from pandas_clusters.core.logs import log_to
from pandas_clusters.report.truth_score import write_truth_score

if TYPE_CHECKING:
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]):
    write_truth_score(
        predictions_path=snakemake.input.predictions,
        summary_path=snakemake.input.summary,
        trainset_path=snakemake.input.training_set,
        truth_path=snakemake.input.truth,
        candidates_path=snakemake.input.candidates,
        rproj_max_kpc=snakemake.params.rproj_max_kpc,
        spike_arcsec=snakemake.params.spike_arcsec,
        out=snakemake.output[0],
    )
