"""Settings of the simulated PAndAS survey.

One frozen dataclass, :class:`MockSettings`, holds every knob of the mock;
:meth:`MockSettings.from_config` builds it from the validated ``mock:``
section of the workflow config (``workflow/schemas/config.schema.yaml``
documents each key) and :meth:`MockSettings.demo` is the embedded default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BANDS", "MockField", "MockSettings"]

#: Bands the mock can render, with their default seeing (FWHM, arcsec),
#: S/N=10 point-source depth (AB) and dark-sky surface brightness (AB/arcsec^2).
BANDS = ("g", "i")

_FILTERS = {"g": "g.MP9401", "i": "i.MP9702"}


@dataclass(frozen=True)
class MockField:
    """One mock PAndAS field: an integer ID and its pointing centre (ICRS deg)."""

    id: int
    ra_deg: float
    dec_deg: float

    def __post_init__(self):
        if not (0.0 <= self.ra_deg < 360.0) or not (-90.0 <= self.dec_deg <= 90.0):
            msg = (
                f"mock field {self.id}: centre (ra_deg={self.ra_deg}, dec_deg={self.dec_deg}) is "
                "outside the sky (need 0 <= ra_deg < 360, -90 <= dec_deg <= 90)"
            )
            raise ValueError(msg)
        if int(self.id) != self.id or self.id < 0:
            msg = f"mock field id {self.id!r} must be a non-negative integer"
            raise ValueError(msg)


def _demo_fields() -> tuple[MockField, ...]:
    """The demo field sheet.

    Offsets (xi, eta) from the M31 centre in its offset frame, degrees: 207-209
    step along the NE major axis (0.50, 0.65, 0.80 deg out, 0.02 deg to the SE)
    through the star-forming ring inside the PHAT-like footprint and overlap
    their neighbours; 210 (-0.30, -0.30) lies on the SW disk outside the
    footprint; 211 (-1.55, +1.55) straddles Rproj = 30 kpc (2.19 deg).
    """
    return (
        MockField(id=207, ra_deg=11.075718, dec_deg=41.674661),
        MockField(id=208, ra_deg=11.20029, dec_deg=41.792379),
        MockField(id=209, ra_deg=11.325316, dec_deg=41.909964),
        MockField(id=210, ra_deg=10.287391, dec_deg=40.968314),
        MockField(id=211, ra_deg=8.572753, dec_deg=42.800158),
    )


@dataclass(frozen=True)
class MockSettings:
    """Every parameter of the simulated survey.

    Attributes are grouped as in the config's ``mock:`` section. Units: pixel
    counts in px, angles in deg or arcsec as named, magnitudes AB, surface
    densities per arcmin^2, sizes in pc.
    """

    seed: int = 20250616
    fields: tuple[MockField, ...] = field(default_factory=_demo_fields)
    # camera
    ccd_nx: int = 1024
    ccd_ny: int = 2048
    ccd_columns: int = 2
    ccd_rows: int = 2
    ccd_gap_px: int = 80
    pixel_scale_arcsec: float = 0.187
    bad_columns_per_ccd: int = 2
    # band-to-band astrometric differences (the i stack vs the g stack)
    band_shift_px: float = 0.5
    band_rotation_deg: float = 0.02
    # image quality and depth
    seeing_arcsec: Mapping[str, float] = field(default_factory=lambda: {"g": 0.67, "i": 0.60})
    seeing_scatter_arcsec: float = 0.04
    psf_beta: float = 3.0
    depth_mag: Mapping[str, float] = field(default_factory=lambda: {"g": 26.5, "i": 26.0})
    sky_mag_arcsec2: Mapping[str, float] = field(default_factory=lambda: {"g": 22.0, "i": 20.6})
    zero_point: float = 30.0
    saturation_adu: float = 30000.0
    read_noise_fraction: float = 0.3
    noise_correlation_px: float = 0.6
    # M31 diffuse light (exponential disk + Sersic bulge), g band; i = g - colour
    disk_mu0_g: float = 20.8
    disk_scale_kpc: float = 5.3
    bulge_mu_e_g: float = 19.6
    bulge_r_e_kpc: float = 1.0
    bulge_n: float = 2.2
    diffuse_g_minus_i: float = 1.0
    unresolved_fluctuation_mag: float = 26.5
    # object populations
    cell_deg: float = 0.02
    star_density_arcmin2: float = 1400.0
    star_faint_mag: float = 26.5
    foreground_density_arcmin2: float = 1.2
    bright_star_density_arcmin2: float = 0.02
    young_cluster_density_arcmin2: float = 5.4
    young_cluster_ring_kpc: float = 10.0
    young_cluster_ring_width_kpc: float = 4.0
    young_cluster_mag_range: tuple[float, float] = (17.0, 23.0)
    young_cluster_rh_pc: tuple[float, float] = (1.0, 6.0)
    globular_cluster_density_arcmin2: float = 0.4
    globular_cluster_core_kpc: float = 4.0
    galaxy_density_arcmin2: float = 30.0
    galaxy_mag_range: tuple[float, float] = (18.0, 27.0)
    # catalogue truth: cluster-like objects over this radius around M31
    catalogue_radius_deg: float = 2.5
    catalogue_galaxy_faint_mag: float = 22.5

    def __post_init__(self):
        checks = {
            "ccd_nx": self.ccd_nx,
            "ccd_ny": self.ccd_ny,
            "ccd_columns": self.ccd_columns,
            "ccd_rows": self.ccd_rows,
        }
        for key, value in checks.items():
            if int(value) != value or value <= 0:
                msg = f"mock.{key} must be a positive integer, got {value!r}"
                raise ValueError(msg)
        if self.ccd_gap_px < 0:
            msg = f"mock.ccd_gap_px must be >= 0, got {self.ccd_gap_px!r}"
            raise ValueError(msg)
        if self.pixel_scale_arcsec <= 0:
            msg = f"mock.pixel_scale_arcsec must be > 0, got {self.pixel_scale_arcsec!r}"
            raise ValueError(msg)
        if self.cell_deg <= 0:
            msg = f"mock.cell_deg must be > 0, got {self.cell_deg!r}"
            raise ValueError(msg)
        ids = [f.id for f in self.fields]
        if len(set(ids)) != len(ids):
            msg = f"mock.fields: duplicate field ids in {ids}"
            raise ValueError(msg)
        for band in BANDS:
            for name in ("seeing_arcsec", "depth_mag", "sky_mag_arcsec2"):
                if band not in getattr(self, name):
                    msg = f"mock.{name} has no value for band {band!r}"
                    raise ValueError(msg)
            if self.seeing_arcsec[band] <= 0:
                msg = f"mock.seeing_arcsec.{band} must be > 0"
                raise ValueError(msg)
        if not 0 <= self.noise_correlation_px <= 3:
            msg = f"mock.noise_correlation_px must be in [0, 3], got {self.noise_correlation_px!r}"
            raise ValueError(msg)
        if not 0 <= self.read_noise_fraction < 1:
            msg = "mock.read_noise_fraction must be in [0, 1)"
            raise ValueError(msg)

    # -- construction -----------------------------------------------------------------
    @classmethod
    def demo(cls) -> MockSettings:
        """The embedded default survey of ``config/config.yaml``."""
        return cls()

    @classmethod
    def from_config(cls, mock: Mapping[str, Any], *, seed: int | None = None) -> MockSettings:
        """Build from the ``mock:`` config section (unknown keys are an error).

        Parameters
        ----------
        mock : mapping
            The validated ``mock:`` section; ``fields`` is a list of mappings
            with ``id``, ``ra_deg``, ``dec_deg``.
        seed : int, optional
            Overrides ``mock['seed']`` (the workflow passes the top-level seed).
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mock) - names)
        if unknown:
            msg = f"unknown mock setting(s): {', '.join(unknown)}"
            raise ValueError(msg)
        kwargs = dict(mock)
        if "fields" in kwargs:
            kwargs["fields"] = tuple(
                f if isinstance(f, MockField) else MockField(**f) for f in kwargs["fields"]
            )
        for key in ("young_cluster_mag_range", "young_cluster_rh_pc", "galaxy_mag_range"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        if seed is not None:
            kwargs["seed"] = int(seed)
        return cls(**kwargs)

    # -- derived quantities -----------------------------------------------------------
    def field(self, field_id: int) -> MockField:
        """The field with this ID (KeyError naming the known IDs otherwise)."""
        for f in self.fields:
            if f.id == int(field_id):
                return f
        msg = f"field {field_id} is not a mock field (known: {[f.id for f in self.fields]})"
        raise KeyError(msg)

    def filter_name(self, band: str) -> str:
        return _FILTERS[band]

    @property
    def field_size_px(self) -> tuple[int, int]:
        """(width, height) of the CCD mosaic in pixels, gaps included."""
        w = self.ccd_columns * self.ccd_nx + (self.ccd_columns - 1) * self.ccd_gap_px
        h = self.ccd_rows * self.ccd_ny + (self.ccd_rows - 1) * self.ccd_gap_px
        return w, h

    @property
    def field_half_size_deg(self) -> tuple[float, float]:
        w, h = self.field_size_px
        s = self.pixel_scale_arcsec / 3600.0
        return 0.5 * w * s, 0.5 * h * s

    def field_rng(self, field_id: int, band: str, purpose: int) -> np.random.Generator:
        """Seeded generator for per-field, per-band randomness (seeing, noise...)."""
        return np.random.default_rng(
            [self.seed, 1_000_003, int(field_id), BANDS.index(band), purpose]
        )
