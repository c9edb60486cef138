"""The real survey (survey: pandas): PAndAS stacks over HTTP(S), catalogues from VizieR.

Needs network access. Included by the Snakefile when config["survey"] == "pandas"
(config/pandas.yaml). Its input/params helpers are in common.smk.
"""


# Downloaded stacks are protected (read-only once complete): a later run never deletes
# and re-fetches a verified image because code or settings changed; remove the file by
# hand to fetch it again. Downstream rules read them through ancient().
rule download_image:
    output:
        protected("resources/images/{field}/{band}.fits"),
    log:
        "logs/download_image/{field}/{band}.log",
    benchmark:
        "benchmarks/runs/download_image/{field}/{band}.tsv"
    # the library retries transient failures itself (acquire/_retry.py, resuming the
    # transfer); a rule-level retry on top would multiply the attempts
    retries: 0
    localrule: True
    conda:
        "../../envs/download.yaml"
    resources:
        archive_connections=1,
    params:
        download=get_download_image_params,
    script:
        "../scripts/download_image.py"


rule fetch_catalogue:
    output:
        "resources/catalogues/{catalogue}.parquet",
    log:
        "logs/fetch_catalogue/{catalogue}.log",
    retries: 0
    localrule: True
    conda:
        "../../envs/download.yaml"
    resources:
        archive_connections=1,
    params:
        catalogue=get_fetch_catalogue_params,
    script:
        "../scripts/fetch_catalogue.py"


rule phat_footprint:
    output:
        "resources/catalogues/phat_footprint.json",
    log:
        "logs/phat_footprint.log",
    localrule: True
    conda:
        "../../envs/download.yaml"
    params:
        source=get_phat_footprint_source,
    script:
        "../scripts/phat_footprint.py"
