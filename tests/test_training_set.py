"""Tests of pandas_clusters.learn.training_set on small synthetic sources/stamps/catalogues."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pandas_clusters.core.io import read_parquet_metadata, write_parquet
from pandas_clusters.learn.datasets import synthetic_stamps
from pandas_clusters.learn.training_set import (
    SPLITS,
    TrainsetSettings,
    _block_ids,
    assign_splits,
    write_trainset,
)

SIZE = 8
BANDS = ["g", "i"]
# one square brick, 0.1 deg on a side, centred on (10.80, 41.40)
FOOTPRINT = {"1": [[10.75, 41.35], [10.85, 41.35], [10.85, 41.45], [10.75, 41.45]]}
ARCSEC = 1.0 / 3600.0


def _write_field(folder: Path, field: int, df: pd.DataFrame, seed: int) -> tuple[Path, Path]:
    n = len(df)
    df = df.assign(
        source_id=np.int64(field) * 1_000_000 + np.arange(n, dtype=np.int64),
        field=np.int32(field),
        rproj_kpc=1.0,
        flags=df["flags"].astype(np.int32) if "flags" in df else np.int32(0),
        e_gmag=0.01,
        e_imag=0.01,
        ccd=np.int16(1),
    )
    src = write_parquet(df, folder / "sources" / f"{field}.parquet")
    x = synthetic_stamps(df["truth"].to_numpy(), n_bands=2, size=SIZE, seed=seed)
    stamp = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 2 * SIZE * SIZE)
    # stamp flags: HAS_NAN (2) on the stamps with NaN pixels, as cut_stamps writes them
    flags = np.where(np.isnan(x).any(axis=(1, 2, 3)), 2, 0).astype(np.int32)
    table = pa.table({"source_id": df["source_id"].to_numpy(), "stamp": stamp, "flags": flags})
    meta = {"bands": BANDS, "size": SIZE, "pixel_scale_arcsec": 0.187, "dtype": "float32"}
    stamps = write_parquet(table, folder / "stamps" / f"{field}.parquet", metadata=meta)
    return src, stamps


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    folder = tmp_path_factory.mktemp("survey")
    rng = np.random.default_rng(7)
    n = 160
    # a 10 x 16 grid at 20 arcsec spacing: well separated sources
    gx, gy = np.meshgrid(np.arange(10), np.arange(16))
    ra = 10.76 + gx.ravel() * 20 * ARCSEC / np.cos(np.deg2rad(41.4))
    dec = 41.31 + gy.ravel() * 20 * ARCSEC  # part of the grid lies south of the brick
    truth = (np.arange(n) % 4 == 0).astype(np.int8)
    f1 = pd.DataFrame(
        {
            "ra": ra,
            "dec": dec,
            "gmag": rng.uniform(17.0, 21.5, n),
            "imag": rng.uniform(16.0, 21.0, n),
            "truth": truth,
        }
    )
    f1.loc[5, "gmag"] = 22.5  # a faint cluster counterpart (truth index 4 below is 0)
    f1.loc[8, "gmag"] = 22.5
    f1["flags"] = np.int32(0)
    f1.loc[150, "flags"] = np.int32(1)  # EDGE: kept by default, dropped by exclude_flags=1
    # field 2 re-detects three objects of field 1 (overlap) and one of its own
    f2 = pd.concat([f1.iloc[[40, 41, 42]], f1.iloc[[100]].assign(ra=10.84)])
    f2 = f2.reset_index(drop=True)
    f2.loc[:2, "ra"] += 0.2 * ARCSEC
    paths1 = _write_field(folder, 1, f1, seed=1)
    paths2 = _write_field(folder, 2, f2, seed=2)
    # PHAT clusters: at each truth==1 source (offset 0.3"), one 5" from anything
    cl = f1.loc[f1["truth"] == 1, ["ra", "dec"]].to_numpy() + [0.0, 0.3 * ARCSEC]
    cl = np.vstack([cl, [f1.loc[2, "ra"], f1.loc[2, "dec"] + 5 * ARCSEC]])
    clusters = pd.DataFrame(
        {"name": [f"PC{k}" for k in range(len(cl))], "ra_deg": cl[:, 0], "dec_deg": cl[:, 1]}
    )
    clusters["truth_id"] = np.arange(len(cl), dtype=np.int64)
    # an extra source 0.6" from the cluster on source 12: ambiguous, to be dropped
    f3 = f1.iloc[[12]].assign(dec=f1.loc[12, "dec"] + 0.9 * ARCSEC, truth=0).reset_index(drop=True)
    paths3 = _write_field(folder, 3, f3, seed=3)
    galaxies = pd.DataFrame(
        {"name": ["G1", "G2"], "ra_deg": f1.loc[[1, 3], "ra"], "dec_deg": f1.loc[[1, 3], "dec"]}
    )
    write_parquet(clusters, folder / "phat_clusters.parquet")
    write_parquet(galaxies, folder / "phat_galaxies.parquet")
    (folder / "phat_footprint.json").write_text(json.dumps(FOOTPRINT))
    return {
        "folder": folder,
        "sources": [paths1[0], paths2[0], paths3[0]],
        "stamps": [paths1[1], paths2[1], paths3[1]],
        "f1": f1.assign(source_id=1_000_000 + np.arange(n)),
        "f3_id": 3_000_000,
    }


def build(survey, path: Path, **kw) -> pd.DataFrame:
    st = TrainsetSettings.from_config(**({"mag_limit": 22.0, "match_radius_arcsec": 1.0} | kw))
    f = survey["folder"]
    write_trainset(
        path,
        survey["sources"],
        survey["stamps"],
        clusters_path=f / "phat_clusters.parquet",
        galaxies_path=f / "phat_galaxies.parquet",
        footprint_path=f / "phat_footprint.json",
        settings=st,
    )
    return pd.read_parquet(path)


def test_labels_footprint_duplicates_and_mag_limit(survey, tmp_path):
    df = build(survey, tmp_path / "ts.parquet", class_balance="none")
    f1 = survey["f1"]
    inside = (f1["dec"] >= 41.35) & (f1["dec"] <= 41.45) & (f1["ra"] <= 10.85)
    bright = f1["gmag"] <= 22.0
    expected_ids = set(f1.loc[inside & bright, "source_id"])
    expected_ids.add(2_000_003)  # field 2's own source, inside the brick
    assert survey["f3_id"] not in set(df["source_id"])  # ambiguous neighbour of a cluster
    assert set(df["source_id"]) == expected_ids  # field-2 duplicates dropped, faint dropped
    assert df["source_id"].is_monotonic_increasing
    pos = set(df.loc[df["label"] == 1, "source_id"])
    assert pos == set(f1.loc[inside & bright & (f1["truth"] == 1), "source_id"])
    assert (df.loc[df["label"] == 1, "match_sep_arcsec"] < 0.35).all()
    assert (df.loc[df["label"] == 1, "phat_name"].str.startswith("PC")).all()
    gal = set(df.loc[df["is_phat_galaxy"], "source_id"])
    assert gal == set(f1.loc[[1, 3], "source_id"]) & expected_ids
    meta = read_parquet_metadata(tmp_path / "ts.parquet")
    assert meta["bands"] == BANDS and meta["size"] == SIZE and meta["mag_band"] == "g"
    assert sum(c["positive"] for c in meta["counts"].values()) == len(pos)


def test_exclude_flags(survey, tmp_path):
    flagged = 1_000_150
    assert flagged in set(build(survey, tmp_path / "a.parquet")["source_id"])
    assert flagged not in set(build(survey, tmp_path / "b.parquet", exclude_flags=1)["source_id"])
    assert flagged in set(build(survey, tmp_path / "c.parquet", exclude_flags=2)["source_id"])


def test_stamps_follow_their_source(survey, tmp_path):
    build(survey, tmp_path / "ts.parquet")
    ts = pq.read_table(tmp_path / "ts.parquet", columns=["source_id", "stamp"])
    st = pa.concat_tables(pq.read_table(p) for p in survey["stamps"])
    idx = pd.Index(st["source_id"].to_numpy())
    for row in (0, len(ts) // 2, len(ts) - 1):
        sid = ts["source_id"][row].as_py()
        got = np.asarray(ts["stamp"][row].as_py(), np.float32)
        ref = np.asarray(st["stamp"][idx.get_loc(sid)].as_py(), np.float32)
        np.testing.assert_array_equal(got, ref)


def test_split_is_seeded_and_stratified(survey, tmp_path):
    a = build(survey, tmp_path / "a.parquet", split_seed=1)
    b = build(survey, tmp_path / "b.parquet", split_seed=1)
    c = build(survey, tmp_path / "c.parquet", split_seed=2)
    assert (a["split"] == b["split"]).all()
    assert (a["split"] != c["split"]).any()
    assert set(a["split"]) == set(SPLITS)
    for lab in (0, 1):
        sub = a.loc[a["label"] == lab, "split"].value_counts(normalize=True)
        assert sub["train"] == pytest.approx(0.7, abs=0.1)


def test_spatial_blocks_stay_whole(survey, tmp_path):
    df = build(survey, tmp_path / "ts.parquet", split_block_arcsec=60.0)
    blocks = _block_ids(df["ra"], df["dec"], 60.0)
    per_block = pd.Series(df["split"].to_numpy()).groupby(blocks).nunique()
    assert (per_block == 1).all()
    assert len(per_block) > 6
    assert set(df["split"]) == set(SPLITS)


def test_undersample_touches_the_train_split_only(survey, tmp_path):
    full = build(survey, tmp_path / "a.parquet", class_balance="none")
    under = build(
        survey, tmp_path / "b.parquet", class_balance="undersample", negatives_per_positive=1.0
    )
    tr = under[under["split"] == "train"]
    assert (tr["label"] == 0).sum() == (tr["label"] == 1).sum()
    for s in ("validation", "test"):
        assert set(full.loc[full["split"] == s, "source_id"]) == set(
            under.loc[under["split"] == s, "source_id"]
        )


def test_no_positives_is_a_clear_error(survey, tmp_path):
    with pytest.raises(ValueError, match="no positives"):
        build(survey, tmp_path / "ts.parquet", mag_limit=10.0)
    assert not (tmp_path / "ts.parquet").exists()


def test_catalogue_without_columns(survey, tmp_path):
    bad = tmp_path / "bad.parquet"
    write_parquet(pd.DataFrame({"name": ["a"], "RAJ2000": [1.0]}), bad)
    f = survey["folder"]
    with pytest.raises(ValueError, match=r"bad\.parquet.*ra_deg"):
        write_trainset(
            tmp_path / "ts.parquet",
            survey["sources"],
            survey["stamps"],
            clusters_path=bad,
            galaxies_path=None,
            footprint_path=f / "phat_footprint.json",
            settings=TrainsetSettings.from_config(mag_limit=22.0),
        )


def test_settings_validation_and_config():
    with pytest.raises(ValueError, match="class_balance"):
        TrainsetSettings.from_config(mag_limit=21, class_balance="smote")
    with pytest.raises(ValueError, match="sum to 1"):
        TrainsetSettings.from_config(mag_limit=21, split_fractions=(0.5, 0.2, 0.2))
    cfg = {"match_radius_arcsec": 0.5, "split": {"seed": 9, "block_arcsec": 30}}
    st = TrainsetSettings.from_config(cfg, mag_limit=21.5)
    assert (st.mag_limit, st.match_radius_arcsec, st.split_seed) == (21.5, 0.5, 9)
    assert st.split_block_arcsec == 30.0


def test_assign_splits_fractions():
    labels = np.r_[np.zeros(80, int), np.ones(20, int)]
    out = assign_splits(labels, fractions=(0.6, 0.2, 0.2), seed=0)
    assert (out[labels == 1] == "train").sum() == 12
    assert (out[labels == 0] == "test").sum() == 16
