"""Atomic outputs: complete file or nothing, usual permissions, metadata round trip."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from pandas_clusters.io import atomic_path, read_parquet_metadata, write_parquet


def test_failure_leaves_nothing(tmp_path):
    out = tmp_path / "sub" / "x.txt"
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_failure_keeps_the_previous_version(tmp_path):
    out = tmp_path / "x.txt"
    out.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("new")
        raise RuntimeError("boom")
    assert out.read_text() == "old"


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "x.txt") as tmp:
            tmp.write_text("ok")
    finally:
        os.umask(old)
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o644


def test_parquet_metadata_round_trip(tmp_path):
    path = write_parquet(
        pd.DataFrame({"a": [1, 2]}), tmp_path / "t.parquet", metadata={"bands": ["g", "i"]}
    )
    assert read_parquet_metadata(path) == {"bands": ["g", "i"]}
    assert pd.read_parquet(path)["a"].tolist() == [1, 2]
