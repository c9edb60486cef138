"""The mock's demo fields are real PAndAS fields: real IDs, real centres, blocks in the real mosaic.

Issue 12, item 5: each demo field keeps its field-sheet ID and pointing centre; its small
CCD block sits ``block_offset_arcmin`` from the centre, inside the real 36-CCD MegaCam
mosaic, so that fields overlapping the PHAT-like footprint can train.
"""

from __future__ import annotations

import dataclasses

import astropy.units as u
import numpy as np
import pytest
import yaml
from astropy.coordinates import SkyCoord
from snakemake.utils import update_config

from pandas_clusters.acquire.mock import BANDS, MockField, MockSettings
from pandas_clusters.acquire.mock.render import block_centre, ccd_wcs
from pandas_clusters.core.config import load_config, validate_config
from pandas_clusters.core.fields import (
    FOOTPRINT_HALF_SIZE_DEG,
    footprint_contains,
    load_field_sheet,
)
from pandas_clusters.core.footprint import in_footprint, load_footprint, mock_phat_footprint
from pandas_clusters.core.geometry import projected_radius_kpc


@pytest.fixture(scope="module")
def sheet():
    return load_field_sheet().set_index("field")


@pytest.fixture(scope="module")
def demo_config(repo):
    return load_config(repo / "config" / "config.yaml")


def _settings(config) -> MockSettings:
    return MockSettings.from_config(config["mock"], seed=config["seed"])


def _ccd_corners(settings: MockSettings, field_id: int, band: str, ccd: int) -> np.ndarray:
    """(ra, dec) of the four outer pixel corners of one CCD, shape (4, 2)."""
    w = ccd_wcs(settings, field_id, band, ccd)
    nx, ny = settings.ccd_nx, settings.ccd_ny
    px = np.array([[-0.5, -0.5], [nx - 0.5, -0.5], [nx - 0.5, ny - 0.5], [-0.5, ny - 0.5]])
    return w.wcs_pix2world(px, 0)


def _block_corners(settings: MockSettings, field_id: int) -> np.ndarray:
    n = settings.ccd_columns * settings.ccd_rows
    return np.vstack([_ccd_corners(settings, field_id, b, c) for b in BANDS for c in range(n)])


@pytest.mark.parametrize("overlay", [None, "tiny.yaml"])
def test_demo_fields_are_real_fields_inside_their_real_mosaic(repo, sheet, overlay):
    """config.yaml (and the tests' tiny.yaml over it): real ID and centre, block in the mosaic."""
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    if overlay:  # laid over config.yaml as Snakemake does with two --configfile
        update_config(config, yaml.safe_load((repo / "config" / overlay).read_text()))
    config = validate_config(config)
    settings = _settings(config)
    assert set(config["fields"]) <= {f.id for f in settings.fields}
    for f in settings.fields:
        assert f.id in sheet.index, f"mock field {f.id} is not a real PAndAS field"
        row = sheet.loc[f.id]
        assert (f.ra_deg, f.dec_deg) == (row.ra_deg, row.dec_deg)
        corners = _block_corners(settings, f.id)
        inside = footprint_contains(row.ra_deg, row.dec_deg, corners[:, 0], corners[:, 1])
        assert inside.all(), f"field {f.id}: a CCD corner lies outside the real mosaic"
        # the WCS's tangent point stays the real pointing centre
        w = ccd_wcs(settings, f.id, "g", 0)
        assert tuple(w.wcs.crval) == (row.ra_deg, row.dec_deg)


def test_schema_default_is_the_demo_config(demo_config):
    assert MockSettings.demo().fields == _settings(demo_config).fields


def _check_roles(config, footprint) -> None:
    """Training blocks inside ``footprint``; others off it, one of them inside Rproj, one across."""
    settings = _settings(config)
    training = set(config["training"]["fields"])
    rproj_max = config["selection"]["rproj_max_kpc"]
    assert len(training) >= 2
    straddling, off_footprint = [], []
    for field_id in config["fields"]:
        corners = _block_corners(settings, field_id)
        in_fp = in_footprint(corners[:, 0], corners[:, 1], footprint)
        rproj = projected_radius_kpc(corners[:, 0], corners[:, 1])
        if field_id in training:
            assert in_fp.all(), f"training field {field_id}: block not inside the footprint"
        else:
            assert not in_fp.any(), f"field {field_id}: block touches the PHAT footprint"
            if rproj.max() < rproj_max:
                off_footprint.append(field_id)
        if rproj.min() < rproj_max < rproj.max():
            straddling.append(field_id)
    assert off_footprint, "no disk field outside the PHAT footprint"
    assert straddling, f"no field straddles Rproj = {rproj_max} kpc"


def test_demo_fields_play_their_roles(demo_config):
    """Training fields on the PHAT-like footprint; one disk field off it; one across 30 kpc."""
    _check_roles(demo_config, mock_phat_footprint())


def test_demo_fields_play_their_roles_on_the_real_phat_footprint(reference, demo_config):
    """The same roles hold against the real PHAT bricks (androcmd's brick footprints)."""
    path = reference / "phat-footprints-androcmd" / "phat_brick_footprints.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    _check_roles(demo_config, load_footprint(path))


def test_demo_is_coherent_with_the_real_survey_config(repo, demo_config):
    """The demo's fields are in the real survey's list; its training fields overlap real PHAT."""
    real = yaml.safe_load((repo / "config" / "pandas.yaml").read_text())
    assert set(demo_config["fields"]) <= set(real["fields"])
    assert set(demo_config["training"]["fields"]) <= set(real["training"]["fields"])


def test_block_offset_moves_the_block_on_the_tangent_plane():
    """The block centre lies at the offset's gnomonic distance and position angle."""
    base = dataclasses.replace(
        MockSettings.demo(), fields=(MockField(id=1, ra_deg=10.0, dec_deg=41.0),)
    )
    offset = (12.0, -5.0)  # arcmin east, north
    moved = dataclasses.replace(
        base,
        fields=(MockField(id=1, ra_deg=10.0, dec_deg=41.0, block_offset_arcmin=offset),),
    )
    centre = SkyCoord(10.0 * u.deg, 41.0 * u.deg)
    assert centre.separation(SkyCoord(*block_centre(base, 1), unit="deg")).arcsec < 1e-6
    block = SkyCoord(*block_centre(moved, 1), unit="deg")
    r = np.deg2rad(np.hypot(*offset) / 60.0)
    assert centre.separation(block).rad == pytest.approx(np.arctan(r), rel=1e-9)
    pa = np.arctan2(offset[0], offset[1])
    assert centre.position_angle(block).wrap_at(180 * u.deg).rad == pytest.approx(pa, abs=1e-9)


def test_block_outside_the_real_mosaic_is_refused():
    demo = MockSettings.demo()
    half_east = 60 * FOOTPRINT_HALF_SIZE_DEG[0] - 60 * demo.field_half_size_deg[0]
    ok = MockField(id=3, ra_deg=10.0, dec_deg=41.0, block_offset_arcmin=(half_east - 0.01, 0.0))
    dataclasses.replace(demo, fields=(ok,))
    bad = MockField(id=3, ra_deg=10.0, dec_deg=41.0, block_offset_arcmin=(0.0, -29.0))
    with pytest.raises(ValueError, match=r"mock field 3: its CCD block, offset -29.0' north"):
        dataclasses.replace(demo, fields=(bad,))
    with pytest.raises(ValueError, match=r"mock field 4: block_offset_arcmin must be two"):
        MockField(id=4, ra_deg=10.0, dec_deg=41.0, block_offset_arcmin=(1.0,))
