"""Snakemake adapter: figures of the survey report (pandas_clusters.report.figures).

Expects ``input.candidates`` (cross-matched candidates), ``input.stamps``
(list, one ``results/stamps/{field}.parquet`` per field: the field is the
file's stem) and optionally ``input.sources`` (list, one
``results/sources/{field}.parquet`` per field, for the field outlines);
``output.skymap``, ``output.magnitudes``, ``output.gallery`` (PNG);
``params.figures`` (the config's ``figures`` section) and
``params.rproj_max_kpc`` (the selection's Rproj cut); ``log[0]``.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from pandas_clusters.core.logs import log_to
from pandas_clusters.report.figures import FigureSettings, write_report_figures

if TYPE_CHECKING:  # the object Snakemake injects into the script's namespace
    from snakemake.script import Snakemake

    snakemake: Snakemake


def by_field(paths):
    """Field (the file stem, an integer) -> path."""
    return {int(Path(p).stem): str(p) for p in paths}


with log_to(snakemake.log[0]) as log:
    settings = FigureSettings.from_config(
        snakemake.params.figures, rproj_max_kpc=snakemake.params.rproj_max_kpc
    )
    log.info("figure settings: %s", settings.to_dict())
    write_report_figures(
        snakemake.input.candidates,
        by_field(snakemake.input.stamps),
        skymap=snakemake.output.skymap,
        magnitudes=snakemake.output.magnitudes,
        gallery=snakemake.output.gallery,
        settings=settings,
        sources_paths=by_field(getattr(snakemake.input, "sources", [])),
    )
