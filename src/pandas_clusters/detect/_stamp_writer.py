"""The stamps file writer, in a child process of its own.

Encoding the stamp column is the stamps stage's bottleneck: pyarrow writes a
repetition and a definition level for every pixel of a fixed-size list. Run in
a thread of the cutting process it loses time waiting for the GIL, which sep's
background estimation holds for ~0.1 s per CCD and band; in a process of its
own it has a core to itself (``benchmarks/RESULTS.md``).

:class:`StampFileWriter` (parent side) starts ``python -m
pandas_clusters.detect._stamp_writer``, which imports only numpy and pyarrow. Row
groups travel through shared memory: ``slots`` buffers of ``rows x values``
float32 in one anonymous file (``memfd`` on Linux) that both processes map.
Messages go over a socket pair (:class:`multiprocessing.connection.Connection`):

- parent -> child: a settings dict, then ``(slot, n_rows, source_id, flags)``
  per row group, then ``None``;
- child -> parent: ``("free", slot)`` once a row group is written (its buffer
  may be refilled), ``("closed",)`` when the file is complete, or ``("error",
  exception)`` on any failure, after which the child exits.

The file itself is written through :class:`pandas_clusters.core.io.DirectOutput`.
Nothing here is public API.
"""

from __future__ import annotations

import mmap
import os
import socket
import subprocess
import sys
import tempfile
from collections import deque
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pandas_clusters.core.io import DirectOutput

#: Bytes per write to the output file (and per call from the encoder into Python).
IO_CHUNK = 16 << 20


def _anonymous_file(size: int) -> int:
    """A file descriptor of ``size`` zero bytes living only in memory (or an unlinked temp file)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("pandas_clusters-stamps", os.MFD_CLOEXEC)
    else:  # pragma: no cover - not Linux
        handle = tempfile.TemporaryFile()
        fd = os.dup(handle.fileno())
        handle.close()
    os.ftruncate(fd, size)
    return fd


class StampFileWriter:
    """Parent side: hands row groups to the writer process through shared buffers.

    Parameters
    ----------
    path : str or path-like
        Parquet file to write (the caller makes it atomic).
    schema : pyarrow.Schema
        ``source_id`` (int64), ``stamp`` (fixed-size list of float32), ``flags``
        (int32), with the file metadata.
    rows : int
        Rows per row group (buffer capacity).
    values : int
        float32 values per row (``C*S*S``).
    slots : int
        Shared buffers: the child may be writing ``slots - 1`` row groups while
        the parent fills the next.
    compression : str or None
        Parquet codec.
    direct_io : bool
        Passed to :class:`pandas_clusters.core.io.DirectOutput`.
    page_checksum : bool
        CRC-32 of every data page (verified by the readers).

    Notes
    -----
    Use as a context manager: a clean exit completes the file; an exception
    kills the child (the caller removes the partial file).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        schema: pa.Schema,
        *,
        rows: int,
        values: int,
        slots: int = 3,
        compression: str | None = None,
        direct_io: bool = True,
        page_checksum: bool = True,
    ) -> None:
        self.path = os.fspath(path)
        self.rows, self.values = int(rows), int(values)
        self._slot_bytes = self.rows * self.values * 4
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._map: mmap.mmap | None = None
        data_fd = _anonymous_file(slots * self._slot_bytes)
        parent, child = socket.socketpair()
        try:
            self._map = mmap.mmap(data_fd, slots * self._slot_bytes)
            src = str(Path(__file__).resolve().parents[1])
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__, str(child.fileno()), str(data_fd)],
                pass_fds=(child.fileno(), data_fd),
                env=env,
            )
            self._conn = Connection(parent.detach())
            self._conn.send(
                {
                    "path": self.path,
                    # IPC bytes, not a pickle: pickling loses the list's non-null item
                    "schema": schema.serialize().to_pybytes(),
                    "rows": self.rows,
                    "values": self.values,
                    "slots": int(slots),
                    "compression": compression,
                    "direct_io": bool(direct_io),
                    "page_checksum": bool(page_checksum),
                }
            )
        except BaseException:
            self._abort()
            raise
        finally:
            child.close()
            parent.close()
            os.close(data_fd)
        self._free = deque(range(slots))

    def buffer(self, n: int) -> tuple[int, np.ndarray]:
        """A free slot and its ``(n, values)`` float32 view (waits while the child holds all)."""
        if not 0 < n <= self.rows:
            msg = f"row group of {n} rows; the buffers hold 1 to {self.rows}"
            raise ValueError(msg)
        while not self._free:
            self._receive()
        slot = self._free.popleft()
        view = np.frombuffer(
            self._map, dtype=np.float32, count=n * self.values, offset=slot * self._slot_bytes
        )
        return slot, view.reshape(n, self.values)

    def write(self, slot: int, source_id: np.ndarray, flags: np.ndarray) -> None:
        """Queue the filled ``slot`` as one row group (``len(source_id)`` rows)."""
        task = (
            slot,
            len(source_id),
            np.ascontiguousarray(source_id, np.int64),
            np.ascontiguousarray(flags, np.int32),
        )
        try:
            self._conn.send(task)
        except OSError:  # the child is gone: raise what it reported, or that it died
            while True:
                self._receive()

    def close(self) -> None:
        """Finish the file: wait until every row group and the footer are written."""
        try:
            self._conn.send(None)
            while self._receive()[0] != "closed":
                pass
            self._proc.wait()
        except BaseException:
            self._abort()
            raise
        finally:
            self._release()

    def _receive(self) -> tuple:
        try:
            msg = self._conn.recv()
        except (EOFError, OSError):
            code = self._proc.wait()  # closed socket: the child has exited
            msg = f"the stamps writer process for {self.path} died (exit code {code})"
            raise RuntimeError(msg) from None
        if msg[0] == "free":
            self._free.append(msg[1])
        elif msg[0] == "error":
            raise msg[1]
        return msg

    def _abort(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._release()

    def _release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a view is still referenced; the mapping goes with it
                pass
            self._map = None

    def __enter__(self) -> StampFileWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()


def _serve(conn: Connection, data_fd: int) -> None:
    """Child side: write the row groups the parent announces until ``None``."""
    settings: dict[str, Any] = conn.recv()
    slot_bytes = settings["rows"] * settings["values"] * 4
    data = mmap.mmap(data_fd, settings["slots"] * slot_bytes)
    os.close(data_fd)
    schema = pa.ipc.read_schema(pa.py_buffer(settings["schema"]))
    stamp_type = schema.field("stamp").type
    with (
        DirectOutput(settings["path"], direct=settings["direct_io"], chunk=IO_CHUNK) as raw,
        pa.PythonFile(raw, mode="w") as sink,
        # no dictionary encoding and no min/max statistics for the pixel column: both cost
        # a pass over every value and gain nothing on noise-dominated float32 pixels (v1
        # data pages: measured faster than v2 for these fixed-size lists)
        pq.ParquetWriter(
            sink,
            schema,
            compression=settings["compression"],
            use_dictionary=False,
            write_statistics=["source_id", "flags"],
            write_page_checksum=settings["page_checksum"],
        ) as writer,
    ):
        while (task := conn.recv()) is not None:
            slot, n, source_id, flags = task
            pixels = np.frombuffer(
                data, dtype=np.float32, count=n * settings["values"], offset=slot * slot_bytes
            )
            table = pa.Table.from_arrays(
                [
                    pa.array(source_id, type=pa.int64()),
                    pa.FixedSizeListArray.from_arrays(pa.array(pixels), type=stamp_type),
                    pa.array(flags, type=pa.int32()),
                ],
                schema=schema,
            )
            writer.write_table(table, row_group_size=settings["rows"])
            del table, pixels
            conn.send(("free", slot))
    conn.send(("closed",))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child: ``python -m pandas_clusters.detect._stamp_writer CONN_FD DATA_FD``."""
    argv = sys.argv[1:] if argv is None else argv
    conn = Connection(int(argv[0]))
    try:
        _serve(conn, int(argv[1]))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return 1  # the parent went away: nothing to report to
    except BaseException as exc:  # report everything; the parent raises it
        try:
            conn.send(("error", exc))
        except Exception:
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
