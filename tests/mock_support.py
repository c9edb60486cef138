"""Helpers of the mock's texture tests: the unresolved stars of a uniform light, unblurred."""

from __future__ import annotations

import numpy as np

from pandas_clusters.acquire.mock.render import _texture

#: A PSF that blurs nothing (one pixel), so the texture's pixel statistics are its stars'.
DELTA_PSF = np.pad(np.ones((1, 1)), 1)


def flat_texture(settings, seed, *, disk=0.0, spheroid=0.0, shape=(300, 300), **kwargs):
    """``_texture`` of a uniform light (ADU/px in g) of the disk or spheroid, no bulge."""
    light = {name: np.full(shape, float(v)) for name, v in (("disk", disk), ("spheroid", spheroid))}
    zero = np.zeros(shape)
    return _texture(
        settings,
        light["disk"],
        zero,
        light["spheroid"],
        "g",
        DELTA_PSF,
        np.random.default_rng(seed),
        **kwargs,
    )
