"""Literature catalogues from VizieR, through astroquery.

The request is built and sent by :class:`astroquery.vizier.VizierClass` (no
row limit, all columns plus the positions VizieR computes in ICRS degrees,
``_RA.icrs`` and ``_DE.icrs``); the VOTable answer is checked for VizieR's
own error report (an HTTP 200 answer whose ``INFO name="Error"`` elements say
what went wrong) and parsed with :mod:`astropy.io.votable`, then normalised
by :func:`pandas_clusters.acquire.local.normalise_catalogue`.
"""

from __future__ import annotations

import io
import logging
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import requests
from astropy.table import Table, vstack

from pandas_clusters.acquire._retry import TRANSIENT_STATUS, backoff_delay
from pandas_clusters.acquire.local import (
    NORMALISED_COLUMNS,
    CatalogueSpec,
    normalise_catalogue,
    table_to_dataframe,
    write_catalogue,
)
from pandas_clusters.core.config import StageSettings

__all__ = [
    "DEFAULT_COLUMNS",
    "MissingTableWarning",
    "VizierError",
    "VizierSettings",
    "fetch_vizier_catalogue",
    "query_vizier",
]

log = logging.getLogger(__name__)

#: Columns asked of VizieR: every column (``**``) plus computed ICRS degrees.
DEFAULT_COLUMNS = ("**", "_RA.icrs", "_DE.icrs")


class VizierError(RuntimeError):
    """VizieR could not be reached or answered with an error for a catalogue."""


class MissingTableWarning(UserWarning):
    """An optional VizieR table was absent; an empty catalogue was written."""


@dataclass(frozen=True)
class VizierSettings(StageSettings):
    """How to talk to VizieR.

    Parameters
    ----------
    server : str
        VizieR mirror host name (``host`` or ``host:port``); astroquery
        prefixes ``https://``.
    timeout_s : float
        Timeout of one request, s.
    retries : int
        Further attempts after a connection error or a transient HTTP status
        (408, 429, 5xx).
    backoff_s : float
        Wait before the first retry, s; doubled at each further one.
    backoff_max_s : float
        Longest wait between two attempts, s.
    columns : tuple of str
        The astroquery ``columns`` argument.
    """

    _section: ClassVar[str] = "vizier"
    _runtime: ClassVar[Mapping[str, Any]] = {"columns": DEFAULT_COLUMNS}

    server: str
    timeout_s: float
    retries: int
    backoff_s: float
    backoff_max_s: float
    columns: tuple[str, ...]


def _votable_errors(content: bytes) -> list[str]:
    """The error messages of a VizieR VOTable answer (empty when it reports none)."""
    from astropy.io import votable

    tree = votable.parse(io.BytesIO(content), verify="ignore")
    infos = list(tree.infos)
    for resource in tree.resources:
        infos.extend(resource.infos)
    messages = [
        str(info.value).strip()
        for info in infos
        if info.name == "Error" and str(info.value or "").strip()
    ]
    status_error = any(
        info.name == "QUERY_STATUS" and str(info.value).upper() == "ERROR" for info in infos
    )
    if status_error and not messages:
        messages = ["QUERY_STATUS=ERROR"]
    return messages


def _parse_tables(content: bytes) -> dict[str, Table]:
    """Tables of a VizieR VOTable by name, joining the per-target pieces."""
    from astropy.io import votable

    tree = votable.parse(io.BytesIO(content), verify="ignore")
    pieces: dict[str, list[Table]] = {}
    for table in tree.iter_tables():
        name = tree.get_table_by_id(table.ref).name if table.ref is not None else table.name
        if name is None:
            name = table.ID
        tab = table.to_table(use_names_over_ids=True)
        pieces.setdefault(name, [])
        if len(tab) or not pieces[name]:
            pieces[name].append(tab)
    out = {}
    for name, tabs in pieces.items():
        nonempty = [t for t in tabs if len(t)]
        out[name] = (
            vstack(nonempty, metadata_conflicts="silent")
            if len(nonempty) > 1
            else (nonempty or tabs)[0]
        )
    return out


def _select_table(tables: Mapping[str, Table], source: str, table: str | None) -> str | None:
    names = list(tables)
    if table is None:
        with_rows = [n for n in names if len(tables[n])]
        if len(with_rows) == 1:
            return with_rows[0]
        if not with_rows:
            return None
        msg = f"VizieR {source} returned {len(with_rows)} tables {with_rows}; name one in 'table'"
        raise VizierError(msg)
    full = table if "/" in table else f"{source.rstrip('/')}/{table}"
    for name in names:
        if name == full or name.split("/")[-1] == table:
            return name
    return None


def _request_source(source: str, table: str | None) -> str:
    """What to ask VizieR for: the catalogue ``source``, or its ``table`` alone."""
    if table is None:
        return source
    if "/" in table:
        return table
    return f"{source.rstrip('/')}/{table}"


def _get_with_retries(viz, request_source: str, label: str, settings: VizierSettings):
    """The HTTP answer to ``request_source``, retried on connection errors and transient statuses.

    Raises
    ------
    VizierError
        If the retries are spent, or the server answers with an HTTP error.
    """
    from astroquery import cache_conf

    response = None
    problem = ""
    for attempt in range(settings.retries + 1):
        if attempt:
            delay = backoff_delay(
                attempt, backoff_s=settings.backoff_s, backoff_max_s=settings.backoff_max_s
            )
            log.warning("VizieR %s: retry %d in %.1f s", label, attempt, delay)
            time.sleep(delay)
        try:
            with cache_conf.set_temp("cache_active", False):
                response = viz.get_catalogs_async(request_source)
        except (requests.ConnectionError, requests.Timeout) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            response = None
            continue
        if response.status_code in TRANSIENT_STATUS:
            problem = f"HTTP {response.status_code} {response.reason}"
            continue
        break
    else:
        msg = (
            f"VizieR catalogue {label}: server {settings.server} unreachable after "
            f"{settings.retries + 1} attempt(s); last problem: {problem}"
        )
        raise VizierError(msg)
    if response.status_code >= 400:
        msg = (
            f"VizieR catalogue {label}: server {settings.server} answered "
            f"HTTP {response.status_code} {response.reason}"
        )
        raise VizierError(msg)
    return response


def _answer_tables(response, label: str, settings: VizierSettings) -> dict[str, Table]:
    """The tables of a VizieR answer, or a :class:`VizierError` for a non-VOTable or an error."""
    content = response.content
    if not content.lstrip()[:5] == b"<?xml":
        msg = (
            f"VizieR catalogue {label}: server {settings.server} did not answer with a "
            f"VOTable (starts {content[:60]!r})"
        )
        raise VizierError(msg)
    try:
        errors = _votable_errors(content)
        tables = _parse_tables(content) if not errors else {}
    except Exception as exc:  # the VOTable parser raises many kinds
        msg = f"VizieR catalogue {label}: cannot parse the VOTable answer: {exc}"
        raise VizierError(msg) from exc
    if errors:
        msg = f"VizieR catalogue {label}: server {settings.server} reported an error: " + "; ".join(
            errors[:3]
        )
        raise VizierError(msg)
    return tables


def query_vizier(
    source: str,
    *,
    table: str | None = None,
    settings: VizierSettings | None = None,
    catalogue: str | None = None,
) -> Table | None:
    """Fetch one VizieR table in full (no row limit).

    Parameters
    ----------
    source : str
        VizieR catalogue identifier, e.g. ``"J/AJ/141/61"``.
    table : str, optional
        Table within it (``"table1"`` or ``"J/AJ/141/61/table1"``); the
        request then asks for that table only. ``None``: the catalogue must
        return exactly one table with rows.
    settings : VizierSettings, optional
        Server, timeout, retries.
    catalogue : str, optional
        The pipeline's key for the catalogue, used in messages.

    Returns
    -------
    astropy.table.Table or None
        The table; ``None`` when the answer holds no such table (or no rows).

    Raises
    ------
    VizierError
        If the server is unreachable after the retries, answers with an HTTP
        error, reports an error in its VOTable, or returns several tables
        when ``table`` is not given. The message names the catalogue.
    """
    from astroquery.vizier import Vizier

    settings = settings or VizierSettings.from_config()
    label = f"{catalogue} ({source})" if catalogue else source
    viz = Vizier(
        columns=list(settings.columns),
        row_limit=-1,
        timeout=settings.timeout_s,
        vizier_server=settings.server,
    )
    response = _get_with_retries(viz, _request_source(source, table), label, settings)
    tables = _answer_tables(response, label, settings)
    chosen = _select_table(tables, source, table)
    if chosen is None:
        return None
    result = tables[chosen]
    result.meta["vizier_table"] = chosen
    return result


def fetch_vizier_catalogue(
    spec: CatalogueSpec,
    output: str | os.PathLike,
    *,
    catalogue: str,
    settings: VizierSettings | None = None,
) -> Path:
    """Query VizieR for one catalogue, normalise it and write it to Parquet.

    Parameters
    ----------
    spec : CatalogueSpec
        With ``vizier`` set (and usually ``table``).
    output : str or path-like
        Output path, ``resources/catalogues/{catalogue}.parquet``.
    catalogue : str
        The pipeline's key for the catalogue.
    settings : VizierSettings, optional
        Server, timeout, retries.

    Returns
    -------
    pathlib.Path
        ``output``.

    Raises
    ------
    VizierError
        See :func:`query_vizier`; also when a required table is absent.

    Warns
    -----
    MissingTableWarning
        When an optional table (``spec.required`` false) is absent; the
        output then holds the normalised columns and no rows.
    """
    if spec.vizier is None:
        msg = f"catalogue {catalogue}: no 'vizier' identifier in its spec"
        raise ValueError(msg)
    settings = settings or VizierSettings.from_config()
    table = query_vizier(spec.vizier, table=spec.table, settings=settings, catalogue=catalogue)
    source = {
        "kind": "vizier",
        "vizier": spec.vizier,
        "table": spec.table,
        "server": settings.server,
        "columns": list(settings.columns),
    }
    if table is None:
        what = f"table {spec.table!r}" if spec.table else "any table with rows"
        if spec.required:
            msg = f"VizieR catalogue {catalogue} ({spec.vizier}): the answer holds no {what}"
            raise VizierError(msg)
        warnings.warn(
            f"VizieR catalogue {catalogue} ({spec.vizier}) has no {what}; writing an empty catalogue",
            MissingTableWarning,
            stacklevel=2,
        )
        empty = pd.DataFrame(
            {
                "name": pd.Series([], dtype=object),
                "ra_deg": pd.Series([], dtype="float64"),
                "dec_deg": pd.Series([], dtype="float64"),
            }
        )
        return write_catalogue(
            empty[list(NORMALISED_COLUMNS)], output, catalogue=catalogue, source=source
        )
    source["vizier_table"] = table.meta.get("vizier_table")
    df = table_to_dataframe(table, catalogue=catalogue)
    out = normalise_catalogue(
        df,
        name_col=spec.name_col,
        ra_col=_as_col(spec.ra_col),
        dec_col=_as_col(spec.dec_col),
        catalogue=catalogue,
    )
    return write_catalogue(out, output, catalogue=catalogue, source=source)


def _as_col(col: str | Sequence[str]) -> str | list[str]:
    return col if isinstance(col, str) else list(col)
