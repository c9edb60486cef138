"""Snakemake adapter: real PAndAS cutouts against mock ones (pandas_clusters.report.realism).

Expects ``params.mock`` (``{seed, settings}`` of the mock survey), ``params.realism``
(the config's ``realism`` section: ``reference``, ``per_class``); writes
``output.doc`` (Markdown table) and the figures beside it
(``results/figures/realism/{montage_cluster,montage_galaxy,statistics}.png``); ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.acquire.mock import settings_from_params
from pandas_clusters.core.logs import log_to
from pandas_clusters.report.realism import write_realism_report

if TYPE_CHECKING:
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    realism = snakemake.params.realism
    comp = write_realism_report(
        settings_from_params(snakemake.params.mock),
        realism["reference"],
        snakemake.output.doc,
        per_class=int(realism["per_class"]),
        seed=int(snakemake.params.mock["seed"]),
        command="snakemake rule realism",
    )
    log.info("%d of %d realism targets met", int(comp["pass_"].sum()), len(comp))
