"""Tests of pandas_clusters.core.footprint (PHAT footprint I/O, point-in-footprint, mock)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pandas_clusters.core.footprint import (
    in_footprint,
    load_footprint,
    mock_phat_footprint,
    validate_footprint,
    write_footprint,
)
from pandas_clusters.core.geometry import M31, tangent_plane_deg

REFERENCE = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "phat-footprints-androcmd"
)
REAL_BRICKS = REFERENCE / "phat_brick_footprints.json"
REAL_PATCHES = REFERENCE / "phat_field_patches.json"


def _centres(footprint):
    return np.array([np.mean(np.asarray(c), axis=0) for c in footprint.values()])


def _major_minor(ra, dec):
    xi, eta = tangent_plane_deg(ra, dec)
    pa = math.radians(M31.pa_deg)
    return xi * math.sin(pa) + eta * math.cos(pa), -xi * math.cos(pa) + eta * math.sin(pa)


@pytest.fixture(scope="module")
def mock_fp():
    return mock_phat_footprint()


@pytest.fixture(scope="module")
def real_fp():
    if not REAL_BRICKS.exists():
        pytest.skip(f"reference file {REAL_BRICKS} absent")
    return load_footprint(REAL_BRICKS)


# --------------------------------------------------------------------------- mock footprint


def test_mock_footprint_layout(mock_fp):
    assert list(mock_fp) == [str(k) for k in range(1, 21)]
    for corners in mock_fp.values():
        assert len(corners) == 4
        assert all(len(c) == 2 for c in corners)
    c = _centres(mock_fp)
    assert in_footprint(c[:, 0], c[:, 1], mock_fp).all()
    # M31's nucleus is inside (PHAT starts at the centre), the SW disk is not
    assert in_footprint(M31.ra_deg, M31.dec_deg, mock_fp)
    maj, mnr = _major_minor(c[:, 0], c[:, 1])
    assert np.all(np.diff(maj) > 0)  # bricks run outwards along the major axis
    assert maj[0] < 0.05 and 1.0 < maj[-1] < 1.5  # NE half, out to ~1.2 deg (~17 kpc)
    assert np.all(mnr < 0.0) and np.all(mnr > -0.3)  # a strip on the SE side of the axis


def test_mock_brick_sizes_match_parameters():
    fp = mock_phat_footprint(n_bricks=3, brick_major_deg=0.2, brick_minor_deg=0.3)
    for corners in fp.values():
        c = np.asarray(corners)
        maj, mnr = _major_minor(c[:, 0], c[:, 1])
        assert np.ptp(maj) == pytest.approx(0.2, rel=0.01)
        assert np.ptp(mnr) == pytest.approx(0.3, rel=0.01)


def test_mock_footprint_rejects_no_bricks():
    with pytest.raises(ValueError, match="n_bricks"):
        mock_phat_footprint(n_bricks=0)


# --------------------------------------------------------------------------- in_footprint


def test_in_footprint_square_matches_analytic():
    # a 0.2 deg square centred on (30, 0): tangent-plane edges are close to RA/Dec lines here
    fp = {"a": [[29.9, -0.1], [30.1, -0.1], [30.1, 0.1], [29.9, 0.1]]}
    rng = np.random.default_rng(3)
    ra = rng.uniform(29.8, 30.2, 4000)
    dec = rng.uniform(-0.2, 0.2, 4000)
    got = in_footprint(ra, dec, fp)
    expected = (np.abs(ra - 30.0) < 0.1) & (np.abs(dec) < 0.1)
    margin = (np.abs(np.abs(ra - 30.0) - 0.1) < 1e-4) | (np.abs(np.abs(dec) - 0.1) < 1e-4)
    assert np.array_equal(got[~margin], expected[~margin])


def test_in_footprint_corner_order_and_shapes():
    ccw = [[10.0, 41.0], [10.3, 41.0], [10.3, 41.3], [10.0, 41.3]]
    fp_ccw = {"x": ccw}
    fp_cw = {"x": ccw[::-1]}
    ra = np.array([[10.15, 11.0], [10.01, np.nan]])
    dec = np.array([[41.15, 41.15], [41.29, 41.1]])
    for fp in (fp_ccw, fp_cw):
        got = in_footprint(ra, dec, fp)
        assert got.shape == (2, 2)
        assert got.tolist() == [[True, False], [True, False]]
    assert in_footprint(10.15, 41.15, fp_ccw).shape == ()
    assert not in_footprint([], [], fp_ccw).size


def test_in_footprint_across_ra_zero():
    fp = {"z": [[359.9, 10.0], [0.1, 10.0], [0.1, 10.2], [359.9, 10.2]]}
    got = in_footprint([0.0, 359.95, 0.05, 0.3, 359.7], [10.1, 10.1, 10.1, 10.1, 10.1], fp)
    assert got.tolist() == [True, True, True, False, False]


# --------------------------------------------------------------------------- I/O


def test_write_load_roundtrip(tmp_path, mock_fp):
    path = tmp_path / "sub" / "phat_footprint.json"
    assert write_footprint(mock_fp, path) == path
    assert load_footprint(path) == mock_fp
    assert [p.name for p in path.parent.iterdir()] == ["phat_footprint.json"]  # no temp files


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "not a valid JSON"),
        ("[[1, 2], [3, 4]]", "expected a mapping"),
        ("{}", "no bricks"),
        ('{"1": [[10, 41], [10.1, 41]]}', "at least 3"),
        ('{"1": [[10, 41], [10.1, 41], ["a", 41.1]]}', "not numbers"),
        ('{"1": [[10, 41], [10.1, 41], [10.1, 95.0]]}', "declination"),
        ('{"1": [[10, 41], [10.1, NaN], [10.1, 41.1]]}', "NaN"),
    ],
)
def test_load_footprint_errors_name_the_file(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as err:
        load_footprint(path)
    assert str(path) in str(err.value)


def test_write_footprint_validates(tmp_path):
    path = tmp_path / "fp.json"
    with pytest.raises(ValueError, match="brick '1'"):
        write_footprint({"1": [[10, 41]]}, path)
    assert not path.exists()
    assert validate_footprint({1: [[370.0, 1.0], [371, 1], [371, 2]]}) == {
        "1": [[10.0, 1.0], [11.0, 1.0], [11.0, 2.0]]
    }


# --------------------------------------------------------------------------- the real PHAT bricks


@pytest.mark.reference
def test_real_footprint_loads_and_contains_its_bricks(real_fp):
    assert len(real_fp) == 23
    c = _centres(real_fp)
    assert in_footprint(c[:, 0], c[:, 1], real_fp).all()
    assert in_footprint(M31.ra_deg, M31.dec_deg, real_fp)
    # the SW half of the disk and the far NE are outside PHAT
    assert not in_footprint(10.2, 40.9, real_fp)
    assert not in_footprint(12.5, 42.8, real_fp)


@pytest.mark.reference
def test_real_field_patches_inside_real_bricks(real_fp):
    if not REAL_PATCHES.exists():
        pytest.skip(f"reference file {REAL_PATCHES} absent")
    patches = json.loads(REAL_PATCHES.read_text())
    ra0 = np.array([p["ra0"] for p in patches])
    dec0 = np.array([p["dec0"] for p in patches])
    assert len(patches) == 414
    assert in_footprint(ra0, dec0, real_fp).all()
    # and each patch centre lies in its own brick
    for p in patches[::37]:
        own = {str(p["brick"]): real_fp[str(p["brick"])]}
        assert in_footprint(p["ra0"], p["dec0"], own)


@pytest.mark.reference
def test_mock_footprint_resembles_real(real_fp, mock_fp):
    rng = np.random.default_rng(5)
    ra = rng.uniform(10.3, 12.3, 40000)
    dec = rng.uniform(40.9, 42.6, 40000)
    in_real = in_footprint(ra, dec, real_fp)
    in_mock = in_footprint(ra, dec, mock_fp)
    # the mock strip lies within the real (padded) brick images ...
    assert (in_mock & in_real).sum() / in_mock.sum() > 0.9
    # ... and covers a comparable area
    assert 0.4 < in_mock.sum() / in_real.sum() < 1.1
