"""Completeness by injection of artificial clusters.

:mod:`.inject` draws artificial clusters per field and round and renders them
into copies of the field's images with the mock's cluster model at the
field's own PSF and zero point; :mod:`.recover` runs the pipeline's sources,
stamps and inference on those images and matches injected to recovered;
:mod:`.tables` turns the recovery tables into completeness tables, the 50%
completeness magnitudes and, on the mock, the completeness against the truth;
:mod:`.function` fits and evaluates the smooth completeness function.
"""

from .function import evaluate_completeness, fit_completeness, load_completeness
from .settings import CompletenessSettings

__all__ = [
    "CompletenessSettings",
    "evaluate_completeness",
    "fit_completeness",
    "load_completeness",
]
