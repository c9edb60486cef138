"""Config validation, wildcard constraints and the input/params helpers of every rule."""

import copy
from pathlib import Path

from snakemake.utils import min_version, validate

from pandas_clusters.core.catalogues import CATALOGUES
from pandas_clusters.core.config import (
    inference_params,
    sources_params,
    stamps_params,
    validate_config,
)

min_version("9.0")


# first the package's check: one line per problem (key, value, what is allowed), where
# Snakemake's own error prints the whole schema; then Snakemake's, which fills the defaults
validate_config(config, source="the workflow configuration")
validate(config, "../schemas/config.schema.yaml")


wildcard_constraints:
    field=r"\d+",
    band=r"[a-z]",
    catalogue=r"[a-z0-9_]+",
    mag_limit=r"\d+\.\d",
    model=r"[a-z0-9_]+",
    seed=r"\d+",
    round=r"\d+",


FIELDS = [int(f) for f in config["fields"]]
TRAINING = config["training"]
MODELS = list(TRAINING["models"])
SEEDS = [int(s) for s in TRAINING["seeds"]]
MAG_LIMITS = [f"{float(m):.1f}" for m in TRAINING["mag_limits"]]
TRAINING_FIELDS = (
    FIELDS if TRAINING["fields"] is None else [int(f) for f in TRAINING["fields"]]
)
SELECTED_MODEL = config["selection"]["model"]
SELECTED_MAG_LIMIT = f"{float(config['selection']['mag_limit']):.1f}"
BANDS = list(config["bands"])
MOCK_CATALOGUES = list(CATALOGUES)


def _check_selection():
    if SELECTED_MODEL not in MODELS:
        raise ValueError(
            f"config: selection.model {SELECTED_MODEL!r} is not in training.models {MODELS}"
        )
    if SELECTED_MAG_LIMIT not in MAG_LIMITS:
        raise ValueError(
            f"config: selection.mag_limit {SELECTED_MAG_LIMIT} is not in "
            f"training.mag_limits {MAG_LIMITS}"
        )
    unknown = sorted(set(TRAINING_FIELDS) - set(FIELDS))
    if unknown:
        raise ValueError(
            f"config: training.fields {unknown} are not in fields {FIELDS}"
        )


_check_selection()


def get_mock_field_params(wildcards):
    """The mock settings one field needs: everything but the other fields' entries."""
    mock = copy.deepcopy(config["mock"])
    entry = [f for f in mock.pop("fields") if f["id"] == int(wildcards.field)]
    return {"seed": config["seed"], "settings": mock, "field": entry[0]}


def get_mock_survey_params(wildcards):
    """Mock settings of survey-level products that do not depend on the field list."""
    mock = copy.deepcopy(config["mock"])
    mock.pop("fields")
    return {"seed": config["seed"], "settings": mock}


def get_field_images(wildcards):
    """The images of one field, in band order.

    Downloaded stacks are marked ancient(): a re-fetched or touched image (same
    bytes, verified by size/checksum) does not rerun the field's sources and stamps.
    """
    paths = {b: f"resources/images/{wildcards.field}/{b}.fits" for b in BANDS}
    if config["survey"] == "pandas":
        return {b: ancient(p) for b, p in paths.items()}
    return paths


# --- the real survey (survey: pandas) ------------------------------------------------

ARCHIVE_CATALOGUES = list(config.get("catalogues", {}))


def _per_field_band(mapping, wildcards):
    """Look up mapping[field][band], field keys as int or str; None when absent."""
    mapping = mapping or {}
    entry = mapping.get(int(wildcards.field), mapping.get(str(wildcards.field))) or {}
    return entry.get(wildcards.band)


def _zero_point_keywords(band):
    """Keywords a downloaded stack must carry (None: the config gives the band's zero point)."""
    src = config["sources"]
    if band in (src.get("zero_points") or {}):
        return None
    return list(src["zero_point_keywords"])


def get_download_image_params(wildcards):
    """URL, expected size and checksum of one field and band, and the transfer settings."""
    from pandas_clusters.acquire.download import image_url

    dl = config["download"]
    return {
        "url": image_url(
            dl["url_template"],
            field=int(wildcards.field),
            band=wildcards.band,
            band_names=dl.get("band_names"),
        ),
        "checksum": _per_field_band(dl.get("checksums"), wildcards),
        "size": _per_field_band(dl.get("sizes"), wildcards),
        "n_images": dl["ccds"],
        "zero_point_keywords": _zero_point_keywords(wildcards.band),
        "settings": {
            k: dl[k]
            for k in sorted(dl)
            if k in ("retries", "backoff_s", "backoff_max_s", "timeout_s", "cert")
        },
    }


def get_fetch_catalogue_params(wildcards):
    """The catalogue's spec, and the VizieR settings when it comes from VizieR."""
    spec = dict(config["catalogues"][wildcards.catalogue])
    vizier = dict(config.get("vizier", {})) if spec.get("vizier") else None
    return {"spec": spec, "vizier": vizier}


def get_phat_footprint_source(wildcards):
    """Local PHAT footprint JSON (brick -> corners) named in the config."""
    path = config.get("phat_footprint_file")
    if not path:
        raise ValueError(
            "config: phat_footprint_file must name a PHAT brick-footprint JSON "
            "(brick -> 4 [ra, dec] corners) when survey is 'pandas'"
        )
    return path


# --- sources, stamps, training ----------------------------------------------------------


def get_source_inputs(wildcards):
    """The field's images, or its CASU band-merged catalogue (sources.method: catalogue)."""
    if config["sources"]["method"] == "catalogue":
        template = config["sources"]["catalogue_template"]
        return {"catalogue": template.format(field=int(wildcards.field))}
    return get_field_images(wildcards)


def get_sources_params(wildcards):
    return sources_params(config)


def get_stamps_params(wildcards):
    """Stamp settings plus the background and zero-point settings of the sources (kept equal)."""
    return stamps_params(config)


_TRAINSET_KEYS = (
    "match_radius_arcsec",
    "class_balance",
    "negatives_per_positive",
    "exclude_flags",
    "split",
)
_LOOP_KEYS = (
    "max_epochs",
    "epoch_negatives_per_positive",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "monitor",
    "patience",
    "min_epochs",
    "min_delta",
    "augment",
    "max_shift_px",
    "pretrained_weights",
    "keep_checkpoint",
    "device",
)


def get_trainset_params(wildcards):
    """Only the labelling/balance/split keys: growing the model grid reruns nothing here."""
    return {k: TRAINING[k] for k in _TRAINSET_KEYS}


def get_train_params(wildcards):
    """Only the training-loop keys: adding a model, mag limit or seed reruns no other point."""
    return {k: TRAINING[k] for k in _LOOP_KEYS}


def _seed_weights(model, mag_limit):
    """The weights of every seed of one model x limiting magnitude (an ensemble)."""
    return expand(
        "results/training/{model}/mag{mag_limit}/seed{seed}/weights.safetensors",
        model=model,
        mag_limit=mag_limit,
        seed=SEEDS,
    )


def get_seed_weights(wildcards):
    return _seed_weights(wildcards.model, wildcards.mag_limit)


# --- inference, selection, cross-match, publication ----------------------------------


def get_selected_weights(wildcards):
    """The ensemble used downstream: the selected model and mag limit, every seed."""
    return _seed_weights(SELECTED_MODEL, SELECTED_MAG_LIMIT)


def get_inference_params(wildcards):
    """Inference settings; with all_sources false only sources up to the selection's limit."""
    return inference_params(config)


def get_selection_params(wildcards):
    sel = dict(config["selection"])
    sel["mag_limit"] = float(sel["mag_limit"])
    return sel


def get_crossmatch_inputs(wildcards):
    """The candidates and every catalogue of the cross-match that is not optional-and-absent."""
    xm = config["crossmatch"]
    inputs = {"candidates": "results/selection/candidates.parquet"}
    for cat in xm["catalogues"]:
        produced = config["survey"] == "mock" or cat in ARCHIVE_CATALOGUES
        if not produced and cat in xm["optional"]:
            continue
        inputs[cat] = f"resources/catalogues/{cat}.parquet"
    return inputs


def get_inspection_files(wildcards):
    """Visual-inspection files (one CSV per inspector), if any: a new or changed one reruns publish.

    `pandas-clusters inspect` exports them from its database after every score,
    rewriting a file only when its content changes (the database itself is no
    input: its mtime moves with every session), so publish reruns when a score
    changes, and only then.
    """
    folder = Path(config["publish"]["inspection_dir"])
    return sorted(str(p) for p in folder.glob("*.csv")) if folder.is_dir() else []


def get_publish_params(wildcards):
    return {k: v for k, v in sorted(config["publish"].items()) if k != "inspection_dir"}


# --- completeness (injection of artificial clusters) ----------------------------------

ROUNDS = list(range(int(config["completeness"]["rounds"])))


def get_injection_params(wildcards):
    """The settings of one injection round: injection and the recovery chain's stages."""
    return {
        "completeness": config["completeness"],
        "sources": sources_params(config),
        "stamps": stamps_params(config),
        "inference": inference_params(config),
    }


def get_completeness_inputs(wildcards):
    """Every round's tables; on the mock also the truth, sources and candidates."""
    stems = expand("results/injection/{field}/round{round}", field=FIELDS, round=ROUNDS)
    inputs = {
        "recovery": [f"{s}.parquet" for s in stems],
        "sources": [f"{s}_sources.parquet" for s in stems],
        "inference": [f"{s}_inference.parquet" for s in stems],
        "phat_clusters": "resources/catalogues/phat_clusters.parquet",
    }
    if config["survey"] == "mock":
        inputs["truth"] = "resources/mock/truth.parquet"
        inputs["candidates"] = "results/selection/candidates.parquet"
        inputs["field_sources"] = expand(
            "results/sources/{field}.parquet", field=FIELDS
        )
    return inputs


def get_final_targets():
    """What `snakemake` with no target builds: every stage implemented so far."""
    targets = expand("resources/images/{field}/{band}.fits", field=FIELDS, band=BANDS)
    targets += ["resources/catalogues/phat_footprint.json"]
    targets += ["results/evaluation/summary.tsv", "results/publish/table7.dat"]
    targets += ["results/figures/skymap.png"]
    targets += ["results/completeness/completeness.tsv"]
    if config["survey"] == "mock":
        targets += [
            "resources/mock/truth.parquet",
            "results/evaluation/truth_score.json",
        ]
        # issue 12 (mock-pixels): realism figures when the real cutouts are at hand
        cutouts = (
            Path(config["realism"]["reference"]) / "pandas-cutouts-klemenz" / "cutouts"
        )
        if cutouts.is_dir():
            targets += ["results/figures/realism/statistics.png"]
    else:
        targets += expand(
            "resources/catalogues/{catalogue}.parquet", catalogue=ARCHIVE_CATALOGUES
        )
    return targets
