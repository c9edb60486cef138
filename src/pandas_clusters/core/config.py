"""Configuration: loading and validation against the packaged JSON schema.

The schema (``pandas_clusters/data/config.schema.yaml``, linked from
``workflow/schemas/config.schema.yaml``) documents every key with a
description and a default. The workflow validates with Snakemake's
``validate``; the CLI and the library use :func:`validate_config`, which
applies the same schema and fills the same defaults.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Self

import jsonschema
import yaml

__all__ = [
    "ConfigError",
    "StageSettings",
    "inference_params",
    "load_config",
    "load_schema",
    "sources_params",
    "stamps_params",
    "validate_config",
]

#: Background and zero-point settings of the ``sources:`` section that the stamps
#: stage uses too (one place, so both stages subtract the same sky).
SHARED_WITH_STAMPS = ("background_box", "background_filter", "zero_points", "zero_point_keywords")


class StageSettings:
    """Mixin of the stage-settings dataclasses built from one whole config section.

    Subclasses (frozen dataclasses) name their section in ``_section``.
    """

    _section: ClassVar[str]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """Build from the (validated) section mapping; unknown keys are errors."""
        unknown = set(config) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            msg = f"{cls._section}: unknown config keys {sorted(unknown)}"
            raise ValueError(msg)
        return cls(**dict(config))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples as lists, mappings as dicts), e.g. for file metadata."""
        return {
            key: list(value)
            if isinstance(value, tuple)
            else dict(value)
            if isinstance(value, Mapping)
            else value
            for key, value in dataclasses.asdict(self).items()
        }


class ConfigError(ValueError):
    """The configuration does not satisfy the schema (the message names the key)."""


def load_schema() -> dict[str, Any]:
    """The configuration JSON schema as a dict."""
    text = resources.files("pandas_clusters").joinpath("data/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def validate_config(config: Mapping[str, Any], *, source: str = "config") -> dict[str, Any]:
    """Validate a configuration and return a copy with every default filled in.

    Parameters
    ----------
    config : mapping
        The configuration (e.g. the parsed ``config/config.yaml``).
    source : str, optional
        Name of where it came from, used in error messages.

    Raises
    ------
    ConfigError
        Naming the offending key (as a dotted path) and what is wrong with it.
    """
    cfg = copy.deepcopy(dict(config))
    validator = _Validator(load_schema())
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for err in errors:
            path = ".".join(str(p) for p in err.absolute_path) or "<top level>"
            if err.validator == "additionalProperties":
                lines.append(f"{path}: {err.message} (unknown key)")
            else:
                lines.append(f"{path}: {err.message}")
        msg = f"invalid configuration in {source}:\n  " + "\n  ".join(lines)
        raise ConfigError(msg)
    return cfg


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML configuration file and validate it (defaults filled in)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except FileNotFoundError:
        msg = f"configuration file {p} does not exist"
        raise ConfigError(msg) from None
    except yaml.YAMLError as exc:
        msg = f"configuration file {p} is not valid YAML: {exc}"
        raise ConfigError(msg) from None
    if not isinstance(data, dict):
        msg = f"configuration file {p} must hold a mapping at top level"
        raise ConfigError(msg)
    return validate_config(data, source=str(p))


def sources_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """Settings of the sources stage (``SourceSettings.from_config``) from a validated config."""
    src = {k: v for k, v in config["sources"].items() if k != "catalogue_template"}
    return {**src, "bands": list(config["bands"])}


def stamps_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """Settings of the stamps stage: its section plus the sources' sky and zero-point keys.

    ``all_sources`` and ``mag_margin`` become one ``mag_limit``: the faintest of
    ``training.mag_limits`` and ``selection.mag_limit`` plus the margin, or None
    (every source) with ``stamps.all_sources`` or ``inference.all_sources``. Only
    that number reaches the rule's params, so a limit change that leaves it
    unchanged reruns no stamps.
    """
    stamps = dict(config["stamps"])
    everything = stamps.pop("all_sources")
    margin = float(stamps.pop("mag_margin"))
    if everything or config["inference"]["all_sources"]:
        stamps["mag_limit"] = None
    else:
        limits = [*config["training"]["mag_limits"], config["selection"]["mag_limit"]]
        stamps["mag_limit"] = round(max(float(m) for m in limits) + margin, 6)
    shared = {k: config["sources"][k] for k in SHARED_WITH_STAMPS}
    return {**stamps, **shared, "bands": list(config["bands"])}


def inference_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """Inference settings; unless ``all_sources``, only sources up to the selection's g limit."""
    inf = dict(config["inference"])
    everything = inf.pop("all_sources")
    inf["mag_limit"] = None if everything else float(config["selection"]["mag_limit"])
    return inf
