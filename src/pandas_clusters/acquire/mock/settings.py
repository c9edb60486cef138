"""Settings of the simulated PAndAS survey.

One frozen dataclass, :class:`MockSettings`, holds every knob of the mock;
:meth:`MockSettings.from_config` builds it from the validated ``mock:``
section of the workflow config (``workflow/schemas/config.schema.yaml``
documents each key) and :meth:`MockSettings.demo` is the embedded default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from pandas_clusters.core.config import StageSettings

__all__ = ["BANDS", "MockField", "MockSettings", "typical_exposures"]

#: Bands the mock can render, with their default seeing (FWHM, arcsec),
#: S/N=10 point-source depth (AB) and dark-sky surface brightness (AB/arcsec^2).
BANDS = ("g", "i")

_FILTERS = {"g": "g.MP9401", "i": "i.MP9702"}


@lru_cache(maxsize=1)
def _sheet_exposures() -> dict[tuple[int, str], tuple[int, float]]:
    from pandas_clusters.core.fields import load_field_sheet

    sheet = load_field_sheet()
    out = {}
    for row in sheet.itertuples(index=False):
        for band in BANDS:
            n, t = int(getattr(row, f"{band}_exposures")), float(getattr(row, f"{band}_exptime_s"))
            if n > 0 and t > 0:
                out[(int(row.field), band)] = (n, t)
    return out


def typical_exposures(band: str) -> tuple[int, float]:
    """(exposures, summed seconds) of the survey's typical stack in ``band``: the medians
    over the PAndAS field sheet's fields (3 and 1350 s in both bands)."""
    rows = [v for (_, b), v in _sheet_exposures().items() if b == band]
    return int(np.median([n for n, _ in rows])), float(np.median([t for _, t in rows]))


@dataclass(frozen=True)
class MockField:
    """One mock PAndAS field: an integer ID, its pointing centre (ICRS deg) and block offset.

    ``block_offset_arcmin`` (east, north) places the field's small CCD block off the
    pointing centre, in the field's tangent plane, as a sub-block of the real 36-CCD
    MegaCam mosaic (issue 12, item 5): the projection keeps its tangent point at the
    pointing centre, like a CASU stack's CCDs.
    """

    id: int
    ra_deg: float
    dec_deg: float
    block_offset_arcmin: tuple[float, float] = (0.0, 0.0)  # the schema's default
    #: band -> (number of exposures, summed exposure time in s) of the field's stacks;
    #: None: the PAndAS field sheet's row of this ID (:meth:`MockSettings.field_exposures`).
    exposures: Mapping[str, tuple[int, float]] | None = None

    def __post_init__(self):
        offset = tuple(float(v) for v in self.block_offset_arcmin)
        if len(offset) != 2 or not np.all(np.isfinite(offset)):
            msg = (
                f"mock field {self.id}: block_offset_arcmin must be two finite numbers "
                f"(east, north), got {self.block_offset_arcmin!r}"
            )
            raise ValueError(msg)
        object.__setattr__(self, "block_offset_arcmin", offset)
        if not (0.0 <= self.ra_deg < 360.0) or not (-90.0 <= self.dec_deg <= 90.0):
            msg = (
                f"mock field {self.id}: centre (ra_deg={self.ra_deg}, dec_deg={self.dec_deg}) is "
                "outside the sky (need 0 <= ra_deg < 360, -90 <= dec_deg <= 90)"
            )
            raise ValueError(msg)
        if int(self.id) != self.id or self.id < 0:
            msg = f"mock field id {self.id!r} must be a non-negative integer"
            raise ValueError(msg)
        if self.exposures is not None:
            checked = {}
            for band, value in dict(self.exposures).items():
                n, t = value
                if band not in BANDS or int(n) != n or n < 1 or not t > 0:
                    msg = (
                        f"mock field {self.id}: exposures must map a band of {BANDS} to "
                        f"(number >= 1, seconds > 0), got {band!r}: {value!r}"
                    )
                    raise ValueError(msg)
                checked[band] = (int(n), float(t))
            object.__setattr__(self, "exposures", checked)


@dataclass(frozen=True)
class MockSettings(StageSettings):
    """Every parameter of the simulated survey.

    Attributes are grouped as in the config's ``mock:`` section. Units: pixel
    counts in px, angles in deg or arcsec as named, magnitudes AB, surface
    densities per arcmin^2, sizes in pc.
    """

    _section: ClassVar[str] = "mock"
    _defaults_from: ClassVar[Mapping[str, str]] = {"seed": "seed"}

    seed: int
    fields: tuple[MockField, ...]
    # camera
    ccd_nx: int
    ccd_ny: int
    ccd_columns: int
    ccd_rows: int
    ccd_gap_px: int
    pixel_scale_arcsec: float
    bad_columns_per_ccd: int
    # band-to-band astrometric differences (the i stack vs the g stack)
    band_shift_px: float
    band_rotation_deg: float
    # image quality and depth
    seeing_arcsec: Mapping[str, float]
    seeing_scatter_arcsec: float
    psf_beta: float
    depth_mag: Mapping[str, float]
    sky_mag_arcsec2: Mapping[str, float]
    zero_point: float
    saturation_adu: float
    read_noise_fraction: float
    stack_resampling: bool
    stack_background_mesh_px: int  # the stacks' background following (render.flatten_background)
    # M31 diffuse light (exponential disk + Sersic bulge), g band; i = g - colour
    disk_mu0_g: float
    disk_scale_kpc: float
    bulge_mu_e_g: float
    bulge_r_e_kpc: float
    bulge_n: float
    diffuse_g_minus_i: float
    unresolved_fluctuation_mag: float
    m31_dust: bool  # M31's own dust on its disk and what lies behind (acquire.mock.dust)
    # object populations
    cell_deg: float
    star_density_arcmin2: float
    star_faint_mag: float
    foreground_density_arcmin2: float
    foreground_faint_slope: float  # issue 12, item 2 (mock-labels)
    bright_star_density_arcmin2: float
    young_cluster_density_arcmin2: float
    young_cluster_ring_kpc: float
    young_cluster_ring_width_kpc: float
    young_cluster_mag_range: tuple[float, float]
    young_cluster_rh_pc: tuple[float, float]
    globular_cluster_density_arcmin2: float
    globular_cluster_core_kpc: float
    galaxy_density_arcmin2: float
    galaxy_mag_range: tuple[float, float]
    # catalogue truth: cluster-like objects over this radius around M31
    catalogue_radius_deg: float
    catalogue_galaxy_faint_mag: float
    catalogue_star_faint_mag: float  # the RBC's stars (issue 12, part 3)
    # contaminants (issue 12, part 3; docs/mock-calibration.md, "Contaminants")
    luminous_star_density_arcmin2: float
    asterism_separation_arcsec: float
    hii_region_density_arcmin2: float
    hii_region_mag_range: tuple[float, float]
    compact_galaxy_fraction: float
    edge_on_galaxy_fraction: float
    saturated_spike_arcsec: float
    # background galaxies' g-band counts (issue 12, part 2: mock-galaxies)
    galaxy_g_counts: tuple[tuple[float, float], ...]

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
        for name in ("stack_resampling", "m31_dust"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                msg = f"mock.{name} must be true or false, got {getattr(self, name)!r}"
                raise ValueError(msg)
        mesh = self.stack_background_mesh_px
        if isinstance(mesh, bool) or int(mesh) != mesh or mesh < 0:
            msg = f"mock.stack_background_mesh_px must be an integer >= 0, got {mesh!r}"
            raise ValueError(msg)
        if not 0 <= self.read_noise_fraction < 1:
            msg = "mock.read_noise_fraction must be in [0, 1)"
            raise ValueError(msg)
        # mock-fields (issue 12, item 5): an offset block lies inside the real mosaic
        for f in self.fields:
            self._check_block_inside_mosaic(f)

    def _check_block_inside_mosaic(self, f: MockField) -> None:
        """An offset CCD block must lie inside the real 36-CCD MegaCam mosaic of its field.

        A block centred on the pointing centre (offset 0 along an axis) may have any
        size along that axis: it stands for the middle of the mosaic, or for all of it.
        """
        from pandas_clusters.core.fields import FOOTPRINT_HALF_SIZE_DEG

        for axis, name in enumerate(("east", "north")):
            offset = f.block_offset_arcmin[axis] / 60.0
            reach = abs(offset) + self.field_half_size_deg[axis]
            if offset != 0.0 and reach > FOOTPRINT_HALF_SIZE_DEG[axis] + 1e-9:
                msg = (
                    f"mock field {f.id}: its CCD block, offset {f.block_offset_arcmin[axis]}' "
                    f"{name}, reaches {60 * reach:.2f}' from the pointing centre, beyond the "
                    f"real MegaCam mosaic's half size {60 * FOOTPRINT_HALF_SIZE_DEG[axis]:.2f}' "
                    f"(mock.fields block_offset_arcmin)"
                )
                raise ValueError(msg)

    # -- construction -----------------------------------------------------------------
    @classmethod
    def demo(cls) -> MockSettings:
        """The embedded default survey of ``config/config.yaml`` (the schema's defaults)."""
        return cls.from_config()

    @classmethod
    def _derive(cls, values: dict[str, Any]) -> dict[str, Any]:
        """The field sheet as :class:`MockField` entries."""
        fields = tuple(f if isinstance(f, MockField) else MockField(**f) for f in values["fields"])
        return {**values, "fields": fields}

    # -- derived quantities -----------------------------------------------------------
    def field(self, field_id: int) -> MockField:
        """The field with this ID (KeyError naming the known IDs otherwise)."""
        for f in self.fields:
            if f.id == int(field_id):
                return f
        msg = f"field {field_id} is not a mock field (known: {[f.id for f in self.fields]})"
        raise KeyError(msg)

    def field_exposures(self, field_id: int, band: str) -> tuple[int, float]:
        """(number of exposures, summed exposure time in s) of a field's stack in ``band``.

        The mock field's own ``exposures`` where given; otherwise the PAndAS field
        sheet's row of this ID (McConnachie+ 2018's observing log); otherwise, for an
        ID the survey lacks, the survey's typical stack (:func:`typical_exposures`).
        """
        for f in self.fields:
            if f.id == int(field_id) and f.exposures is not None and band in f.exposures:
                return f.exposures[band]
        table = _sheet_exposures()
        key = (int(field_id), band)
        return table[key] if key in table else typical_exposures(band)

    def field_depth(self, field_id: int, band: str) -> float:
        """S/N = 10 depth of a field's stack: ``depth_mag`` moved by its exposure time.

        ``depth_mag`` is the depth of the survey's typical stack; a field with
        ``t`` seconds in the band reaches ``1.25 log10(t / t_typical)`` deeper
        (the sky-limited law of :func:`~.calibration.sky_limited_depth`).
        """
        _, t = self.field_exposures(field_id, band)
        _, t_typical = typical_exposures(band)
        return float(self.depth_mag[band] + 1.25 * np.log10(t / t_typical))

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
