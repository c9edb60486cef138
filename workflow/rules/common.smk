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


def get_final_targets():
    """What `snakemake` with no target builds: every stage implemented so far."""
    targets = expand("resources/images/{field}/{band}.fits", field=FIELDS, band=BANDS)
    targets += ["resources/catalogs/phat_footprint.json"]
    if config["survey"] == "mock":
        targets += ["resources/mock/truth.parquet"]
    return targets
