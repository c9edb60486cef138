"""Tests of pandas_clusters.inspection: kappa, store, orders, images, the HTTP API, exports."""

from __future__ import annotations

import io
import itertools
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from inspection_support import (
    N_CANDIDATES,
    build_layout,
    config_yaml,
    env_with_src,
    open_inspection,
    request,
)
from pandas_clusters.inspection import ScoreStore, inspector_order, weighted_kappa
from pandas_clusters.inspection.agreement import agreement_report, confusion_matrix
from pandas_clusters.inspection.server import make_server
from pandas_clusters.inspection.store import StaleSession


@pytest.fixture(scope="module")
def inspection_layout(tmp_path_factory, mock_field_with_sources):
    return build_layout(tmp_path_factory.mktemp("inspection"), mock_field_with_sources)


# ------------------------------------------------------------------------- kappa


def _pairwise_kappa(a, b, weights):
    """Weighted kappa as 1 - mean item disagreement / mean disagreement over all pairs."""
    k = 3

    def w(x, y):
        d = np.abs(np.subtract(x, y)) / (k - 1)
        return d**2 if weights == "quadratic" else d

    observed = w(a, b).mean()
    chance = w(a[:, None], b[None, :]).mean()
    return 1 - observed / chance


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_weighted_kappa_equals_pairwise_form(weights):
    rng = np.random.default_rng(1)
    for _ in range(20):
        a = rng.integers(0, 3, 80)
        b = np.where(rng.random(80) < 0.6, a, rng.integers(0, 3, 80))
        assert weighted_kappa(a, b, weights=weights) == pytest.approx(
            _pairwise_kappa(a, b, weights), abs=1e-12
        )


def test_quadratic_kappa_covariance_identity_and_limits():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 3, 200)
    b = np.clip(a + rng.integers(-1, 2, 200), 0, 2)
    # quadratic kappa = 2 cov(a, b) / (var a + var b + (mean a - mean b)^2), population moments
    cov = np.mean((a - a.mean()) * (b - b.mean()))
    want = 2 * cov / (a.var() + b.var() + (a.mean() - b.mean()) ** 2)
    assert weighted_kappa(a, b, weights="quadratic") == pytest.approx(want, abs=1e-12)
    assert weighted_kappa(a, a) == 1.0
    assert weighted_kappa(a, 2 - a) < 0  # reversed scale: worse than chance
    # two categories: every weighting is Cohen's unweighted kappa (po - pe) / (1 - pe)
    x, y = rng.integers(0, 2, 100), rng.integers(0, 2, 100)
    po = np.mean(x == y)
    pe = np.mean(x) * np.mean(y) + np.mean(1 - x) * np.mean(1 - y)
    for weights in ("linear", "quadratic", "none"):
        assert weighted_kappa(x, y, weights=weights, n_categories=2) == pytest.approx(
            (po - pe) / (1 - pe), abs=1e-12
        )
    assert np.isnan(weighted_kappa([1, 1, 1], [1, 1, 1]))  # no chance disagreement
    assert np.isnan(weighted_kappa([], []))
    with pytest.raises(ValueError, match="scores must lie in 0..2"):
        weighted_kappa([0, 3], [0, 1])


def test_agreement_report_pairs_confusion_and_review_queue():
    alice = {10: 0, 11: 2, 12: 1, 13: 2}
    bob = {10: 2, 11: 2, 12: 0, 14: 1}
    carol = dict(alice)
    report = agreement_report({"bob": bob, "alice": alice, "carol": carol})
    pairs = {tuple(p["inspectors"]): p for p in report["pairs"]}
    assert list(pairs) == [("alice", "bob"), ("alice", "carol"), ("bob", "carol")]
    ab = pairs[("alice", "bob")]
    assert ab["n_common"] == 3 and ab["disagreements"] == [10]
    assert ab["confusion"] == confusion_matrix([0, 2, 1], [2, 2, 0]).tolist()
    assert np.sum(ab["confusion"]) == 3
    assert pairs[("alice", "carol")]["kappa"] == 1.0


# ------------------------------------------------------------------ store, order


def test_store_scores_undo_and_stale_tab(tmp_path):
    store = ScoreStore(tmp_path / "db" / "scores.sqlite")
    with store.connect() as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    first = store.open_session("alice")
    store.set_score("alice", first, 5, 1)
    store.set_score("alice", first, 5, 2)
    store.set_score("alice", first, 6, 0)
    assert store.scores("alice") == {5: 2, 6: 0}
    assert store.undo("alice", first) == (6, None)
    assert store.undo("alice", first) == (5, 1)
    assert store.scores("alice") == {5: 1}
    second = store.open_session("alice")  # a second tab takes over; the first is stale
    with pytest.raises(StaleSession, match="open in another tab"):
        store.set_score("alice", first, 7, 2)
    store.set_score("alice", second, 7, 2)
    for bad in (3, -1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="score must be 0, 1 or 2"):
            store.set_score("alice", second, 8, bad)
    with pytest.raises(ValueError, match="not allowed"):
        store.open_session("../etc")
    # the database refuses a bad score on its own too
    with store.connect() as con, pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO scores VALUES ('alice', 9, 3, 'now')")
    assert store.scores("alice") == {5: 1, 7: 2}


def test_inspector_order_is_seeded_per_inspector():
    ids = np.arange(100, 300, 2)
    a = inspector_order(ids, 1, "alice")
    assert sorted(a.tolist()) == ids.tolist()
    assert np.array_equal(a, inspector_order(ids[::-1], 1, "alice"))
    assert not np.array_equal(a, inspector_order(ids, 1, "bob"))
    assert not np.array_equal(a, inspector_order(ids, 2, "alice"))


# ---------------------------------------------------------------------- images


def test_images_and_facts(inspection_layout, tmp_path):
    with open_inspection(inspection_layout, tmp_path) as app:
        _check_images_and_facts(app)


def _check_images_and_facts(app):
    assert app.ids.size == N_CANDIDATES
    sid = int(app.ids[0])
    stamp = app.stamps[sid]["g"]
    for kind in ("g", "i", "rgb"):
        pngs = {s: app.image(sid, kind, s) for s in ("asinh", "zscale", "linear")}
        assert len(set(pngs.values())) == 3, kind  # each stretch draws a different image
        img = imread(io.BytesIO(pngs["asinh"]))
        assert img.shape[:2] == stamp.shape
    context = imread(io.BytesIO(app.image(sid, "context", "zscale")))
    side = 30.0 / 0.187  # the mock's pixel scale
    assert abs(context.shape[0] - side) <= 1 and context.shape[2] >= 3
    facts = app.facts(sid)
    assert facts["names"] == {"c09": "B001-G070"} and facts["new"] is False
    assert facts["g_i"] == pytest.approx(facts["gmag"] - facts["imag"])
    assert set(facts["links"]) == {"Aladin", "Legacy Surveys", "SIMBAD"}
    with pytest.raises(ValueError, match="unknown image"):
        app.image(sid, "../../etc/passwd", "asinh")


# --------------------------------------------------------------------- the API


@pytest.fixture
def running(inspection_layout, tmp_path, serve):
    app = open_inspection(inspection_layout, tmp_path)
    server = make_server(app, "127.0.0.1", 0)
    port = serve(server)
    return app, port


def _snapshot(app):
    with app.store.connect() as con:
        return (
            con.execute("SELECT * FROM scores ORDER BY inspector, source_id").fetchall(),
            con.execute("SELECT count(*) FROM events").fetchone()[0],
        )


def test_bad_requests_get_4xx_and_change_nothing(running):
    app, port = running
    status, sess = request(port, "POST", "/api/session", {"inspector": "alice"})
    assert status == 200 and len(sess["order"]) == N_CANDIDATES
    hdr = {"X-Session": sess["session"]}
    sid = sess["order"][0]
    assert (
        request(
            port, "POST", "/api/score", {"inspector": "alice", "source_id": sid, "score": 2}, hdr
        )[0]
        == 200
    )
    before = _snapshot(app)
    unknown = int(app.ids.max()) + 1
    cases = [
        (
            "POST",
            "/api/score",
            {"inspector": "alice", "source_id": unknown, "score": 1},
            hdr,
            404,
            "not a candidate",
        ),
        (
            "POST",
            "/api/score",
            {"inspector": "alice", "source_id": sid, "score": 3},
            hdr,
            400,
            "0, 1 or 2",
        ),
        (
            "POST",
            "/api/score",
            {"inspector": "alice", "source_id": sid, "score": 1.5},
            hdr,
            400,
            "0, 1 or 2",
        ),
        (
            "POST",
            "/api/score",
            {"inspector": "alice", "source_id": sid, "score": "1"},
            hdr,
            400,
            "0, 1 or 2",
        ),
        (
            "POST",
            "/api/score",
            {"inspector": "alice", "source_id": sid, "score": True},
            hdr,
            400,
            "0, 1 or 2",
        ),
        (
            "POST",
            "/api/score",
            {"inspector": "alice", "source_id": str(sid), "score": 1},
            hdr,
            400,
            "integer",
        ),
        (
            "POST",
            "/api/score",
            {"inspector": "alice", "source_id": sid, "score": 1},
            {},
            409,
            "another tab",
        ),
        (
            "POST",
            "/api/score",
            {"inspector": "zed", "source_id": sid, "score": 1},
            hdr,
            400,
            "unknown inspector",
        ),
        (
            "POST",
            "/api/score",
            {"inspector": "a/b", "source_id": sid, "score": 1},
            hdr,
            400,
            "not allowed",
        ),
        ("POST", "/api/undo", {"inspector": "alice"}, {"X-Session": "forged"}, 409, "another tab"),
        ("GET", f"/img/{unknown}/g.png", None, {}, 404, "not a candidate"),
        ("GET", f"/img/{sid}/../../../etc/passwd", None, {}, 404, "no such page"),
        ("GET", f"/img/{sid}/%2e%2e%2fsecret.png", None, {}, 404, "no such page"),
        ("GET", f"/img/{sid}/stamp.png", None, {}, 404, "no image kind"),
        ("GET", f"/img/{sid}/g.png?stretch=log", None, {}, 400, "stretch"),
        ("GET", "/static/../store.py", None, {}, 404, "no such page"),
        ("GET", "/api/agreement?inspector=alice", None, {}, 403, "not scored every candidate"),
        ("GET", "/api/candidate/12x", None, {}, 404, "no such page"),
        ("DELETE", "/api/score", None, {}, 405, "not allowed"),
    ]
    for method, path, body, headers, want, fragment in cases:
        status, reply = request(port, method, path, body, headers)
        assert status == want, (path, body, reply)
        assert fragment in reply["error"], (path, reply)
    # not JSON, or not declared as JSON (a cross-site form)
    status, reply = request(
        port,
        "POST",
        "/api/score",
        raw=b"score=1",
        headers={"Content-Type": "application/x-www-form-urlencoded", **hdr},
    )
    assert status == 415
    status, reply = request(
        port,
        "POST",
        "/api/score",
        raw=b"{nope",
        headers={"Content-Type": "application/json", **hdr},
    )
    assert status == 400 and "not JSON" in reply["error"]
    status, reply = request(port, "GET", "/api/config", headers={"Host": "evil.example:80"})
    assert status == 403 and "loopback" in reply["error"]
    # a second tab of alice takes over; the first tab's writes are refused
    status, again = request(port, "POST", "/api/session", {"inspector": "alice"})
    assert again["scores"] == {str(sid): 2}  # resume: her own scores come back
    before = _snapshot(app)[0], _snapshot(app)[1]
    status, reply = request(
        port, "POST", "/api/score", {"inspector": "alice", "source_id": sid, "score": 0}, hdr
    )
    assert status == 409 and "stale" in reply["error"]
    assert _snapshot(app) == before


def test_concurrent_inspectors_and_exports(running):
    app, port = running
    names = ["alice", "bob", "carol"]
    sessions = {n: request(port, "POST", "/api/session", {"inspector": n})[1] for n in names}
    want = {n: {sid: (sid + k) % 3 for sid in app.ids.tolist()} for k, n in enumerate(names)}
    errors = []

    def score_all(name):
        hdr = {"X-Session": sessions[name]["session"]}
        for sid in sessions[name]["order"]:
            status, reply = request(
                port,
                "POST",
                "/api/score",
                {"inspector": name, "source_id": sid, "score": want[name][sid]},
                hdr,
            )
            if status != 200:
                errors.append(reply)

    threads = [threading.Thread(target=score_all, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert app.store.all_scores() == want
    # agreement once done, equal to the kappa of the stored scores
    status, report = request(port, "GET", "/api/agreement?inspector=bob")
    assert status == 200 and report["done"] == names
    ab = next(p for p in report["pairs"] if p["inspectors"] == ["alice", "bob"])
    ids = sorted(want["alice"])
    kappa = weighted_kappa([want["alice"][s] for s in ids], [want["bob"][s] for s in ids])
    assert ab["kappa"] == pytest.approx(kappa, abs=1e-6)
    assert set(report["truth"]) == set(names)
    # exports: one CSV per inspector, rewritten only when a score changes
    app.export()
    folder = app.export_dir
    csv, bob = folder / "alice.csv", folder / "bob.csv"
    lines = csv.read_text().splitlines()
    assert lines[1] == "source_id,score" and len(lines) == 2 + N_CANDIDATES
    stamps = csv.stat().st_mtime_ns, bob.stat().st_mtime_ns
    assert app.export() == [] and (csv.stat().st_mtime_ns, bob.stat().st_mtime_ns) == stamps
    hdr = {"X-Session": sessions["alice"]["session"]}
    sid = ids[0]
    new = (want["alice"][sid] + 1) % 3
    request(port, "POST", "/api/score", {"inspector": "alice", "source_id": sid, "score": new}, hdr)
    deadline = time.monotonic() + 30  # the server exports in the background
    while f"{sid},{new}" not in csv.read_text().splitlines() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"{sid},{new}" in csv.read_text().splitlines()
    assert bob.stat().st_mtime_ns == stamps[1]


def test_token_required_off_loopback(inspection_layout, tmp_path, serve):
    app = open_inspection(inspection_layout, tmp_path)
    with pytest.raises(ValueError, match="token is required"):
        make_server(app, "0.0.0.0", 0)
    port = serve(make_server(app, "0.0.0.0", 0, token="s3cret-token"))
    assert request(port, "GET", "/api/config")[0] == 403
    assert request(port, "GET", "/api/config?token=wrong")[0] == 403
    status, body = request(port, "GET", "/?token=s3cret-token")
    assert status == 200 and b"inspection" in body
    assert (
        request(port, "GET", "/api/config", headers={"Cookie": "pc_token=s3cret-token"})[0] == 200
    )
    assert request(port, "GET", "/api/config", headers={"X-Token": "s3cret-token"})[0] == 200


# ------------------------------------------------------------ a killed server


#: A shell command that starts the rest of its arguments with SIGINT ignored, as a
#: non-interactive shell starts a background job (``pandas-clusters inspect &``).
_SIGINT_IGNORED = ["/bin/sh", "-c", 'trap "" INT; exec "$0" "$@"']


def _start_cli(config, *, sigint_ignored=False):
    argv = [sys.executable, "-m", "pandas_clusters.cli", "--config", str(config), "inspect"]
    proc = subprocess.Popen(
        (_SIGINT_IGNORED if sigint_ignored else []) + argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env_with_src(),
    )
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        pytest.fail(f"inspect did not start: {line}{proc.stdout.read()}")
    return proc, int(line.split("http://127.0.0.1:")[1].split("/")[0])


def _stop_cli(proc, sig=signal.SIGINT):
    """Send ``sig`` (Ctrl-C by default); the server must stop, and cleanly, within 30 s."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)  # a stop takes a second; 30 s leaves room for a loaded machine
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the server did not stop within 30 s of {signal.Signals(sig).name}")
    finally:
        output = proc.stdout.read()
        proc.stdout.close()
    assert proc.returncode == 0, output


def test_killed_server_loses_no_score(inspection_layout, tmp_path):
    config = config_yaml(inspection_layout, tmp_path)
    proc, port = _start_cli(config)
    acknowledged = {}  # answered 200: must survive the kill
    in_flight = []  # the last score sent: committed or not when the server died
    try:
        sess = request(port, "POST", "/api/session", {"inspector": "alice"})[1]
        hdr = {"X-Session": sess["session"]}
        stop = threading.Event()

        def keep_scoring():
            for k, sid in enumerate(itertools.cycle(sess["order"])):
                if stop.is_set():
                    return
                in_flight[:] = [(sid, k % 3)]
                try:
                    status, _ = request(
                        port,
                        "POST",
                        "/api/score",
                        {"inspector": "alice", "source_id": sid, "score": k % 3},
                        hdr,
                    )
                except (ConnectionError, OSError):
                    return
                if status == 200:
                    acknowledged[sid] = k % 3

        thread = threading.Thread(target=keep_scoring)
        thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < N_CANDIDATES and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)  # in the middle of the scoring
        proc.wait(timeout=120)
        stop.set()
        thread.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert len(acknowledged) == N_CANDIDATES
    proc, port = _start_cli(config)  # a new server on the same database
    try:
        status, again = request(port, "POST", "/api/session", {"inspector": "alice"})
    finally:
        _stop_cli(proc)
    stored = {int(k): v for k, v in again["scores"].items()}
    assert set(stored) == set(acknowledged)
    changed = {s: (v, stored[s]) for s, v in acknowledged.items() if stored[s] != v}
    # only the unanswered last score may differ from what was acknowledged (it may be newer)
    assert all((s, new) in in_flight for s, (_, new) in changed.items()), (changed, in_flight)
    with sqlite3.connect(tmp_path / "inspection" / "inspection.sqlite") as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the restarted server exported what the killed one may not have
    lines = (tmp_path / "inspection" / "alice.csv").read_text().splitlines()[2:]
    assert {int(s): int(v) for s, v in (x.split(",") for x in lines)} == stored


@pytest.mark.parametrize(
    ("sig", "sigint_ignored"),
    [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl-c", "ctrl-c-started-in-background", "sigterm"],
)
def test_server_stops_promptly_and_exports(inspection_layout, tmp_path, sig, sigint_ignored):
    """Ctrl-C (SIGINT) or SIGTERM stops the server at once, after the last export.

    Also when started with SIGINT ignored, as a non-interactive shell starts a
    background job: Python then raises no KeyboardInterrupt of its own.
    """
    config = config_yaml(inspection_layout, tmp_path)
    proc, port = _start_cli(config, sigint_ignored=sigint_ignored)
    try:
        sess = request(port, "POST", "/api/session", {"inspector": "alice"})[1]
        sid = sess["order"][0]
        body = {"inspector": "alice", "source_id": sid, "score": 2}
        status, _ = request(port, "POST", "/api/score", body, {"X-Session": sess["session"]})
        assert status == 200
    finally:
        _stop_cli(proc, sig)
    lines = (tmp_path / "inspection" / "alice.csv").read_text().splitlines()
    assert lines[1:] == ["source_id,score", f"{sid},2"]


def test_cli_inspect_export(inspection_layout, tmp_path, capsys):
    from pandas_clusters.cli import main

    config = config_yaml(inspection_layout, tmp_path)
    store = ScoreStore(tmp_path / "inspection" / "inspection.sqlite")
    token = store.open_session("alice")
    ids = pd.read_parquet(inspection_layout / "results" / "crossmatch" / "candidates.parquet")[
        "source_id"
    ].tolist()
    store.set_score("alice", token, ids[0], 2)
    assert main(["--config", str(config), "inspect-export"]) == 0
    assert "2 file(s) updated" in capsys.readouterr().out
    lines = (tmp_path / "inspection" / "alice.csv").read_text().splitlines()
    assert lines[1:] == ["source_id,score", f"{ids[0]},2"]
    assert main(["--config", str(config), "inspect-export"]) == 0
    assert "0 file(s) updated" in capsys.readouterr().out
    missing = config_yaml(inspection_layout, tmp_path, candidates=str(tmp_path / "nope.parquet"))
    assert main(["--config", str(missing), "inspect-export"]) == 2
    assert "nope.parquet not found" in capsys.readouterr().err
