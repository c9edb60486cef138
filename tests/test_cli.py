"""The pandas-clusters command line: stages without Snakemake."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from pandas_clusters.cli import main


@pytest.fixture(scope="module")
def small_config(tmp_path_factory, repo):
    d = tmp_path_factory.mktemp("cli")
    cfg = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    cfg["mock"].update({"ccd_nx": 400, "ccd_ny": 400, "ccd_columns": 1, "ccd_rows": 1})
    cfg["stamps"] = {"size": 16}
    path = d / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_validate(small_config, capsys):
    assert main(["--config", str(small_config), "validate"]) == 0
    assert "valid" in capsys.readouterr().out


def test_invalid_config_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mock: {ccd_nxx: 3}\n")
    assert main(["--config", str(bad), "validate"]) == 2
    assert "ccd_nxx" in capsys.readouterr().err


def test_mock_to_stamps_chain(small_config, tmp_path):
    cfg = ["--config", str(small_config)]
    for band in ("g", "i"):
        out = str(tmp_path / f"{band}.fits")
        assert main([*cfg, "mock-image", "--field", "248", "--band", band, "--out", out]) == 0
    images = [f"--image=g={tmp_path / 'g.fits'}", f"--image=i={tmp_path / 'i.fits'}"]
    src = tmp_path / "sources.parquet"
    assert main([*cfg, "sources", "--field", "248", *images, "--out", str(src)]) == 0
    sources = pd.read_parquet(src)
    assert len(sources) > 10 and sources["source_id"].is_unique
    stamps = tmp_path / "stamps.parquet"
    assert main([*cfg, "stamps", "--sources", str(src), *images, "--out", str(stamps)]) == 0
    # the sources the config's magnitude limits can reach (22.0 + stamps.mag_margin 0.3)
    usable = sources["source_id"][sources["gmag"] <= 22.3]
    assert 0 < len(usable) < len(sources)
    assert set(pd.read_parquet(stamps)["source_id"]) == set(usable)


def test_bad_pair_argument(small_config, tmp_path, capsys):
    code = main(
        ["--config", str(small_config), "stamps", "--sources", "x", "--image", "g", "--out", "y"]
    )
    assert code == 2
    assert "expects KEY=PATH" in capsys.readouterr().err


def test_documents_record_the_reference_relative_to_the_working_folder(tmp_path, monkeypatch):
    # the commands written into docs/ name no absolute path of the machine that ran them
    import argparse

    from pandas_clusters.cli import _reference_argv

    work = tmp_path / "repo"
    work.mkdir()
    monkeypatch.chdir(work)
    args = argparse.Namespace(config="c.yaml", reference=str(tmp_path / "shared"), out="o.md")
    argv = _reference_argv(args, "mock-realism")
    assert argv == ["pandas-clusters", "--config", "c.yaml", "mock-realism"] + [
        "--reference",
        "../shared",
        "--out",
        "o.md",
    ]
    args.reference = "../shared/reference"
    assert _reference_argv(args, "mock-realism")[5] == "../shared/reference"
