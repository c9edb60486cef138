"""Column checks of the tables passed between stages (``docs/data-model.md``)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = [
    "MAX_ABS_PIXEL",
    "STAMP_FLAG_BAD_VALUE",
    "STAMP_FLAG_BITS",
    "STAMP_FLAG_EDGE",
    "STAMP_FLAG_HAS_NAN",
    "STAMP_FLAG_OFF_IMAGE",
    "check_stamp_values",
    "require_columns",
]

#: Flag bits of a stamp (``flags`` column of ``results/stamps/{field}.parquet``).
STAMP_FLAG_EDGE = 1
STAMP_FLAG_HAS_NAN = 2
STAMP_FLAG_OFF_IMAGE = 4
STAMP_FLAG_BAD_VALUE = 8

#: Largest credible |pixel| on the stored scale (AB zero point 30): the whole flux of a
#: magnitude-0 source in one pixel. Beyond it a pixel is corrupt data (stored as NaN,
#: ``BAD_VALUE``); readers refuse such a value outright.
MAX_ABS_PIXEL = 1e12


#: Flag name -> bit value (also written to the file metadata).
STAMP_FLAG_BITS = {
    "EDGE": STAMP_FLAG_EDGE,
    "HAS_NAN": STAMP_FLAG_HAS_NAN,
    "OFF_IMAGE": STAMP_FLAG_OFF_IMAGE,
    "BAD_VALUE": STAMP_FLAG_BAD_VALUE,
}


def require_columns(present: Iterable[str], required: Iterable[str], *, where: str) -> None:
    """Raise naming the table and every column it lacks.

    Parameters
    ----------
    present : iterable of str
        The table's columns (a DataFrame's ``columns``, an Arrow schema's ``names``).
    required : iterable of str
        The columns the caller reads.
    where : str
        What the table is, for the message (e.g. ``"sources file 'results/sources/207.parquet'"``).

    Raises
    ------
    ValueError
        ``"{where}: missing column(s) a, b (has: ...)"``.
    """
    have = list(present)
    missing = [c for c in required if c not in set(have)]
    if missing:
        shown = ", ".join(have[:20]) + (", ..." if len(have) > 20 else "")
        msg = f"{where}: missing column(s) {', '.join(missing)} (has: {shown})"
        raise ValueError(msg)


def check_stamp_values(
    stamps: np.ndarray, flags: np.ndarray, source_ids: np.ndarray, *, path
) -> None:
    """Refuse stamps whose values cannot come from :func:`cut_stamps`.

    Parameters
    ----------
    stamps : numpy.ndarray
        ``(N, ...)`` pixel values as read.
    flags, source_ids : numpy.ndarray
        Their ``flags`` and ``source_id`` columns.
    path : path-like
        The file, for the message.

    Raises
    ------
    ValueError
        Naming the file and the first offending ``source_id``: an infinite
        value or one beyond :data:`MAX_ABS_PIXEL`, or a NaN in a stamp whose
        flags lack ``HAS_NAN``.
    """
    flat = stamps.reshape(len(stamps), -1)
    if flat.size == 0:
        return
    with np.errstate(invalid="ignore"):
        absurd = (np.abs(flat) > MAX_ABS_PIXEL).any(axis=1)
    if absurd.any():
        k = int(np.flatnonzero(absurd)[0])
        worst = flat[k][np.abs(flat[k]) > MAX_ABS_PIXEL][0]
        msg = (
            f"stamps file {path}: source_id {int(source_ids[k])} holds the pixel value "
            f"{worst:g} (|value| > {MAX_ABS_PIXEL:g}; {int(absurd.sum())} such stamps): "
            "the file is corrupt, cut the stamps again"
        )
        raise ValueError(msg)
    unflagged_nan = ((np.asarray(flags) & STAMP_FLAG_HAS_NAN) == 0) & np.isnan(flat).any(axis=1)
    if unflagged_nan.any():
        k = int(np.flatnonzero(unflagged_nan)[0])
        msg = (
            f"stamps file {path}: source_id {int(source_ids[k])} has NaN pixels but no HAS_NAN "
            f"flag ({int(unflagged_nan.sum())} such stamps): the file is corrupt, cut the "
            "stamps again"
        )
        raise ValueError(msg)
