"""Configuration: loading and validation against the packaged JSON schema.

The schema (``pandas_clusters/data/config.schema.yaml``, linked from
``workflow/schemas/config.schema.yaml``) documents every key with a
description and a default. The workflow validates with Snakemake's
``validate``; the CLI and the library use :func:`validate_config`, which
applies the same schema and fills the same defaults.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = ["ConfigError", "load_config", "load_schema", "validate_config"]


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
