"""Snakemake adapter: one injection round of one field (pandas_clusters.completeness.stage).

Expects one named input per band (``input.g``, ``input.i``), ``input.sources``
(the field's sources table) and ``input.weights`` (the selected ensemble);
``output.recovery``, ``output.sources``, ``output.inference`` (Parquet);
``wildcards.field``, ``wildcards.round``; ``params.injection`` (the
``completeness``, ``sources``, ``stamps`` and ``inference`` sections) and
``params.seed``; ``log[0]``.
"""

from typing import TYPE_CHECKING

from pandas_clusters.completeness.stage import run_round
from pandas_clusters.core.logs import log_to

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake

with log_to(snakemake.log[0]) as log:
    params = dict(snakemake.params.injection)
    images = {band: getattr(snakemake.input, band) for band in params["sources"]["bands"]}
    recovery = run_round(
        images,
        snakemake.input.sources,
        list(snakemake.input.weights),
        {k: snakemake.output[k] for k in ("recovery", "sources", "inference")},
        field=int(snakemake.wildcards.field),
        rnd=int(snakemake.wildcards.round),
        seed=int(snakemake.params.seed),
        params=params,
    )
    log.info("%d artificial clusters, %d detected", len(recovery), int(recovery["detected"].sum()))
