"""Atomic file output and Parquet helpers shared by every stage.

Every output of the pipeline is written to a temporary name in the same
folder and renamed into place once complete, so a crash never leaves a
half-written file at the output path.

Parquet outputs carry a CRC-32 checksum on every data page
(:func:`write_parquet`, the stamps writer); :func:`open_parquet`,
:func:`read_parquet` and :func:`iter_parquet_batches` verify them, so bytes
damaged on disk or in transit are an error naming the file, not wrong numbers.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import mmap
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "DirectOutput",
    "atomic_path",
    "iter_parquet_batches",
    "open_parquet",
    "read_parquet",
    "read_parquet_metadata",
    "save_figure",
    "write_parquet",
]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    Parameters
    ----------
    path : str or path-like
        Final output path. Its parent folder is created if needed.
    suffix : str, optional
        Suffix of the temporary file (defaults to that of ``path``), so that
        libraries choosing a format by extension (astropy, matplotlib) work.

    Notes
    -----
    On any exception the temporary file is removed and ``path`` is left
    untouched (absent, or its previous complete version).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    sfx = final.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".tmp{sfx}", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates the file private (0600); give it the permissions a plain
        # open() would have, so outputs are readable by the group as usual
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_parquet(
    table: pa.Table | Any,
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, Any] | None = None,
    row_group_size: int | None = None,
) -> Path:
    """Write a table to Parquet atomically, with JSON-encoded file metadata.

    Parameters
    ----------
    table : pyarrow.Table or pandas.DataFrame
        The rows to write. A DataFrame is converted without its index.
    path : str or path-like
        Output path.
    metadata : mapping, optional
        Key/value pairs stored in the Parquet schema metadata under the key
        ``pandas_clusters`` as one JSON document (read them back with
        :func:`read_parquet_metadata`).
    row_group_size : int, optional
        Maximum number of rows per row group.

    Notes
    -----
    Every data page carries a CRC-32 checksum (``write_page_checksum``), which
    the readers of this module verify.
    """
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    if metadata is not None:
        meta = dict(table.schema.metadata or {})
        meta[b"pandas_clusters"] = json.dumps(dict(metadata), sort_keys=True).encode()
        table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=row_group_size, write_page_checksum=True)
    return Path(path)


def _parquet_error(path: str | os.PathLike, exc: BaseException) -> ValueError:
    return ValueError(f"Parquet file {os.fspath(path)} cannot be read: {exc}")


def open_parquet(path: str | os.PathLike) -> pq.ParquetFile:
    """Open a Parquet file whose page checksums are verified as its pages are read.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist ("not found", naming it).
    ValueError
        If it is not a readable Parquet file (naming it).
    """
    if not Path(path).exists():
        msg = f"Parquet file {os.fspath(path)} not found"
        raise FileNotFoundError(msg)
    try:
        return pq.ParquetFile(path, page_checksum_verification=True)
    except (OSError, pa.ArrowException) as exc:
        raise _parquet_error(path, exc) from exc


def read_parquet(
    path: str | os.PathLike,
    *,
    columns: Sequence[str] | None = None,
    filters: Any = None,
) -> pa.Table:
    """``pyarrow.parquet.read_table`` with page checksums verified and errors naming the file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not Parquet, a page checksum fails or a page cannot be
        decoded (the message names the file and pyarrow's reason).
    """
    if not Path(path).exists():
        msg = f"Parquet file {os.fspath(path)} not found"
        raise FileNotFoundError(msg)
    try:
        return pq.read_table(
            path,
            columns=None if columns is None else list(columns),
            filters=filters,
            page_checksum_verification=True,
        )
    except (OSError, pa.ArrowException) as exc:
        raise _parquet_error(path, exc) from exc


def iter_parquet_batches(path: str | os.PathLike, **kwargs: Any) -> Iterator[pa.RecordBatch]:
    """``ParquetFile.iter_batches(**kwargs)`` with page checksums verified, errors naming the file."""
    pf = open_parquet(path)
    batches = pf.iter_batches(**kwargs)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (OSError, pa.ArrowException) as exc:
            raise _parquet_error(path, exc) from exc
        yield batch


def read_parquet_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Return the ``pandas_clusters`` metadata written by :func:`write_parquet`."""
    schema = pq.read_schema(path)
    raw = (schema.metadata or {}).get(b"pandas_clusters")
    if raw is None:
        return {}
    return json.loads(raw)


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 110, fmt: str | None = None) -> Path:
    """Render a matplotlib ``Figure`` on the Agg canvas (no display) and write it atomically.

    ``fmt`` (``"png"``, ...) defaults to the file's extension. matplotlib is imported
    here, not with this module, which every stage uses.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=fmt)
    return Path(path)


#: Alignment of direct writes: offsets, lengths and memory (4096 covers 512- and 4096-byte
#: logical blocks).
_DIRECT_ALIGN = 4096


class DirectOutput(io.RawIOBase):
    """A write-only sequential file that bypasses the page cache (``O_DIRECT``) where it can.

    Meant for outputs of many GB written once and read later by another job,
    such as the stamps. Buffered writes make the kernel find, zero and copy
    into a page-cache page for every 4 KiB: CPU time the encoder needs, and
    memory the node's other jobs need. On the 2-core reference machine
    (``benchmarks/bench_stamps.py``, ``benchmarks/RESULTS.md``), writing a
    2.5 GB stamps file's bytes cost 0.5-5.3 s of system CPU buffered and
    0.1-0.2 s direct, and the stamps stage ran ~1.7x faster end to end with
    direct writes. Data is gathered in a page-aligned staging
    buffer of ``chunk`` bytes; a full buffer is written by a background thread
    while the other one fills.

    Where ``O_DIRECT`` is not available (not Linux, or a filesystem without
    it: the ``open`` or a ``write`` fails with ``EINVAL``) the file is written
    the ordinary way; :attr:`direct` tells which. The last, partial
    block is written padded and the file truncated to its true length.

    Parameters
    ----------
    path : str or path-like
        File to create (truncated if it exists).
    direct : bool
        Try ``O_DIRECT``; False writes through the page cache.
    chunk : int
        Staging buffer size, bytes (rounded up to a multiple of 4096).
    """

    def __init__(
        self, path: str | os.PathLike, *, direct: bool = True, chunk: int = 16 << 20
    ) -> None:
        super().__init__()
        self._fd = -1
        self._closing = False
        self._pending: Future | None = None
        self._error: OSError | None = None
        self.name = os.fspath(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        o_direct = getattr(os, "O_DIRECT", 0)
        self.direct = False
        if direct and o_direct:
            try:
                self._fd = os.open(self.name, flags | o_direct, 0o666)
                self.direct = True
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
        if self._fd < 0:
            self._fd = os.open(self.name, flags, 0o666)
        self._chunk = -(-int(chunk) // _DIRECT_ALIGN) * _DIRECT_ALIGN
        self._buffers = [mmap.mmap(-1, self._chunk) for _ in range(2)]  # page-aligned
        self._current = 0
        self._fill = 0
        self._size = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="direct-output")

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def tell(self) -> int:
        return self._size

    def write(self, data) -> int:
        if self.closed:
            msg = f"write to closed file {self.name}"
            raise ValueError(msg)
        if self._error is not None:
            raise self._error
        view = memoryview(data).cast("B")
        pos, n = 0, len(view)
        while pos < n:
            take = min(n - pos, self._chunk - self._fill)
            self._buffers[self._current][self._fill : self._fill + take] = view[pos : pos + take]
            self._fill += take
            pos += take
            if self._fill == self._chunk:
                self._submit(self._chunk)
        self._size += n
        return n

    def _submit(self, length: int) -> None:
        self._wait()
        self._pending = self._pool.submit(self._write_all, self._current, length)
        self._current ^= 1
        self._fill = 0

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            try:
                pending.result()
            except OSError as exc:
                # name the file: os.write's errors (disk full, I/O error) do not
                self._error = OSError(exc.errno, f"{exc.strerror} while writing", self.name)
                raise self._error from exc

    def _write_all(self, index: int, length: int) -> None:
        with memoryview(self._buffers[index]) as whole:
            view = whole[:length]
            while len(view):
                try:
                    k = os.write(self._fd, view)
                except OSError as exc:
                    if exc.errno == errno.EINVAL and self.direct:
                        self._drop_direct()
                        continue
                    raise
                view = view[k:]
                if k % _DIRECT_ALIGN and self.direct and len(view):
                    self._drop_direct()  # a short write broke the alignment
            view.release()

    def _drop_direct(self) -> None:
        import fcntl

        fl = fcntl.fcntl(self._fd, fcntl.F_GETFL)
        fcntl.fcntl(self._fd, fcntl.F_SETFL, fl & ~os.O_DIRECT)
        self.direct = False

    def close(self) -> None:
        """Write what is buffered (unless a write failed), wait for it, close the file."""
        if self.closed or self._closing:
            return
        self._closing = True
        if self._fd < 0:  # the open failed
            super().close()
            return
        try:
            tail = self._fill
            if self._error is None and tail:
                if self.direct:
                    padded = -(-tail // _DIRECT_ALIGN) * _DIRECT_ALIGN
                    self._buffers[self._current][tail:padded] = bytes(padded - tail)
                    self._submit(padded)
                else:
                    self._submit(tail)
            self._wait()
            if tail:  # drop the padding of the last block (also if O_DIRECT was dropped meanwhile)
                os.ftruncate(self._fd, self._size)
        finally:
            self._pool.shutdown(wait=True)
            self._pending = None
            os.close(self._fd)
            super().close()
