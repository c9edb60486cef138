"""Per-field source lists (detection, band alignment, photometry) and stamps."""


rule sources:
    input:
        unpack(get_source_inputs),
    output:
        "results/sources/{field}.parquet",
    log:
        "logs/sources/{field}.log",
    benchmark:
        "benchmarks/runs/sources/{field}.tsv"
    conda:
        "../../envs/astro.yaml"
    params:
        sources=get_sources_params,
    script:
        "../scripts/sources.py"


rule stamps:
    input:
        unpack(get_field_images),
        sources="results/sources/{field}.parquet",
    output:
        "results/stamps/{field}.parquet",
    log:
        "logs/stamps/{field}.log",
    benchmark:
        "benchmarks/runs/stamps/{field}.tsv"
    conda:
        "../../envs/astro.yaml"
    params:
        stamps=get_stamps_params,
    script:
        "../scripts/stamps.py"
