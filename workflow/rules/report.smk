"""Figures of the survey report (shown by `snakemake --report`)."""


rule figures:
    input:
        candidates="results/crossmatch/candidates.parquet",
        stamps=expand("results/stamps/{field}.parquet", field=FIELDS),
        sources=expand("results/sources/{field}.parquet", field=FIELDS),
    output:
        skymap=report(
            "results/figures/skymap.png",
            caption="../report/skymap.rst",
            category="Candidates",
        ),
        magnitudes=report(
            "results/figures/magnitudes.png",
            caption="../report/magnitudes.rst",
            category="Candidates",
        ),
        gallery=report(
            "results/figures/gallery.png",
            caption="../report/gallery.rst",
            category="Candidates",
        ),
    log:
        "logs/figures.log",
    conda:
        "../../envs/astro.yaml"
    params:
        figures=config["figures"],
        rproj_max_kpc=config["selection"]["rproj_max_kpc"],
    script:
        "../scripts/figures.py"
