"""The score database: SQLite in WAL mode, one committed transaction per score.

Tables
------
``inspectors(name, created, session)``
    One row per inspector; ``session`` is the token of the browser tab that
    holds the inspector now (the latest one opened: an older tab's writes
    are refused, see :class:`StaleSession`).
``scores(inspector, source_id, score, scored_at)``
    The current score of each (inspector, candidate); ``score`` in 0, 1, 2
    (a CHECK constraint backs the application's own check).
``events(id, inspector, source_id, previous, score, at, undone)``
    Every change, in order: what ``u`` (undo) walks back.

Every change runs in one ``BEGIN IMMEDIATE`` transaction and is committed
(``synchronous = FULL``: fsync'ed) before the app answers, so a killed
server or browser loses no acknowledged score. WAL lets readers run while
one inspector writes; concurrent writers wait for each other
(``busy_timeout``). Connections are opened per request (one thread each).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["INSPECTOR_NAME", "ScoreStore", "StaleSession", "UnknownInspector"]

#: An inspector's name: also the stem of the exported CSV file.
INSPECTOR_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inspectors (
    name TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    session TEXT
);
CREATE TABLE IF NOT EXISTS scores (
    inspector TEXT NOT NULL REFERENCES inspectors(name),
    source_id INTEGER NOT NULL,
    score INTEGER NOT NULL CHECK (score IN (0, 1, 2)),
    scored_at TEXT NOT NULL,
    PRIMARY KEY (inspector, source_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    inspector TEXT NOT NULL REFERENCES inspectors(name),
    source_id INTEGER NOT NULL,
    previous INTEGER,
    score INTEGER,
    at TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_by_inspector ON events (inspector, undone, id);
"""


class StaleSession(PermissionError):
    """The inspector was opened in another tab since this one: its writes are refused."""


class UnknownInspector(LookupError):
    """No inspector of that name has opened a session."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid inspector name, else raise ValueError."""
    if not isinstance(name, str) or not INSPECTOR_NAME.match(name):
        msg = (
            f"inspector name {name!r} is not allowed: a letter, then up to 31 letters, "
            "digits, '_' or '-'"
        )
        raise ValueError(msg)
    return name


class ScoreStore:
    """The inspection database at ``path`` (created with its folder when absent).

    Parameters
    ----------
    path : path-like
        SQLite file (e.g. ``resources/inspection/inspection.sqlite``).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                msg = f"inspection database {self.path}: cannot switch to WAL mode ({mode})"
                raise ValueError(msg)
            con.executescript(_SCHEMA)

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A new connection in autocommit mode (transactions are explicit)."""
        try:
            con = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except sqlite3.Error as exc:
            msg = f"cannot open the inspection database {self.path}: {exc}"
            raise ValueError(msg) from exc
        try:
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA synchronous=FULL")
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # ------------------------------------------------------------------ sessions

    def open_session(self, inspector: str) -> str:
        """Register ``inspector`` if new and give this tab the session; return its token."""
        check_name(inspector)
        token = secrets.token_urlsafe(16)
        with self._transaction() as con:
            con.execute(
                "INSERT INTO inspectors (name, created, session) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET session = excluded.session",
                (inspector, _now(), token),
            )
        return token

    def _check_session(self, con: sqlite3.Connection, inspector: str, token: str | None) -> None:
        row = con.execute("SELECT session FROM inspectors WHERE name = ?", (inspector,)).fetchone()
        if row is None:
            msg = f"unknown inspector {inspector!r}: open a session first"
            raise UnknownInspector(msg)
        if not token or not secrets.compare_digest(str(row[0]), str(token)):
            msg = (
                f"inspector {inspector!r} is open in another tab or window; this one is "
                "stale (reload it to continue here)"
            )
            raise StaleSession(msg)

    # -------------------------------------------------------------------- scores

    def set_score(self, inspector: str, token: str | None, source_id: int, score: int) -> None:
        """Record (or change) one score and its event, committed before returning."""
        if type(score) is not int or score not in (0, 1, 2):
            msg = f"score must be 0, 1 or 2, got {score!r}"
            raise ValueError(msg)
        with self._transaction() as con:
            self._check_session(con, inspector, token)
            row = con.execute(
                "SELECT score FROM scores WHERE inspector = ? AND source_id = ?",
                (inspector, source_id),
            ).fetchone()
            previous = None if row is None else row[0]
            now = _now()
            con.execute(
                "INSERT INTO scores (inspector, source_id, score, scored_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(inspector, source_id) DO UPDATE SET score = excluded.score, "
                "scored_at = excluded.scored_at",
                (inspector, source_id, score, now),
            )
            con.execute(
                "INSERT INTO events (inspector, source_id, previous, score, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (inspector, source_id, previous, score, now),
            )

    def undo(self, inspector: str, token: str | None) -> tuple[int, int | None] | None:
        """Walk back the inspector's last change: ``(source_id, restored score)`` or None."""
        with self._transaction() as con:
            self._check_session(con, inspector, token)
            row = con.execute(
                "SELECT id, source_id, previous FROM events WHERE inspector = ? AND undone = 0 "
                "ORDER BY id DESC LIMIT 1",
                (inspector,),
            ).fetchone()
            if row is None:
                return None
            event, source_id, previous = row
            if previous is None:
                con.execute(
                    "DELETE FROM scores WHERE inspector = ? AND source_id = ?",
                    (inspector, source_id),
                )
            else:
                con.execute(
                    "UPDATE scores SET score = ?, scored_at = ? "
                    "WHERE inspector = ? AND source_id = ?",
                    (previous, _now(), inspector, source_id),
                )
            con.execute("UPDATE events SET undone = 1 WHERE id = ?", (event,))
        return int(source_id), previous

    def scores(self, inspector: str, source_ids: Iterable[int] | None = None) -> dict[int, int]:
        """source_id -> score of one inspector (only ``source_ids`` when given)."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT source_id, score FROM scores WHERE inspector = ? ORDER BY source_id",
                (inspector,),
            ).fetchall()
        out = {int(s): int(v) for s, v in rows}
        if source_ids is not None:
            keep = set(int(s) for s in source_ids)
            out = {s: v for s, v in out.items() if s in keep}
        return out

    def inspectors(self) -> list[str]:
        """Every inspector who opened a session, by name."""
        with self.connect() as con:
            return [r[0] for r in con.execute("SELECT name FROM inspectors ORDER BY name")]

    def all_scores(self, source_ids: Iterable[int] | None = None) -> dict[str, dict[int, int]]:
        """Inspector -> {source_id: score} for every inspector."""
        return {name: self.scores(name, source_ids) for name in self.inspectors()}
