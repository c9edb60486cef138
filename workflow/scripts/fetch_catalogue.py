"""Snakemake adapter: one literature catalogue from VizieR or a local file, normalised."""

from typing import TYPE_CHECKING

from pandas_clusters.acquire.catalogues import fetch_catalogue
from pandas_clusters.core.logs import log_to

if TYPE_CHECKING:
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]):
    fetch_catalogue(
        snakemake.params.catalogue["spec"],
        snakemake.output[0],
        catalogue=snakemake.wildcards.catalogue,
        vizier=snakemake.params.catalogue["vizier"],
    )
