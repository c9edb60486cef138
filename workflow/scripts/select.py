"""Snakemake adapter: select and merge the candidates (pandas_clusters.select).

Expects ``input.inference`` and ``input.sources`` (lists, one file per field,
same order), optionally ``input.phat_clusters``; ``output[0]`` (candidates
Parquet); ``params.selection`` (the config's ``selection`` section, plus
``model``); ``log[0]``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pandas_clusters.select import SelectionSettings, write_candidates

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
    settings = SelectionSettings.from_config(dict(smk.params.selection))
    logging.info("selection settings: %s", settings.to_dict())
    path = write_candidates(
        list(smk.input.inference),
        list(smk.input.sources),
        smk.output[0],
        settings=settings,
        training_positives=getattr(smk.input, "phat_clusters", None),
    )
    logging.info("wrote %s", path)


main(snakemake)
