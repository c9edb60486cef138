"""The one de-duplication policy (core.skymatch), shared by the training set and the selection."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pandas_clusters.core.skymatch import deduplicate_across_fields

RA0, DEC0 = 10.8, 41.4
ARCSEC = 1.0 / 3600.0


def _copies(e_g_first, e_g_second):
    return pd.DataFrame(
        {
            "source_id": [207_000_001, 208_000_001],
            "field": [207, 208],
            "ra": [RA0, RA0 + 0.3 * ARCSEC],
            "dec": [DEC0, DEC0],
            "e_gmag": [e_g_first, e_g_second],
            "e_imag": [0.02, 0.02],
        }
    )


def test_best_photometry_wins_over_the_lower_source_id():
    out = deduplicate_across_fields(_copies(0.05, 0.01), radius_arcsec=1.0)
    assert out["source_id"].tolist() == [208_000_001]
    assert out["duplicate_fields"].tolist() == ["207"]


def test_missing_error_counts_as_worst_and_ties_go_to_the_lower_source_id():
    out = deduplicate_across_fields(_copies(np.nan, 0.5), radius_arcsec=1.0)
    assert out["source_id"].tolist() == [208_000_001]
    out = deduplicate_across_fields(_copies(0.01, 0.01), radius_arcsec=1.0)
    assert out["source_id"].tolist() == [207_000_001]


def test_same_input_same_choice_whatever_the_row_order():
    """The training set reads rows sorted by source_id, the selection in field order:
    the kept copy must not depend on it (same object, same source_id downstream)."""
    df = pd.concat([_copies(0.03, 0.02)] * 1, ignore_index=True)
    a = deduplicate_across_fields(df, radius_arcsec=1.0)
    b = deduplicate_across_fields(df.iloc[::-1].reset_index(drop=True), radius_arcsec=1.0)
    assert a["source_id"].tolist() == b["source_id"].tolist() == [208_000_001]


def test_far_apart_or_same_field_are_not_copies():
    df = _copies(0.05, 0.01)
    assert len(deduplicate_across_fields(df, radius_arcsec=0.1)) == 2
    assert len(deduplicate_across_fields(df.assign(field=207), radius_arcsec=1.0)) == 2
