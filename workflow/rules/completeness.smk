"""Completeness by injection: per field and round, artificial clusters through the pipeline."""


rule injection:
    input:
        unpack(get_field_images),
        sources="results/sources/{field}.parquet",
        weights=get_selected_weights,
    output:
        recovery="results/injection/{field}/round{round}.parquet",
        sources="results/injection/{field}/round{round}_sources.parquet",
        inference="results/injection/{field}/round{round}_inference.parquet",
    log:
        "logs/injection/{field}/round{round}.log",
    benchmark:
        "benchmarks/runs/injection/{field}/round{round}.tsv"
    conda:
        "../../envs/completeness.yaml"
    params:
        injection=get_injection_params,
        seed=config["seed"],
    script:
        "../scripts/injection.py"


rule completeness:
    input:
        unpack(get_completeness_inputs),
    output:
        recovery="results/completeness/recovery.parquet",
        table="results/completeness/completeness.parquet",
        table_tsv="results/completeness/completeness.tsv",
        mag50="results/completeness/mag50.tsv",
        truth="results/completeness/truth_comparison.tsv",
        function="results/publish/completeness_function.json",
        figure_variables=report(
            "results/completeness/completeness.png",
            caption="../report/completeness.rst",
            category="Completeness",
        ),
        figure_g=report(
            "results/completeness/completeness_g.png",
            caption="../report/completeness_g.rst",
            category="Completeness",
        ),
    log:
        "logs/completeness.log",
    conda:
        "../../envs/completeness.yaml"
    params:
        completeness=config["completeness"],
        selection=get_selection_params,
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/completeness.py"
