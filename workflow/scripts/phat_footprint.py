"""Snakemake adapter: validate a local PHAT brick-footprint JSON and install it."""

from typing import TYPE_CHECKING

from pandas_clusters.core.footprint import load_footprint, write_footprint
from pandas_clusters.core.logs import log_to

if TYPE_CHECKING:
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]):
    write_footprint(load_footprint(snakemake.params.source), snakemake.output[0])
