"""The embedded default: images, truth and catalogues of the simulated PAndAS."""


rule mock_image:
    output:
        "resources/images/{field}/{band}.fits",
    log:
        "logs/mock_image/{field}/{band}.log",
    benchmark:
        "benchmarks/runs/mock_image/{field}/{band}.tsv"
    conda:
        "../../envs/astro.yaml"
    params:
        mock=get_mock_field_params,
    script:
        "../scripts/mock_image.py"


rule mock_field_truth:
    output:
        "resources/mock/truth/{field}.parquet",
    log:
        "logs/mock_field_truth/{field}.log",
    conda:
        "../../envs/astro.yaml"
    params:
        mock=get_mock_field_params,
    script:
        "../scripts/mock_field_truth.py"


rule mock_truth:
    input:
        expand("resources/mock/truth/{field}.parquet", field=FIELDS),
    output:
        "resources/mock/truth.parquet",
    log:
        "logs/mock_truth.log",
    conda:
        "../../envs/astro.yaml"
    script:
        "../scripts/mock_truth.py"


rule mock_catalogues:
    output:
        catalogues=expand(
            "resources/catalogues/{catalogue}.parquet", catalogue=MOCK_CATALOGUES
        ),
        footprint="resources/catalogues/phat_footprint.json",
        truth="resources/mock/catalogue_truth.parquet",
    log:
        "logs/mock_catalogues.log",
    benchmark:
        "benchmarks/runs/mock_catalogues.tsv"
    conda:
        "../../envs/astro.yaml"
    params:
        mock=get_mock_survey_params,
    script:
        "../scripts/mock_catalogues.py"


rule truth_score:
    input:
        predictions=f"results/evaluation/{SELECTED_MODEL}/mag{SELECTED_MAG_LIMIT}/predictions.parquet",
        summary=f"results/evaluation/{SELECTED_MODEL}/mag{SELECTED_MAG_LIMIT}/summary.json",
        training_set=f"results/training_set/mag{SELECTED_MAG_LIMIT}.parquet",
        truth="resources/mock/truth.parquet",
        candidates="results/selection/candidates.parquet",
    output:
        "results/evaluation/truth_score.json",
    log:
        "logs/truth_score.log",
    conda:
        "../../envs/astro.yaml"
    params:
        rproj_max_kpc=config["selection"]["rproj_max_kpc"],
        # saturated stars' spike reach (issue 12, part 3)
        spike_arcsec=config["mock"]["saturated_spike_arcsec"],
    script:
        "../scripts/truth_score.py"
