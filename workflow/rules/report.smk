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


# issue 12 (mock-pixels): the realism figures (real PAndAS cutouts against mock ones);
# a target of `all` only on the mock survey with the shared reference folder present
rule realism:
    output:
        doc="results/figures/realism.md",
        montage_cluster=report(
            "results/figures/realism/montage_cluster.png",
            caption="../report/realism_montage.rst",
            category="Mock realism",
        ),
        montage_galaxy=report(
            "results/figures/realism/montage_galaxy.png",
            caption="../report/realism_montage.rst",
            category="Mock realism",
        ),
        statistics=report(
            "results/figures/realism/statistics.png",
            caption="../report/realism_statistics.rst",
            category="Mock realism",
        ),
    log:
        "logs/realism.log",
    conda:
        "../../envs/astro.yaml"
    params:
        mock=get_mock_survey_params,
        realism=config["realism"],
    script:
        "../scripts/realism.py"
