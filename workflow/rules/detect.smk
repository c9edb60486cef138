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
    # CCDs measured at once (worker processes); Snakemake lowers it to --cores
    threads: 2
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
    # cutting and Parquet encoding overlap with 2
    threads: 2
    params:
        # includes the magnitude limit of the sources to cut (the faintest limit in use
        # plus stamps.mag_margin): changing a limit reruns the stamps only if it moves it
        stamps=get_stamps_params,
    script:
        "../scripts/stamps.py"
