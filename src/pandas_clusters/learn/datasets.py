"""Training data on the device: loading, batching and augmentation.

The training set (see :mod:`pandas_clusters.learn.training_set`) is small enough to be
held whole as one normalised tensor: :func:`load_splits` reads the splits
in one pass and normalises them with
:func:`pandas_clusters.learn.normalize.normalize_stamps` (so NaN never reaches the
network) and :class:`DeviceBatches` keeps it on the
training device when it fits, drawing shuffled batches and augmenting them
there (:func:`augment`: the 8 rotations/flips of the square, and small
integer shifts), with a seeded :class:`torch.Generator` whose state goes
into the checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from pandas_clusters.core.io import read_parquet_metadata
from pandas_clusters.learn.normalize import normalize_stamps

__all__ = [
    "DeviceBatches",
    "SplitData",
    "augment",
    "fits_on_device",
    "load_split",
    "load_splits",
    "stamps_to_array",
    "synthetic_stamps",
]


@dataclass(frozen=True)
class SplitData:
    """One split of the training set, normalised.

    Attributes
    ----------
    x : numpy.ndarray
        float32 ``(N, C, S, S)``, normalised, finite.
    y : numpy.ndarray
        int64 ``(N,)`` labels (1 = cluster).
    table : pandas.DataFrame
        The other columns of those rows (``source_id``, ``gmag``, ...).
    bands : list of str
        Band order of the channels.
    """

    x: np.ndarray
    y: np.ndarray
    table: pd.DataFrame
    bands: list[str]


def stamps_to_array(column, *, n_bands: int, size: int) -> np.ndarray:
    """Turn a Parquet ``stamp`` column (fixed-size lists) into ``(N, C, S, S)`` float32."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(arr)
    if n == 0:
        return np.empty((0, n_bands, size, size), np.float32)
    values = arr.flatten().to_numpy(zero_copy_only=False)
    expected = n * n_bands * size * size
    if values.size != expected:
        msg = f"stamp column holds {values.size} values for {n} rows, expected {expected}"
        raise ValueError(msg)
    out = values.astype(np.float32, copy=False)
    if not out.flags.writeable:  # Arrow buffers are read-only; torch wants writable memory
        out = out.copy()
    return out.reshape(n, n_bands, size, size)


def load_split(path: str | os.PathLike, split: str) -> SplitData:
    """Read one split of a training-set Parquet file, normalised for the network.

    Parameters
    ----------
    path : path-like
        Training set written by :func:`pandas_clusters.learn.training_set.write_trainset`.
    split : str
        ``"train"``, ``"validation"`` or ``"test"``.
    """
    return load_splits(path, [split])[split]


def load_splits(path: str | os.PathLike, splits: Sequence[str]) -> dict[str, SplitData]:
    """Read several splits of a training-set Parquet file in one pass, normalised.

    The splits share row groups, so reading them one by one would decode the
    file (its stamps above all) once per split.

    Parameters
    ----------
    path : path-like
        Training set written by :func:`pandas_clusters.learn.training_set.write_trainset`.
    splits : sequence of str
        Among ``"train"``, ``"validation"`` and ``"test"``.

    Returns
    -------
    dict of str to SplitData
        One entry per split, in the order given.
    """
    meta = read_parquet_metadata(path)
    for key in ("bands", "size"):
        if key not in meta:
            msg = f"training set {str(path)!r} lacks the metadata key {key!r}"
            raise ValueError(msg)
    table = pq.read_table(path, filters=[("split", "in", list(splits))])
    for col in ("label", "stamp", "source_id"):
        if col not in table.column_names:
            msg = f"training set {str(path)!r} lacks the column {col!r}"
            raise ValueError(msg)
    bands = list(meta["bands"])
    which = table["split"].to_numpy(zero_copy_only=False).astype(str)
    out = {}
    for split in splits:
        part = table.filter(pa.array(which == split)) if len(splits) > 1 else table
        x = stamps_to_array(part["stamp"], n_bands=len(bands), size=int(meta["size"]))
        x = normalize_stamps(x)
        if not np.isfinite(x).all():  # normalize_stamps guarantees this; keep the promise
            msg = f"non-finite values after normalisation in {str(path)!r} split {split!r}"
            raise ValueError(msg)
        y = part["label"].to_numpy().astype(np.int64)
        rest = part.drop_columns(["stamp"]).to_pandas()
        out[split] = SplitData(x=x, y=y, table=rest, bands=bands)
    return out


def fits_on_device(nbytes: int, device: torch.device, *, fraction: float = 0.5) -> bool:
    """Whether ``nbytes`` fit in ``fraction`` of the free memory of a CUDA device (always on CPU)."""
    if device.type != "cuda":
        return True
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes <= fraction * free


def augment(
    x: torch.Tensor, *, generator: torch.Generator, max_shift: int = 2, flips: bool = True
) -> torch.Tensor:
    """Random dihedral transform and integer shift of each stamp, on x's device.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, C, S, S)`` batch.
    generator : torch.Generator
        Seeded generator on the same device as ``x``.
    max_shift : int, optional
        Largest shift in pixels along each axis (uniform in
        ``[-max_shift, max_shift]``); vacated pixels are 0 (the normalised
        background level).
    flips : bool, optional
        Apply one of the 8 rotations/reflections of the square, uniformly.

    Returns
    -------
    torch.Tensor
        The augmented batch (a new tensor).
    """
    n, _c, h, w = x.shape
    dev = x.device
    if flips:
        if h != w:
            msg = f"rotations need square stamps, got {h}x{w}"
            raise ValueError(msg)
        code = torch.randint(0, 8, (n,), generator=generator, device=dev)
        out = torch.empty_like(x)
        for k in range(8):
            sel = code == k
            if not bool(sel.any()):
                continue
            t = torch.rot90(x[sel], k % 4, dims=(2, 3))
            if k >= 4:
                t = torch.flip(t, dims=(3,))
            out[sel] = t
        x = out
    if max_shift > 0:
        shift = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator, device=dev)
        pad = torch.nn.functional.pad(x, (max_shift, max_shift, max_shift, max_shift))
        iy = torch.arange(h, device=dev)[None, :] + max_shift - shift[:, :1]
        ix = torch.arange(w, device=dev)[None, :] + max_shift - shift[:, 1:]
        bidx = torch.arange(n, device=dev)[:, None, None]
        # advanced indexing on (N, H, W) after moving channels last
        x = pad.permute(0, 2, 3, 1)[bidx, iy[:, :, None], ix[:, None, :]].permute(0, 3, 1, 2)
        x = x.contiguous()
    return x


class DeviceBatches:
    """Shuffled, augmented mini-batches of a tensor held on the training device.

    Parameters
    ----------
    x : numpy.ndarray
        Normalised stamps ``(N, C, S, S)``.
    y : numpy.ndarray
        Labels ``(N,)``.
    device : torch.device
        Training device. The data are copied there once when they fit
        (:func:`fits_on_device`); otherwise they stay in (pinned) host memory
        and each batch is copied on the fly.
    batch_size : int
        Samples per batch (the last batch may be smaller).
    generator : torch.Generator
        Seeded generator on ``device`` (shuffling and augmentation).
    shuffle, augment : bool
        Shuffle each epoch; augment each batch.
    max_shift : int
        See :func:`augment`.
    negative_fraction : float
        Share of the negatives (label 0) in each epoch, drawn anew each epoch with
        ``generator``; every positive is in every epoch. 1: every sample.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        device: torch.device,
        batch_size: int,
        generator: torch.Generator,
        shuffle: bool = True,
        augment: bool = True,
        max_shift: int = 2,
        negative_fraction: float = 1.0,
    ) -> None:
        if not 0.0 < negative_fraction <= 1.0:
            msg = f"negative_fraction must be in (0, 1], got {negative_fraction}"
            raise ValueError(msg)
        self.device = device
        self.resident = fits_on_device(x.nbytes + y.nbytes, device)
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))
        if self.resident:
            xt, yt = xt.to(device), yt.to(device)
        elif device.type == "cuda":
            xt, yt = xt.pin_memory(), yt.pin_memory()
        self.x, self.y = xt, yt
        self.batch_size = int(batch_size)
        self.generator = generator
        self.shuffle = shuffle
        self.augment = augment
        self.max_shift = int(max_shift)
        self.negative_fraction = float(negative_fraction)
        labels = self.y.cpu()
        self._positives = torch.nonzero(labels != 0).flatten()
        self._negatives = torch.nonzero(labels == 0).flatten()
        self.n_negatives_per_epoch = (
            len(self._negatives)
            if negative_fraction >= 1.0
            else max(1, round(negative_fraction * len(self._negatives)))
        )

    @property
    def samples_per_epoch(self) -> int:
        """Samples of one epoch: every positive and the drawn negatives."""
        if self.negative_fraction >= 1.0:
            return len(self.y)
        return len(self._positives) + self.n_negatives_per_epoch

    def __len__(self) -> int:
        return (self.samples_per_epoch + self.batch_size - 1) // self.batch_size

    def _epoch_rows(self) -> torch.Tensor:
        """Row indices of this epoch, in the order they are batched."""
        gen_dev = self.generator.device
        if self.negative_fraction >= 1.0:
            rows = torch.arange(len(self.y))
        else:
            pick = torch.randperm(len(self._negatives), generator=self.generator, device=gen_dev)
            drawn = self._negatives[pick[: self.n_negatives_per_epoch].cpu()]
            rows = torch.sort(torch.cat([self._positives, drawn])).values
        if self.shuffle:
            rows = rows[torch.randperm(len(rows), generator=self.generator, device=gen_dev).cpu()]
        return rows

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._epoch_rows().to(self.x.device)
        n = len(order)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            xb = self.x[idx].to(self.device, non_blocking=True)
            yb = self.y[idx].to(self.device, non_blocking=True)
            if self.augment:
                xb = augment(xb, generator=self.generator, max_shift=self.max_shift)
            yield xb, yb


def synthetic_stamps(
    labels: np.ndarray,
    *,
    n_bands: int = 2,
    size: int = 16,
    seed: int = 0,
    nan_fraction: float = 0.1,
) -> np.ndarray:
    """Toy stamps for smoke tests and benchmarks: extended blobs vs point sources.

    Parameters
    ----------
    labels : array of int
        1 gives an extended Gaussian blob (sigma 1.8-3 px) sprinkled with a
        few point-like "resolved stars"; 0 gives one point source (sigma
        0.7-0.9 px), sometimes with a fainter neighbour.
    n_bands, size : int
        Channels and side of the stamps, pixels.
    seed : int
        Seed of every random draw.
    nan_fraction : float
        Fraction of stamps whose first rows are NaN (as off an image edge).

    Returns
    -------
    numpy.ndarray
        float32 ``(N, n_bands, size, size)``, unit Gaussian noise plus signal.
    """
    labels = np.asarray(labels, np.int64)
    rng = np.random.default_rng(seed)
    n = len(labels)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - (size - 1) / 2.0
    out = rng.normal(0.0, 1.0, (n, n_bands, size, size)).astype(np.float32)

    def gauss(dx, dy, sigma):
        return np.exp(-((xx - dx) ** 2 + (yy - dy) ** 2) / (2.0 * sigma**2))

    for k in range(n):
        colour = rng.uniform(0.6, 1.4, n_bands)
        dx, dy = rng.uniform(-1.0, 1.0, 2)
        if labels[k] == 1:
            img = rng.uniform(8.0, 20.0) * gauss(dx, dy, rng.uniform(1.8, 3.0))
            for _ in range(int(rng.integers(2, 5))):
                sx, sy = rng.uniform(-3.0, 3.0, 2)
                img = img + rng.uniform(3.0, 8.0) * gauss(dx + sx, dy + sy, 0.8)
        else:
            img = rng.uniform(10.0, 40.0) * gauss(dx, dy, rng.uniform(0.7, 0.9))
            if rng.random() < 0.3:
                sx, sy = rng.uniform(-5.0, 5.0, 2)
                img = img + rng.uniform(3.0, 10.0) * gauss(sx, sy, 0.8)
        out[k] += colour[:, None, None].astype(np.float32) * img.astype(np.float32)
        if rng.random() < nan_fraction:
            out[k, :, : int(rng.integers(1, size // 4 + 1)), :] = np.nan
    return out
