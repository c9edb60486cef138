"""The one stamp normalisation shared by training and inference.

Stamps are stored calibrated (sky-subtracted, flux on a common AB zero
point, see :mod:`pandas_clusters.detect.stamps`); before the network sees them each
stamp and band is passed through :func:`normalize_stamps`: NaN (edges, CCD
gaps, bad columns) becomes 0 after the per-stamp centring, then an asinh
stretch compresses the dynamic range of bright cluster cores and faint
resolved stars alike.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ASINH_SOFTENING", "normalize_stamps"]

#: Softening of the asinh stretch in units of the per-stamp robust noise.
ASINH_SOFTENING = 3.0


def normalize_stamps(stamps, *, softening: float = ASINH_SOFTENING):
    """Normalise a batch of stamps for the network.

    Parameters
    ----------
    stamps : numpy.ndarray or torch.Tensor
        Array of shape ``(N, C, S, S)`` (or ``(C, S, S)``), calibrated flux;
        NaN marks pixels off the image.
    softening : float, optional
        asinh softening in units of each stamp's robust noise (per band).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        float32 array of the same shape and kind, finite everywhere:
        ``asinh((x - median) / (softening * sigma))`` per stamp and band,
        with ``sigma`` the MAD-based noise of that band of that stamp and
        NaN pixels set to 0 (the median level).
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        torch = None
    if torch is not None and isinstance(stamps, torch.Tensor):
        x = stamps.float()
        squeeze = x.ndim == 3
        if squeeze:
            x = x.unsqueeze(0)
        flat = x.flatten(2)
        # nanquantile(0.5) averages the two middle values like numpy.nanmedian;
        # torch.nanmedian would take the lower one, and training (numpy) and
        # inference (torch) must normalise identically
        med = torch.nanquantile(flat, 0.5, dim=2, keepdim=True)
        mad = torch.nanquantile((flat - med).abs(), 0.5, dim=2, keepdim=True)
        med = torch.nan_to_num(med, nan=0.0)
        sigma = torch.nan_to_num(1.4826 * mad, nan=1.0).clamp_min(1e-6)
        out = torch.asinh((flat - med) / (softening * sigma))
        out = torch.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).view_as(x)
        return out.squeeze(0) if squeeze else out
    x = np.asarray(stamps, dtype=np.float32)
    squeeze = x.ndim == 3
    if squeeze:
        x = x[None]
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    all_nan = np.all(np.isnan(flat), axis=2, keepdims=True)
    safe = np.where(all_nan, 0.0, flat)
    med = np.nanmedian(safe, axis=2, keepdims=True)
    mad = np.nanmedian(np.abs(safe - med), axis=2, keepdims=True)
    sigma = np.maximum(1.4826 * mad, 1e-6)
    out = np.arcsinh((flat - med) / (softening * sigma)).astype(np.float32)
    out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).reshape(x.shape)
    return out[0] if squeeze else out
