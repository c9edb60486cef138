"""Configuration validation: the schema names the key at fault."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

import pytest
import yaml

from pandas_clusters.core.config import ConfigError, load_config, load_schema, validate_config


def _walk(schema, path=""):
    for key, sub in schema.get("properties", {}).items():
        yield f"{path}{key}", sub
        if sub.get("type") == "object":
            yield from _walk(sub, f"{path}{key}.")


def test_every_key_has_description_and_default():
    schema = load_schema()
    for key, sub in _walk(schema):
        assert sub.get("description"), f"{key} has no description"
        # items of a field sheet are described by their parent; plain keys need defaults
        if "." not in key or key.count(".") == 1:
            assert "default" in sub, f"{key} has no default"


def test_repository_config_is_valid(repo):
    cfg = load_config(repo / "config" / "config.yaml")
    assert cfg["survey"] == "mock"
    assert cfg["mock"]["psf_beta"] == 3.0  # default filled in


def test_defaults_fill_an_empty_config():
    cfg = validate_config({})
    assert cfg["fields"] == [231, 248, 249, 257, 266]
    assert cfg["mock"]["ccd_nx"] == 1024


def test_mistyped_key_is_named():
    with pytest.raises(
        ConfigError, match=r"mock\.ccd_nxx: unknown key, value 100 \(did you mean 'ccd_nx'\?\)"
    ):
        validate_config({"mock": {"ccd_nxx": 100}})
    with pytest.raises(
        ConfigError, match=r"survy: unknown key, value 'mock' \(did you mean 'survey'\?\)"
    ):
        validate_config({"survy": "mock"})


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"mock\.ccd_nx: 'big' is not of type 'integer'"):
        validate_config({"mock": {"ccd_nx": "big"}})
    with pytest.raises(ConfigError, match=r"survey: 'hst' is not one of"):
        validate_config({"survey": "hst"})


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("survey: [mock\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


@pytest.mark.slow
def test_snakemake_rejects_a_mistyped_key(repo, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"mock": {"ccd_nxx": 100}}))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(cfg)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "ccd_nxx" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_snakemake_rejects_an_unknown_field(repo, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"fields": [248, 999]}))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(cfg)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "[999] are not in the mock field sheet" in proc.stdout + proc.stderr


def _stage_settings_classes():
    """Every StageSettings subclass of the library (importing every module first)."""
    import importlib
    import pkgutil

    import pandas_clusters
    from pandas_clusters.core.config import StageSettings

    for mod in pkgutil.walk_packages(pandas_clusters.__path__, "pandas_clusters."):
        importlib.import_module(mod.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return sorted(set(subclasses(StageSettings)), key=lambda c: c.__name__)


def test_every_stage_settings_class_is_found():
    names = {cls.__name__ for cls in _stage_settings_classes()}
    assert {
        "SourceSettings",
        "StampSettings",
        "TrainsetSettings",
        "TrainSettings",
        "EvaluationSettings",
        "InferenceSettings",
        "SelectionSettings",
        "CrossmatchSettings",
        "PublishSettings",
        "FigureSettings",
        "DownloadSettings",
        "VizierSettings",
    } <= names


@pytest.mark.parametrize("cls", _stage_settings_classes(), ids=lambda c: c.__name__)
def test_settings_defaults_live_in_the_schema_only(cls):
    """No dataclass default (it could contradict the schema); every config field has one there."""
    import dataclasses

    from pandas_clusters.core.config import schema_default, section_schema

    keys = section_schema(cls._section)["properties"]
    for f in dataclasses.fields(cls):
        assert f.default is dataclasses.MISSING, f"{cls.__name__}.{f.name} has a default"
        assert f.default_factory is dataclasses.MISSING, f"{cls.__name__}.{f.name} has a default"
        if f.name in keys:
            assert "default" in keys[f.name], f"{cls._section}.{f.name}: no schema default"
    for name, path in cls._defaults_from.items():
        schema_default(path)  # raises KeyError when the path has no default
        assert name in {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("cls", _stage_settings_classes(), ids=lambda c: c.__name__)
def test_settings_built_from_the_schema_defaults_equal_them(cls):
    import dataclasses

    from pandas_clusters.core.config import section_schema

    keys = section_schema(cls._section)["properties"]
    context = {"model": "resnet18", "mag_limit": 22.0, "seed": 0}
    context = {k: v for k, v in context.items() if k in {f.name for f in dataclasses.fields(cls)}}
    settings = cls.from_config(**context)
    for f in dataclasses.fields(cls):
        value = getattr(settings, f.name)
        if f.name in keys and not (
            isinstance(value, tuple | Mapping) or dataclasses.is_dataclass(value)
        ):
            assert value == keys[f.name]["default"], f.name


def test_schema_catalogue_keys_are_the_registry():
    """The schema's enumerations of catalogue keys are the registry's (core.catalogues)."""
    from pandas_clusters.core.catalogues import CATALOGUES, LITERATURE_CATALOGUES

    schema = load_schema()["properties"]
    assert schema["catalogues"]["propertyNames"]["enum"] == list(CATALOGUES)
    crossmatch = schema["crossmatch"]["properties"]
    assert crossmatch["catalogues"]["items"]["enum"] == list(LITERATURE_CATALOGUES)
    assert crossmatch["catalogues"]["default"] == list(LITERATURE_CATALOGUES)
    assert crossmatch["optional"]["items"]["enum"] == list(LITERATURE_CATALOGUES)
