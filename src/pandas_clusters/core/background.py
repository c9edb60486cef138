"""The sep (Source Extractor) background of an image: the one wrapper every stage calls.

The mock's stacks flatten their large-scale background with it
(:func:`pandas_clusters.acquire.mock.render.flatten_background`), the sources and
stamps stages subtract it before detection and photometry, and the completeness
stage measures the noise of its injected images with it: one estimator, one set of
conventions (mesh clipped to the image, median filter over meshes).
"""

from __future__ import annotations

import numpy as np
import sep

__all__ = ["background"]


def background(
    data: np.ndarray,
    mask: np.ndarray | None,
    *,
    box: int,
    filter_size: int,
    with_rms: bool = True,
    dtype: type = np.float32,
) -> tuple[np.ndarray, np.ndarray | None]:
    """sep background and noise maps of ``data``.

    Parameters
    ----------
    data : numpy.ndarray
        Image with NaN already replaced (masked pixels may hold anything); sep
        reads float32 or float64 (C-contiguous) without a copy.
    mask : numpy.ndarray of bool, optional
        True where the pixel is bad.
    box : int
        Mesh size, px (clipped to the image size).
    filter_size : int
        Median filter over meshes.
    with_rms : bool
        Also interpolate the noise map (one more full-image pass); ``rms`` is
        ``None`` when False.
    dtype : numpy dtype
        Type of the returned maps (float32 for the detection stages; the mock's
        float64 images keep float64).

    Returns
    -------
    back, rms : numpy.ndarray
        Maps of ``dtype``, same shape as ``data``.
    """
    ny, nx = data.shape
    bw, bh = max(min(int(box), nx), 1), max(min(int(box), ny), 1)
    bkg = sep.Background(data, mask=mask, bw=bw, bh=bh, fw=filter_size, fh=filter_size)
    back = bkg.back(dtype=dtype)
    rms = bkg.rms(dtype=dtype) if with_rms else None
    return back, rms
