"""Survey-level products of the mock: truth tables, catalogues, footprint."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pandas_clusters.core.io import write_parquet

from .population import catalogue_truth
from .render import field_truth, write_field_image
from .settings import MockSettings

__all__ = [
    "settings_from_params",
    "write_field_truth",
    "write_mock_catalogues",
    "write_mock_image",
    "write_survey_truth",
]

log = logging.getLogger(__name__)


def settings_from_params(params: Mapping[str, Any]) -> MockSettings:
    """MockSettings from the workflow's params: ``{seed, settings, field?}``."""
    mock = dict(params["settings"])
    if "field" in params:
        mock["fields"] = [params["field"]]
    else:
        mock["fields"] = []
    return MockSettings.from_config(mock, seed=params["seed"])


def write_mock_image(settings: MockSettings, field_id: int, band: str, path) -> None:
    """Render one field and band to ``path`` and log what was written."""
    write_field_image(settings, field_id, band, path)
    log.info("wrote mock field %s band %s to %s", field_id, band, path)


def write_field_truth(
    settings: MockSettings, field_id: int, path, *, footprint=None
) -> pd.DataFrame:
    """Write the truth table of one field (every object on its CCDs, with its ``field``)."""
    truth = field_truth(settings, field_id, footprint=footprint)
    truth["field"] = np.int32(field_id)
    write_parquet(truth, path, metadata={"field": int(field_id), "seed": settings.seed})
    log.info(
        "field %s: %d truth objects %s",
        field_id,
        len(truth),
        truth["kind"].value_counts().to_dict(),
    )
    return truth


def write_survey_truth(paths: Sequence[str | Path], out) -> pd.DataFrame:
    """Union of per-field truth tables, one row per object (overlaps deduplicated).

    An object on several fields keeps the ``field`` of the first table listed.
    """
    frames = [pd.read_parquet(p) for p in paths]
    truth = pd.concat(frames, ignore_index=True).drop_duplicates("obj_id")
    truth = truth.sort_values("obj_id", kind="stable").reset_index(drop=True)
    write_parquet(truth, out, metadata={"n_fields": len(frames)})
    log.info("survey truth: %d objects from %d fields", len(truth), len(frames))
    return truth


def write_mock_catalogues(
    settings: MockSettings,
    *,
    catalogue_paths: Mapping[str, str | Path],
    footprint_path,
    truth_path,
) -> dict[str, pd.DataFrame]:
    """Write the PHAT-like footprint, the catalogue truth and the eight mock catalogues."""
    from pandas_clusters.core.footprint import in_footprint, mock_phat_footprint, write_footprint

    from .catalogues import make_catalogues

    footprint = mock_phat_footprint()
    write_footprint(footprint, footprint_path)
    truth = catalogue_truth(settings)
    truth["in_phat"] = in_footprint(truth["ra"].to_numpy(), truth["dec"].to_numpy(), footprint)
    write_parquet(truth, truth_path, metadata={"seed": settings.seed})
    catalogues = make_catalogues(truth, footprint=footprint, seed=settings.seed)
    missing = sorted(set(catalogue_paths) - set(catalogues))
    if missing:
        msg = f"mock catalogues {missing} were not generated"
        raise KeyError(msg)
    for name, path in catalogue_paths.items():
        write_parquet(catalogues[name], path, metadata={"catalogue": name, "mock": True})
        log.info("catalogue %s: %d rows -> %s", name, len(catalogues[name]), path)
    return catalogues
