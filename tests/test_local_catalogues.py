"""Local-file catalogues (CDS ReadMe + .dat, FITS, VOTable, CSV) and the normalisation."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from pandas_clusters.acquire.catalogues import fetch_catalogue
from pandas_clusters.acquire.local import (
    CatalogueRowsDroppedWarning,
    CatalogueSpec,
    fetch_local_catalogue,
    normalise_catalogue,
    read_local_catalogue,
)
from pandas_clusters.core.geometry import M31
from pandas_clusters.core.io import read_parquet_metadata

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
C11 = REFERENCE / "caldwell2011-auriga"
W23 = REFERENCE / "wang2023-J_ApJ_954_206"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference data absent: {path}")
    return path


def _m31_separation_deg(ra, dec):
    return SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg).separation(M31.centre).deg


# -- real CDS pairs ---------------------------------------------------------------------------


def test_caldwell2011_cds_pair(tmp_path):
    readme, data = _need(C11 / "ReadMe"), _need(C11 / "table1.dat")
    spec = CatalogueSpec(
        file=str(data),
        readme=str(readme),
        name_col="Name",
        ra_col=("RAh", "RAm", "RAs"),
        dec_col=("DE-", "DEd", "DEm", "DEs"),
    )
    out = fetch_local_catalogue(spec, tmp_path / "c11.parquet", catalogue="c11")
    df = pd.read_parquet(out)
    assert len(df) == 323  # Records in the ReadMe's file summary
    assert list(df.columns[:3]) == ["name", "ra_deg", "dec_deg"]
    assert {"RAh", "DEs", "[Fe/H]", "Notes"} <= set(df.columns)
    # Independent check: the sexagesimal text of each record (bytes 13-22 and
    # 23-33 of the ReadMe's description) parsed by SkyCoord.
    lines = data.read_text().splitlines()
    ra_text = [line[12:22] for line in lines]
    dec_text = [("-" if line[22] == "-" else "+") + line[23:33] for line in lines]
    ref = SkyCoord(ra_text, dec_text, unit=(u.hourangle, u.deg))
    got = SkyCoord(df["ra_deg"].to_numpy() * u.deg, df["dec_deg"].to_numpy() * u.deg)
    assert got.separation(ref).arcsec.max() < 1e-6
    assert df["name"].iloc[0] == "B291-G009"
    assert df["ra_deg"].iloc[0] == pytest.approx(15 * (0 + 36 / 60 + 4.97 / 3600))
    assert df["dec_deg"].iloc[0] == pytest.approx(42 + 2 / 60 + 9.3 / 3600)
    # M31 clusters: all within a few degrees of the centre.
    assert _m31_separation_deg(df["ra_deg"], df["dec_deg"]).max() < 5.0
    meta = read_parquet_metadata(out)
    assert meta["source"]["kind"] == "file"
    assert len(meta["source"]["sha256"]) == 64
    assert meta["units"]["RAs"] == "s"


def _w23_table10_dat(folder: Path) -> Path:
    """Recover the fixed-width table10.dat records from the CDS-made FITS ASCII table."""
    fits_path = _need(W23 / "J_ApJ_954_206_table10.dat.fits")
    with fits.open(fits_path) as hdul:
        start = hdul.fileinfo(1)["datLoc"]
        width, rows = hdul[1].header["NAXIS1"], hdul[1].header["NAXIS2"]
    raw = fits_path.read_bytes()[start : start + width * rows].decode("ascii")
    dat = folder / "table10.dat"
    dat.write_text("".join(raw[i * width : (i + 1) * width] + "\n" for i in range(rows)))
    return dat


def test_wang2023_cds_pair_and_fits(tmp_path):
    readme = _need(W23 / "ReadMe.txt")
    dat = _w23_table10_dat(tmp_path)
    spec = {
        "file": str(dat),
        "readme": str(readme),
        "name_col": "Seq",
        "ra_col": "RAdeg",
        "dec_col": "DEdeg",
    }
    cds = pd.read_parquet(fetch_catalogue(spec, tmp_path / "w23.parquet", catalogue="w23"))
    assert len(cds) == 50
    assert cds["name"].tolist()[:3] == ["1", "2", "3"]  # integer names as text
    assert cds["ra_deg"].iloc[0] == pytest.approx(10.362548)
    assert cds["dec_deg"].iloc[0] == pytest.approx(40.693683)
    # Ranges documented in the ReadMe.
    assert cds["ra_deg"].between(0.6, 22.6).all() and cds["dec_deg"].between(33.4, 49.2).all()
    # The same table read from the CDS FITS file gives the same catalogue.
    fits_spec = {
        "file": str(W23 / "J_ApJ_954_206_table10.dat.fits"),
        "name_col": "Seq",
        "ra_col": "RAdeg",
        "dec_col": "DEdeg",
    }
    from_fits = pd.read_parquet(
        fetch_catalogue(fits_spec, tmp_path / "w23f.parquet", catalogue="w23")
    )
    assert from_fits["name"].tolist() == cds["name"].tolist()
    np.testing.assert_allclose(from_fits["ra_deg"], cds["ra_deg"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(from_fits["dec_deg"], cds["dec_deg"], rtol=0, atol=1e-9)


def test_readme_without_the_data_file_is_a_clear_error(tmp_path):
    readme = _need(C11 / "ReadMe")
    other = tmp_path / "table9.dat"
    other.write_text("x\n")
    with pytest.raises(ValueError, match=r"cannot read catalogue file .*table9\.dat as cds"):
        read_local_catalogue(other, readme=readme)


# -- synthetic files --------------------------------------------------------------------------


def _synthetic() -> Table:
    return Table(
        {
            "ID": np.array([3, 1, 2], dtype=np.int32),
            "RAJ2000": np.array([10.5, 10.7, 11.0]) * u.deg,
            "DEJ2000": np.array([41.0, 41.3, -0.5]) * u.deg,
            "Vmag": np.array([18.1, 19.2, 20.3]) * u.mag,
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".fits", ".xml"])
def test_local_formats_round_trip(tmp_path, suffix):
    path = tmp_path / f"cat{suffix}"
    fmt = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits", ".xml": "votable"}[suffix]
    _synthetic().write(path, format=fmt)
    spec = CatalogueSpec(file=str(path), name_col="ID", ra_col="RAJ2000", dec_col="DEJ2000")
    df = pd.read_parquet(fetch_local_catalogue(spec, tmp_path / "out.parquet", catalogue="h14"))
    assert df["name"].tolist() == ["3", "1", "2"]
    np.testing.assert_allclose(df["ra_deg"], [10.5, 10.7, 11.0])
    np.testing.assert_allclose(df["dec_deg"], [41.0, 41.3, -0.5])
    assert df.columns.tolist() == ["name", "ra_deg", "dec_deg", "ID", "RAJ2000", "DEJ2000", "Vmag"]


def test_unknown_extension_needs_a_format(tmp_path):
    path = tmp_path / "cat.txt"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="cannot tell the format"):
        read_local_catalogue(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_local_catalogue(tmp_path / "absent.csv")


def test_spec_validation():
    with pytest.raises(ValueError, match="exactly one of 'vizier'"):
        CatalogueSpec(name_col="a", ra_col="b", dec_col="c")
    with pytest.raises(ValueError, match="unknown catalogue setting"):
        CatalogueSpec.from_config(
            {"vizier": "V/143", "name_col": "a", "ra_col": "b", "dec_col": "c", "rows": 5}
        )
    spec = CatalogueSpec.from_config(
        {
            "file": "x.dat",
            "readme": "ReadMe",
            "name_col": "Name",
            "ra_col": ["RAh", "RAm", "RAs"],
            "dec_col": "DEdeg",
            "table": 2,
        }
    )
    assert spec.ra_col == ("RAh", "RAm", "RAs") and spec.table == "2"


# -- normalise_catalogue ------------------------------------------------------------------------


def test_sexagesimal_text_and_hours():
    df = pd.DataFrame(
        {
            "Name": ["A", "B"],
            "RA": ["00:42:44.33", "00 40 00.0"],
            "DE": ["+41:16:07.5", "-00 30 00"],
            "RAh": [0.712314, 1.5],
        }
    )
    out = normalise_catalogue(df, name_col="Name", ra_col="RA", dec_col="DE", catalogue="c09")
    ref = SkyCoord(["00h42m44.33s +41d16m07.5s", "00h40m00s -00d30m00s"])
    np.testing.assert_allclose(out["ra_deg"], ref.ra.deg, atol=1e-10)
    np.testing.assert_allclose(out["dec_deg"], ref.dec.deg, atol=1e-10)
    df.attrs["units"] = {"RAh": "h"}
    hours = normalise_catalogue(df, name_col="Name", ra_col="RAh", dec_col="DE", catalogue="c09")
    np.testing.assert_allclose(hours["ra_deg"], [0.712314 * 15, 22.5])


def test_split_dec_sign_of_minus_zero_degrees():
    df = pd.DataFrame(
        {
            "Name": ["x", "y"],
            "RAh": [0, 0],
            "RAm": [40, 41],
            "RAs": [0.0, 0.0],
            "DE-": ["-", None],
            "DEd": [0, 0],
            "DEm": [30, 30],
            "DEs": [0.0, 0.0],
        }
    )
    out = normalise_catalogue(
        df,
        name_col="Name",
        ra_col=["RAh", "RAm", "RAs"],
        dec_col=["DE-", "DEd", "DEm", "DEs"],
        catalogue="rbc",
    )
    np.testing.assert_allclose(out["dec_deg"], [-0.5, 0.5])
    np.testing.assert_allclose(out["ra_deg"], [10.0, 10.25])


def test_rows_without_position_are_dropped_with_warning():
    df = pd.DataFrame(
        {"Name": ["a", "b", "c"], "ra": [10.0, np.nan, 11.0], "dec": [41.0, 41.0, 42.0]}
    )
    with pytest.warns(
        CatalogueRowsDroppedWarning, match=r"c09: 1 row\(s\) without a position .*\['b'\]"
    ):
        out = normalise_catalogue(df, name_col="Name", ra_col="ra", dec_col="dec", catalogue="c09")
    assert out["name"].tolist() == ["a", "c"]


def test_bad_values_are_errors_naming_catalogue_and_column():
    df = pd.DataFrame({"Name": ["a", "b"], "ra": [10.0, 400.0], "dec": [41.0, 41.0]})
    with pytest.raises(
        ValueError, match=r"catalogue w22: 1 position\(s\) from 'ra' outside \[0, 360\].*'b'"
    ):
        normalise_catalogue(df, name_col="Name", ra_col="ra", dec_col="dec", catalogue="w22")
    df = pd.DataFrame({"Name": ["a", None], "ra": [10.0, 11.0], "dec": [41.0, 41.0]})
    with pytest.raises(ValueError, match=r"catalogue w22: 1 row\(s\) without a name in 'Name'"):
        normalise_catalogue(df, name_col="Name", ra_col="ra", dec_col="dec", catalogue="w22")
    with pytest.raises(KeyError, match=r"catalogue w22: column\(s\) \['RAdeg'\] not found"):
        normalise_catalogue(df, name_col="Name", ra_col="RAdeg", dec_col="dec", catalogue="w22")
    df = pd.DataFrame({"Name": ["a"], "ra": [10.0], "dec": [41.0]})
    df.attrs["units"] = {"ra": "mag"}
    with pytest.raises(ValueError, match=r"column 'ra' has unit 'mag'"):
        normalise_catalogue(df, name_col="Name", ra_col="ra", dec_col="dec", catalogue="w22")


def test_existing_normalised_columns_are_replaced():
    df = pd.DataFrame({"name": [7, 8], "ra_deg": [1.0, 2.0], "dec_deg": [3.0, 4.0], "x": [1, 2]})
    out = normalise_catalogue(
        df, name_col="name", ra_col="ra_deg", dec_col="dec_deg", catalogue="h14"
    )
    assert out.columns.tolist() == ["name", "ra_deg", "dec_deg", "x"]
    assert out["name"].tolist() == ["7", "8"]
