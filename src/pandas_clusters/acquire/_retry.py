"""The one HTTP retry policy of the acquisition stage (images and VizieR).

Both the image downloader and the VizieR client retry a connection error, a timeout or a
transient HTTP status, waiting ``backoff_s`` before the first retry and doubling the wait
up to ``backoff_max_s``. The loop is ours rather than urllib3's ``Retry`` because a
retried image transfer resumes from the bytes already on disk (urllib3 retries only
before the body is read) and VizieR is reached through astroquery's own session.
Snakemake's rule-level ``retries`` is not used on top of it (the attempts would
multiply).
"""

from __future__ import annotations

__all__ = ["TRANSIENT_STATUS", "backoff_delay"]

#: HTTP statuses worth a retry: request timeout (408), too early (425), too many
#: requests (429), and the server errors that mean busy, restarting or a gateway failing
#: (500, 502, 503, 504).
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def backoff_delay(retry: int, *, backoff_s: float, backoff_max_s: float) -> float:
    """Wait before retry number ``retry`` (1-based), s: doubling from ``backoff_s``, capped."""
    return min(backoff_s * 2.0 ** (retry - 1), backoff_max_s)
