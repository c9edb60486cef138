"""Per-field inference shards, survey selection and merge, cross-match, the CDS table."""


rule inference:
    input:
        stamps="results/stamps/{field}.parquet",
        sources="results/sources/{field}.parquet",
        weights=get_selected_weights,
    output:
        "results/inference/{field}.parquet",
    log:
        "logs/inference/{field}.log",
    benchmark:
        "benchmarks/runs/inference/{field}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        inference=get_inference_params,
    script:
        "../scripts/inference.py"


rule selection:
    input:
        inference=expand("results/inference/{field}.parquet", field=FIELDS),
        sources=expand("results/sources/{field}.parquet", field=FIELDS),
        phat_clusters="resources/catalogues/phat_clusters.parquet",
    output:
        "results/selection/candidates.parquet",
    log:
        "logs/selection.log",
    conda:
        "../../envs/astro.yaml"
    params:
        selection=get_selection_params,
    script:
        "../scripts/selection.py"


rule crossmatch:
    input:
        unpack(get_crossmatch_inputs),
    output:
        "results/crossmatch/candidates.parquet",
    log:
        "logs/crossmatch.log",
    conda:
        "../../envs/astro.yaml"
    params:
        crossmatch=config["crossmatch"],
    script:
        "../scripts/crossmatch.py"


rule publish:
    input:
        candidates="results/crossmatch/candidates.parquet",
        inspection=get_inspection_files,
    output:
        dat="results/publish/table7.dat",
        readme="results/publish/ReadMe",
        fits="results/publish/table7.fits",
        parquet="results/publish/table7.parquet",
    log:
        "logs/publish.log",
    conda:
        "../../envs/astro.yaml"
    params:
        publish=get_publish_params,
        inspection_dir=config["publish"]["inspection_dir"],
    script:
        "../scripts/publish.py"
