"""The one stamp normalisation: numpy and torch paths agree, NaN never survives."""

from __future__ import annotations

import numpy as np
import torch

from pandas_clusters.learn.normalize import normalize_stamps


def test_numpy_and_torch_agree():
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 2.0, (6, 2, 16, 16)).astype(np.float32)  # even pixel count
    x[0, 0, :3] = np.nan
    x[1, 1] = np.nan  # a whole band off the image
    a = normalize_stamps(x)
    b = normalize_stamps(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert np.isfinite(a).all() and np.isfinite(b).all()
    np.testing.assert_array_equal(a[1, 1], 0.0)


def test_single_stamp_and_scale():
    x = np.zeros((2, 8, 8), np.float32)
    x[:, 4, 4] = 100.0
    out = normalize_stamps(x)
    assert out.shape == (2, 8, 8)
    assert out[0, 4, 4] > 0 and out[0, 0, 0] == 0.0
