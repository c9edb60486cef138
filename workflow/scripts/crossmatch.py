"""Snakemake adapter: cross-match the candidates with the literature (pandas_clusters.crossmatch).

Expects ``input.candidates`` and one named input per catalogue present
(``input.c09`` ... ``input.h14``); ``output[0]`` (Parquet);
``params.crossmatch`` (the config's ``crossmatch`` section); ``log[0]``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pandas_clusters.crossmatch import CrossmatchSettings, write_crossmatch

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
    settings = CrossmatchSettings.from_config(dict(smk.params.crossmatch))
    catalogues = {key: getattr(smk.input, key, None) for key in settings.catalogues}
    logging.info("crossmatch settings: %s; catalogues: %s", settings.to_dict(), catalogues)
    path = write_crossmatch(smk.input.candidates, catalogues, smk.output[0], settings=settings)
    logging.info("wrote %s", path)


main(snakemake)
