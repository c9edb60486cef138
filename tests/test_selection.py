"""Tests of pandas_clusters.catalogue.selection (cuts, merge across fields, duplicates, provenance)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pandas_clusters.catalogue.selection import (
    CANDIDATE_COLUMNS,
    SelectionSettings,
    predicted_class_confidence,
    select_candidates,
    write_candidates,
)
from pandas_clusters.core.geometry import projected_radius_kpc
from pandas_clusters.core.io import read_parquet_metadata, write_parquet
from pandas_clusters.core.skymatch import deduplicate_across_fields

ARCSEC = 1.0 / 3600.0


def _sources(field: int, rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["field"] = np.int32(field)
    df["ccd"] = df.get("ccd", pd.Series(np.ones(len(df)))).astype(np.int16)
    for col, default in (("e_gmag", 0.01), ("imag", 19.0), ("e_imag", 0.02), ("flags", 0)):
        df[col] = df[col].fillna(default) if col in df else default
    df["flags"] = df["flags"].astype(np.int32)
    df["rproj_kpc"] = projected_radius_kpc(df["ra"], df["dec"])
    for extra in ("x_g", "y_g", "x_i", "y_i"):
        df[extra] = 10.0
    return df


def _write_field(tmp_path, field: int, rows: list[dict], *, model: str = "resnet50"):
    src = _sources(field, rows)
    prob = src.pop("prob").to_numpy(float)
    inf = pd.DataFrame(
        {
            "source_id": src["source_id"].to_numpy(np.int64),
            "prob_mean": prob,
            "prob_std": np.full(len(src), 0.05),
            "prob_seed1": prob - 0.01,
            "prob_seed0": prob + 0.01,
        }
    )
    s_path = write_parquet(src, tmp_path / f"sources_{field}.parquet")
    i_path = write_parquet(inf, tmp_path / f"inference_{field}.parquet", metadata={"model": model})
    return i_path, s_path


# M31 centre: 10.6847, 41.2690; 0.1 deg is about 1.4 kpc.
RA0, DEC0 = 10.70, 41.30


@pytest.fixture
def two_fields(tmp_path):
    """Field 207 and 208 overlapping around (RA0, DEC0), with one object seen twice."""
    f1 = [
        # passes every cut; duplicate of 2001 (0.4" away), worse photometry
        dict(source_id=1001, ra=RA0, dec=DEC0, gmag=19.0, e_gmag=0.03, prob=0.90),
        dict(source_id=1002, ra=RA0 + 0.01, dec=DEC0, gmag=18.0, prob=0.40),  # below threshold
        dict(source_id=1003, ra=RA0 + 0.02, dec=DEC0, gmag=21.5, prob=0.95),  # too faint
        dict(source_id=1004, ra=RA0 + 0.03, dec=DEC0, gmag=np.nan, prob=0.95),  # no g
        dict(source_id=1005, ra=10.6847, dec=41.2690 + 2.5, gmag=18.0, prob=0.95),  # Rproj 34
        dict(source_id=1006, ra=RA0 + 0.04, dec=DEC0, gmag=18.0, prob=0.95, flags=4),  # flagged
        dict(source_id=1007, ra=RA0 + 0.05, dec=DEC0, gmag=20.0, prob=0.70),  # passes
    ]
    f2 = [
        dict(source_id=2001, ra=RA0 + 0.4 * ARCSEC, dec=DEC0, gmag=19.0, e_gmag=0.01, prob=0.8),
        dict(source_id=2002, ra=RA0 - 0.05, dec=DEC0, gmag=17.0, prob=0.6),  # passes
    ]
    return [_write_field(tmp_path, 207, f1), _write_field(tmp_path, 208, f2)]


def _run(fields, **kw):
    mag_limit = kw.pop("mag_limit", 21.0)
    settings = SelectionSettings.from_config(
        threshold=kw.pop("threshold", 0.5),
        mag_limit=21.0 if mag_limit is None else mag_limit,
        rproj_max_kpc=kw.pop("rproj_max_kpc", 30.0),
        duplicate_radius_arcsec=kw.pop("duplicate_radius_arcsec", 1.0),
        reject_flags=kw.pop("reject_flags", 4),
        model="resnet50",
        exclude_training_positives=kw.pop("exclude_training_positives", False),
    )
    if mag_limit is None:  # the library's "no magnitude cut" (not a config value)
        settings = dataclasses.replace(settings, mag_limit=None)
    inf = [f[0] for f in fields]
    src = [f[1] for f in fields]
    return select_candidates(inf, src, settings=settings, **kw)


def test_cuts_and_duplicates(two_fields):
    df, meta = _run(two_fields)
    # 1001 and 2001 are one object: 2001 has the smaller e_gmag and is kept.
    assert df["source_id"].tolist() == [1007, 2001, 2002]
    row = df.set_index("source_id").loc[2001]
    assert row["n_copies"] == 2
    assert row["duplicate_fields"] == "207"
    assert meta["counts"]["unique"] == 3
    assert list(df.columns[: len(CANDIDATE_COLUMNS)]) == list(CANDIDATE_COLUMNS)
    assert ["prob_seed0", "prob_seed1"] == [c for c in df.columns if c.startswith("prob_seed")]
    assert df["field"].tolist() == [207, 208, 208]
    np.testing.assert_allclose(df["conf"], df["prob_mean"])


def test_counts_follow_each_cut(two_fields):
    _, meta = _run(two_fields)
    c = meta["counts"]
    assert c["inferred"] == 9
    assert c["threshold"] == 8  # 1002 (0.40) fails
    assert c["mag_limit"] == 6  # 1003 (21.5) and 1004 (NaN g) fail
    assert c["rproj"] == 5  # 1005 at 34 kpc fails
    assert c["flags"] == 4  # 1006 has flag bit 4
    assert c["unique"] == 3
    assert meta["settings"]["threshold"] == 0.5
    assert meta["settings"]["model"] == "resnet50"
    assert all(m == {"model": "resnet50"} for m in meta["inference_metadata"].values())


def test_settings_change_the_selection(two_fields):
    df, _ = _run(two_fields, threshold=0.75, reject_flags=0, rproj_max_kpc=40.0)
    # 1007 (0.70), 2002 (0.6) fail the threshold; 1006 and 1005 now pass.
    assert sorted(df["source_id"]) == [1005, 1006, 2001]
    df, _ = _run(two_fields, duplicate_radius_arcsec=0.2)
    assert {1001, 2001} <= set(df["source_id"])
    df, _ = _run(two_fields, mag_limit=None)
    assert 1003 in set(df["source_id"]) and 1004 in set(df["source_id"])


def test_duplicate_rule_prefers_photometry_then_source_id():
    base = dict(field=207, ra=RA0, dec=DEC0, e_imag=0.02, prob_mean=0.7)
    rows = [
        {**base, "source_id": 1, "e_gmag": 0.02},
        {**base, "source_id": 2, "field": 208, "ra": RA0 + 0.3 * ARCSEC, "e_gmag": 0.01},
        {**base, "source_id": 3, "field": 209, "ra": RA0 - 0.3 * ARCSEC, "e_gmag": np.nan},
        # tie on errors: the lower source_id wins (whatever the probability)
        {**base, "source_id": 4, "ra": RA0 + 0.1, "e_gmag": 0.01, "prob_mean": 0.6},
        {**base, "source_id": 5, "field": 208, "ra": RA0 + 0.1, "e_gmag": 0.01, "prob_mean": 0.9},
    ]
    out = deduplicate_across_fields(pd.DataFrame(rows), radius_arcsec=1.0)
    assert out["source_id"].tolist() == [2, 4]
    assert out["n_copies"].tolist() == [3, 2]
    assert out["duplicate_fields"].tolist() == ["207,209", "208"]


def test_duplicate_chain_keeps_two_objects_of_one_field():
    # A and C: two objects of field 207, 1.2" apart; B (field 208) lies between them.
    rows = [
        dict(source_id=1, field=207, ra=RA0, dec=DEC0, e_gmag=0.02),
        dict(source_id=2, field=208, ra=RA0, dec=DEC0 + 0.6 * ARCSEC, e_gmag=0.01),
        dict(source_id=3, field=207, ra=RA0, dec=DEC0 + 1.2 * ARCSEC, e_gmag=0.03),
    ]
    df = pd.DataFrame(rows).assign(e_imag=0.02, prob_mean=0.8)
    out = deduplicate_across_fields(df, radius_arcsec=1.0)
    assert out["source_id"].tolist() == [2, 3]
    # same field only: never merged
    out = deduplicate_across_fields(df.assign(field=207), radius_arcsec=1.0)
    assert len(out) == 3


def test_training_positives(two_fields, tmp_path):
    phat = pd.DataFrame(
        {
            "name": ["AP-1", "AP-far"],
            "ra_deg": [RA0 + 0.05 + 0.2 * ARCSEC, 11.5],
            "dec_deg": [DEC0, 42.0],
        }
    )
    path = write_parquet(phat, tmp_path / "phat_clusters.parquet")
    df, _ = _run(two_fields, training_positives=path)
    assert df.set_index("source_id")["training_positive"].to_dict() == {
        1007: True,
        2001: False,
        2002: False,
    }
    df, meta = _run(two_fields, training_positives=path, exclude_training_positives=True)
    assert 1007 not in set(df["source_id"])
    assert meta["counts"]["training"] == meta["counts"]["flags"] - 1
    with pytest.raises(ValueError, match="no PHAT cluster catalogue"):
        _run(two_fields, exclude_training_positives=True)


def test_bad_inputs(two_fields, tmp_path):
    (inf1, src1), (inf2, src2) = two_fields
    with pytest.raises(ValueError, match="not in the sources file"):
        select_candidates([inf1], [src2], settings=SelectionSettings.from_config())
    with pytest.raises(ValueError, match="in pairs"):
        select_candidates([inf1, inf2], [src1], settings=SelectionSettings.from_config())
    bad = pd.read_parquet(inf1).drop(columns="prob_mean")
    bad_path = write_parquet(bad, tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match=r"bad\.parquet.*prob_mean"):
        select_candidates([bad_path], [src1], settings=SelectionSettings.from_config())
    nan = pd.read_parquet(inf1).assign(prob_mean=np.nan)
    nan_path = write_parquet(nan, tmp_path / "nan.parquet")
    with pytest.raises(ValueError, match="not finite"):
        select_candidates([nan_path], [src1], settings=SelectionSettings.from_config())
    with pytest.raises(ValueError, match="threshold"):
        SelectionSettings.from_config(threshold=1.5)


def test_write_candidates_and_empty_result(two_fields, tmp_path):
    inf = [f[0] for f in two_fields]
    src = [f[1] for f in two_fields]
    out = write_candidates(
        inf,
        src,
        tmp_path / "out" / "candidates.parquet",
        settings=SelectionSettings.from_config(threshold=0.5, mag_limit=21.0, reject_flags=4),
    )
    meta = read_parquet_metadata(out)
    assert meta["stage"] == "selection" and meta["counts"]["unique"] == 3
    empty = write_candidates(
        inf, src, tmp_path / "empty.parquet", settings=SelectionSettings.from_config(threshold=0.99)
    )
    table = pq.read_table(empty)
    assert table.num_rows == 0
    assert list(table.schema.names[: len(CANDIDATE_COLUMNS)]) == list(CANDIDATE_COLUMNS)
    assert not list(tmp_path.glob("**/.*.tmp*"))


def test_from_config_and_confidence():
    s = SelectionSettings.from_config(
        {
            "threshold": 0.669,
            "rproj_max_kpc": 25,
            "duplicate_radius_arcsec": 0.5,
            "exclude_training_positives": True,
            "mag_limit": 21,
        }
    )
    assert (s.threshold, s.rproj_max_kpc, s.duplicate_radius_arcsec) == (0.669, 25.0, 0.5)
    assert s.exclude_training_positives and s.mag_limit == 21.0
    np.testing.assert_allclose(
        predicted_class_confidence([0.9, 0.3, 0.669], 0.669), [0.9, 0.7, 0.669]
    )
