"""The real PAndAS field sheet, the default field list of config/pandas.yaml, and its coverage."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
import yaml
from astropy.coordinates import SkyCoord

from pandas_clusters.core.fields import (
    FIELD_SHEET_COLUMNS,
    FOOTPRINT_HALF_SIZE_DEG,
    build_field_sheet,
    fields_within,
    footprint_contains,
    load_field_sheet,
    read_field_centres,
    read_observing_log,
    summarise_observing_log,
    write_field_sheet,
)
from pandas_clusters.core.geometry import M31, offsets_to_radec, projected_radius_kpc


@pytest.fixture(scope="module")
def sheet():
    return load_field_sheet()


@pytest.fixture(scope="module")
def config(repo):
    return yaml.safe_load((repo / "config" / "pandas.yaml").read_text())


@pytest.fixture(scope="module")
def field_files(reference):
    folder = reference / "pandas-cutouts-klemenz" / "fields"
    centres, log = folder / "pandas_field_centres.csv", folder / "pandas_observing_log.txt"
    if not (centres.is_file() and log.is_file()):
        pytest.skip(f"PAndAS field files absent from {folder}")
    return centres, log


@pytest.fixture(scope="module")
def disc_points():
    """A 0.02 deg grid of sky positions within Rproj = 30 kpc of M31."""
    radius = np.rad2deg(30.0 / M31.distance_kpc)
    grid = np.arange(-radius, radius + 1e-9, 0.02)
    xi, eta = (a.ravel() for a in np.meshgrid(grid, grid))
    ra, dec = offsets_to_radec(xi, eta)
    inside = projected_radius_kpc(ra, dec) <= 30.0
    return ra[inside], dec[inside]


def test_packaged_sheet_is_built_from_the_public_files(field_files, sheet, tmp_path):
    centres, log = field_files
    rebuilt = build_field_sheet(read_field_centres(centres), read_observing_log(log))
    out = write_field_sheet(rebuilt, tmp_path / "fields.csv")
    again = load_field_sheet(out)
    pd.testing.assert_frame_equal(again, sheet)
    np.testing.assert_allclose(sheet.ra_deg, rebuilt.ra_deg, atol=5e-7)
    np.testing.assert_allclose(sheet.rproj_min_kpc, rebuilt.rproj_min_kpc, atol=5e-4)
    # The centres file lists m001..m406; the observing log's title: 2985 exposures.
    assert sheet.field.tolist() == list(range(1, 407))
    assert int(sheet.g_exposures.sum() + sheet.i_exposures.sum()) == 2985


def test_sheet_columns_and_filters(sheet):
    assert list(sheet.columns) == list(FIELD_SHEET_COLUMNS)
    assert set(sheet.i_filter) == {"i.MP9701", "i.MP9702"}
    assert (sheet.g_exposures > 0).all() and (sheet.i_exposures > 0).all()
    assert (sheet.rproj_min_kpc <= sheet.rproj_kpc).all()


def test_default_fields_are_those_within_30_kpc(config, sheet):
    rproj = config["selection"]["rproj_max_kpc"]
    assert rproj == 30.0
    assert config["fields"] == fields_within(sheet, rproj)
    # The paper's table 7 (Zhang+ 2025) spans fields 207 to 285: both are in the list ...
    assert {207, 285} <= set(config["fields"])
    # ... and a rule on field centres would leave out 207, so it cannot be the paper's.
    centre_rule = set(sheet.field[sheet.rproj_kpc <= rproj])
    assert 207 not in centre_rule
    assert centre_rule <= set(config["fields"])


def test_selected_fields_cover_the_30_kpc_disc(sheet, config, disc_points):
    """Footprints of the selected fields hold the disc up to thin slivers between fields.

    Independently of ``rproj_min_kpc``: the fields whose footprint contains a
    grid point of the disc are exactly the selected ones, and every disc
    point outside all footprints is within 1.5 arcmin of one.
    """
    ra, dec = disc_points
    # Only fields whose centre is within 30 kpc + a footprint's half diagonal can touch.
    near = sheet[
        sheet.rproj_kpc <= 30.0 + np.deg2rad(np.hypot(*FOOTPRINT_HALF_SIZE_DEG)) * M31.distance_kpc
    ]
    touching, covered = [], np.zeros(ra.size, bool)
    for row in near.itertuples():
        inside = footprint_contains(row.ra_deg, row.dec_deg, ra, dec)
        if inside.any():
            touching.append(int(row.field))
        covered |= inside
    assert sorted(touching) == config["fields"]
    assert covered.mean() > 0.99
    gap = np.full((~covered).sum(), np.inf)
    points = SkyCoord(ra[~covered] * u.deg, dec[~covered] * u.deg)
    half_ra, half_dec = FOOTPRINT_HALF_SIZE_DEG
    for row in sheet[sheet.field.isin(config["fields"])].itertuples():
        local = points.transform_to(
            SkyCoord(row.ra_deg * u.deg, row.dec_deg * u.deg).skyoffset_frame()
        )
        out_ra = np.clip(np.abs(local.lon.wrap_at(180 * u.deg).deg) - half_ra, 0, None)
        out_dec = np.clip(np.abs(local.lat.deg) - half_dec, 0, None)
        gap = np.minimum(gap, np.hypot(out_ra, out_dec))
    assert gap.max() * 60 < 1.5


def test_nearest_footprint_point_is_the_minimum(sheet):
    """rproj_min_kpc agrees with the minimum over a dense grid of each footprint."""
    half_ra, half_dec = FOOTPRINT_HALF_SIZE_DEG
    lon, lat = np.meshgrid(np.linspace(-half_ra, half_ra, 61), np.linspace(-half_dec, half_dec, 61))
    for row in sheet[sheet.field.isin([207, 233, 248, 285, 296, 1])].itertuples():
        frame = SkyCoord(row.ra_deg * u.deg, row.dec_deg * u.deg).skyoffset_frame()
        points = SkyCoord(lon.ravel() * u.deg, lat.ravel() * u.deg, frame=frame).icrs
        grid_min = projected_radius_kpc(points.ra.deg, points.dec.deg).min()
        assert row.rproj_min_kpc <= grid_min + 1e-3
        assert grid_min - row.rproj_min_kpc < 0.2  # the grid cell half diagonal: 0.16 kpc


def test_training_fields_are_those_overlapping_phat(reference, config, sheet):
    path = reference / "phat-footprints-androcmd" / "phat_brick_footprints.json"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    corners = [np.asarray(c, dtype=float) for c in json.loads(path.read_text()).values()]
    # Points filling each brick (bilinear in its four corners).
    a, b = (x.ravel()[:, None] for x in np.meshgrid(np.linspace(0, 1, 11), np.linspace(0, 1, 11)))
    points = np.vstack(
        [
            (1 - a) * (1 - b) * c[0] + a * (1 - b) * c[1] + a * b * c[2] + (1 - a) * b * c[3]
            for c in corners
        ]
    )
    overlap = [
        int(row.field)
        for row in sheet[sheet.field.isin(config["fields"])].itertuples()
        if footprint_contains(row.ra_deg, row.dec_deg, points[:, 0], points[:, 1]).any()
    ]
    assert config["training"]["fields"] == overlap


def test_bad_field_identifier_names_file_and_row(tmp_path):
    path = tmp_path / "centres.csv"
    path.write_text("FieldID,coord_ra_deg,coord_dec_deg\nm001,10.0,41.0\nM31-1,10.5,41.2\n")
    with pytest.raises(ValueError, match=r"centres\.csv row 3: field identifier 'M31-1'"):
        read_field_centres(path)


def test_field_with_two_i_filters_is_an_error():
    log = pd.DataFrame(
        {
            "field": [5, 5, 5],
            "filter": ["g.MP9401", "i.MP9701", "i.MP9702"],
            "exptime_s": [450.0, 450.0, 450.0],
        }
    )
    with pytest.raises(ValueError, match=r"log\.txt: field m005 has exposures in both"):
        summarise_observing_log(log, label="log.txt")


def test_sheet_without_a_column_is_rejected(tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_text("field,ra_deg,dec_deg\n1,10,41\n")
    with pytest.raises(ValueError, match=r"sheet\.csv: not a field sheet, missing column"):
        load_field_sheet(path)
