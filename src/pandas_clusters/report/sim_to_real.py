"""Sim-to-real check: does what the mock teaches transfer to real PAndAS pixels?

A classifier of the project's recipe (a torchvision resnet18 on one band) is
trained on *mock* cutouts only, rendered in the real cutouts' format (g band,
the 8-bit zscale + arcsinh recipe of :mod:`pandas_clusters.report.realism`,
128 px binned 2 x 2 to 64 px), with labels from the mock truth: clusters
(the mock's old and young clusters brighter than g = 21, half each; the old ones
from the whole halo the survey maps) against
background galaxies (brighter than g = 20) and luminous stars. It is then
scored on the shared real cutouts: RBC confirmed clusters (class 1) against
RBC background galaxies (class 4). The real cutouts are a test set only:
nothing is trained, tuned or selected on them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .realism import (
    CUTOUT_SIZE,
    RADIUS_BINS_KPC,
    mock_cutout,
    radius_bin,
    read_png,
    read_real_cutouts,
)

__all__ = ["mock_training_cutouts", "old_cluster_pool", "train_and_score", "write_sim_to_real"]

CLUSTER_FAINT_MAG = 21.0
#: Projected radius (kpc) out to which PAndAS maps M31's halo and finds its globular
#: clusters (Huxor+ 2014: 59 new GCs out to Rproj ~ 150 kpc): the old-cluster positives
#: come from the whole of it, not only from the mock catalogues' area.
HALO_RPROJ_KPC = 150.0
GALAXY_FAINT_MAG = 20.0
STAR_MAG_RANGE = (16.0, 21.0)
_KEY0 = 500_000  # noise seeds of the training cutouts differ from the report's


def _bin2(images: np.ndarray) -> np.ndarray:
    n, h, w = images.shape
    return images.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4)).astype(np.float32) / 255.0


def old_cluster_pool(settings) -> pd.DataFrame:
    """The mock's globular clusters brighter than ``CLUSTER_FAINT_MAG`` out to ``HALO_RPROJ_KPC``."""
    import dataclasses

    from pandas_clusters.acquire.mock.population import catalogue_truth
    from pandas_clusters.core.geometry import M31

    halo_deg = float(np.rad2deg(HALO_RPROJ_KPC / M31.distance_kpc))
    halo = catalogue_truth(
        dataclasses.replace(
            settings, catalogue_radius_deg=max(halo_deg, settings.catalogue_radius_deg)
        ),
        kinds=("globular_cluster",),
    )
    return halo.loc[halo["gmag"] < CLUSTER_FAINT_MAG].reset_index(drop=True)


def mock_training_cutouts(settings, *, n_per_class: int, seed: int):
    """Mock cutouts in the real format: (images uint8 (N, 128, 128), labels, index).

    Positives: mock clusters (half old, half young) at their own positions, the
    old ones from the whole halo (``HALO_RPROJ_KPC``); negatives: half mock
    galaxies, half luminous mock stars (foreground or M31), at their own positions.
    """
    from pandas_clusters.acquire.mock.population import (
        CATALOGUE_KINDS,
        catalogue_truth,
        draw_region,
    )

    rng = np.random.default_rng([int(seed), 66])
    # the stars come from draw_region below (the catalogue truth's are too bright)
    pool = catalogue_truth(settings, kinds=tuple(k for k in CATALOGUE_KINDS if k != "star"))
    bright = pool["gmag"] < CLUSTER_FAINT_MAG
    old_clusters = old_cluster_pool(settings)
    young_clusters = pool.loc[(pool["kind"] == "young_cluster") & bright]
    galaxies = pool.loc[(pool["kind"] == "galaxy") & (pool["gmag"] < GALAXY_FAINT_MAG)]
    stars = draw_region(settings, xi_range=(-0.3, 0.3), eta_range=(-0.3, 0.3), kinds=("star",))
    lo, hi = STAR_MAG_RANGE
    stars = stars.loc[stars["gmag"].between(lo, hi)].drop(columns=["xi", "eta"])
    n_gal = n_old = n_per_class // 2
    picks = [
        (old_clusters, n_old, 1),
        (young_clusters, n_per_class - n_old, 1),
        (galaxies, n_gal, 0),
        (stars, n_per_class - n_gal, 0),
    ]
    images, labels, rows = [], [], []
    for frame, n, label in picks:
        take = frame.iloc[rng.choice(len(frame), size=min(n, len(frame)), replace=False)]
        for _, obj in take.iterrows():
            key = _KEY0 + len(images)
            images.append(mock_cutout(settings, obj["ra"], obj["dec"], obj, key=key))
            labels.append(label)
            rows.append({"kind": obj["kind"], "gmag": obj["gmag"], "rproj_kpc": obj["rproj_kpc"]})
    return np.stack(images), np.asarray(labels, dtype=np.int64), pd.DataFrame(rows)


def _augment(x, rng):
    k = int(rng.integers(4))
    x = np.rot90(x, k, axes=(-2, -1))
    if rng.random() < 0.5:
        x = x[..., ::-1]
    return np.ascontiguousarray(x)


def _predict(model, x):
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for a in range(0, len(x), 256):
            logits = model(torch.from_numpy(x[a : a + 256, None]))
            out.append(torch.softmax(logits, dim=1)[:, 1].numpy())
    return np.concatenate(out) if out else np.zeros(0)


#: Share of the mock training cutouts kept aside to choose the best epoch (mock only).
VALIDATION_FRACTION = 0.15


def train_and_score(train_x, train_y, tests: dict, *, seed: int, epochs: int = 8) -> dict:
    """Train a resnet18 on ``train_x`` (N, 64, 64 floats in 0..1); ROC AUC on each test set.

    As the project's training (:mod:`pandas_clusters.learn.training`): AdamW, the
    learning rate on a cosine schedule over ``epochs``, and the weights of the epoch
    with the best average precision (``training.monitor``'s default) on a validation
    split of the mock training cutouts (:data:`VALIDATION_FRACTION` of them, drawn with
    ``seed``), so that one training's result is not that of whichever epoch came last.

    Parameters
    ----------
    tests : dict
        name -> (x, y) evaluated after training (never used to train or select).

    Returns
    -------
    dict
        name -> ROC AUC for each test set, and ``best_epoch`` (1-based).
    """
    import copy

    import torch

    from pandas_clusters.learn.metrics import pr_curve, roc_curve
    from pandas_clusters.learn.models import build_model

    torch.manual_seed(int(seed))
    rng = np.random.default_rng([int(seed), 7])
    val = rng.random(len(train_x)) < VALIDATION_FRACTION
    if not (val.any() and (~val).any()):
        val = np.zeros(len(train_x), dtype=bool)
    fit = np.flatnonzero(~val)
    model = build_model("resnet18", in_channels=1, num_classes=2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(int(epochs), 1))
    loss_fn = torch.nn.CrossEntropyLoss()
    best_ap, best_epoch, best_state = -np.inf, int(epochs), None
    for epoch in range(1, int(epochs) + 1):
        model.train()
        order = rng.permutation(fit)
        for a in range(0, len(order), 64):
            idx = order[a : a + 64]
            xb = np.stack([_augment(train_x[i], rng) for i in idx])
            opt.zero_grad()
            loss = loss_fn(model(torch.from_numpy(xb[:, None])), torch.from_numpy(train_y[idx]))
            loss.backward()
            opt.step()
        schedule.step()
        if val.any() and len(np.unique(train_y[val])) == 2:
            ap = pr_curve(train_y[val], _predict(model, train_x[val]))[2]
            if ap > best_ap:
                best_ap, best_epoch, best_state = ap, epoch, copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    scores = {name: roc_curve(y, _predict(model, x))[2] for name, (x, y) in tests.items()}
    return {**scores, "best_epoch": best_epoch}


def _real_test_set(reference: Path):
    """(images, labels, projected-radius bin) of the real cutouts."""
    real = read_real_cutouts(reference / "pandas-cutouts-klemenz")
    images = np.stack([read_png(p) for p in real["path"]])
    keep = np.array([im.shape == (CUTOUT_SIZE, CUTOUT_SIZE) for im in images])
    return (
        _bin2(images[keep]),
        (real["cls"].to_numpy()[keep] == "cluster").astype(np.int64),
        radius_bin(real["rproj_kpc"].to_numpy()[keep]),
    )


def _real_tests(real_x, real_y, real_bin) -> dict:
    """The real test sets: all clusters against all galaxies, and each radius bin's clusters."""
    tests = {"real_rbc": (real_x, real_y)}
    for b in dict.fromkeys(radius_bin(np.asarray(RADIUS_BINS_KPC[:-1]))):
        sel = (real_y == 0) | (real_bin == b)
        if (real_y[sel] == 1).any() and (real_y[sel] == 0).any():
            tests[f"real_clusters_{b}"] = (real_x[sel], real_y[sel])
    return tests


def write_sim_to_real(
    settings,
    reference,
    out,
    *,
    n_per_class: int,
    seed: int,
    epochs: int,
    command: str,
    trainings: int = 3,
) -> dict:
    """Render, train on the mock, score on mock hold-out and the real cutouts; write ``out`` (JSON).

    The network is trained ``trainings`` times on the same cutouts (seeds ``seed``,
    ``seed + 1``, ...: initial weights, batch order and augmentation); the result holds
    each training's AUCs and their mean and standard deviation. One training's AUC on
    the real cutouts moves by several hundredths from one seed (or torch build) to the
    next, more than most changes of the mock do.
    """
    import torch

    from pandas_clusters.core.io import atomic_path

    if trainings < 1:
        msg = f"trainings must be >= 1, got {trainings}"
        raise ValueError(msg)
    torch.set_num_threads(1)
    images, labels, index = mock_training_cutouts(settings, n_per_class=n_per_class, seed=seed)
    x = _bin2(images)
    rng = np.random.default_rng([int(seed), 8])
    hold = rng.random(len(x)) < 0.2
    real_x, real_y, real_bin = _real_test_set(Path(reference))
    tests = {"mock_holdout": (x[hold], labels[hold]), **_real_tests(real_x, real_y, real_bin)}
    runs = [
        train_and_score(x[~hold], labels[~hold], tests, seed=seed + k, epochs=epochs)
        for k in range(int(trainings))
    ]
    by_bin = {}
    for name in tests:
        if name.startswith("real_clusters_"):
            aucs = np.array([r[name] for r in runs], dtype=float)
            by_bin[name.removeprefix("real_clusters_")] = {
                "n_clusters": int(tests[name][1].sum()),
                "auc_runs": [round(float(v), 4) for v in aucs],
                "auc": round(float(aucs.mean()), 4),
                "auc_std": round(float(aucs.std(ddof=1)), 4) if len(aucs) > 1 else 0.0,
            }
    holdout = np.array([r["mock_holdout"] for r in runs], dtype=float)
    real = np.array([r["real_rbc"] for r in runs], dtype=float)
    spread = {"ddof": 1} if len(runs) > 1 else {}
    result = {
        "command": command,
        "model": "resnet18, 1 band, 64 px (128 px recipe cutouts binned 2x2)",
        "n_train": int((~hold).sum()),
        "n_mock_holdout": int(hold.sum()),
        "train_kinds": index.loc[~hold, "kind"].value_counts().to_dict(),
        "n_train_old_beyond_30kpc": int(
            ((index["kind"] == "globular_cluster") & (index["rproj_kpc"] > 30.0))[~hold].sum()
        ),
        "n_real_clusters": int(real_y.sum()),
        "n_real_galaxies": int((real_y == 0).sum()),
        "epochs": int(epochs),
        "seed": int(seed),
        "trainings": len(runs),
        "auc_mock_holdout_runs": [round(float(v), 4) for v in holdout],
        "auc_real_runs": [round(float(v), 4) for v in real],
        "auc_mock_holdout": round(float(holdout.mean()), 4),
        "auc_mock_holdout_std": round(float(holdout.std(**spread)), 4),
        "auc_real": round(float(real.mean()), 4),
        "auc_real_std": round(float(real.std(**spread)), 4),
        "auc_real_by_cluster_rbin": by_bin,
        "best_epoch_runs": [r.get("best_epoch") for r in runs],
        "validation_fraction": VALIDATION_FRACTION,
    }
    with atomic_path(out, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


_START, _END = "<!-- sim_to_real:start -->", "<!-- sim_to_real:end -->"


def _auc_cell(result: dict, key: str) -> str:
    """``mean +- std (each training)`` of one AUC, or the single value of a one-training result."""
    runs = result.get(f"{key}_runs") or [result[key]]
    if len(runs) == 1:
        return f"{result[key]:.3f}"
    each = ", ".join(f"{v:.3f}" for v in runs)
    return f"{result[key]:.3f} +- {result[f'{key}_std']:.3f} ({each})"


def _by_bin_rows(result: dict) -> list[str]:
    rows = []
    for b, r in result.get("auc_real_by_cluster_rbin", {}).items():
        cell = _auc_cell(
            {"auc": r["auc"], "auc_std": r["auc_std"], "auc_runs": r["auc_runs"]}, "auc"
        )
        rows.append(
            f"| real: the {r['n_clusters']} clusters at Rproj {b} kpc against all "
            f"{result['n_real_galaxies']} galaxies (a breakdown, not a target) | {cell} |"
        )
    return rows


def sim_to_real_lines(result: dict) -> list[str]:
    """The Markdown section reporting a :func:`write_sim_to_real` result."""
    n = int(result.get("trainings", 1))
    trained = f"{n} trainings (seeds {result.get('seed', 0)} + 0..{n - 1}) of " if n > 1 else ""
    return [
        _START,
        "## Sim-to-real check",
        "",
        f"Command: `{result['command']}`. {trained}{result['model']}, {result['epochs']} epochs "
        + (
            f"(cosine learning rate; the weights of the best epoch on a validation split of "
            f"{result['validation_fraction']:.0%} of the mock cutouts: epochs "
            f"{', '.join(str(e) for e in result['best_epoch_runs'])}) "
            if "validation_fraction" in result
            else ""
        )
        + f"on {result['n_train']} mock cutouts in the real format ({result['train_kinds']}"
        + (
            f"; the old clusters from the whole halo to {HALO_RPROJ_KPC:g} kpc, "
            f"{result['n_train_old_beyond_30kpc']} of them beyond 30 kpc"
            if "n_train_old_beyond_30kpc" in result
            else ""
        )
        + "), labels from the mock truth (clusters against galaxies and stars).",
        "",
        "| test set | ROC AUC (mean +- standard deviation over the trainings, each) |",
        "|---|---:|",
        f"| {result['n_mock_holdout']} held-out mock cutouts | "
        f"{_auc_cell(result, 'auc_mock_holdout')} |",
        f"| real: {result['n_real_clusters']} RBC confirmed clusters against "
        f"{result['n_real_galaxies']} RBC background galaxies | {_auc_cell(result, 'auc_real')} |",
        *_by_bin_rows(result),
        "",
        "Target (issue 12): AUC >= 0.85 on the real cutouts (the mean). The real cutouts are a test set",
        "only: nothing is trained, tuned or selected on them.",
        _END,
    ]


def update_realism_doc(md_path, result: dict) -> None:
    """Replace (or append) the sim-to-real section of ``docs/mock-realism.md``."""
    from pandas_clusters.core.io import atomic_path

    path = Path(md_path)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    block = "\n".join(sim_to_real_lines(result))
    if _START in text and _END in text:
        head, rest = text.split(_START, 1)
        text = head + block + rest.split(_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with atomic_path(path, suffix=".md") as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
