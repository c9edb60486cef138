"""The Snakemake workflow end to end on a tiny mock survey, and what reruns after a change.

One module-scoped run of the whole DAG on ``config/tiny.yaml`` (two one-CCD
fields, 32 px stamps, resnet18, one epoch, one seed) in a temporary working
directory; the
incremental-rerun tests then ask Snakemake (dry run) what it would do.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from astropy.io import ascii as astropy_ascii

pytestmark = pytest.mark.slow


def _snakemake(
    repo: Path, workdir: Path, *args: str, configfile="tiny.yaml", overlays=(), timeout=900
):
    """Run Snakemake in ``workdir`` on config/config.yaml, config/``configfile`` and ``overlays``."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(repo / "Snakefile"),
        "--cores",
        "2",
        "--configfile",
        str(repo / "config" / "config.yaml"),
        str(repo / "config" / configfile),
        *[str(o) for o in overlays],
        *args,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env
    )


def _planned(proc) -> dict[str, int]:
    """Job counts of a dry run's 'Job stats' table (empty when nothing is to be done)."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    if "Nothing to be done" in out:
        return {}
    block = out.split("Job stats:", 1)[1]
    counts = {}
    for line in block.splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    counts.pop("total", None)
    return counts


@pytest.fixture(scope="module")
def tiny_run(repo, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny_workflow")
    proc = _snakemake(repo, workdir)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return workdir


def test_cds_pair_reads_back(tiny_run):
    cds = tiny_run / "results" / "publish"
    table = astropy_ascii.read(cds / "table7.dat", readme=cds / "ReadMe", format="cds")
    parquet = pd.read_parquet(cds / "table7.parquet")
    assert len(table) == len(parquet)
    assert len(table) > 0, "the tiny run should find candidates"
    for col in ("Seq", "gmag", "imag", "PAndAS", "Rproj", "Conf"):
        # a blank (CDS null, e.g. no i magnitude) reads back masked: compare it as NaN
        read = np.ma.filled(np.ma.asarray(table[col], dtype=float), np.nan)
        np.testing.assert_allclose(read, parquet[col].to_numpy(dtype=float), atol=1e-3)
    assert set(parquet["PAndAS"]) <= {248, 266}
    assert (parquet["Rproj"] <= 30.0).all()


def test_every_stage_wrote_its_products(tiny_run):
    r = tiny_run
    for path in [
        "resources/images/248/g.fits",
        "resources/mock/truth.parquet",
        "resources/catalogues/phat_clusters.parquet",
        "results/sources/248.parquet",
        "results/stamps/266.parquet",
        "results/training_set/mag22.0.parquet",
        "results/training/resnet18/mag22.0/seed0/weights.safetensors",
        "results/evaluation/summary.tsv",
        "results/inference/248.parquet",
        "results/selection/candidates.parquet",
        "results/crossmatch/candidates.parquet",
    ]:
        assert (r / path).is_file(), path
    assert list((r / "logs").rglob("*.log"))


def test_no_change_plans_nothing(repo, tiny_run):
    assert _planned(_snakemake(repo, tiny_run, "-n")) == {}


def test_threshold_change_reruns_only_the_survey_tail(repo, tiny_run):
    overlay = tiny_run / "threshold.yaml"
    overlay.write_text(yaml.safe_dump({"selection": {"threshold": 0.8}}))
    planned = _planned(_snakemake(repo, tiny_run, "-n", overlays=[overlay]))
    assert set(planned) - {"all"} == {
        "selection",
        "crossmatch",
        "publish",
        "truth_score",
        "figures",
        "completeness",
    }


def test_magnitude_limits_rerun_the_stamps_only_when_the_faintest_moves(repo, tiny_run):
    # a brighter grid point: new training, no stamps (their limit is the faintest + margin)
    overlay = tiny_run / "grid.yaml"
    overlay.write_text(yaml.safe_dump({"training": {"mag_limits": [21.0, 22.0]}}))
    planned = _planned(_snakemake(repo, tiny_run, "-n", overlays=[overlay]))
    assert "training_set" in planned
    assert "stamps" not in planned and "sources" not in planned
    # a wider margin: every field's stamps again
    overlay = tiny_run / "margin.yaml"
    overlay.write_text(yaml.safe_dump({"stamps": {"mag_margin": 0.5}}))
    planned = _planned(_snakemake(repo, tiny_run, "-n", overlays=[overlay]))
    assert planned.get("stamps") == 2 and "sources" not in planned


def test_training_loop_setting_reruns_training_not_the_training_set(repo, tiny_run):
    overlay = tiny_run / "epoch_negatives.yaml"
    overlay.write_text(yaml.safe_dump({"training": {"epoch_negatives_per_positive": 2.0}}))
    planned = _planned(_snakemake(repo, tiny_run, "-n", overlays=[overlay]))
    assert planned.get("training") == 1
    assert "training_set" not in planned and "stamps" not in planned


def test_every_training_setting_reaches_a_rule(repo):
    """Each key of the schema's training section is a grid key or in a rule's params."""
    from pandas_clusters.core.config import section_schema

    text = (repo / "workflow" / "rules" / "common.smk").read_text(encoding="utf-8")
    used = {"models", "mag_limits", "seeds", "fields"}  # the grid and the training fields
    for name in ("_LOOP_KEYS", "_TRAINSET_KEYS"):
        block = re.search(rf"^{name} = \(([^)]*)\)", text, re.M)
        assert block, name
        used |= set(re.findall(r'"(\w+)"', block.group(1)))
    assert set(section_schema("training")["properties"]) <= used


def test_adding_a_field_reruns_its_chain_and_the_survey_steps(repo, tiny_run):
    overlay = tiny_run / "field.yaml"
    overlay.write_text(yaml.safe_dump({"fields": [248, 266, 257]}))
    planned = _planned(_snakemake(repo, tiny_run, "-n", overlays=[overlay]))
    assert planned.pop("mock_image") == 2  # g and i of field 257
    for per_field in ("mock_field_truth", "sources", "stamps", "inference"):
        assert planned.pop(per_field) == 1, per_field
    assert planned.pop("injection") == 2  # the two rounds of config/tiny.yaml, field 257 only
    assert set(planned) - {"all"} == {
        "mock_truth",
        "selection",
        "crossmatch",
        "publish",
        "truth_score",
        "figures",
        "completeness",
    }


def test_real_survey_config_plans_every_stage(repo, tmp_path):
    """`snakemake -n` with config/pandas.yaml plans the whole DAG offline.

    Every real field whose footprint reaches within Rproj = 30 kpc (the
    packaged field sheet) is downloaded in both bands, and gets its sources,
    stamps and inference; training uses the PHAT fields only.
    """
    from pandas_clusters.core.fields import fields_within, load_field_sheet

    proc = _snakemake(repo, tmp_path, "-n", configfile="pandas.yaml", timeout=300)
    planned = _planned(proc)
    expected = {
        "download_image",
        "fetch_catalogue",
        "phat_footprint",
        "sources",
        "stamps",
        "training_set",
        "training",
        "evaluation",
        "summarize",
        "inference",
        "selection",
        "crossmatch",
        "publish",
    }
    assert expected <= set(planned), sorted(expected - set(planned))
    assert not {"mock_image", "mock_catalogues"} & set(planned)
    config = yaml.safe_load((repo / "config" / "pandas.yaml").read_text())
    fields = fields_within(load_field_sheet(), config["selection"]["rproj_max_kpc"])
    out = proc.stdout + proc.stderr
    images = set(re.findall(r"output: resources/images/(\d+)/([gi])\.fits\n", out))
    assert images == {(str(f), b) for f in fields for b in ("g", "i")}
    for per_field in ("sources", "stamps", "inference"):
        assert planned[per_field] == len(fields), per_field
    # completeness: one injection round (default) on the real images of every field
    assert planned["injection"] == planned["sources"] and planned["completeness"] == 1
    assert planned["fetch_catalogue"] == 8
    # the paper's grid of config/pandas.yaml: 6 models x 5 limiting magnitudes x 3 seeds
    assert planned["training_set"] == 5
    assert planned["training"] == 6 * 5 * 3
    assert planned["evaluation"] == 6 * 5


def test_injection_completeness_matches_truth_completeness(repo, tiny_run):
    """On the mock, completeness by injection = completeness of the mock's own clusters, per g bin.

    Within binomial errors: |z| < 3 in every g bin holding at least 10 artificial and
    10 true clusters (detection and selection), recomputed here from the run's files.
    """
    from pandas_clusters.completeness import CompletenessSettings, evaluate_completeness
    from pandas_clusters.completeness.tables import compare_with_truth, g_edges, truth_recovery
    from pandas_clusters.core.config import validate_config

    tiny = yaml.safe_load((repo / "config" / "tiny.yaml").read_text())
    section = validate_config({"completeness": tiny["completeness"]})["completeness"]
    settings = CompletenessSettings.from_config(section)
    r = tiny_run
    recovery = pd.read_parquet(r / "results/completeness/recovery.parquet")
    assert sorted(recovery.groupby(["field", "round"]).size().index) == [
        (f, k) for f in (248, 266) for k in range(settings.rounds)
    ]
    truth = truth_recovery(
        pd.read_parquet(r / "resources/mock/truth.parquet"),
        [pd.read_parquet(r / f"results/sources/{f}.parquet") for f in (248, 266)],
        pd.read_parquet(r / "results/selection/candidates.parquet"),
        settings=settings,
    )
    table = compare_with_truth(recovery, truth, g_edges(settings))
    both = (table["n_injected"] >= 10) & (table["n_truth"] >= 10)
    assert both.sum() >= 3, table
    for kind in ("detected", "selected"):
        assert (table.loc[both, f"z_{kind}"].abs() < 3).all(), table
    written = pd.read_csv(r / "results/completeness/truth_comparison.tsv", sep="\t")
    np.testing.assert_allclose(written["z_detected"], table["z_detected"], atol=1e-3)
    mag50 = pd.read_csv(r / "results/completeness/mag50.tsv", sep="\t", dtype={"field": str})
    assert set(mag50["field"]) == {"all", "248", "266"}
    g50 = mag50.set_index("field")["g50_detected"]
    lo, hi = settings.g_range
    assert lo <= g50["all"] <= hi  # NaN per field where 50% is not crossed inside the range
    assert g50.isna().sum() < len(g50)
    assert ((g50.dropna() >= lo) & (g50.dropna() <= hi)).all()
    c = evaluate_completeness(r / "results/publish/completeness_function.json", [18.0, 26.0])
    assert np.all((c >= 0) & (c <= 1))
    for png in ("completeness.png", "completeness_g.png"):
        assert (r / "results/completeness" / png).stat().st_size > 0
