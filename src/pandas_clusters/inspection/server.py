"""HTTP layer of the inspection app: the standard library's ``http.server``, threaded.

Why no framework: the app is a dozen JSON routes and three static files
served to one or a few inspectors; ``http.server.ThreadingHTTPServer``
(one thread per request, each with its own SQLite connection) does it
with no dependency to install, audit or keep up to date, and the project
already serves loopback HTTP this way in its tests. A WSGI micro-framework
(bottle, a single file) would mostly add routing we write in a few lines.

Routes
------
``GET /``                           the page (``static/index.html``)
``GET /static/app.js|app.css``      its script and style
``GET /api/config``                 options (prefetch, stretches, mosaic size, count)
``POST /api/session``               ``{"inspector"}``: open (or take over) the inspector
``GET /api/candidate/<source_id>``  the facts of one candidate
``GET /img/<source_id>/<kind>.png`` ``kind`` g, i, rgb or context; ``?stretch=``
``POST /api/score``                 ``{"inspector", "source_id", "score"}``
``POST /api/undo``                  ``{"inspector"}``
``GET /api/agreement?inspector=``   agreement; only once that inspector is done

Requests that change something carry the tab's session token in the
``X-Session`` header and a JSON body (``Content-Type: application/json``,
which a cross-site form cannot send).

Security
--------
Bound to 127.0.0.1 by default; the ``Host`` header must then name a
loopback address (no DNS rebinding). Any other address requires a token:
every request must carry it (``?token=`` once, then a cookie set from it, or
an ``X-Token`` header). Bad requests get a clear 4xx JSON answer
(``{"error": ...}``) and change nothing: unknown route or file (404), an
unknown source_id (404), a score outside 0/1/2 or a malformed body (400),
a stale tab of an inspector opened elsewhere (409), a missing token (403).
Images are rendered from the candidates' stamps and the configured field
images only: the route takes a source_id and a kind, never a path.
"""

from __future__ import annotations

import contextlib
import http.server
import ipaddress
import json
import logging
import re
import secrets
import signal
import threading
from collections.abc import Iterator
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pandas_clusters.inspection.app import Inspection
from pandas_clusters.inspection.images import KINDS, STRETCHES
from pandas_clusters.inspection.store import StaleSession, UnknownInspector, check_name

__all__ = ["InspectionServer", "is_loopback", "make_server"]

log = logging.getLogger(__name__)

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
_IMAGE = re.compile(r"^/img/(\d{1,19})/([a-z]+)\.png$")
_CANDIDATE = re.compile(r"^/api/candidate/(\d{1,19})$")
_MAX_BODY = 4096
#: The page runs only its own script and images, and cannot be framed (no clickjacking).
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}


class HttpError(Exception):
    """An error answered to the client with ``status`` and a message."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is the local machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class InspectionServer(http.server.ThreadingHTTPServer):
    """Threaded HTTP server holding the :class:`Inspection` and the token."""

    daemon_threads = True

    def __init__(self, address, inspection: Inspection, token: str | None) -> None:
        if not is_loopback(address[0]) and not token:
            msg = f"--host {address[0]} is not a loopback address: a token is required"
            raise ValueError(msg)
        self.inspection = inspection
        self.token = token
        self.static = {
            route: (
                resources.files("pandas_clusters.inspection").joinpath("static", name).read_bytes(),
                ctype,
            )
            for route, (name, ctype) in _STATIC.items()
        }
        super().__init__(address, _Handler)
        self.exporter = _Exporter(inspection)

    def server_close(self) -> None:
        """Stop the exporter (writing the last exports), close the socket and the images."""
        self.exporter.stop()
        super().server_close()
        self.inspection.close()


class _Exporter(threading.Thread):
    """Refreshes the exports in the background, coalescing bursts of scores.

    The database is the record: an export that fails (disk full) is logged
    and redone at the next change or start.
    """

    def __init__(self, inspection: Inspection) -> None:
        super().__init__(name="inspection-export", daemon=True)
        self.inspection = inspection
        self._wake = threading.Event()
        self._stopping = False
        self.start()

    def request(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread, then export once more (scores given during its last export)."""
        self._stopping = True
        self._wake.set()
        self.join(timeout=30)
        self._export()

    def run(self) -> None:
        self._export()
        while not self._stopping:
            self._wake.wait()
            self._wake.clear()
            self._export()

    def _export(self) -> None:
        try:
            self.inspection.export()
        except (OSError, ValueError) as exc:
            log.error("inspection export failed (the scores are safe in the database): %s", exc)


def make_server(inspection: Inspection, host: str, port: int, token: str | None = None):
    """An :class:`InspectionServer` listening on ``host:port`` (port 0: any free one)."""
    return InspectionServer((host, port), inspection, token)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: InspectionServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)

    # ----------------------------------------------------------------- replies

    def _send(self, status: HTTPStatus, body: bytes, ctype: str, headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _json(self, payload: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(payload).encode("utf-8")
        self._send(status, body, "application/json", {"Cache-Control": "no-store"})

    def _dispatch(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            cookie = self._check_access(query)
            if method == "GET":
                self._get(url.path, query, cookie)
            else:
                self._post(url.path)
        except HttpError as exc:
            self._json({"error": str(exc)}, exc.status)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # a fault of ours (or a locked database): say so, keep serving
            log.exception("error answering %s %s", method, self.path)
            self._json({"error": f"server error: {exc}"}, HTTPStatus.INTERNAL_SERVER_ERROR)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _refuse(self) -> None:
        self._json({"error": f"method {self.command} not allowed"}, HTTPStatus.METHOD_NOT_ALLOWED)

    do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

    # ------------------------------------------------------------------ checks

    def _check_access(self, query) -> dict[str, str]:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if is_loopback(self.server.server_address[0]) and not is_loopback(host):
            raise HttpError(HTTPStatus.FORBIDDEN, f"Host {host!r} is not a loopback name")
        token = self.server.token
        if not token:
            return {}
        given = (
            (query.get("token") or [None])[0]
            or self.headers.get("X-Token")
            or _cookie(self.headers.get("Cookie"), "pc_token")
        )
        if not given or not secrets.compare_digest(str(given), token):
            raise HttpError(HTTPStatus.FORBIDDEN, "a valid token is required (?token=...)")
        return {"Set-Cookie": f"pc_token={token}; HttpOnly; SameSite=Strict; Path=/"}

    def _body(self) -> dict[str, Any]:
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            raise HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the body must be application/json")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            raise HttpError(HTTPStatus.BAD_REQUEST, "bad Content-Length") from exc
        if length > _MAX_BODY:
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {_MAX_BODY} bytes")
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"the body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise HttpError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return body

    def _inspector(self, value) -> str:
        try:
            return check_name(value)
        except ValueError as exc:
            raise HttpError(HTTPStatus.BAD_REQUEST, str(exc)) from exc

    def _source_id(self, value) -> int:
        app = self.server.inspection
        if type(value) is not int:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"source_id must be an integer, got {value!r}")
        if not app.known(value):
            raise HttpError(HTTPStatus.NOT_FOUND, f"source_id {value} is not a candidate")
        return value

    # ------------------------------------------------------------------ routes

    def _get(self, path: str, query, cookie: dict[str, str]) -> None:
        app = self.server.inspection
        if path in self.server.static:
            body, ctype = self.server.static[path]
            headers = {"Cache-Control": "no-cache", **_PAGE_HEADERS, **cookie}
            return self._send(HTTPStatus.OK, body, ctype, headers)
        if path == "/api/config":
            s = app.settings
            return self._json(
                {
                    "candidates": int(app.ids.size),
                    "prefetch": s.prefetch,
                    "mosaic_size": s.mosaic_size,
                    "stretch": s.stretch,
                    "stretches": list(STRETCHES),
                }
            )
        if m := _CANDIDATE.match(path):
            return self._json(app.facts(self._source_id(int(m.group(1)))))
        if m := _IMAGE.match(path):
            return self._image(int(m.group(1)), m.group(2), query)
        if path == "/api/agreement":
            return self._agreement(query)
        raise HttpError(HTTPStatus.NOT_FOUND, f"no such page {path!r}")

    def _image(self, source_id: int, kind: str, query) -> None:
        app = self.server.inspection
        self._source_id(source_id)
        stretch = (query.get("stretch") or [app.settings.stretch])[0]
        if kind not in KINDS:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no image kind {kind!r} (one of {list(KINDS)})")
        if stretch not in STRETCHES:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"stretch must be one of {list(STRETCHES)}")
        png = app.image(source_id, kind, stretch)
        if png is None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no field image covers source_id {source_id}")
        self._send(HTTPStatus.OK, png, "image/png", {"Cache-Control": "private, max-age=86400"})

    def _agreement(self, query) -> None:
        app = self.server.inspection
        inspector = self._inspector((query.get("inspector") or [None])[0])
        if not app.progress(inspector)["done"]:
            raise HttpError(
                HTTPStatus.FORBIDDEN,
                f"{inspector} has not scored every candidate yet: agreement is shown once done",
            )
        self._json(app.agreement())

    def _post(self, path: str) -> None:
        app = self.server.inspection
        if path not in ("/api/session", "/api/score", "/api/undo"):
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such page {path!r}")
        body = self._body()
        inspector = self._inspector(body.get("inspector"))
        if path == "/api/session":
            token = app.store.open_session(inspector)
            return self._json(
                {
                    "session": token,
                    "order": app.order(inspector),
                    "scores": {str(k): v for k, v in app.store.scores(inspector, app.ids).items()},
                    "progress": app.progress(inspector),
                }
            )
        session = self.headers.get("X-Session")
        try:
            if path == "/api/score":
                source_id = self._source_id(body.get("source_id"))
                score = body.get("score")
                if type(score) is not int or score not in (0, 1, 2):
                    raise HttpError(
                        HTTPStatus.BAD_REQUEST, f"score must be 0, 1 or 2, got {score!r}"
                    )
                app.store.set_score(inspector, session, source_id, score)
                reply = {"source_id": source_id, "score": score}
            else:
                undone = app.store.undo(inspector, session)
                reply = {"source_id": None if undone is None else undone[0]}
                reply["score"] = None if undone is None else undone[1]
        except StaleSession as exc:
            raise HttpError(HTTPStatus.CONFLICT, str(exc)) from exc
        except UnknownInspector as exc:
            raise HttpError(HTTPStatus.BAD_REQUEST, str(exc)) from exc
        self._json({**reply, "progress": app.progress(inspector)})
        self.server.exporter.request()


def _cookie(header: str | None, name: str) -> str | None:
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Make SIGINT (Ctrl-C) and SIGTERM raise KeyboardInterrupt for the duration.

    Python turns SIGINT into KeyboardInterrupt only when the process did not
    inherit it ignored; a process started in the background by a
    non-interactive shell (``pandas-clusters inspect &`` in a script, some
    job runners) inherits it ignored, and would otherwise never stop on
    Ctrl-C or ``kill -INT``. SIGTERM would end the process without the last
    export. Signal handlers can only be set from the main thread: elsewhere
    this changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = [signal.SIGINT, signal.SIGTERM]
    previous = {sig: signal.signal(sig, _interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve_forever(server: InspectionServer, url: str) -> None:
    """Serve until interrupted (Ctrl-C, SIGINT or SIGTERM), then close (the last exports)."""
    print(
        f"inspection app: {url}  (Ctrl-C to stop)", flush=True
    )  # the token: printed, never logged
    try:
        with _stopped_by_signals():
            server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
