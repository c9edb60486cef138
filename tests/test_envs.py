"""envs/*.yaml (conda, for --sdm conda) install the package's core and one extra each, and
every rule's script imports under the environment that its rule names."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib

import pytest
import yaml

# conda-forge names that differ from PyPI's
CONDA_TO_PYPI = {"pytorch": "torch"}
# packages of the environment itself, not of the rules
NOT_RULE_DEPS = {"python", "pip"}
# distribution -> top-level module
MODULE = {"pyyaml": "yaml"}
# modules that come with a dependency of an extra and must not be reached without it
EXTRA_MODULES = {"requests": ["urllib3"]}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower()


def _project(repo):
    return tomllib.loads((repo / "pyproject.toml").read_text())["project"]


def _env_packages(path):
    """(conda + pip package names, the extra installed by ``-e ../[extra]``) of one env."""
    spec = yaml.safe_load(path.read_text())
    named, extra = set(), None
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for d in dep["pip"]:
                if d.startswith("-e"):
                    m = re.search(r"\[(\w+)\]", d)
                    extra = m.group(1) if m else None
                else:
                    named.add(_name(d))
        else:
            named.add(CONDA_TO_PYPI.get(_name(dep), _name(dep)))
    return named - NOT_RULE_DEPS, extra


def _rules(repo):
    """(rule, env file name, script path) of every rule with a conda env and a script."""
    out = []
    for smk in sorted((repo / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=rule \w+:)", smk.read_text(), flags=re.M):
            rule = re.match(r"rule (\w+):", block)
            env = re.search(r'conda:\s*\n\s*"\.\./\.\./envs/(\w+)\.yaml"', block)
            script = re.search(r'script:\s*\n\s*"\.\./scripts/(\w+\.py)"', block)
            if rule and env and script:
                out.append(
                    (rule.group(1), env.group(1), repo / "workflow" / "scripts" / script.group(1))
                )
    return out


def _extra(extras, name):
    """Package names of one extra, extras of the package itself (``pandas-clusters[a,b]``)
    expanded."""
    names = set()
    for dep in extras[name]:
        if _name(dep) == "pandas-clusters":
            for sub in re.search(r"\[(.*)\]", dep).group(1).split(","):
                names |= _extra(extras, sub.strip())
        else:
            names.add(_name(dep))
    return names


def test_envs_are_core_plus_one_extra(repo):
    project = _project(repo)
    core = {_name(d) for d in project["dependencies"]}
    extras = project["optional-dependencies"]
    for env in sorted((repo / "envs").glob("*.yaml")):
        named, extra = _env_packages(env)
        assert extra == env.stem, f"{env.name} must install -e ../[{env.stem}]"
        expected = core | _extra(extras, extra)
        assert named == expected, (
            f"{env.name}: only in env {sorted(named - expected)}; "
            f"only in pyproject {sorted(expected - named)}"
        )


def test_every_rule_names_an_env(repo):
    for smk in sorted((repo / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        n_rules = len(re.findall(r"^rule \w+:", text, flags=re.M))
        n_local = len(re.findall(r"^localrules:", text, flags=re.M))
        n_conda = text.count("conda:")
        assert n_conda >= n_rules - n_local, f"{smk.name}: a rule without conda:"


_BLOCKER = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not in this rule's environment")
sys.meta_path.insert(0, Block())
exec(compile(sys.stdin.read(), "imports", "exec"))
"""


def _import_lines(script):
    """The script's import statements (what it needs at import time), as source."""
    tree = ast.parse(script.read_text())
    nodes = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return "\n".join(ast.unparse(n) for n in nodes)


@pytest.mark.parametrize("env", ["astro", "completeness", "download", "torch"])
def test_rule_scripts_import_under_their_env(repo, env):
    """Import the scripts of the env's rules with every dependency outside the env blocked."""
    project = _project(repo)
    every = {_name(d) for d in project["dependencies"]}
    for name in project["optional-dependencies"]:
        if name not in ("all", "test", "workflow"):
            every |= _extra(project["optional-dependencies"], name)
    named, _ = _env_packages(repo / "envs" / f"{env}.yaml")
    blocked = {"snakemake"}  # the runner is not inside a rule's environment
    for dist in every - named:
        blocked |= {MODULE.get(dist, dist)} | set(EXTRA_MODULES.get(dist, []))
    scripts = sorted({script for _, e, script in _rules(repo) if e == env})
    assert scripts, f"no rule uses envs/{env}.yaml"
    source = "\n".join(_import_lines(script) for script in scripts)
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKER, ",".join(sorted(blocked))],
        input=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    names = ", ".join(s.name for s in scripts)
    assert result.returncode == 0, f"{names} under envs/{env}.yaml:\n{result.stderr[-2000:]}"
