"""envs/*.yaml (conda, for --sdm conda) name the same packages as pyproject.toml."""

from __future__ import annotations

import re
import tomllib

import yaml

# conda-forge names that differ from PyPI's
CONDA_TO_PYPI = {"pytorch": "torch"}
# packages of the runner or of conda itself, not of the rules
NOT_RULE_DEPS = {"python", "pip", "snakemake", "snakemake-executor-plugin-slurm"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower()


def test_envs_match_pyproject(repo):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    pyproject = {_name(d) for d in project["dependencies"]} - NOT_RULE_DEPS
    named = set()
    for env in sorted((repo / "envs").glob("*.yaml")):
        spec = yaml.safe_load(env.read_text())
        for dep in spec["dependencies"]:
            if isinstance(dep, dict):
                named |= {_name(d) for d in dep["pip"] if not d.startswith("-e")}
            else:
                named.add(CONDA_TO_PYPI.get(_name(dep), _name(dep)))
    named -= NOT_RULE_DEPS
    assert named == pyproject, (
        f"only in envs: {sorted(named - pyproject)}; only in pyproject: {sorted(pyproject - named)}"
    )


def test_every_rule_names_an_env(repo):
    for smk in sorted((repo / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        n_rules = len(re.findall(r"^rule \w+:", text, flags=re.M))
        n_local = len(re.findall(r"^localrules:", text, flags=re.M))
        n_conda = text.count("conda:")
        assert n_conda >= n_rules - n_local, f"{smk.name}: a rule without conda:"
