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
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "atomic_path",
    "iter_parquet_batches",
    "open_parquet",
    "parquet_errors",
    "read_frame",
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


@contextlib.contextmanager
def parquet_errors(path: str | os.PathLike, what: str = "Parquet file") -> Iterator[None]:
    """Re-raise pyarrow's errors while reading ``path`` as one naming the file.

    pyarrow's own messages (``Parquet magic bytes not found in footer...``) do not
    say which file; inside this context a missing file becomes a
    :class:`FileNotFoundError` and an unreadable one a :class:`ValueError`, both
    starting with ``what`` and the path.
    """
    try:
        yield
    except FileNotFoundError as exc:
        msg = f"{what} {os.fspath(path)} not found"
        raise FileNotFoundError(msg) from exc
    except (pa.ArrowException, OSError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        msg = f"{what} {os.fspath(path)} cannot be read as Parquet: {detail}"
        raise ValueError(msg) from exc


def open_parquet(path: str | os.PathLike, what: str = "Parquet file") -> pq.ParquetFile:
    """Open a Parquet file whose page checksums are verified as its pages are read.

    For streaming: without pyarrow's pre-buffering, which holds every column
    chunk that a batch iteration will read in memory at once (the whole
    file: 11 GB of resident memory to stream a 9.3 GB stamps file in the
    inference stage, ``benchmarks/RESULTS.md``, section ``bench_field``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist ("not found", naming it).
    ValueError
        If it is not a readable Parquet file (naming it).
    """
    with parquet_errors(path, what):
        if not Path(path).exists():
            raise FileNotFoundError(os.fspath(path))
        return pq.ParquetFile(path, page_checksum_verification=True, pre_buffer=False)


def read_parquet(
    path: str | os.PathLike,
    *,
    columns: Sequence[str] | None = None,
    filters: Any = None,
    what: str = "Parquet file",
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
    with parquet_errors(path, what):
        if not Path(path).exists():
            raise FileNotFoundError(os.fspath(path))
        return pq.read_table(
            path,
            columns=None if columns is None else list(columns),
            filters=filters,
            page_checksum_verification=True,
        )


def iter_parquet_batches(
    path: str | os.PathLike, *, what: str = "Parquet file", **kwargs: Any
) -> Iterator[pa.RecordBatch]:
    """``ParquetFile.iter_batches(**kwargs)`` with page checksums verified, errors naming the file."""
    batches = open_parquet(path, what).iter_batches(**kwargs)
    while True:
        with parquet_errors(path, what):
            try:
                batch = next(batches)
            except StopIteration:
                return
        yield batch


def read_frame(
    path: str | os.PathLike,
    *,
    columns: Sequence[str] | None = None,
    what: str = "Parquet file",
    **kwargs: Any,
) -> pd.DataFrame:
    """``pandas.read_parquet`` with page checksums verified and errors naming the file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist ("``what`` ``path`` not found").
    ValueError
        If it is not readable Parquet or a page checksum fails (naming the file).
    """
    with parquet_errors(path, what):
        if not Path(path).exists():
            raise FileNotFoundError(os.fspath(path))
        return pd.read_parquet(
            path,
            columns=None if columns is None else list(columns),
            page_checksum_verification=True,
            **kwargs,
        )


def read_parquet_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Return the ``pandas_clusters`` metadata written by :func:`write_parquet`.

    Raises
    ------
    FileNotFoundError, ValueError
        Naming the file, when it is absent or not readable Parquet.
    """
    with parquet_errors(path):
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
