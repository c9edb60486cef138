"""Visual inspection of the candidates by two or more inspectors, in the browser.

``pandas-clusters inspect`` serves a local web app (:mod:`.server`) over the
cross-matched candidates and their stamps (:mod:`.app`, :mod:`.images`);
every score is committed to a SQLite database (:mod:`.store`) and exported
as ``<inspector>.csv`` for ``publish``; :mod:`.agreement` computes the
weighted Cohen's kappa, confusion matrix and review queue.
"""

from pandas_clusters.inspection.agreement import agreement_report, weighted_kappa
from pandas_clusters.inspection.app import Inspection, inspector_order, write_exports
from pandas_clusters.inspection.settings import InspectionSettings
from pandas_clusters.inspection.store import ScoreStore

__all__ = [
    "Inspection",
    "InspectionSettings",
    "ScoreStore",
    "agreement_report",
    "inspector_order",
    "weighted_kappa",
    "write_exports",
]
