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
import difflib
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
    """Mixin of the stage-settings dataclasses: built from one schema section, defaults there.

    A subclass is a frozen dataclass whose fields carry **no defaults**: every
    default lives in the config schema (``pandas_clusters/data/config.schema.yaml``),
    and :meth:`from_config` is the one way to build one. Fields that are keys of the
    section ``_section`` come from the (validated, default-filled) section; any other
    field is *context* the caller passes by keyword (the bands, a grid point's model
    or seed, another section's setting). A subclass whose fields are derived from
    section keys (a renamed or computed setting) overrides :meth:`_derive`.
    """

    _section: ClassVar[str]
    #: Context fields that default to another schema entry (field -> dotted schema path),
    #: e.g. the stamps' sky settings to those of ``sources``.
    _defaults_from: ClassVar[Mapping[str, str]] = {}
    #: Defaults of fields that are not settings of the science (no config key): run-time
    #: options such as a progress bar or a transfer's block size.
    _runtime: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None = None, /, **values: Any) -> Self:
        """Build from a config section (missing keys take the schema's defaults).

        Parameters
        ----------
        section : mapping, optional
            The config section (``config[cls._section]``), whole or partial; None: all
            defaults.
        **values
            Keys of the section to override, and the context fields that are not
            keys of the section (e.g. ``bands``, ``model``, ``seed``).

        Raises
        ------
        ConfigError
            A section key has a wrong type or value (the message names ``section.key``),
            a keyword is neither a section key nor a field, or a field has no value.
        """
        keys = set(section_schema(cls._section).get("properties", {}))
        merged = _plain({**dict(section or {}), **{k: v for k, v in values.items() if k in keys}})
        resolved = resolve_section(cls._section, merged)
        context = {k: v for k, v in values.items() if k not in keys}
        for name, path in cls._defaults_from.items():
            context.setdefault(name, schema_default(path))
        for name, value in cls._runtime.items():
            context.setdefault(name, value)
        resolved = cls._derive({**resolved, **context})
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(context) - set(names))
        missing = [n for n in names if n not in resolved]
        if unknown or missing:
            msg = (
                f"{cls.__name__} ({cls._section}): "
                + (f"unknown settings {unknown}; " if unknown else "")
                + (f"missing context {missing}" if missing else "")
            )
            raise ConfigError(msg.rstrip("; "))
        kinds = {f.name: str(f.type) for f in dataclasses.fields(cls)}
        return cls(**{n: _coerce(resolved[n], kinds[n]) for n in names})

    @classmethod
    def _derive(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Fields computed from the section's keys (identity by default)."""
        return values

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples as lists, mappings as dicts), e.g. for file metadata."""
        return {key: _plain(value) for key, value in dataclasses.asdict(self).items()}


def _coerce(value: Any, kind: str) -> Any:
    """Lists as tuples (frozen settings hold no mutable sequence); YAML integers as floats
    where the field is a float (``mag_limit: 22`` is 22.0)."""
    if isinstance(value, list):
        return tuple(_coerce(v, "") for v in value)
    if kind.startswith("float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


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


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) and limit > 80 else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(err: jsonschema.ValidationError, *, prefix: str = "") -> list[str]:
    """One line per problem: the key (dotted path under ``prefix``), its value, what is allowed."""
    path = ".".join([prefix] * bool(prefix) + [str(p) for p in err.absolute_path])
    where = path or "<top level>"
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted(err.schema.get("properties", {}))
        lines = []
        for key in sorted(set(err.instance) - set(allowed), key=str):
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(
                f"{f'{path}.{key}' if path else key}: unknown key, value "
                f"{_short(err.instance[key])}{hint}; allowed keys: {', '.join(allowed)}"
            )
        return lines
    if err.validator == "enum":
        return [f"{where}: {_short(err.instance)} is not one of {err.validator_value}"]
    if err.validator == "type":
        return [f"{where}: {_short(err.instance)} is not of type {err.validator_value!r}"]
    return [f"{where}: {_short(err.message, 200)}"]


def _check_mock_fields(cfg: Mapping[str, Any], source: str) -> None:
    """With the mock survey, every field asked for must be in the mock's field sheet."""
    if cfg.get("survey") != "mock":
        return
    sheet = sorted({int(f["id"]) for f in cfg["mock"]["fields"]})
    training_fields = (cfg.get("training") or {}).get("fields") or []
    for key, fields in (("fields", cfg["fields"]), ("training.fields", training_fields)):
        unknown = sorted(set(fields) - set(sheet))
        if unknown:
            msg = (
                f"invalid configuration in {source}:\n  {key}: field(s) {unknown} are not in "
                f"the mock field sheet (mock.fields); known mock fields: {sheet}"
            )
            raise ConfigError(msg)


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
        One line per problem: the offending key (as a dotted path), its value and
        what is allowed (never the whole schema); with the mock survey, also a
        field that the mock's field sheet does not define.
    """
    cfg = copy.deepcopy(dict(config))
    validator = _Validator(load_schema())
    errors = list(validator.iter_errors(cfg))
    if errors:
        raise ConfigError(_error_summary(errors, prefix="", source=source))
    _check_mock_fields(cfg, source)
    return cfg


def _error_summary(errors: list, *, prefix: str, source: str) -> str:
    """One line per problem (key under ``prefix``, its value, what is allowed)."""
    errors = sorted(errors, key=lambda e: list(map(str, e.absolute_path)))
    lines = [line for err in errors for line in _describe(err, prefix=prefix)]
    return f"invalid configuration in {source}:\n  " + "\n  ".join(lines)


def section_schema(path: str) -> dict[str, Any]:
    """The schema of one config section, by dotted path (``"training"``, ``"mock.psf"``)."""
    node = load_schema()
    for part in path.split("."):
        try:
            node = node["properties"][part]
        except KeyError:
            msg = f"the config schema has no section {path!r}"
            raise KeyError(msg) from None
    return node


def schema_default(path: str) -> Any:
    """The schema's default of one key, by dotted path (``"sources.background_box"``)."""
    head, _, key = path.rpartition(".")
    node = section_schema(head) if head else load_schema()
    return copy.deepcopy(node["properties"][key]["default"])


def resolve_section(path: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate one (partial) config section; a copy with the schema's defaults filled in.

    Raises
    ------
    ConfigError
        Naming the key as ``path.key`` and what is wrong with it.
    """
    cfg = copy.deepcopy(dict(values or {}))
    errors = list(_Validator(section_schema(path)).iter_errors(cfg))
    if errors:
        raise ConfigError(_error_summary(errors, prefix=path, source="settings"))
    return cfg


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML configuration file and validate it (defaults filled in)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except FileNotFoundError:
        msg = f"configuration file {p} not found"
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
