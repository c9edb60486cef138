"""Snakemake adapter: truth table of one mock field."""

from typing import TYPE_CHECKING

from pandas_clusters.acquire.mock import settings_from_params, write_field_truth
from pandas_clusters.core.logs import log_to

if TYPE_CHECKING:
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]):
    write_field_truth(
        settings_from_params(snakemake.params.mock),
        int(snakemake.wildcards.field),
        snakemake.output[0],
    )
