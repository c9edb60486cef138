"""Acquisition of the real survey: PAndAS images over HTTP(S), catalogues from VizieR or files.

With ``survey: pandas`` the workflow's first stage calls :func:`download_image`
per field and band and :func:`fetch_catalog` per catalogue; both write their
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
    CATALOG_KEYS,
    NORMALISED_COLUMNS,
    CatalogColumnDroppedWarning,
    CatalogRowsDroppedWarning,
    CatalogSpec,
    fetch_local_catalog,
    normalise_catalog,
    read_local_catalog,
    table_to_dataframe,
    write_catalog,
)
from pandas_clusters.acquire.vizier import (
    MissingTableWarning,
    VizierError,
    VizierSettings,
    fetch_vizier_catalog,
    query_vizier,
)

__all__ = [
    "CATALOG_KEYS",
    "NORMALISED_COLUMNS",
    "CatalogColumnDroppedWarning",
    "CatalogRowsDroppedWarning",
    "CatalogSpec",
    "DownloadError",
    "DownloadSettings",
    "InvalidImageError",
    "MissingTableWarning",
    "VizierError",
    "VizierSettings",
    "download_file",
    "download_image",
    "fetch_catalog",
    "fetch_local_catalog",
    "fetch_vizier_catalog",
    "image_url",
    "normalise_catalog",
    "query_vizier",
    "read_local_catalog",
    "table_to_dataframe",
    "validate_fits_image",
    "write_catalog",
]


def fetch_catalog(
    spec: CatalogSpec | Mapping[str, Any],
    output: str | os.PathLike,
    *,
    catalog: str,
    vizier: VizierSettings | Mapping[str, Any] | None = None,
) -> Path:
    """Write ``resources/catalogs/{catalog}.parquet`` from VizieR or from a local file.

    Parameters
    ----------
    spec : CatalogSpec or mapping
        The catalogue's entry of the config's ``catalogs`` mapping: ``vizier``
        (+ ``table``) or ``file`` (+ ``readme``/``format``/``table``), and
        ``name_col``, ``ra_col``, ``dec_col``.
    output : str or path-like
        Output Parquet path.
    catalog : str
        Catalogue key (``phat_clusters``, ``c09``, ...).
    vizier : VizierSettings or mapping, optional
        The config's ``vizier`` settings (server, timeout, retries), used
        when ``spec`` names a VizieR catalogue.

    Returns
    -------
    pathlib.Path
        ``output``.
    """
    if not isinstance(spec, CatalogSpec):
        spec = CatalogSpec.from_config(spec)
    if spec.file is not None:
        return fetch_local_catalog(spec, output, catalog=catalog)
    if not isinstance(vizier, VizierSettings):
        vizier = VizierSettings.from_config(vizier)
    return fetch_vizier_catalog(spec, output, catalog=catalog, settings=vizier)
