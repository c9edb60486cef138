"""Snakemake adapter: the PHAT-like footprint and the eight mock catalogues."""

from pathlib import Path
from typing import TYPE_CHECKING

from pandas_clusters.acquire.mock import settings_from_params, write_mock_catalogues
from pandas_clusters.core.logs import log_to

if TYPE_CHECKING:
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]):
    write_mock_catalogues(
        settings_from_params(snakemake.params.mock),
        catalogue_paths={Path(p).stem: p for p in snakemake.output.catalogues},
        footprint_path=snakemake.output.footprint,
        truth_path=snakemake.output.truth,
    )
