"""Snakemake adapter: write table 7 (CDS pair, FITS, Parquet) (pandas_clusters.catalogue.publish).

Expects ``input.candidates`` (cross-matched Parquet); outputs ``dat``,
``readme``, ``fits``, ``parquet``; ``params.publish`` (the config's
``publish`` section) and ``params.inspection_dir`` (folder of visual
inspection files; may be absent or empty); ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.catalogue.publish import PublishSettings, publish_catalogue
from pandas_clusters.core.logs import log_to

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    meta = publish_catalogue(
        snakemake.input.candidates,
        dat_path=snakemake.output.dat,
        readme_path=snakemake.output.readme,
        fits_path=snakemake.output.fits,
        parquet_path=snakemake.output.parquet,
        settings=PublishSettings.from_config(dict(snakemake.params.publish)),
        inspection_dir=getattr(snakemake.params, "inspection_dir", None) or None,
    )
    log.info("published %d records (%d new)", meta["records"], meta["new"])
