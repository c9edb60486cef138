"""CNN architectures for stamp classification, and their weight files.

Every model is a torchvision architecture chosen by name, with its first
convolution adapted to the number of bands of the stamps and its last
linear layer replaced by a two-class head (0 = not a cluster, 1 = cluster).
ImageNet weights are only ever read from a local file named in the config;
nothing is downloaded at run time.

Trained weights are written as safetensors (no pickle), with the model
name, bands, stamp size, limiting magnitude and seed in the file metadata
so that :func:`load_model` rebuilds the network from the file alone.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from pandas_clusters.core.io import atomic_path
from pandas_clusters.learn.normalize import normalize_stamps

__all__ = [
    "SUPPORTED_MODELS",
    "use_threads",
    "build_model",
    "load_model",
    "predict_proba",
    "read_tensors",
    "read_weights_metadata",
    "resolve_device",
    "save_weights",
    "torch_load_safely",
]

#: Architectures accepted by :func:`build_model` (torchvision names).
SUPPORTED_MODELS: tuple[str, ...] = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "vgg11_bn",
    "vgg16_bn",
    "vgg19_bn",
    "densenet121",
    "efficientnet_b0",
    "efficientnet_b1",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "convnext_tiny",
)


def _check_name(name: str) -> None:
    if name not in SUPPORTED_MODELS:
        msg = f"unknown model {name!r}; choose one of: {', '.join(SUPPORTED_MODELS)}"
        raise ValueError(msg)


def _parent_and_attr(model: nn.Module, qualname: str) -> tuple[nn.Module, str]:
    parent_name, _, attr = qualname.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    return parent, attr


def _adapt_first_conv(model: nn.Module, in_channels: int) -> None:
    name, conv = next((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d))
    if conv.in_channels == in_channels:
        return
    new = nn.Conv2d(
        in_channels,
        conv.out_channels,
        kernel_size=conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
    )
    with torch.no_grad():
        # Keep any (pretrained) filters: the mean over the input channels,
        # repeated and rescaled so that the response to a flat input is unchanged.
        mean = conv.weight.mean(dim=1, keepdim=True)
        new.weight.copy_(mean.repeat(1, in_channels, 1, 1) * (conv.in_channels / in_channels))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    parent, attr = _parent_and_attr(model, name)
    setattr(parent, attr, new)


def _replace_head(model: nn.Module, num_classes: int) -> None:
    name, lin = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    parent, attr = _parent_and_attr(model, name)
    setattr(parent, attr, nn.Linear(lin.in_features, num_classes, bias=lin.bias is not None))


def _weights_error(path: str | os.PathLike, what: str, exc: Exception) -> ValueError:
    """A one-line error naming a weights file that cannot be read (no library advice)."""
    if isinstance(exc, pickle.UnpicklingError):
        # torch's message advises weights_only=False, i.e. running arbitrary code: never
        detail = "it holds objects other than tensors, or is corrupt"
    else:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    msg = f"{what} {str(path)!r} cannot be read ({detail}); is it a complete, valid file?"
    return ValueError(msg)


def _require_file(path: str | os.PathLike, what: str) -> None:
    if not Path(path).is_file():
        msg = f"{what} {str(path)!r} not found"
        raise FileNotFoundError(msg)


def read_tensors(path: str | os.PathLike, *, what: str = "weights file") -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, or a one-line error naming the file.

    Parameters
    ----------
    path : str or path-like
        ``.safetensors`` file.
    what : str
        What the file is, for the message.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a valid safetensors file (truncated, overwritten, another format).
    """
    _require_file(path, what)
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own SafetensorError, and OSError
        raise _weights_error(path, what, exc) from exc


def torch_load_safely(path: str | os.PathLike, *, what: str) -> Any:
    """``torch.load(weights_only=True)`` on the CPU, or a one-line error naming the file.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is corrupt or holds objects other than tensors and plain containers;
        the message never suggests unpickling it.
    """
    _require_file(path, what)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError (zip), EOFError, OSError...
        raise _weights_error(path, what, exc) from exc


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    what = "pretrained weights file"
    if not path.is_file():
        msg = f"{what} {str(path)!r} not found (weights are never downloaded)"
        raise FileNotFoundError(msg)
    if path.suffix == ".safetensors":
        return read_tensors(path, what=what)
    state = torch_load_safely(path, what=what)
    if isinstance(state, Mapping) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        msg = f"{what} {str(path)!r} does not hold a state dict"
        raise ValueError(msg)
    return dict(state)


def build_model(
    name: str,
    *,
    in_channels: int,
    num_classes: int = 2,
    pretrained_path: str | os.PathLike | None = None,
) -> nn.Module:
    """Build a torchvision classifier adapted to ``in_channels`` bands.

    Parameters
    ----------
    name : str
        One of :data:`SUPPORTED_MODELS`.
    in_channels : int
        Number of bands of the stamps (channels of the first convolution).
    num_classes : int, optional
        Number of output logits (2: not cluster / cluster).
    pretrained_path : path-like, optional
        Local file of ImageNet weights for this architecture (safetensors or a
        ``torch.save`` state dict, read with ``weights_only=True``). The
        3-channel first-layer filters are averaged over colour and repeated
        over the bands. ``None`` (default): random initialisation.

    Returns
    -------
    torch.nn.Module
        The model, in training mode, on the CPU.

    Raises
    ------
    ValueError
        If ``name`` is not supported (the message lists the choices), or the
        weights file does not fit the architecture.
    """
    _check_name(name)
    if in_channels < 1:
        msg = f"in_channels must be >= 1, got {in_channels}"
        raise ValueError(msg)
    model = torchvision.models.get_model(name, weights=None)
    if pretrained_path is not None:
        state = _read_state_dict(Path(pretrained_path))
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            msg = f"pretrained weights {str(pretrained_path)!r} do not fit {name}: {exc}"
            raise ValueError(msg) from exc
    _adapt_first_conv(model, in_channels)
    _replace_head(model, num_classes)
    return model


def resolve_device(device: str = "auto") -> torch.device:
    """Return the torch device to use: ``"auto"`` picks CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def save_weights(
    model: nn.Module | Mapping[str, torch.Tensor],
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, Any],
) -> Path:
    """Write model weights as safetensors, atomically, with JSON-able metadata.

    Parameters
    ----------
    model : torch.nn.Module or mapping
        The model or its state dict.
    path : path-like
        Output ``.safetensors`` file.
    metadata : mapping
        Must hold ``model``, ``in_channels``, ``bands`` and ``size``; every value
        is stored JSON-encoded.
    """
    state = model.state_dict() if isinstance(model, nn.Module) else model
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    meta = {str(k): json.dumps(v) for k, v in metadata.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)


def read_weights_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Return the metadata stored by :func:`save_weights` (values decoded from JSON).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a safetensors file with JSON metadata (naming the file).
    """
    _require_file(path, "weights file")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
        return {k: json.loads(v) for k, v in raw.items()}
    except Exception as exc:  # SafetensorError, OSError, JSONDecodeError
        raise _weights_error(path, "weights file", exc) from exc


def load_model(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a trained model from its safetensors file, in eval mode, on ``device``.

    Raises
    ------
    ValueError
        If the file is unreadable, lacks the model metadata, or its tensors do not
        fit the architecture it names (the message names the file).
    """
    meta = read_weights_metadata(path)
    for key in ("model", "in_channels"):
        if key not in meta:
            msg = f"weights file {str(path)!r} lacks the metadata key {key!r}"
            raise ValueError(msg)
    model = build_model(meta["model"], in_channels=int(meta["in_channels"]))
    state = read_tensors(path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()[0]
        msg = f"weights file {str(path)!r} does not fit the {meta['model']} it names: {detail}"
        raise ValueError(msg) from exc
    return model.to(device).eval()


def predict_proba(
    model: nn.Module,
    stamps: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 512,
    device: str | torch.device | None = None,
    normalized: bool = False,
) -> np.ndarray:
    """Probability of the cluster class for each stamp.

    Parameters
    ----------
    model : torch.nn.Module
        A two-class model (see :func:`build_model`).
    stamps : array of shape (N, C, S, S)
        Calibrated stamps (NaN allowed), or network-ready ones when
        ``normalized`` is true.
    batch_size : int, optional
        Stamps per forward pass.
    device : str or torch.device, optional
        Where to run; defaults to the device of the model's parameters. On CUDA
        the forward pass runs under bf16 autocast in channels_last layout; on
        the CPU in float32.
    normalized : bool, optional
        Skip :func:`~pandas_clusters.learn.normalize.normalize_stamps` (already done).

    Returns
    -------
    numpy.ndarray
        float32 array of shape (N,), softmax probability of class 1.
    """
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(dev).eval()
    on_gpu = dev.type == "cuda"
    if on_gpu:
        model = model.to(memory_format=torch.channels_last)
    n = len(stamps)
    out = np.empty(n, dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            chunk = stamps[start : start + batch_size]
            x = torch.as_tensor(np.asarray(chunk) if not torch.is_tensor(chunk) else chunk)
            x = x.to(dev, dtype=torch.float32, non_blocking=True)
            if not normalized:
                x = normalize_stamps(x)
            if on_gpu:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=on_gpu):
                logits = model(x)
            prob = torch.softmax(logits.float(), dim=1)[:, 1]
            out[start : start + len(x)] = prob.cpu().numpy()
    return out


def use_threads(threads: int) -> None:
    """Let torch's CPU kernels use ``threads`` threads (a rule's ``threads:``, capped by
    Snakemake at the cores it was given), so that parallel jobs do not oversubscribe."""
    torch.set_num_threads(max(1, int(threads)))
