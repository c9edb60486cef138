"""Training set per limiting magnitude, CNN training per model x mag limit x seed, evaluation."""


rule training_set:
    input:
        sources=expand("results/sources/{field}.parquet", field=TRAINING_FIELDS),
        stamps=expand("results/stamps/{field}.parquet", field=TRAINING_FIELDS),
        clusters="resources/catalogues/phat_clusters.parquet",
        galaxies="resources/catalogues/phat_galaxies.parquet",
        footprint="resources/catalogues/phat_footprint.json",
    output:
        "results/training_set/mag{mag_limit}.parquet",
    log:
        "logs/training_set/mag{mag_limit}.log",
    benchmark:
        "benchmarks/runs/training_set/mag{mag_limit}.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        training=get_trainset_params,
    script:
        "../scripts/training_set.py"


rule training:
    input:
        training_set="results/training_set/mag{mag_limit}.parquet",
    output:
        weights="results/training/{model}/mag{mag_limit}/seed{seed}/weights.safetensors",
        history="results/training/{model}/mag{mag_limit}/seed{seed}/history.csv",
        settings="results/training/{model}/mag{mag_limit}/seed{seed}/settings.json",
    log:
        "logs/training/{model}/mag{mag_limit}/seed{seed}.log",
    benchmark:
        "benchmarks/runs/training/{model}/mag{mag_limit}/seed{seed}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        training=get_train_params,
        checkpoint="results/training/{model}/mag{mag_limit}/seed{seed}/checkpoint.pt",
    script:
        "../scripts/training.py"


rule evaluation:
    input:
        training_set="results/training_set/mag{mag_limit}.parquet",
        weights=get_seed_weights,
    output:
        summary="results/evaluation/{model}/mag{mag_limit}/summary.json",
        threshold_scan="results/evaluation/{model}/mag{mag_limit}/threshold_scan.tsv",
        mag_bins="results/evaluation/{model}/mag{mag_limit}/mag_bins.tsv",
        predictions="results/evaluation/{model}/mag{mag_limit}/predictions.parquet",
        curves=report(
            "results/evaluation/{model}/mag{mag_limit}/curves.png",
            category="Model evaluation",
            subcategory="{model} g<{mag_limit}",
        ),
        calibration=report(
            "results/evaluation/{model}/mag{mag_limit}/calibration.png",
            category="Model evaluation",
            subcategory="{model} g<{mag_limit}",
        ),
        confusion=report(
            "results/evaluation/{model}/mag{mag_limit}/confusion.png",
            category="Model evaluation",
            subcategory="{model} g<{mag_limit}",
        ),
    log:
        "logs/evaluation/{model}/mag{mag_limit}.log",
    benchmark:
        "benchmarks/runs/evaluation/{model}/mag{mag_limit}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        evaluation=config["evaluation"],
    script:
        "../scripts/evaluation.py"


rule summarize:
    input:
        expand(
            "results/evaluation/{model}/mag{mag_limit}/summary.json",
            model=MODELS,
            mag_limit=MAG_LIMITS,
        ),
    output:
        tsv="results/evaluation/summary.tsv",
        markdown="results/evaluation/summary.md",
        plot=report("results/evaluation/summary.png", category="Model evaluation"),
    log:
        "logs/summarize.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/summarize.py"
