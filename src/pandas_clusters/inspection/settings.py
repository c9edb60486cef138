"""Settings of the inspection app, from the config's ``inspection`` section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["InspectionSettings"]


@dataclass(frozen=True)
class InspectionSettings:
    """Settings of ``pandas-clusters inspect`` (see the schema's ``inspection`` section).

    Attributes
    ----------
    database, candidates, stamps_template, image_template : str
        The SQLite database; the cross-matched candidates; the stamps and
        field-image path templates.
    export_dir : str
        Folder of the exported ``<inspector>.csv`` files (``publish.inspection_dir``).
    host : str
        Listening address.
    port : int
        TCP port.
    context_arcsec : float
        Side of the context cut.
    stretch : str
        Initial stretch.
    prefetch, mosaic_size : int
        Candidates loaded ahead; stamps per mosaic page.
    kappa_weights : str
        ``linear`` or ``quadratic``.
    seed : int
        Master seed: each inspector's candidate order derives from it and the name.
    truth_path : str or None
        Mock truth table (mock survey), None otherwise.
    truth_radius_arcsec : float
        Match radius to the truth clusters.
    """

    database: str
    candidates: str
    stamps_template: str
    image_template: str
    export_dir: str
    host: str
    port: int
    context_arcsec: float
    stretch: str
    prefetch: int
    mosaic_size: int
    kappa_weights: str
    seed: int
    truth_path: str | None
    truth_radius_arcsec: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> InspectionSettings:
        """Build from a validated configuration (the whole mapping)."""
        sec = config["inspection"]
        mock = config["survey"] == "mock"
        return cls(
            database=str(sec["database"]),
            candidates=str(sec["candidates"]),
            stamps_template=str(sec["stamps_template"]),
            image_template=str(sec["image_template"]),
            export_dir=str(config["publish"]["inspection_dir"]),
            host=str(sec["host"]),
            port=int(sec["port"]),
            context_arcsec=float(sec["context_arcsec"]),
            stretch=str(sec["stretch"]),
            prefetch=int(sec["prefetch"]),
            mosaic_size=int(sec["mosaic_size"]),
            kappa_weights=str(sec["kappa_weights"]),
            seed=int(config["seed"]),
            truth_path="resources/mock/truth.parquet" if mock else None,
            truth_radius_arcsec=float(sec["truth_radius_arcsec"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of the settings."""
        return asdict(self)
