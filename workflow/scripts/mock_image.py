"""Snakemake adapter: render one mock field in one band."""

from typing import TYPE_CHECKING

from pandas_clusters.acquire.mock import settings_from_params, write_mock_image
from pandas_clusters.core.logs import log_to

if TYPE_CHECKING:
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]):
    write_mock_image(
        settings_from_params(snakemake.params.mock),
        int(snakemake.wildcards.field),
        snakemake.wildcards.band,
        snakemake.output[0],
    )
