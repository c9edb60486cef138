"""One entry point for a literature catalogue: from VizieR or from a local file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pandas_clusters.acquire.local import CatalogueSpec, fetch_local_catalogue
from pandas_clusters.acquire.vizier import VizierSettings, fetch_vizier_catalogue

__all__ = ["fetch_catalogue"]


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
