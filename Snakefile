# pandas-clusters: star-cluster candidates in M31 from PAndAS images with CNNs.
# Table of contents of the workflow; the stages live in workflow/rules/.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


if config["survey"] == "mock":

    include: "workflow/rules/mock.smk"

else:

    include: "workflow/rules/download.smk"


include: "workflow/rules/detect.smk"
include: "workflow/rules/learn.smk"
include: "workflow/rules/catalogue.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/completeness.smk"


rule all:
    default_target: True
    input:
        get_final_targets(),
