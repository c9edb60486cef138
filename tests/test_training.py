"""Tests of pandas_clusters.learn.datasets and pandas_clusters.learn.training (tiny CPU runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from pandas_clusters.core.io import write_parquet
from pandas_clusters.learn.datasets import DeviceBatches, augment, load_split, synthetic_stamps
from pandas_clusters.learn.models import load_model, read_weights_metadata
from pandas_clusters.learn.training import (
    ResumeWarning,
    TrainSettings,
    class_weights,
    epoch_negative_fraction,
    train,
    validate,
)

torch.set_num_threads(1)

SRC = Path(__file__).resolve().parents[1] / "src"


def write_toy_trainset(
    path: Path,
    *,
    n_train: int = 36,
    n_val: int = 12,
    n_test: int = 12,
    size: int = 16,
    seed: int = 0,
    positives: bool = True,
    class_balance: str = "weighted",
) -> Path:
    """A training-set Parquet file as trainset.write_trainset writes it, from toy stamps."""
    rng = np.random.default_rng(seed)
    split = np.array(["train"] * n_train + ["validation"] * n_val + ["test"] * n_test)
    n = len(split)
    label = (np.arange(n) % 5 < 2).astype(np.int8) if positives else np.zeros(n, np.int8)
    x = synthetic_stamps(label, n_bands=2, size=size, seed=seed)
    df = pd.DataFrame(
        {
            "source_id": np.arange(n, dtype=np.int64) + 1000,
            "field": np.ones(n, np.int32),
            "ra": 10.7 + rng.uniform(0, 0.1, n),
            "dec": 41.3 + rng.uniform(0, 0.1, n),
            "gmag": rng.uniform(17.0, 21.0, n),
            "label": label,
            "split": split,
        }
    )
    table = pa.Table.from_pandas(df, preserve_index=False)
    stamp = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 2 * size * size)
    table = table.append_column("stamp", stamp)
    meta = {"bands": ["g", "i"], "size": size, "mag_limit": 21.0, "class_balance": class_balance}
    return write_parquet(table, path, metadata=meta)


def settings(**kw) -> TrainSettings:
    base = {
        "model": "resnet18",
        "mag_limit": 21.0,
        "seed": 3,
        "max_epochs": 1,
        "batch_size": 12,
        "learning_rate": 1e-3,
        "device": "cpu",
    }
    return TrainSettings.from_config(**(base | kw))


def outputs(folder: Path) -> dict[str, Path]:
    return {
        "weights_path": folder / "weights.safetensors",
        "history_path": folder / "history.csv",
        "settings_path": folder / "settings.json",
        "checkpoint_path": folder / "checkpoint.pt",
    }


@pytest.fixture(scope="module")
def trainset(tmp_path_factory) -> Path:
    return write_toy_trainset(tmp_path_factory.mktemp("ts") / "trainset.parquet")


def test_one_epoch_cpu_smoke(trainset, tmp_path):
    out = outputs(tmp_path)
    result = train(trainset, settings=settings(), progress=False, **out)
    assert result.epochs_run == 1
    assert result.resumed_from_epoch == 0
    assert result.device == "cpu"
    hist = pd.read_csv(out["history_path"])
    assert list(hist["epoch"]) == [1]
    assert np.isfinite(hist["train_loss"]).all() and np.isfinite(hist["val_loss"]).all()
    meta = read_weights_metadata(out["weights_path"])
    assert meta["model"] == "resnet18" and meta["bands"] == ["g", "i"] and meta["size"] == 16
    model = load_model(out["weights_path"])
    with torch.inference_mode():
        assert model(torch.zeros(2, 2, 16, 16)).shape == (2, 2)
    resolved = json.loads(out["settings_path"].read_text())
    assert resolved["settings"]["model"] == "resnet18"
    assert resolved["trainset"]["n_train"] == 36
    assert resolved["class_weights"] is not None  # class_balance "weighted"
    assert not out["checkpoint_path"].exists()  # deleted after a completed run


@pytest.mark.parametrize(
    ("monitor", "epochs_run", "best_epoch"),
    [("val_average_precision", 6, 6), ("val_loss", 3, 1)],
)
def test_early_stopping_follows_the_monitored_statistic(
    trainset, tmp_path, monkeypatch, monitor, epochs_run, best_epoch
):
    # the demo's case: the class-weighted validation loss rises while the ranking of the
    # validation sources (average precision) improves; only the loss stops the training
    import pandas_clusters.learn.training as training

    epoch = iter(range(100))

    def scripted(*args, **kwargs):
        k = next(epoch)
        return {
            "val_loss": 0.3 + 0.1 * k,
            "val_accuracy": 0.9,
            "val_f1": 0.5,
            "val_average_precision": 0.4 + 0.05 * k,
        }

    monkeypatch.setattr(training, "validate", scripted)
    out = outputs(tmp_path)
    result = train(
        trainset,
        settings=settings(max_epochs=6, patience=2, monitor=monitor),
        progress=False,
        **out,
    )
    assert result.epochs_run == epochs_run
    assert result.best_epoch == best_epoch
    assert result.monitor == monitor
    hist = pd.read_csv(out["history_path"])
    assert list(hist["is_best"]).index(True) == 0
    assert hist["is_best"].sum() == (6 if monitor == "val_average_precision" else 1)
    assert result.best_val_loss == pytest.approx(0.3 + 0.1 * (best_epoch - 1))
    expected = (
        0.4 + 0.05 * (best_epoch - 1)
        if monitor == "val_average_precision"
        else result.best_val_loss
    )
    assert result.best_value == pytest.approx(expected)
    assert json.loads(out["settings_path"].read_text())["result"]["monitor"] == monitor


@pytest.mark.parametrize(("min_epochs", "epochs_run"), [(1, 3), (5, 5), (6, 6), (9, 6)])
def test_early_stopping_waits_for_min_epochs(
    trainset, tmp_path, monkeypatch, min_epochs, epochs_run
):
    # the sixteenth demo's seed 1: the validation average precision peaks early, by chance,
    # and patience alone ends the run while the cosine schedule's learning rate is high
    import pandas_clusters.learn.training as training

    epoch = iter(range(100))

    def scripted(*args, **kwargs):
        k = next(epoch)
        ap = [0.55, 0.43, 0.44, 0.54, 0.17, 0.50][k]
        return {"val_loss": 0.3, "val_accuracy": 0.9, "val_f1": 0.5, "val_average_precision": ap}

    monkeypatch.setattr(training, "validate", scripted)
    out = outputs(tmp_path)
    result = train(
        trainset,
        settings=settings(max_epochs=6, patience=2, min_epochs=min_epochs),
        progress=False,
        **out,
    )
    assert result.epochs_run == epochs_run
    assert result.best_epoch == 1
    assert result.stopped_early == (epochs_run < 6)


def test_validation_average_precision():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1, 2))
    with torch.no_grad():  # logit difference = the pixel: the ranking follows x
        model[1].weight.copy_(torch.tensor([[0.0], [1.0]]))
        model[1].bias.zero_()
    crit = torch.nn.CrossEntropyLoss()
    cpu = torch.device("cpu")
    x = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5]).reshape(5, 1, 1, 1)
    perfect = validate(model, x, torch.tensor([0, 0, 0, 1, 1]), crit, device=cpu, batch_size=2)
    assert perfect["val_average_precision"] == pytest.approx(1.0)
    # positives ranked 1st and 4th: precision 1 at recall 1/2, 2/4 at recall 1
    mixed = validate(model, x, torch.tensor([0, 1, 0, 0, 1]), crit, device=cpu, batch_size=2)
    assert mixed["val_average_precision"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 4)
    none = validate(model, x, torch.zeros(5, dtype=torch.long), crit, device=cpu, batch_size=2)
    assert np.isnan(none["val_average_precision"])


def test_validation_without_positives_fails_for_the_average_precision(tmp_path):
    path = write_toy_trainset(tmp_path / "ts.parquet")
    table = pq.read_table(path)
    df = table.to_pandas()
    keep = ~((df["split"] == "validation") & (df["label"] == 1))
    meta = {"bands": ["g", "i"], "size": 16, "mag_limit": 21.0, "class_balance": "weighted"}
    path = write_parquet(
        table.filter(pa.array(keep.to_numpy())), tmp_path / "nopos.parquet", metadata=meta
    )
    with pytest.raises(
        ValueError, match=r"nopos.parquet.*no positives.*training.monitor: val_loss"
    ):
        train(path, settings=settings(), progress=False, **outputs(tmp_path))
    result = train(path, settings=settings(monitor="val_loss"), progress=False, **outputs(tmp_path))
    assert result.epochs_run == 1


def test_unknown_monitor_is_refused():
    with pytest.raises(ValueError, match="training.monitor: .val_accuracy. is not one of"):
        settings(monitor="val_accuracy")


def test_validation_loss_is_the_weighted_mean_over_the_split():
    # with class weights, each batch's loss is ITS weighted mean; the split's loss must
    # weigh the batches by their summed weights, or it depends on the batch size and on
    # which batch a (heavily weighted) cluster falls in
    from pandas_clusters.learn.models import build_model
    from pandas_clusters.learn.normalize import normalize_stamps

    torch.manual_seed(3)
    labels = (np.arange(40) % 7 == 0).astype(np.int64)
    x = torch.from_numpy(normalize_stamps(synthetic_stamps(labels, size=16, seed=1)))
    y = torch.from_numpy(labels)
    model = build_model("resnet18", in_channels=2).eval()
    crit = torch.nn.CrossEntropyLoss(weight=torch.tensor([0.6, 4.0]))
    cpu = torch.device("cpu")
    with torch.inference_mode():
        whole = float(crit(model(x), y))
    for batch_size in (3, 8, 512):
        got = validate(model, x, y, crit, device=cpu, batch_size=batch_size)["val_loss"]
        assert got == pytest.approx(whole, rel=1e-4)  # float32 rounding of the convolutions


def test_no_positives_in_train_fails(tmp_path):
    path = write_toy_trainset(tmp_path / "neg.parquet", positives=False)
    with pytest.raises(ValueError, match="no positives"):
        train(path, settings=settings(), progress=False, **outputs(tmp_path))


def test_unknown_model_lists_choices(trainset, tmp_path):
    with pytest.raises(ValueError, match="resnet50.*efficientnet_b0"):
        train(trainset, settings=settings(model="resnet9000"), progress=False, **outputs(tmp_path))


def test_nan_pixels_are_normalised_away(trainset):
    raw = pq.read_table(trainset, columns=["stamp"])["stamp"]
    assert np.isnan(raw.combine_chunks().flatten().to_numpy()).any()  # the fixture has NaN
    for split in ("train", "validation", "test"):
        data = load_split(trainset, split)
        assert data.x.dtype == np.float32 and np.isfinite(data.x).all()


def test_network_never_sees_nan(trainset, tmp_path, monkeypatch):
    import pandas_clusters.learn.training as train_module

    seen = []

    def build_with_probe(*args, **kwargs):
        model = train_module_build(*args, **kwargs)
        model.register_forward_pre_hook(
            lambda mod, inp: seen.append(bool(torch.isfinite(inp[0]).all()))
        )
        return model

    train_module_build = train_module.build_model
    monkeypatch.setattr(train_module, "build_model", build_with_probe)
    train(trainset, settings=settings(), progress=False, **outputs(tmp_path))
    assert len(seen) >= 4  # 3 train batches + validation
    assert all(seen)


def test_augment_is_a_seeded_dihedral_shift():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5)
    g1 = torch.Generator().manual_seed(1)
    g2 = torch.Generator().manual_seed(1)
    a = augment(x, generator=g1, max_shift=0)
    assert torch.equal(a, augment(x, generator=g2, max_shift=0))
    for k in range(2):
        candidates = [torch.rot90(x[k], r, dims=(1, 2)) for r in range(4)]
        candidates += [torch.flip(c, dims=(2,)) for c in candidates]
        assert any(torch.equal(a[k], c) for c in candidates)
    # a pure shift: every output pixel is an input pixel moved by at most max_shift, or 0
    s = augment(x, generator=torch.Generator().manual_seed(5), max_shift=2, flips=False)
    for k in range(2):
        ok = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                ref = torch.zeros_like(x[k])
                ys, yd = slice(max(0, -dy), 5 - max(0, dy)), slice(max(0, dy), 5 - max(0, -dy))
                xs, xd = slice(max(0, -dx), 5 - max(0, dx)), slice(max(0, dx), 5 - max(0, -dx))
                ref[:, yd, xd] = x[k][:, ys, xs]
                ok |= torch.equal(s[k], ref)
        assert ok


KILL_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook
    torch.set_num_threads(1)
    from pandas_clusters.learn.training import TrainSettings, train

    cfg = json.loads(sys.argv[1])
    flag = Path(cfg.pop("flag"))
    steps_per_epoch = cfg.pop("steps_per_epoch")
    out = {k: cfg.pop(k) for k in ("weights_path", "history_path", "settings_path",
                                    "checkpoint_path")}
    trainset = cfg.pop("trainset")
    n = {"steps": 0}

    def hang_mid_second_epoch(optimizer, args, kwargs):
        n["steps"] += 1
        if n["steps"] == steps_per_epoch + 1:  # one step into epoch 2
            flag.write_text("hanging")
            time.sleep(600)

    register_optimizer_step_post_hook(hang_mid_second_epoch)
    train(trainset, settings=TrainSettings.from_config(**cfg), progress=False, **out)
    """
)


def test_killed_training_resumes_from_checkpoint(trainset, tmp_path):
    st = settings(max_epochs=3, patience=10)
    out = outputs(tmp_path / "killed")
    flag = tmp_path / "flag"
    payload = st.to_dict() | {k: str(v) for k, v in out.items()}
    payload |= {"flag": str(flag), "steps_per_epoch": 3, "trainset": str(trainset)}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, json.dumps(payload)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180
        while not flag.exists():
            if proc.poll() is not None:
                pytest.fail(f"training subprocess exited early: {proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("training subprocess never reached epoch 2")
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert out["checkpoint_path"].is_file()
    assert torch.load(out["checkpoint_path"], weights_only=True)["epoch"] == 1
    assert not out["weights_path"].exists()

    result = train(trainset, settings=st, progress=False, **out)
    assert result.resumed_from_epoch == 1
    hist = pd.read_csv(out["history_path"])
    assert list(hist["epoch"]) == [1, 2, 3]
    assert list(hist["session"]) == [0, 1, 1]

    # the same run without interruption gives the same numbers
    ref_out = outputs(tmp_path / "straight")
    ref = train(trainset, settings=st, progress=False, **ref_out)
    assert ref.resumed_from_epoch == 0
    ref_hist = pd.read_csv(ref_out["history_path"])
    for col in ("train_loss", "val_loss"):
        np.testing.assert_allclose(hist[col], ref_hist[col], rtol=1e-5)


def test_checkpoint_of_other_settings_is_not_resumed(trainset, tmp_path):
    out = outputs(tmp_path)
    st = settings(max_epochs=2, keep_checkpoint=True)
    train(trainset, settings=st, progress=False, **out)
    assert out["checkpoint_path"].is_file()
    with pytest.warns(ResumeWarning, match="starts over"):
        result = train(trainset, settings=replace(st, seed=4), progress=False, **out)
    assert result.resumed_from_epoch == 0
    # same settings: the completed checkpoint is reused, nothing retrained
    again = train(trainset, settings=replace(st, seed=4), progress=False, **out)
    assert again.resumed_from_epoch == 2 and again.epochs_run == 2


def test_settings_from_config():
    cfg = {
        "max_epochs": 7,
        "batch_size": 64,
        "pretrained_weights": {"resnet50": "/data/resnet50.safetensors"},
    }
    st = TrainSettings.from_config(cfg, model="resnet50", mag_limit=21.5, seed=2)
    assert (st.max_epochs, st.batch_size, st.seed) == (7, 64, 2)
    assert st.pretrained_path == "/data/resnet50.safetensors"
    assert (
        TrainSettings.from_config(cfg, model="resnet18", mag_limit=21, seed=0).pretrained_path
        is None
    )
    with pytest.raises(ValueError, match="max_epochs"):
        TrainSettings.from_config(model="resnet18", mag_limit=21, seed=0, max_epochs=0)


def _epochs(batches: DeviceBatches, n: int) -> list[torch.Tensor]:
    """The rows of ``n`` epochs, identified by the sample value each stamp carries."""
    return [torch.cat([xb[:, 0, 0, 0] for xb, _ in batches]).long() for _ in range(n)]


def test_epoch_draws_every_positive_and_new_negatives():
    y = np.array([1] * 10 + [0] * 90)
    x = np.broadcast_to(np.arange(100, dtype=np.float32)[:, None, None, None], (100, 1, 4, 4))
    fraction = epoch_negative_fraction(y, 3.0)
    assert fraction == pytest.approx(30 / 90)
    assert epoch_negative_fraction(y, None) == 1.0 and epoch_negative_fraction(y, 20.0) == 1.0

    def batches(seed: int, f: float) -> DeviceBatches:
        gen = torch.Generator().manual_seed(seed)
        return DeviceBatches(
            x.copy(),
            y,
            device=torch.device("cpu"),
            batch_size=16,
            generator=gen,
            augment=False,
            negative_fraction=f,
        )

    drawn = batches(0, fraction)
    assert drawn.samples_per_epoch == 40 and len(drawn) == 3
    epochs = _epochs(drawn, 4)
    for rows in epochs:
        assert len(rows) == 40 and len(set(rows.tolist())) == 40
        assert set(range(10)) <= set(rows.tolist())  # every positive, every epoch
    negatives = [frozenset(r.tolist()) - set(range(10)) for r in epochs]
    assert len(set(negatives)) == 4  # a new draw each epoch
    assert len(frozenset().union(*negatives)) > 60  # reaching most of the 90 over 4 epochs
    again = _epochs(batches(0, fraction), 4)
    assert all(torch.equal(a, b) for a, b in zip(epochs, again, strict=True))  # seeded
    whole = _epochs(batches(0, 1.0), 1)[0]
    assert sorted(whole.tolist()) == list(range(100))
    with pytest.raises(ValueError, match="negative_fraction"):
        batches(0, 0.0)


def test_loss_weights_balance_the_epoch_mix():
    y = np.array([1] * 10 + [0] * 90)
    w = class_weights(y, "weighted", 1 / 3).numpy()  # 10 positives, 30 negatives per epoch
    assert w[1] * 10 == pytest.approx(w[0] * 30)
    full = class_weights(y, "weighted").numpy()  # the validation split's natural mix
    assert full[1] * 10 == pytest.approx(full[0] * 90)
    assert class_weights(y, "none", 1 / 3) is None


def test_training_with_epoch_negatives(tmp_path):
    path = write_toy_trainset(tmp_path / "ts.parquet", n_train=60)  # 24 positives, 36 negatives
    out = outputs(tmp_path / "run")
    train(path, settings=settings(epoch_negatives_per_positive=0.5), progress=False, **out)
    resolved = json.loads(out["settings_path"].read_text())
    assert resolved["settings"]["epoch_negatives_per_positive"] == 0.5
    w = resolved["class_weights"]  # 24 positives and 12 drawn negatives per epoch
    assert w[0] * 12 == pytest.approx(w[1] * 24)
    with pytest.raises(ValueError, match="epoch_negatives_per_positive"):
        settings(epoch_negatives_per_positive=0)
