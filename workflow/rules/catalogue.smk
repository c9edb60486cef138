"""Per-field inference shards, survey selection and merge, cross-match, the CDS table."""


rule predict:
    input:
        stamps="results/stamps/{field}.parquet",
        sources="results/sources/{field}.parquet",
        weights=get_selected_weights,
    output:
        "results/inference/{field}.parquet",
    log:
        "logs/predict/{field}.log",
    benchmark:
        "benchmarks/runs/predict/{field}.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        gpu=1,
    params:
        inference=get_inference_params,
    script:
        "../scripts/predict.py"


rule select:
    input:
        inference=expand("results/inference/{field}.parquet", field=FIELDS),
        sources=expand("results/sources/{field}.parquet", field=FIELDS),
        phat_clusters="resources/catalogs/phat_clusters.parquet",
    output:
        "results/candidates/candidates.parquet",
    log:
        "logs/select.log",
    conda:
        "../../envs/astro.yaml"
    params:
        selection=get_selection_params,
    script:
        "../scripts/select.py"


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
        dat="results/cds/table7.dat",
        readme="results/cds/ReadMe",
        fits="results/cds/table7.fits",
        parquet="results/cds/table7.parquet",
    log:
        "logs/publish.log",
    conda:
        "../../envs/astro.yaml"
    params:
        publish=get_publish_params,
        inspection_dir=config["publish"]["inspection_dir"],
    script:
        "../scripts/publish.py"
