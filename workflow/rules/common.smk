"""Config validation, wildcard constraints and the input/params helpers of every rule."""

import copy

from snakemake.utils import min_version, validate

min_version("9.0")


validate(config, "../schemas/config.schema.yaml")


wildcard_constraints:
    field=r"\d+",
    band=r"[a-z]",
    catalog=r"[a-z0-9_]+",


FIELDS = [int(f) for f in config["fields"]]
BANDS = list(config["bands"])
MOCK_CATALOGS = [
    "phat_clusters",
    "phat_galaxies",
    "c09",
    "rbc",
    "c11",
    "w22",
    "w23",
    "h14",
]


def _check_fields():
    if config["survey"] != "mock":
        return
    sheet = {f["id"] for f in config["mock"]["fields"]}
    missing = sorted(set(FIELDS) - sheet)
    if missing:
        raise ValueError(
            f"config: fields {missing} are not in the mock field sheet (mock.fields); "
            f"known mock fields: {sorted(sheet)}"
        )


_check_fields()


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
    """The images of one field, in band order."""
    return {b: f"resources/images/{wildcards.field}/{b}.fits" for b in BANDS}


# --- the real survey (survey: pandas) ------------------------------------------------

ARCHIVE_CATALOGS = list(config.get("catalogs", {}))


def _per_field_band(mapping, wildcards):
    """Look up mapping[field][band], field keys as int or str; None when absent."""
    mapping = mapping or {}
    entry = mapping.get(int(wildcards.field), mapping.get(str(wildcards.field))) or {}
    return entry.get(wildcards.band)


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
        "settings": {
            k: dl[k]
            for k in sorted(dl)
            if k in ("retries", "backoff_s", "backoff_max_s", "timeout_s", "cert")
        },
    }


def get_fetch_catalog_params(wildcards):
    """The catalogue's spec, and the VizieR settings when it comes from VizieR."""
    spec = dict(config["catalogs"][wildcards.catalog])
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


def get_final_targets():
    """What `snakemake` with no target builds: every stage implemented so far."""
    targets = expand("resources/images/{field}/{band}.fits", field=FIELDS, band=BANDS)
    targets += ["resources/catalogs/phat_footprint.json"]
    if config["survey"] == "mock":
        targets += ["resources/mock/truth.parquet"]
    else:
        targets += expand(
            "resources/catalogs/{catalog}.parquet", catalog=ARCHIVE_CATALOGS
        )
    return targets
