"""The catalogue registry: every catalogue the pipeline knows, by key.

The keys name the files ``resources/catalogues/{key}.parquet``, the config's
``catalogues`` entries (real survey) and the cross-match columns. The config schema's
enumerations of catalogue keys are checked against these tuples by the tests.
"""

from __future__ import annotations

__all__ = ["CATALOGUES", "LITERATURE_CATALOGUES", "TRAINING_CATALOGUES"]

#: PHAT (Johnson+ 2015) clusters and background galaxies: the training labels.
TRAINING_CATALOGUES: tuple[str, ...] = ("phat_clusters", "phat_galaxies")

#: The literature catalogues of the cross-match, in output column order (Zhang+ 2025):
#: Caldwell+ 2009, the Revised Bologna Catalogue, Caldwell+ 2011, Wang+ 2022,
#: Wang+ 2023 and Huxor+ 2014.
LITERATURE_CATALOGUES: tuple[str, ...] = ("c09", "rbc", "c11", "w22", "w23", "h14")

#: Every catalogue key.
CATALOGUES: tuple[str, ...] = TRAINING_CATALOGUES + LITERATURE_CATALOGUES
