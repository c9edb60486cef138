"""Snakemake adapter: the PHAT-like footprint and the eight mock catalogues."""

from pathlib import Path
from typing import TYPE_CHECKING

from pandas_clusters.logs import log_to
from pandas_clusters.mock import settings_from_params, write_mock_catalogs

if TYPE_CHECKING:
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]):
    write_mock_catalogs(
        settings_from_params(snakemake.params.mock),
        catalog_paths={Path(p).stem: p for p in snakemake.output.catalogs},
        footprint_path=snakemake.output.footprint,
        truth_path=snakemake.output.truth,
    )
