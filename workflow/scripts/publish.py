"""Snakemake adapter: write table 7 (CDS pair, FITS, Parquet) (pandas_clusters.publish).

Expects ``input.candidates`` (cross-matched Parquet); outputs ``dat``,
``readme``, ``fits``, ``parquet``; ``params.publish`` (the config's
``publish`` section) and ``params.inspection_dir`` (folder of visual
inspection files, may be absent); ``log[0]``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pandas_clusters.publish import PublishSettings, publish_catalogue

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake


def main(smk) -> None:
    logging.basicConfig(
        filename=smk.log[0],
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.captureWarnings(True)
    settings = PublishSettings.from_config(dict(smk.params.publish))
    meta = publish_catalogue(
        smk.input.candidates,
        dat_path=smk.output.dat,
        readme_path=smk.output.readme,
        fits_path=smk.output.fits,
        parquet_path=smk.output.parquet,
        settings=settings,
        inspection_dir=getattr(smk.params, "inspection_dir", None) or None,
    )
    logging.info("published %d records (%d new)", meta["records"], meta["new"])


main(snakemake)
