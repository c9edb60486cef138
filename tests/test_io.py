"""Atomic outputs: complete file or nothing, usual permissions, metadata round trip;
Parquet page checksums written and verified, readers naming the file."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pandas_clusters.core import io as pio
from pandas_clusters.core.io import atomic_path, read_parquet_metadata, write_parquet


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


def _damaged_parquet(tmp_path):
    """A write_parquet file with 8 bytes of its float column's data page overwritten."""
    values = np.random.default_rng(0).random(20_000)  # incompressible: stored as they are
    path = write_parquet(pd.DataFrame({"x": values}), tmp_path / "t.parquet")
    raw = path.read_bytes()
    offset = raw.index(values[12_345].tobytes())
    path.write_bytes(raw[:offset] + np.float64(1.5e16).tobytes() + raw[offset + 8 :])
    return path


def test_page_checksums_catch_overwritten_bytes(tmp_path):
    path = _damaged_parquet(tmp_path)
    # a plain reader takes the damaged value for data ...
    assert pq.read_table(path)["x"].to_numpy()[12_345] == 1.5e16
    # ... the checksummed readers refuse the page, naming the file
    with pytest.raises(
        ValueError, match=r"t\.parquet cannot be read as Parquet: .*(?i:checksum|crc)"
    ):
        pio.read_parquet(path)
    with pytest.raises(
        ValueError, match=r"t\.parquet cannot be read as Parquet: .*(?i:checksum|crc)"
    ):
        list(pio.iter_parquet_batches(path, batch_size=1000))


def test_parquet_readers_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"absent\.parquet not found"):
        pio.read_parquet(tmp_path / "absent.parquet")
    (tmp_path / "html.parquet").write_text("<html>not parquet</html>")
    with pytest.raises(ValueError, match=r"html\.parquet cannot be read"):
        pio.read_parquet(tmp_path / "html.parquet")
    with pytest.raises(ValueError, match=r"html\.parquet cannot be read"):
        pio.open_parquet(tmp_path / "html.parquet")
    good = write_parquet(pd.DataFrame({"a": [1, 2]}), tmp_path / "g.parquet")
    assert pio.read_parquet(good, columns=["a"])["a"].to_pylist() == [1, 2]


def test_streaming_reader_holds_one_row_group(tmp_path):
    """iter_parquet_batches streams: no pre-buffering of the whole file in memory."""
    values = np.random.default_rng(1).random(40 * 131_072)  # 40 row groups of 1 MiB
    path = write_parquet(
        pd.DataFrame({"x": values}), tmp_path / "s.parquet", row_group_size=131_072
    )
    before = pa.total_allocated_bytes()
    batches = pio.iter_parquet_batches(path, batch_size=131_072)
    first = next(batches)
    held = pa.total_allocated_bytes() - before
    assert first.num_rows == 131_072
    assert held < 8 * 2**20  # the whole file would be 40 MiB
    assert sum(b.num_rows for b in batches) == len(values) - 131_072
