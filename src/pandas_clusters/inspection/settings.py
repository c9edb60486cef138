"""Settings of the inspection app: the config's ``inspection`` section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pandas_clusters.core.config import StageSettings

__all__ = ["InspectionSettings"]


@dataclass(frozen=True)
class InspectionSettings(StageSettings):
    """Settings of ``pandas-clusters inspect`` (see the schema's ``inspection`` section).

    Attributes
    ----------
    database, candidates, stamps_template, image_template : str
        The SQLite database; the cross-matched candidates; the stamps and
        field-image path templates.
    host : str
        Listening address.
    port : int
        TCP port.
    context_arcsec : float
        Side of the context cut, arcsec.
    stretch : str
        Initial stretch.
    prefetch, mosaic_size : int
        Candidates loaded ahead; stamps per mosaic page.
    kappa_weights : str
        ``linear`` or ``quadratic``.
    truth_radius_arcsec : float
        Match radius to the mock truth clusters, arcsec.
    """

    _section: ClassVar[str] = "inspection"

    database: str
    candidates: str
    stamps_template: str
    image_template: str
    host: str
    port: int
    context_arcsec: float
    stretch: str
    prefetch: int
    mosaic_size: int
    kappa_weights: str
    truth_radius_arcsec: float
