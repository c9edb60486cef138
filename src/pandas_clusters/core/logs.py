"""Logging set-up for workflow steps and the CLI."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["log_to"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def log_to(path: str | Path | None, *, level: int = logging.INFO) -> Iterator[logging.Logger]:
    """Send logging (and warnings) to ``path`` (stderr if None) for the duration.

    An exception escaping the block is logged with its traceback before it
    propagates, so a failed step's log says why it failed.
    """
    root = logging.getLogger()
    if path is None:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter(_FORMAT))
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    logger = logging.getLogger("pandas_clusters")
    try:
        yield logger
    except BaseException:
        logger.exception("step failed")
        raise
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
