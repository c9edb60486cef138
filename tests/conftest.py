"""Shared fixtures: repository paths and the optional ../shared reference folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
SEEDS = SHARED / "seeds"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def reference() -> Path:
    """The folder of real reference files; tests using it skip when it is absent."""
    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference is absent")
    return REFERENCE


@pytest.fixture(scope="session")
def seeds() -> Path:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is absent")
    return SEEDS


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    """Keep torch to one thread: the test machine has two cores."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(1)
