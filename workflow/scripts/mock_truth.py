"""Snakemake adapter: survey truth table, the union of the fields' truth."""

from typing import TYPE_CHECKING

from pandas_clusters.acquire.mock import write_survey_truth
from pandas_clusters.core.logs import log_to

if TYPE_CHECKING:
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]):
    write_survey_truth(list(snakemake.input), snakemake.output[0])
