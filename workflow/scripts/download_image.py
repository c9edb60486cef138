"""Snakemake adapter: download one PAndAS field in one band (resumable, verified)."""

from typing import TYPE_CHECKING

from pandas_clusters.acquire.download import DownloadSettings, download_image
from pandas_clusters.core.logs import log_to

if TYPE_CHECKING:
    from snakemake.script import Snakemake

    snakemake: Snakemake

params = snakemake.params.download
with log_to(snakemake.log[0]):
    download_image(
        params["url"],
        snakemake.output[0],
        expected_size=params["size"],
        checksum=params["checksum"],
        settings=DownloadSettings.from_config(params["settings"]),
        n_images=params["n_images"],
        zero_point_keywords=params["zero_point_keywords"],
    )
