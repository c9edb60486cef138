"""The workflow's publish rule reads the inspection exports: it reruns when a score changes, only then."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from inspection_support import build_layout, env_with_src, open_inspection

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def inspection_layout(tmp_path_factory, mock_field_with_sources):
    return build_layout(tmp_path_factory.mktemp("inspection"), mock_field_with_sources)


def _publish_plan(workdir, *args):
    """Snakemake on the repository's workflow, the publish rule alone, in ``workdir``."""
    repo = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "snakemake", "results/publish/table7.dat", "--cores", "1"]
    cmd += ["-s", str(repo / "Snakefile"), *args, "--allowed-rules", "publish"]
    cmd += [
        "--configfile",
        str(repo / "config" / "config.yaml"),
        str(repo / "config" / "tiny.yaml"),
    ]
    env = {**env_with_src(), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    return "Nothing to be done" not in out


def test_publish_reruns_when_a_score_changes_and_only_then(inspection_layout, tmp_path):
    shutil.copytree(
        inspection_layout / "results" / "crossmatch", tmp_path / "results" / "crossmatch"
    )
    with open_inspection(
        inspection_layout,
        tmp_path / "resources",
        candidates=str(tmp_path / "results" / "crossmatch" / "candidates.parquet"),
    ) as app:
        for name, offset in (("alice", 0), ("bob", 1)):
            token = app.store.open_session(name)
            for sid in app.ids.tolist():
                app.store.set_score(name, token, sid, (sid + offset) % 3)
        app.export()
        assert _publish_plan(tmp_path)  # runs publish
        table = pd.read_parquet(tmp_path / "results" / "publish" / "table7.parquet")
        want = {s: (s % 3) + ((s + 1) % 3) for s in app.ids.tolist()}
        assert dict(zip(table["source_id"], table["Score"], strict=True)) == want
        # a new session, the same score given again, a fresh export: nothing to redo
        token = app.store.open_session("alice")
        sid = int(app.ids[0])
        app.store.set_score("alice", token, sid, sid % 3)
        assert app.export() == []
        assert not _publish_plan(tmp_path, "-n")
        # a changed score: publish reruns
        app.store.set_score("alice", token, sid, (sid + 1) % 3)
        assert app.export_dir / "alice.csv" in app.export()
        assert _publish_plan(tmp_path, "-n")
