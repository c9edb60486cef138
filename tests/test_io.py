"""Atomic outputs: complete file or nothing, usual permissions, metadata round trip;
direct (page-cache bypassing) output: exact bytes whatever the write sizes and filesystem."""

from __future__ import annotations

import errno
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pandas_clusters.core import io as pio
from pandas_clusters.core.io import DirectOutput, atomic_path, read_parquet_metadata, write_parquet


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


def _pieces(seed=0, total=100_003):
    """Random bytes cut into pieces of awkward sizes (1 byte to > 2 staging chunks)."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, total, dtype=np.uint8).tobytes()
    cuts = np.sort(rng.choice(np.arange(1, total), 40, replace=False))
    bounds = [0, *cuts.tolist(), total]
    return data, [data[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


@pytest.mark.parametrize("direct", [True, False])
def test_direct_output_writes_exact_bytes(tmp_path, direct):
    data, pieces = _pieces()
    path = tmp_path / "out.bin"
    with DirectOutput(path, direct=direct, chunk=8192) as f:
        for piece in pieces:
            assert f.write(piece) == len(piece)
        assert f.tell() == len(data)
        if not direct:
            assert not f.direct
    assert path.read_bytes() == data  # padded tail truncated away
    with pytest.raises(ValueError, match="closed"):
        f.write(b"x")


def test_direct_output_falls_back_when_the_filesystem_refuses_o_direct(tmp_path, monkeypatch):
    real_open = os.open

    def open_(path, flags, mode=0o777):
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument")  # as filesystems without it say
        return real_open(path, flags, mode)

    monkeypatch.setattr(pio.os, "open", open_)
    data, pieces = _pieces(seed=1, total=20_000)
    path = tmp_path / "out.bin"
    with DirectOutput(path, chunk=4096) as f:
        assert not f.direct
        for piece in pieces:
            f.write(piece)
    assert path.read_bytes() == data


@pytest.mark.parametrize("which", ["first", "tail"])
def test_direct_output_falls_back_when_a_write_is_refused(tmp_path, monkeypatch, which):
    real_write = os.write
    refused = []

    def write(fd, view):
        # refuse the first write, or the first of the padded last block (shorter than a chunk)
        if not refused and (which == "first" or len(view) != 8192):
            refused.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, view)

    data, pieces = _pieces(seed=2, total=50_001)
    path = tmp_path / "out.bin"
    with DirectOutput(path, chunk=8192) as f:
        if not f.direct:
            pytest.skip("this filesystem has no O_DIRECT")
        monkeypatch.setattr(pio.os, "write", write)
        for piece in pieces:
            f.write(piece)
    monkeypatch.undo()
    assert refused and not f.direct
    assert path.read_bytes() == data


def test_direct_output_carries_a_parquet_file(tmp_path):
    table = pa.table({"a": np.arange(10_000), "b": np.random.default_rng(0).normal(size=10_000)})
    path = tmp_path / "t.parquet"
    with (
        DirectOutput(path, chunk=8192) as raw,
        pq.ParquetWriter(pa.PythonFile(raw, mode="w"), table.schema) as writer,
    ):
        writer.write_table(table, row_group_size=3000)
    assert pq.read_table(path).equals(table)
    assert pq.ParquetFile(path).metadata.num_row_groups == 4


def test_direct_output_disk_full_names_the_file(tmp_path, monkeypatch):
    def write(fd, view):
        raise OSError(errno.ENOSPC, "No space left on device")

    path = tmp_path / "out.bin"
    monkeypatch.setattr(pio.os, "write", write)
    f = DirectOutput(path, chunk=4096)
    with pytest.raises(OSError, match="No space left") as err:
        for _ in range(4):
            f.write(b"x" * 4096)
        f.close()
    assert err.value.filename == str(path)
    f.close()  # a second close is harmless
    assert f.closed


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
    with pytest.raises(ValueError, match=r"t\.parquet cannot be read: .*(?i:checksum|crc)"):
        pio.read_parquet(path)
    with pytest.raises(ValueError, match=r"t\.parquet cannot be read: .*(?i:checksum|crc)"):
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
