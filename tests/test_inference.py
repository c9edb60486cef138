"""Tests of pandas_clusters.catalogue.inference."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from pandas_clusters.catalogue.inference import InferenceSettings, predict_stamps
from pandas_clusters.core.io import read_parquet_metadata, write_parquet
from pandas_clusters.learn.datasets import synthetic_stamps
from pandas_clusters.learn.models import build_model, load_model, predict_proba, save_weights

torch.set_num_threads(1)
SIZE = 16


def write_stamps(path, n: int, *, bands=("g", "i"), seed: int = 0):
    labels = np.arange(n) % 2
    x = synthetic_stamps(labels, n_bands=len(bands), size=SIZE, seed=seed, nan_fraction=0.3)
    stamp = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), len(bands) * SIZE * SIZE)
    ids = np.arange(n, dtype=np.int64) * 7 + 5
    # HAS_NAN (2) on the stamps with NaN pixels, as cut_stamps writes them (readers check)
    flags = np.where(np.isnan(x).any(axis=(1, 2, 3)), 2, 0).astype(np.int32)
    table = pa.table({"source_id": ids, "stamp": stamp, "flags": flags})
    meta = {"bands": list(bands), "size": SIZE, "pixel_scale_arcsec": 0.187}
    write_parquet(table, path, metadata=meta, row_group_size=16)
    return ids, x


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("w")
    paths = []
    for seed in (3, 4):
        torch.manual_seed(seed)
        model = build_model("resnet18", in_channels=2)
        meta = {
            "model": "resnet18",
            "in_channels": 2,
            "bands": ["g", "i"],
            "size": SIZE,
            "mag_limit": 21.0,
            "seed": seed,
        }
        paths.append(save_weights(model, folder / f"seed{seed}.safetensors", metadata=meta))
    return paths


def test_predict_streams_and_ensembles(weights, tmp_path):
    ids, x = write_stamps(tmp_path / "stamps.parquet", 50)
    assert np.isnan(x).any()
    assert pq.ParquetFile(tmp_path / "stamps.parquet").num_row_groups > 1
    out = predict_stamps(
        tmp_path / "stamps.parquet",
        weights,
        settings=InferenceSettings.from_config(batch_size=7, device="cpu", mag_limit=None),
        output_path=tmp_path / "pred.parquet",
        progress=False,
    )
    df = pq.read_table(out).to_pandas()
    assert list(df.columns) == ["source_id", "prob_seed3", "prob_seed4", "prob_mean", "prob_std"]
    np.testing.assert_array_equal(df["source_id"], ids)
    probs = df[["prob_seed3", "prob_seed4"]].to_numpy()
    assert np.isfinite(probs).all() and ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(df["prob_mean"], probs.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(df["prob_std"], probs.std(axis=1), rtol=1e-5, atol=1e-7)
    # batching does not change the answer: same as one pass over the whole array
    ref = predict_proba(load_model(weights[0]), x, batch_size=64)
    np.testing.assert_allclose(df["prob_seed3"], ref, rtol=1e-4, atol=1e-6)
    meta = read_parquet_metadata(out)
    assert meta["seeds"] == [3, 4] and meta["model"] == "resnet18"


def test_empty_stamps_give_empty_predictions(weights, tmp_path):
    write_stamps(tmp_path / "stamps.parquet", 0)
    out = predict_stamps(
        tmp_path / "stamps.parquet",
        weights[:1],
        settings=InferenceSettings.from_config(device="cpu", mag_limit=None),
        output_path=tmp_path / "pred.parquet",
    )
    table = pq.read_table(out)
    assert table.num_rows == 0
    assert table.column_names == ["source_id", "prob_seed3", "prob_mean", "prob_std"]


def test_band_mismatch_is_an_error(weights, tmp_path):
    write_stamps(tmp_path / "stamps.parquet", 4, bands=("i", "g"))
    with pytest.raises(ValueError, match=r"bands \['i', 'g'\].*trained on bands \['g', 'i'\]"):
        predict_stamps(
            tmp_path / "stamps.parquet",
            weights,
            settings=InferenceSettings.from_config(device="cpu", mag_limit=None),
            output_path=tmp_path / "pred.parquet",
        )
    assert not (tmp_path / "pred.parquet").exists()


def test_same_seed_twice_is_an_error(weights, tmp_path):
    write_stamps(tmp_path / "stamps.parquet", 4)
    with pytest.raises(ValueError, match="same seed"):
        predict_stamps(
            tmp_path / "stamps.parquet",
            [weights[0], weights[0]],
            settings=InferenceSettings.from_config(device="cpu", mag_limit=None),
            output_path=tmp_path / "pred.parquet",
        )


def test_mag_limit_classifies_only_bright_sources(weights, tmp_path):
    ids, _ = write_stamps(tmp_path / "stamps.parquet", 40)
    gmag = np.linspace(18.0, 24.0, ids.size)
    gmag[3] = np.nan  # no g measurement: never classified under a limit
    write_parquet(pa.table({"source_id": ids, "gmag": gmag}), tmp_path / "sources.parquet")
    settings = InferenceSettings.from_config(batch_size=8, device="cpu", mag_limit=21.0)
    out = predict_stamps(
        tmp_path / "stamps.parquet",
        weights,
        settings=settings,
        output_path=tmp_path / "pred.parquet",
        sources_path=tmp_path / "sources.parquet",
        progress=False,
    )
    df = pq.read_table(out).to_pandas()
    np.testing.assert_array_equal(df["source_id"], ids[gmag <= 21.0])
    full = predict_stamps(
        tmp_path / "stamps.parquet",
        weights,
        settings=InferenceSettings.from_config(batch_size=8, device="cpu", mag_limit=None),
        output_path=tmp_path / "all.parquet",
        progress=False,
    )
    ref = pq.read_table(full).to_pandas().set_index("source_id").loc[df["source_id"]]
    np.testing.assert_allclose(df["prob_mean"], ref["prob_mean"], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no sources table"):
        predict_stamps(
            tmp_path / "stamps.parquet",
            weights,
            settings=settings,
            output_path=tmp_path / "x.parquet",
        )
