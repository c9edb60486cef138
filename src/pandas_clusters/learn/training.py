"""Training of one CNN (one model x limiting magnitude x seed).

:func:`train` runs seeded mini-batch training on the GPU when present (bf16
autocast, channels_last) and on the CPU otherwise, with the whole training
split held on the device and augmented there (:mod:`pandas_clusters.learn.datasets`).
After every epoch it writes a checkpoint (model, optimiser, scheduler,
random-generator states, history, early-stopping state); a rerun with the
same settings and training set resumes from it instead of starting over, and
reaches the same result as an uninterrupted run. The checkpoint it replaces
is kept as ``checkpoint.prev.pt``: a checkpoint that cannot be read is renamed
``*.corrupt`` (with a :class:`CorruptCheckpointWarning`) and the run resumes
from the previous one, or starts over. Early stopping watches a validation
statistic (:data:`MONITORS`: the average precision by default, or the loss);
the weights of the best epoch are written as safetensors,
with the history (CSV) and the resolved settings (JSON).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from pandas_clusters.core.config import StageSettings
from pandas_clusters.core.io import atomic_path, read_parquet_metadata
from pandas_clusters.learn.datasets import DeviceBatches, SplitData, fits_on_device, load_splits
from pandas_clusters.learn.metrics import pr_curve
from pandas_clusters.learn.models import (
    build_model,
    resolve_device,
    save_weights,
    torch_load_safely,
)

__all__ = [
    "HISTORY_COLUMNS",
    "MONITORS",
    "Checkpoint",
    "CorruptCheckpointWarning",
    "ResumeWarning",
    "TrainResult",
    "TrainSettings",
    "class_weights",
    "previous_checkpoint_path",
    "read_checkpoint",
    "seed_everything",
    "train",
    "train_one_epoch",
    "validate",
]

#: Columns of the history CSV.
HISTORY_COLUMNS = (
    "epoch",
    "session",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "val_f1",
    "val_average_precision",
    "learning_rate",
    "seconds",
    "is_best",
)


class ResumeWarning(UserWarning):
    """A checkpoint was found but does not belong to this run; training starts over."""


class CorruptCheckpointWarning(UserWarning):
    """A checkpoint could not be read: it was renamed aside (``*.corrupt``) and training
    resumes from the previous checkpoint, or starts over when there is none."""


#: Validation statistics early stopping can monitor, each with its direction
#: (+1: larger is better). ``val_average_precision``, the area under the validation
#: split's precision-recall curve, ranks the sources and is blind to how confident the
#: network is; the class-weighted ``val_loss`` is dominated, on the demo's split of about
#: 50 clusters among 1,300 sources, by the few clusters the network confidently calls
#: negative (5 of them held 54-63% of it at epochs 2-4 of the demo's seed 0), so it rose
#: while the ranking improved and stopped the training at epoch 5 with the weights of
#: epoch 1 (README, "Demo").
MONITORS = {"val_average_precision": 1, "val_loss": -1}

#: Keys every checkpoint holds (see :class:`Checkpoint`).
_CHECKPOINT_KEYS = (
    "fingerprint",
    "epoch",
    "session",
    "model",
    "optimizer",
    "scheduler",
    "generator",
    "torch_rng",
    "history",
    "best_state",
    "best_value",
    "best_epoch",
    "bad_epochs",
    "done",
)


def previous_checkpoint_path(path: str | os.PathLike) -> Path:
    """Where the checkpoint of the epoch before the last one is kept (``checkpoint.prev.pt``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def _set_aside(path: Path, reason: str) -> None:
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    warnings.warn(
        f"{reason}; renamed to {aside}, training resumes from the previous checkpoint "
        "if there is one, else starts over",
        CorruptCheckpointWarning,
        stacklevel=3,
    )


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any] | None:
    """The newest readable checkpoint: ``path``, else its previous one, else ``None``.

    A checkpoint that cannot be read (truncated, overwritten, not a checkpoint) is
    renamed to ``*.corrupt`` with a :class:`CorruptCheckpointWarning`; it is never
    unpickled beyond tensors and plain containers.
    """
    for candidate in (Path(path), previous_checkpoint_path(path)):
        if not candidate.is_file():
            continue
        try:
            ckpt = torch_load_safely(candidate, what="checkpoint")
        except ValueError as exc:
            _set_aside(candidate, str(exc))
            continue
        missing = [k for k in _CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
        if missing:
            _set_aside(candidate, f"checkpoint {str(candidate)!r} lacks {missing}")
            continue
        return ckpt
    return None


@dataclass
class Checkpoint:
    """The state of a training run after an epoch: what :func:`train` writes and resumes from.

    Written after every epoch as one ``torch.save`` file of plain containers and
    tensors (:meth:`to_dict`); the checkpoint it replaces is kept as
    ``checkpoint.prev.pt`` (:func:`previous_checkpoint_path`).

    Attributes
    ----------
    fingerprint : str
        Hash of the settings and data that decide the numbers (a checkpoint of
        another run is not resumed).
    epoch : int
        Epochs completed (0: none).
    session : int
        Number of the (re)start that ran the last epoch.
    model, optimizer, scheduler : dict or None
        ``state_dict()`` of each (None until the first epoch).
    generator, torch_rng, cuda_rng : torch.Tensor or None
        States of the batch generator and of torch's CPU and CUDA generators
        (``cuda_rng``: None on the CPU).
    history : list of dict
        One row per epoch (:data:`HISTORY_COLUMNS`).
    best_state : dict
        Model weights of the best epoch so far (on the CPU).
    best_value : float
        Value of the monitored statistic (``TrainSettings.monitor``) at that epoch
        (NaN before the first).
    best_epoch : int
        That epoch (0: none yet).
    bad_epochs : int
        Epochs since the last improvement (early stopping).
    done : bool
        Whether training has ended (early stop or ``max_epochs``).
    """

    fingerprint: str
    epoch: int
    session: int
    model: dict[str, Any] | None
    optimizer: dict[str, Any] | None
    scheduler: dict[str, Any] | None
    generator: torch.Tensor | None
    torch_rng: torch.Tensor | None
    cuda_rng: torch.Tensor | None
    history: list[dict[str, Any]]
    best_state: dict[str, torch.Tensor]
    best_value: float
    best_epoch: int
    bad_epochs: int
    done: bool

    @classmethod
    def fresh(cls, fingerprint: str, best_state: dict[str, torch.Tensor]) -> Checkpoint:
        """The state before the first epoch of a run, ``best_state`` its initial weights."""
        return cls(
            fingerprint=fingerprint,
            epoch=0,
            session=0,
            model=None,
            optimizer=None,
            scheduler=None,
            generator=None,
            torch_rng=None,
            cuda_rng=None,
            history=[],
            best_state=best_state,
            best_value=np.nan,
            best_epoch=0,
            bad_epochs=0,
            done=False,
        )

    @classmethod
    def from_dict(cls, ckpt: dict[str, Any]) -> Checkpoint:
        """A checkpoint from what :func:`read_checkpoint` returns."""
        return cls(
            fingerprint=ckpt["fingerprint"],
            epoch=int(ckpt["epoch"]),
            session=int(ckpt["session"]),
            model=ckpt["model"],
            optimizer=ckpt["optimizer"],
            scheduler=ckpt["scheduler"],
            generator=ckpt["generator"],
            torch_rng=ckpt["torch_rng"],
            cuda_rng=ckpt.get("cuda_rng"),
            history=list(ckpt["history"]),
            best_state=ckpt["best_state"],
            best_value=float(ckpt["best_value"]),
            best_epoch=int(ckpt["best_epoch"]),
            bad_epochs=int(ckpt["bad_epochs"]),
            done=bool(ckpt["done"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The plain dictionary that is saved (no copies of the tensors)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def read(cls, path: str | os.PathLike, fingerprint: str) -> Checkpoint | None:
        """The checkpoint of the run ``fingerprint`` at ``path`` or its previous one, else None.

        Called by :func:`train` through ``_resume``: the :class:`ResumeWarning`
        points at the caller of :func:`train`.

        Warns
        -----
        CorruptCheckpointWarning
            For a checkpoint that cannot be read (renamed ``*.corrupt``, see
            :func:`read_checkpoint`).
        ResumeWarning
            For a checkpoint of other settings or data (not resumed).
        """
        ckpt = read_checkpoint(path)
        if ckpt is None:
            return None
        if ckpt.get("fingerprint") != fingerprint:
            warnings.warn(
                f"checkpoint {str(path)!r} was made with other settings or data; "
                "training starts over",
                ResumeWarning,
                stacklevel=4,
            )
            return None
        return cls.from_dict(ckpt)

    def write(self, path: Path) -> None:
        """Write atomically; the checkpoint it replaces becomes the previous one."""
        with atomic_path(path) as tmp:
            torch.save(self.to_dict(), tmp)
            if path.is_file():
                os.replace(path, previous_checkpoint_path(path))

    @staticmethod
    def remove(path: Path, *, keep_latest: bool) -> None:
        """Delete the previous checkpoint of ``path``, and ``path`` unless ``keep_latest``."""
        previous_checkpoint_path(path).unlink(missing_ok=True)
        if not keep_latest:
            path.unlink(missing_ok=True)

    def capture(self, run: _Run) -> None:
        """Take the current states of the run's model, optimiser, scheduler and generators."""
        self.model = run.model.state_dict()
        self.optimizer = run.optimizer.state_dict()
        self.scheduler = run.scheduler.state_dict()
        self.generator = run.generator.get_state()
        self.torch_rng = torch.get_rng_state()
        cuda = run.device.type == "cuda"
        self.cuda_rng = torch.cuda.get_rng_state(run.device) if cuda else None

    def restore(self, run: _Run) -> None:
        """Load the states into the run's model, optimiser, scheduler and generators."""
        run.model.load_state_dict(self.model)
        run.optimizer.load_state_dict(self.optimizer)
        run.scheduler.load_state_dict(self.scheduler)
        run.generator.set_state(self.generator)
        torch.set_rng_state(self.torch_rng)
        if run.device.type == "cuda" and self.cuda_rng is not None:
            torch.cuda.set_rng_state(self.cuda_rng, run.device)


@dataclass(frozen=True)
class TrainSettings(StageSettings):
    """Settings of one training run.

    Attributes
    ----------
    model : str
        Architecture (:data:`pandas_clusters.learn.models.SUPPORTED_MODELS`).
    mag_limit : float
        Limiting g magnitude of the training set, AB mag (recorded only).
    seed : int
        Seed of initialisation, shuffling and augmentation.
    max_epochs : int
        Largest number of epochs.
    epoch_negatives_per_positive : float or None
        Each epoch trains on every train positive and this many train negatives per
        positive, a new random draw each epoch (from the seeded batch generator), so
        that over the epochs the network still meets the whole variety of negatives at
        a fraction of the cost of a pass over all of them; the ``"weighted"`` loss
        weights are those of that mix. None: every train source each epoch.
    batch_size : int
        Samples per mini-batch.
    learning_rate, weight_decay : float
        AdamW settings; the rate follows a cosine schedule over ``max_epochs``.
    monitor : str
        Validation statistic of early stopping and of the best epoch (:data:`MONITORS`).
    patience : int
        Stop after this many epochs without an improvement of ``monitor`` larger
        than ``min_delta``.
    min_epochs : int
        Early stopping never ends a run before this epoch; ``max_epochs`` still ends
        it (a ``min_epochs`` above ``max_epochs``, as when an overlay shortens the
        run, turns early stopping off).
    min_delta : float
        Smallest improvement of ``monitor`` that counts.
    augment : bool
        Apply the 8 rotations/flips and shifts to training batches.
    max_shift_px : int
        Largest augmentation shift, pixels.
    pretrained_path : str or None
        Local ImageNet weights file for this architecture (None: random init).
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:n]"``.
    keep_checkpoint : bool
        Keep the checkpoint file after a completed run (default: delete it).
    """

    _section: ClassVar[str] = "training"

    model: str
    mag_limit: float
    seed: int
    max_epochs: int
    epoch_negatives_per_positive: float | None
    batch_size: int
    learning_rate: float
    weight_decay: float
    monitor: str
    patience: int
    min_epochs: int
    min_delta: float
    augment: bool
    max_shift_px: int
    pretrained_path: str | None
    device: str
    keep_checkpoint: bool

    def __post_init__(self) -> None:
        for name in ("max_epochs", "batch_size", "patience", "min_epochs"):
            if getattr(self, name) < 1:
                msg = f"training.{name} must be >= 1, got {getattr(self, name)}"
                raise ValueError(msg)
        if self.monitor not in MONITORS:
            msg = f"training.monitor must be one of {sorted(MONITORS)}, got {self.monitor!r}"
            raise ValueError(msg)
        ratio = self.epoch_negatives_per_positive
        if ratio is not None and not ratio > 0:
            msg = f"training.epoch_negatives_per_positive must be > 0 or null, got {ratio}"
            raise ValueError(msg)

    @classmethod
    def _derive(cls, values: dict[str, Any]) -> dict[str, Any]:
        """``pretrained_path``: this model's entry of ``pretrained_weights`` (None: random init)."""
        weights = values.get("pretrained_weights") or {}
        return {**values, "pretrained_path": weights.get(values.get("model"))}


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    best_epoch : int
        Epoch (1-based) whose weights were written.
    monitor : str
        The validation statistic that chose it.
    best_value : float
        Its value at that epoch.
    best_val_loss : float
        Validation loss at that epoch.
    epochs_run : int
        Epochs completed in all sessions.
    resumed_from_epoch : int
        Last epoch of the checkpoint this run resumed from (0: fresh start).
    stopped_early : bool
        Whether early stopping ended the run before ``max_epochs``.
    device : str
        Device used.
    """

    best_epoch: int
    monitor: str
    best_value: float
    best_val_loss: float
    epochs_run: int
    resumed_from_epoch: int
    stopped_early: bool
    device: str


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) random generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - legacy global state used by some libraries
    torch.manual_seed(seed)


def class_weights(
    y: np.ndarray, policy: str, negative_fraction: float = 1.0
) -> torch.Tensor | None:
    """Cross-entropy class weights: inverse class frequency for ``"weighted"``, else None.

    ``negative_fraction`` is the share of the negatives (label 0) each epoch trains on
    (:func:`epoch_negative_fraction`): the weights are those of that epoch's mix.
    """
    if policy != "weighted":
        return None
    counts = np.bincount(np.asarray(y, np.int64), minlength=2).astype(np.float64)
    counts[0] *= negative_fraction
    w = counts.sum() / (2.0 * np.maximum(counts, 1.0))
    return torch.tensor(w, dtype=torch.float32)


def epoch_negative_fraction(y: np.ndarray, negatives_per_positive: float | None) -> float:
    """Share of the train negatives drawn each epoch for ``negatives_per_positive`` (1: all)."""
    if negatives_per_positive is None:
        return 1.0
    y = np.asarray(y)
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_neg == 0:
        return 1.0
    return min(1.0, negatives_per_positive * n_pos / n_neg)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_one_epoch(
    model: nn.Module,
    batches: DeviceBatches,
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    *,
    device: torch.device,
    progress: bool | None = None,
    description: str = "train",
) -> dict[str, float]:
    """One pass over the training batches.

    Returns
    -------
    dict
        ``train_loss`` (mean per sample) and ``train_accuracy``.
    """
    model.train()
    channels_last = device.type == "cuda"
    total_loss = torch.zeros((), device=device)
    total_weight = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    n = 0
    for xb, yb in tqdm(batches, desc=description, leave=False, disable=_disable(progress)):
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device):
            logits = model(xb)
        loss = criterion(logits.float(), yb)
        loss.backward()
        optimizer.step()
        # the batch's loss is its weighted mean: weighted by the batch's summed weight, the
        # epoch's loss is the weighted mean over all its samples
        weight = _sample_weight_sum(criterion, yb)
        total_loss += loss.detach() * weight
        total_weight += weight
        correct += (logits.detach().argmax(1) == yb).sum()
        n += len(yb)
    return {
        "train_loss": float(total_loss / total_weight),
        "train_accuracy": float(correct) / n,
    }


def _sample_weight_sum(criterion: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Summed class weight of the samples ``y`` under ``criterion`` (their number if unweighted)."""
    weight = getattr(criterion, "weight", None)
    if weight is None:
        return torch.tensor(float(len(y)), device=y.device)
    return weight[y].sum()


def validate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    criterion: nn.Module,
    *,
    device: torch.device,
    batch_size: int,
) -> dict[str, float]:
    """Loss, accuracy, F1 (at probability 0.5) and average precision on normalised stamps
    ``x`` with labels ``y``; the average precision is NaN when ``y`` has no positive.

    The loss is ``criterion``'s over the whole split (with class weights, their
    weighted mean over every sample), whatever ``batch_size``. ``x`` and ``y`` may live
    on the CPU or already on ``device``.
    """
    model.eval()
    total = 0.0
    total_weight = 0.0
    pred, prob = [], []
    with torch.inference_mode():
        for start in range(0, len(y), batch_size):
            xb = x[start : start + batch_size].to(device)
            yb = y[start : start + batch_size].to(device)
            if device.type == "cuda":
                xb = xb.contiguous(memory_format=torch.channels_last)
            with _autocast(device):
                logits = model(xb)
            weight = _sample_weight_sum(criterion, yb)
            total += float(criterion(logits.float(), yb) * weight)
            total_weight += float(weight)
            pred.append(logits.argmax(1).cpu())
            prob.append(torch.softmax(logits.float(), 1)[:, 1].cpu())
    p = torch.cat(pred).numpy() if pred else np.empty(0, np.int64)
    yt = y.cpu().numpy()
    ap = pr_curve(yt, torch.cat(prob).numpy())[2] if yt.any() else float("nan")
    tp = int(((p == 1) & (yt == 1)).sum())
    fp = int(((p == 1) & (yt == 0)).sum())
    fn = int(((p == 0) & (yt == 1)).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {
        "val_loss": total / total_weight if total_weight else 0.0,
        "val_accuracy": float((p == yt).mean()) if len(yt) else 0.0,
        "val_f1": f1,
        "val_average_precision": ap,
    }


def _disable(progress: bool | None) -> bool | None:
    # tqdm: disable=None hides the bar when not writing to a terminal
    return None if progress is None else not progress


def _fingerprint(settings: TrainSettings, train: SplitData, val: SplitData) -> str:
    h = hashlib.sha256()
    # what decides the numbers; not where they run or whether the checkpoint is kept
    relevant = {
        k: v for k, v in settings.to_dict().items() if k not in ("device", "keep_checkpoint")
    }
    h.update(json.dumps(relevant, sort_keys=True).encode())
    for part in (train, val):
        h.update(part.table["source_id"].to_numpy().astype(np.int64).tobytes())
        h.update(part.y.tobytes())
        h.update(np.ascontiguousarray(part.x).tobytes())
    return h.hexdigest()


def _write_history(path: str | os.PathLike, history: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(history)


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


@dataclass
class _Run:
    """What a training run sets up once (:func:`_set_up`): data, model, optimiser, batches."""

    meta: dict[str, Any]
    train_data: SplitData
    val_data: SplitData
    device: torch.device
    model: nn.Module
    weights: torch.Tensor | None
    criterion: nn.Module
    val_criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    batches: DeviceBatches
    val_x: torch.Tensor
    val_y: torch.Tensor
    fingerprint: str


def _load_trainset(
    trainset_path: Path, monitor: str
) -> tuple[dict[str, Any], SplitData, SplitData]:
    """Metadata, train and validation splits; raises if they cannot train a model."""
    meta = read_parquet_metadata(trainset_path)
    splits = load_splits(trainset_path, ["train", "validation"])
    train_data, val_data = splits["train"], splits["validation"]
    if int(train_data.y.sum()) == 0:
        msg = f"the train split of {str(trainset_path)!r} has no positives"
        raise ValueError(msg)
    if len(val_data.y) == 0:
        msg = f"the validation split of {str(trainset_path)!r} is empty"
        raise ValueError(msg)
    if monitor == "val_average_precision" and int(val_data.y.sum()) == 0:
        msg = (
            f"the validation split of {str(trainset_path)!r} has no positives: its average "
            "precision (training.monitor) is undefined; set training.monitor: val_loss"
        )
        raise ValueError(msg)
    return meta, train_data, val_data


def _set_up(trainset_path: Path, settings: TrainSettings) -> _Run:
    """Load the data, seed, build the model, loss, optimiser, scheduler and batches."""
    meta, train_data, val_data = _load_trainset(trainset_path, settings.monitor)
    device = resolve_device(settings.device)
    seed_everything(settings.seed)
    model = build_model(
        settings.model, in_channels=train_data.x.shape[1], pretrained_path=settings.pretrained_path
    ).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    negative_fraction = epoch_negative_fraction(train_data.y, settings.epoch_negatives_per_positive)
    policy = str(meta.get("class_balance", "none"))
    weights = class_weights(train_data.y, policy, negative_fraction)
    criterion = nn.CrossEntropyLoss(weight=None if weights is None else weights.to(device))
    # the validation split keeps the natural mix: weighted as the whole train split, which
    # is what the epochs' draws of negatives weigh in expectation
    val_weights = class_weights(train_data.y, policy)
    val_criterion = nn.CrossEntropyLoss(
        weight=None if val_weights is None else val_weights.to(device)
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.max_epochs)
    generator = torch.Generator(device=device)
    generator.manual_seed(settings.seed)
    batches = DeviceBatches(
        train_data.x,
        train_data.y,
        device=device,
        batch_size=settings.batch_size,
        generator=generator,
        augment=settings.augment,
        max_shift=settings.max_shift_px,
        negative_fraction=negative_fraction,
    )
    val_x, val_y = torch.from_numpy(val_data.x), torch.from_numpy(val_data.y)
    if batches.resident and fits_on_device(val_data.x.nbytes, device):
        val_x, val_y = val_x.to(device), val_y.to(device)
    return _Run(
        meta=meta,
        train_data=train_data,
        val_data=val_data,
        device=device,
        model=model,
        weights=weights,
        criterion=criterion,
        val_criterion=val_criterion,
        optimizer=optimizer,
        scheduler=scheduler,
        generator=generator,
        batches=batches,
        val_x=val_x,
        val_y=val_y,
        fingerprint=_fingerprint(settings, train_data, val_data),
    )


def _resume(run: _Run, checkpoint_path: Path) -> Checkpoint:
    """The run's state from its checkpoint (restored into ``run``, a new session), else a fresh one."""
    best_state = _state_copy(run.model)
    state = Checkpoint.read(checkpoint_path, run.fingerprint)
    if state is None:
        return Checkpoint.fresh(run.fingerprint, best_state)
    state.restore(run)
    state.session += 1
    return state


def _early_stopping(run: _Run, state: Checkpoint, value: float, settings: TrainSettings) -> bool:
    """Record the epoch's monitored statistic in ``state``; whether it improved on the best."""
    direction = MONITORS[settings.monitor]
    improved = state.best_epoch == 0 or direction * (value - state.best_value) > settings.min_delta
    if improved:
        state.best_value, state.best_epoch, state.bad_epochs = value, state.epoch, 0
        state.best_state = _state_copy(run.model)
    else:
        state.bad_epochs += 1
    patient = state.bad_epochs < settings.patience or state.epoch < settings.min_epochs
    state.done = not patient or state.epoch >= settings.max_epochs
    return improved


def _one_epoch(
    run: _Run, state: Checkpoint, settings: TrainSettings, progress: bool | None
) -> dict[str, Any]:
    """Train and validate one epoch, step the schedule; returns its history row (also in ``state``)."""
    state.epoch += 1
    t0 = time.perf_counter()
    lr = run.optimizer.param_groups[0]["lr"]
    row: dict[str, Any] = {"epoch": state.epoch, "session": state.session}
    row |= train_one_epoch(
        run.model, run.batches, run.optimizer, run.criterion, device=run.device, progress=progress
    )
    row |= validate(
        run.model,
        run.val_x,
        run.val_y,
        run.val_criterion,
        device=run.device,
        batch_size=settings.batch_size,
    )
    run.scheduler.step()
    improved = _early_stopping(run, state, row[settings.monitor], settings)
    row |= {"learning_rate": lr, "seconds": time.perf_counter() - t0, "is_best": improved}
    state.history.append(row)
    return row


def _run_epochs(
    run: _Run,
    state: Checkpoint,
    settings: TrainSettings,
    *,
    checkpoint_path: Path,
    history_path: str | os.PathLike,
    progress: bool | None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None,
) -> None:
    """Epochs until done; after each, write the checkpoint and the history, then ``on_epoch_end``."""
    bar = tqdm(
        total=settings.max_epochs,
        initial=state.epoch,
        desc=f"{settings.model} g<{settings.mag_limit} seed {settings.seed}",
        disable=_disable(progress),
    )
    with bar:
        while not state.done and state.epoch < settings.max_epochs:
            row = _one_epoch(run, state, settings, progress)
            state.capture(run)
            state.write(checkpoint_path)
            _write_history(history_path, state.history)
            bar.update(1)
            bar.set_postfix(
                val_loss=f"{row['val_loss']:.4f}",
                val_ap=f"{row['val_average_precision']:.3f}",
                best=state.best_epoch,
            )
            if on_epoch_end is not None:
                on_epoch_end(row)


def _weights_metadata(run: _Run, state: Checkpoint, settings: TrainSettings) -> dict[str, Any]:
    """Metadata of the weights file."""
    return {
        "model": settings.model,
        "in_channels": run.train_data.x.shape[1],
        "bands": run.train_data.bands,
        "size": int(run.train_data.x.shape[-1]),
        "mag_limit": settings.mag_limit,
        "seed": settings.seed,
        "best_epoch": state.best_epoch,
    }


def _resolved_settings(
    run: _Run, settings: TrainSettings, trainset_path: Path, result: TrainResult
) -> dict[str, Any]:
    """Content of the settings JSON: settings, data sizes, device and outcome."""
    meta, train_data, val_data = run.meta, run.train_data, run.val_data
    return {
        "settings": settings.to_dict(),
        "trainset": {
            "path": str(trainset_path),
            "mag_limit": meta.get("mag_limit"),
            "class_balance": meta.get("class_balance"),
            "n_train": int(len(train_data.y)),
            "n_train_positive": int(train_data.y.sum()),
            "n_validation": int(len(val_data.y)),
            "n_validation_positive": int(val_data.y.sum()),
        },
        "bands": train_data.bands,
        "size": int(train_data.x.shape[-1]),
        "class_weights": None if run.weights is None else run.weights.tolist(),
        "data_resident_on_device": run.batches.resident,
        "torch_version": torch.__version__,
        "result": asdict(result),
    }


def _finish(
    run: _Run,
    state: Checkpoint,
    settings: TrainSettings,
    *,
    trainset_path: Path,
    weights_path: str | os.PathLike,
    history_path: str | os.PathLike,
    settings_path: str | os.PathLike,
    checkpoint_path: Path,
    resumed_from: int,
) -> TrainResult:
    """Write the best weights, the history and the settings JSON; remove the checkpoints."""
    save_weights(state.best_state, weights_path, metadata=_weights_metadata(run, state, settings))
    _write_history(history_path, state.history)
    result = TrainResult(
        best_epoch=state.best_epoch,
        monitor=settings.monitor,
        best_value=float(state.best_value),
        best_val_loss=float(state.history[state.best_epoch - 1]["val_loss"])
        if state.best_epoch
        else float("nan"),
        epochs_run=len(state.history),
        resumed_from_epoch=resumed_from,
        stopped_early=bool(state.history) and len(state.history) < settings.max_epochs,
        device=str(run.device),
    )
    resolved = _resolved_settings(run, settings, trainset_path, result)
    with atomic_path(settings_path) as tmp:
        tmp.write_text(json.dumps(resolved, indent=2, sort_keys=True) + "\n")
    Checkpoint.remove(checkpoint_path, keep_latest=settings.keep_checkpoint)
    return result


def train(
    trainset_path: str | os.PathLike,
    *,
    settings: TrainSettings,
    weights_path: str | os.PathLike,
    history_path: str | os.PathLike,
    settings_path: str | os.PathLike,
    checkpoint_path: str | os.PathLike,
    progress: bool | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train one model on a training set, resuming from ``checkpoint_path`` if present.

    Parameters
    ----------
    trainset_path : path-like
        Training set (:func:`pandas_clusters.learn.training_set.write_trainset`).
    settings : TrainSettings
    weights_path : path-like
        Output safetensors file (weights of the best epoch, metadata: model,
        bands, size, in_channels, mag_limit, seed).
    history_path : path-like
        Output CSV, one row per epoch (:data:`HISTORY_COLUMNS`); ``session``
        counts the (re)starts, so a resumed run shows epochs of session 1 after
        those of session 0. Rewritten after every epoch.
    settings_path : path-like
        Output JSON: the resolved settings, data sizes, device and outcome.
    checkpoint_path : path-like
        Checkpoint written after every epoch; read at start when present and
        made by a run with the same settings and data.
    progress : bool, optional
        Show tqdm bars (default: only on a terminal).
    on_epoch_end : callable, optional
        Called with each epoch's history row, after its checkpoint is written.

    Raises
    ------
    ValueError
        If the train split has no positives or the validation split is empty.
    """
    trainset_path = Path(trainset_path)
    checkpoint_path = Path(checkpoint_path)
    run = _set_up(trainset_path, settings)
    state = _resume(run, checkpoint_path)
    resumed_from = state.epoch
    _run_epochs(
        run,
        state,
        settings,
        checkpoint_path=checkpoint_path,
        history_path=history_path,
        progress=progress,
        on_epoch_end=on_epoch_end,
    )
    return _finish(
        run,
        state,
        settings,
        trainset_path=trainset_path,
        weights_path=weights_path,
        history_path=history_path,
        settings_path=settings_path,
        checkpoint_path=checkpoint_path,
        resumed_from=resumed_from,
    )
