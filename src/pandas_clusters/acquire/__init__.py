"""Acquisition of the real survey: PAndAS images over HTTP(S), catalogues from VizieR or files.

With ``survey: pandas`` the workflow's first stage calls :func:`download_image`
per field and band and :func:`fetch_catalogue` per catalogue; both write their
output atomically, so a failed or interrupted run never leaves a partial file
at an output path. Every part needs network access except local-file
catalogues.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pandas_clusters.acquire.download import (
    DownloadError,
    DownloadSettings,
    InvalidImageError,
    download_file,
    download_image,
    image_url,
    validate_fits_image,
)
from pandas_clusters.acquire.local import (
    CATALOGUE_KEYS,
    NORMALISED_COLUMNS,
    CatalogueColumnDroppedWarning,
    CatalogueRowsDroppedWarning,
    CatalogueSpec,
    fetch_local_catalogue,
    normalise_catalogue,
    read_local_catalogue,
    table_to_dataframe,
    write_catalogue,
)
from pandas_clusters.acquire.vizier import (
    MissingTableWarning,
    VizierError,
    VizierSettings,
    fetch_vizier_catalogue,
    query_vizier,
)

__all__ = [
    "CATALOGUE_KEYS",
    "NORMALISED_COLUMNS",
    "CatalogueColumnDroppedWarning",
    "CatalogueRowsDroppedWarning",
    "CatalogueSpec",
    "DownloadError",
    "DownloadSettings",
    "InvalidImageError",
    "MissingTableWarning",
    "VizierError",
    "VizierSettings",
    "download_file",
    "download_image",
    "fetch_catalogue",
    "fetch_local_catalogue",
    "fetch_vizier_catalogue",
    "image_url",
    "normalise_catalogue",
    "query_vizier",
    "read_local_catalogue",
    "table_to_dataframe",
    "validate_fits_image",
    "write_catalogue",
]


def fetch_catalogue(
    spec: CatalogueSpec | Mapping[str, Any],
    output: str | os.PathLike,
    *,
    catalogue: str,
    vizier: VizierSettings | Mapping[str, Any] | None = None,
) -> Path:
    """Write ``resources/catalogues/{catalogue}.parquet`` from VizieR or from a local file.

    Parameters
    ----------
    spec : CatalogueSpec or mapping
        The catalogue's entry of the config's ``catalogues`` mapping: ``vizier``
        (+ ``table``) or ``file`` (+ ``readme``/``format``/``table``), and
        ``name_col``, ``ra_col``, ``dec_col``.
    output : str or path-like
        Output Parquet path.
    catalogue : str
        Catalogue key (``phat_clusters``, ``c09``, ...).
    vizier : VizierSettings or mapping, optional
        The config's ``vizier`` settings (server, timeout, retries), used
        when ``spec`` names a VizieR catalogue.

    Returns
    -------
    pathlib.Path
        ``output``.
    """
    if not isinstance(spec, CatalogueSpec):
        spec = CatalogueSpec.from_config(spec)
    if spec.file is not None:
        return fetch_local_catalogue(spec, output, catalogue=catalogue)
    if not isinstance(vizier, VizierSettings):
        vizier = VizierSettings.from_config(vizier)
    return fetch_vizier_catalogue(spec, output, catalogue=catalogue, settings=vizier)
