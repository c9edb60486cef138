"""Tests of pandas_clusters.catalogue.crossmatch (one-to-one nearest match, names, 'new', absences)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pandas_clusters.catalogue.crossmatch import (
    CrossmatchSettings,
    MissingCatalogueWarning,
    crossmatch_candidates,
    write_crossmatch,
)
from pandas_clusters.core.catalogues import LITERATURE_CATALOGUES, CatalogueWarning
from pandas_clusters.core.io import read_parquet_metadata, write_parquet
from pandas_clusters.core.skymatch import match_nearest_unique

ARCSEC = 1.0 / 3600.0
REFERENCE = Path(__file__).parents[2] / "shared" / "reference"
RA0, DEC0 = 10.7, 41.3


def _cat(tmp_path, key, rows):
    df = pd.DataFrame(rows, columns=["name", "ra_deg", "dec_deg"])
    df["Name"] = df["name"]  # an "original" column, as VizieR serves it
    return write_parquet(df, tmp_path / f"{key}.parquet")


def test_match_is_one_to_one_nearest_first():
    cand_ra = np.array([RA0, RA0, RA0 + 0.1])
    cand_dec = np.array([DEC0, DEC0 + 0.5 * ARCSEC, DEC0])
    # entry 0 sits on candidate 0 and 0.5" from candidate 1; entry 1 is 0.9" from candidate 1.
    cat_ra = np.array([RA0, RA0])
    cat_dec = np.array([DEC0, DEC0 + 1.4 * ARCSEC])
    idx, sep = match_nearest_unique(cand_ra, cand_dec, cat_ra, cat_dec, radius_arcsec=1.0)
    assert idx.tolist() == [0, 1, -1]
    np.testing.assert_allclose(sep[:2], [0.0, 0.9], atol=1e-6)
    assert np.isnan(sep[2])
    # without a second entry, candidate 1 gets nothing: entry 0 is taken by the nearer one
    idx, _ = match_nearest_unique(cand_ra, cand_dec, cat_ra[:1], cat_dec[:1], radius_arcsec=1.0)
    assert idx.tolist() == [0, -1, -1]
    idx, _ = match_nearest_unique([], [], cat_ra, cat_dec, radius_arcsec=1.0)
    assert idx.shape == (0,)
    with pytest.raises(ValueError, match="non-finite"):
        match_nearest_unique([np.nan], [0.0], cat_ra, cat_dec, radius_arcsec=1.0)


@pytest.fixture
def catalogues(tmp_path):
    paths = {
        "c09": _cat(tmp_path, "c09", [("B001-G070", RA0 + 0.3 * ARCSEC, DEC0)]),
        "rbc": _cat(tmp_path, "rbc", [("B001", RA0, DEC0 + 0.2 * ARCSEC), ("B999", 11.5, 42.0)]),
        "c11": _cat(tmp_path, "c11", [("B001-G070", RA0, DEC0), ("SK050A", RA0 + 0.01, DEC0)]),
        "w22": _cat(tmp_path, "w22", [("12", RA0 + 0.01 + 0.5 * ARCSEC, DEC0)]),
        "w23": _cat(tmp_path, "w23", [("3", RA0 + 0.02 + 2.0 * ARCSEC, DEC0)]),
        "h14": _cat(tmp_path, "h14", []),
    }
    return paths


@pytest.fixture
def candidates():
    return pd.DataFrame(
        {
            "source_id": np.array([1, 2, 3, 4], dtype=np.int64),
            "ra": [RA0, RA0 + 0.01, RA0 + 0.02, RA0 + 0.03],
            "dec": [DEC0] * 4,
        }
    )


def test_names_and_new_flag(candidates, catalogues):
    out, meta = crossmatch_candidates(
        candidates, catalogues, settings=CrossmatchSettings.from_config(radius_arcsec=1.0)
    )
    assert out["c09"].tolist() == ["B001-G070", "", "", ""]
    assert out["rbc"].tolist() == ["B001", "", "", ""]
    assert out["c11"].tolist() == ["B001-G070", "SK050A", "", ""]
    assert out["w22"].tolist() == ["", "12", "", ""]
    assert out["w23"].tolist() == ["", "", "", ""]  # 2" away: outside 1"
    assert out["h14"].tolist() == ["", "", "", ""]
    assert out["new"].tolist() == [False, False, True, True]
    np.testing.assert_allclose(out["rbc_sep_arcsec"].iloc[0], 0.2, atol=1e-6)
    assert meta["counts"]["new"] == 2 and meta["absent"] == []
    wide, _ = crossmatch_candidates(
        candidates, catalogues, settings=CrossmatchSettings.from_config(radius_arcsec=3.0)
    )
    assert wide["w23"].tolist() == ["", "", "3", ""]
    assert wide["new"].tolist() == [False, False, False, True]


def test_absent_catalogues(candidates, catalogues, tmp_path):
    paths = dict(catalogues)
    paths["h14"] = tmp_path / "nowhere" / "h14.parquet"
    with pytest.raises(FileNotFoundError, match="'h14'.*nowhere"):
        crossmatch_candidates(candidates, paths, settings=CrossmatchSettings.from_config())
    del paths["w22"]
    settings = CrossmatchSettings.from_config(optional=("h14", "w22"))
    with pytest.warns(MissingCatalogueWarning) as record:
        out, meta = crossmatch_candidates(candidates, paths, settings=settings)
    assert len(record) == 2
    assert meta["absent"] == ["w22", "h14"]
    assert out["w22"].tolist() == [""] * 4
    # 'new' only looks at the catalogues present: candidate 2 matched C11 anyway
    assert out["new"].tolist() == [False, False, True, True]
    with pytest.raises(ValueError, match="crossmatch.optional.0.*is not one of"):
        CrossmatchSettings.from_config(optional=("x99",))


def test_bad_catalogue_columns(candidates, catalogues, tmp_path):
    bad = write_parquet(
        pd.DataFrame({"Name": ["x"], "RAJ2000": [1.0], "DEJ2000": [2.0]}),
        tmp_path / "bad_rbc.parquet",
    )
    paths = {**catalogues, "rbc": bad}
    with pytest.raises(
        ValueError, match=r"'rbc'.*bad_rbc\.parquet.*missing column\(s\) name, ra_deg, dec_deg"
    ):
        crossmatch_candidates(candidates, paths, settings=CrossmatchSettings.from_config())
    nan = write_parquet(
        pd.DataFrame({"name": ["a", "b"], "ra_deg": [RA0, np.nan], "dec_deg": [DEC0, 1.0]}),
        tmp_path / "nan_rbc.parquet",
    )
    with pytest.warns(CatalogueWarning, match="1 entr"):
        out, _ = crossmatch_candidates(
            candidates, {**catalogues, "rbc": nan}, settings=CrossmatchSettings.from_config()
        )
    assert out["rbc"].iloc[0] == "a"


def test_write_crossmatch_keeps_provenance(candidates, catalogues, tmp_path):
    cand_path = write_parquet(
        candidates,
        tmp_path / "candidates.parquet",
        metadata={"stage": "selection", "settings": {"threshold": 0.7}},
    )
    out = write_crossmatch(
        cand_path,
        catalogues,
        tmp_path / "xm" / "crossmatch.parquet",
        settings=CrossmatchSettings.from_config(),
    )
    df = pd.read_parquet(out)
    assert [c for c in LITERATURE_CATALOGUES if c in df.columns] == list(LITERATURE_CATALOGUES)
    meta = read_parquet_metadata(out)
    assert meta["select"]["settings"]["threshold"] == 0.7
    assert meta["settings"]["radius_arcsec"] == 1.0


# --------------------------------------------------------------- real catalogues


def _c11_table1():
    from astropy.io import ascii

    folder = REFERENCE / "caldwell2011-auriga"
    t = ascii.read(folder / "table1.dat", readme=str(folder / "ReadMe"), format="cds")
    sign = np.where(np.asarray(t["DE-"].filled("+")) == "-", -1.0, 1.0)
    ra = 15.0 * (t["RAh"] + t["RAm"] / 60.0 + t["RAs"] / 3600.0)
    dec = sign * (t["DEd"] + t["DEm"] / 60.0 + t["DEs"] / 3600.0)
    return pd.DataFrame(
        {
            "source_id": np.arange(len(t), dtype=np.int64),
            "name": [str(n) for n in t["Name"]],
            "ra": np.asarray(ra, float),
            "dec": np.asarray(dec, float),
        }
    )


def _peacock_rbc():
    from astropy.io.fits.verify import VerifyWarning
    from astropy.table import Table
    from astropy.units import UnitsWarning

    with warnings.catch_warnings():
        # the VizieR FITS export has a TNULL wider than its column and a '[solLum/pc3]' unit
        warnings.simplefilter("ignore", VerifyWarning)
        warnings.simplefilter("ignore", UnitsWarning)
        t = Table.read(REFERENCE / "peacock2010-m31gc" / "peacock2010_m31_gc.fits")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in t["Name"]]
    return pd.DataFrame(
        {
            "name": [n.strip() for n in names],
            "ra_deg": np.asarray(t["RAJ2000"], float),
            "dec_deg": np.asarray(t["DEJ2000"], float),
        }
    )


@pytest.mark.reference
def test_c11_recovers_rbc_names_from_peacock(tmp_path):
    """C11 names carry RBC names (B291-G009 -> B291): the match must recover them."""
    if (
        not (REFERENCE / "caldwell2011-auriga" / "table1.dat").is_file()
        or not (REFERENCE / "peacock2010-m31gc" / "peacock2010_m31_gc.fits").is_file()
    ):
        pytest.skip("../shared/reference (Caldwell 2011, Peacock 2010) is absent")
    c11 = _c11_table1()
    rbc = _peacock_rbc()
    rbc_path = write_parquet(rbc, tmp_path / "rbc.parquet")
    settings = CrossmatchSettings.from_config(
        radius_arcsec=1.0, optional=tuple(c for c in LITERATURE_CATALOGUES if c != "rbc")
    )
    with pytest.warns(MissingCatalogueWarning):
        out, meta = crossmatch_candidates(c11, {"rbc": rbc_path}, settings=settings)
    rbc_names = set(rbc["name"])
    # the whole name (PHF6-1) or one of its hyphen-separated parts (B291-G009 -> B291)
    expected = [
        [tok for tok in (name, *name.split("-")) if tok in rbc_names] for name in c11["name"]
    ]
    has_rbc = np.array([bool(e) for e in expected])
    recovered = np.array([got in exp for got, exp in zip(out["rbc"], expected, strict=True)])
    fraction = recovered[has_rbc].mean()
    # measured: all 323 C11 names carry an RBC name; 320 recovered within 1" (0.991), the
    # other 3 (B333, B336-G067, B354-G186) lie more than 1" from their Peacock position
    assert has_rbc.sum() >= 300
    assert fraction >= 0.98, f"recovered {recovered[has_rbc].sum()} of {has_rbc.sum()}"
    # a matched name is never a different RBC object's name
    wrong = (out["rbc"] != "") & has_rbc & ~recovered
    assert wrong.sum() == 0
    assert meta["counts"]["rbc"] == int((out["rbc"] != "").sum())
