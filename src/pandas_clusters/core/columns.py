"""Column checks of the tables passed between stages (``docs/data-model.md``)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["require_columns"]


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
