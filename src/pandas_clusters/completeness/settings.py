"""Settings of the completeness stage (the ``completeness:`` config section)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pandas_clusters.acquire.mock.population import king_radius_table
from pandas_clusters.core.config import StageSettings

__all__ = ["RESOLVED_FRACTION_MAX", "CompletenessSettings"]

#: The renderer keeps at least 10% of a cluster's light in its smooth King component.
RESOLVED_FRACTION_MAX = 0.9

_RANGES = ("g_range", "r_h_pc", "king_c", "g_minus_i", "resolved_fraction")


@dataclass(frozen=True)
class CompletenessSettings(StageSettings):
    """Settings of the injection and the completeness tables.

    Every attribute is a key of the ``completeness:`` section of the config
    schema, which documents it (description and default). The ranges
    (``g_range``, ``r_h_pc``, ``king_c``, ``g_minus_i``, ``resolved_fraction``)
    are ``(low, high)`` pairs.

    Raises
    ------
    ValueError
        A range that is empty or reversed, or outside what the renderer supports
        (King concentrations of its table, resolved fraction up to 0.9, positive
        sizes); the message names the setting. The tidal radius in pixels depends
        on the image and is checked per field at injection.
    """

    _section: ClassVar[str] = "completeness"

    rounds: int
    fraction_of_sources: float
    min_separation_arcsec: float
    g_range: tuple[float, float]
    r_h_pc: tuple[float, float]
    king_c: tuple[float, float]
    g_minus_i: tuple[float, float]
    resolved_fraction: tuple[float, float]
    match_radius_arcsec: float
    density_radius_arcsec: float
    psf_beta: float
    psf_min_stars: int
    keep_images: bool
    g_bin_width: float
    bins: int

    def __post_init__(self) -> None:
        for name in _RANGES:
            value = tuple(float(v) for v in getattr(self, name))
            object.__setattr__(self, name, value)
            if len(value) != 2 or not value[0] <= value[1]:
                msg = f"completeness.{name} = {list(value)} must be [low, high] with low <= high"
                raise ValueError(msg)
        c_grid = king_radius_table()[0]
        supported = {
            "king_c": (float(c_grid[0]), float(c_grid[-1])),
            "resolved_fraction": (0.0, RESOLVED_FRACTION_MAX),
        }
        for name, (lo, hi) in supported.items():
            value = getattr(self, name)
            if value[0] < lo or value[1] > hi:
                msg = (
                    f"completeness.{name} = {list(value)} is outside what the cluster renderer "
                    f"supports, [{lo}, {hi}]"
                )
                raise ValueError(msg)
        if self.r_h_pc[0] <= 0:
            msg = f"completeness.r_h_pc = {list(self.r_h_pc)} must be positive"
            raise ValueError(msg)
        if self.rounds < 1 or self.psf_min_stars < 1 or self.bins < 2:
            msg = "completeness: rounds and psf_min_stars must be >= 1, bins >= 2"
            raise ValueError(msg)
