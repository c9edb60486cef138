"""Snakemake adapter: one literature catalogue from VizieR or a local file, normalised."""

from typing import TYPE_CHECKING

from pandas_clusters.acquire import fetch_catalog
from pandas_clusters.logs import log_to

if TYPE_CHECKING:
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]):
    fetch_catalog(
        snakemake.params.catalog["spec"],
        snakemake.output[0],
        catalog=snakemake.wildcards.catalog,
        vizier=snakemake.params.catalog["vizier"],
    )
