"""What the web app serves, without HTTP: candidates, their facts and images, orders, exports.

:class:`Inspection` holds the candidates (``results/crossmatch/candidates.parquet``),
their stamps, the context images, the score store and the mock truth; the
HTTP layer (:mod:`pandas_clusters.inspection.server`) only parses requests
and calls it.

**Order.** Each inspector sees the candidates in an order of their own: a
permutation of the candidates sorted by ``source_id``, drawn by
``numpy.random.default_rng([seed, crc32(name)])``, so it is random per
inspector, reproducible, and unchanged when the server restarts.

**Blind scoring.** An inspector sees only their own scores until they have
scored every candidate; the agreement (kappa, confusion matrix, review
queue) and, on the mock survey, their agreement with the truth are shown
only then.

**Exports.** After every change the inspector's scores are exported to
``<export_dir>/<inspector>.csv`` (``source_id,score``, sorted by
``source_id``; the format ``publish`` reads) and the agreement to
``<export_dir>/agreement.json``, each rewritten (atomically) only when its
content changes: the workflow's ``publish`` rule takes the CSV files as
inputs, so it reruns when a score changes, and only then.
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pandas_clusters.core.catalogues import LITERATURE_CATALOGUES
from pandas_clusters.core.io import atomic_path, read_frame
from pandas_clusters.core.skymatch import match_nearest_unique
from pandas_clusters.inspection.agreement import agreement_report, truth_agreement
from pandas_clusters.inspection.images import (
    KINDS,
    STRETCHES,
    ContextImages,
    load_stamps,
    render_png,
)
from pandas_clusters.inspection.settings import InspectionSettings
from pandas_clusters.inspection.store import ScoreStore, check_name

__all__ = [
    "REQUIRED_COLUMNS",
    "Inspection",
    "export_scores",
    "inspector_order",
    "write_exports",
]

#: Columns the candidates table must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("source_id", "field", "ra", "dec", "gmag", "imag")
#: Where the workflow writes the mock survey's truth table.
MOCK_TRUTH = "resources/mock/truth.parquet"
#: Truth kinds that count as clusters (those of the mock survey).
_CLUSTER_KINDS = ("young_cluster", "globular_cluster")


def inspector_order(source_ids, seed: int, inspector: str) -> np.ndarray:
    """The candidates in the order ``inspector`` sees them (see the module docstring)."""
    ids = np.sort(np.asarray(source_ids, dtype=np.int64))
    rng = np.random.default_rng([int(seed), zlib.crc32(inspector.encode("utf-8"))])
    return ids[rng.permutation(ids.size)]


def _read_candidates(path: str) -> pd.DataFrame:
    if not Path(path).is_file():
        msg = f"candidates file {path} not found (run the workflow up to crossmatch first)"
        raise FileNotFoundError(msg)
    df = read_frame(path, what="candidates file")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        msg = f"candidates file {path}: missing column(s) {missing}"
        raise ValueError(msg)
    dup = df["source_id"].duplicated()
    if dup.any():
        msg = f"candidates file {path}: source_id {int(df.loc[dup, 'source_id'].iloc[0])} twice"
        raise ValueError(msg)
    return df.set_index(df["source_id"].astype(np.int64), drop=False).sort_index()


def _number(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class Inspection:
    """The candidates, images and scores behind the app.

    Parameters
    ----------
    settings : InspectionSettings
        Paths and options (the config's ``inspection`` section).
    export_dir : path-like
        Folder of the exports (``publish.inspection_dir``).
    seed : int
        Master seed: each inspector's order derives from it and the name.
    truth_path : path-like, optional
        Mock truth table (``resources/mock/truth.parquet``); None on a real survey.
    """

    def __init__(
        self,
        settings: InspectionSettings,
        *,
        export_dir: str | os.PathLike,
        seed: int,
        truth_path: str | os.PathLike | None = None,
    ) -> None:
        self.settings = settings
        self.export_dir = Path(export_dir)
        self.seed = int(seed)
        self.truth_path = truth_path
        self.candidates = _read_candidates(settings.candidates)
        self.ids = self.candidates.index.to_numpy(dtype=np.int64)
        self._known = set(self.ids.tolist())
        self.stamps = load_stamps(self.candidates, settings.stamps_template)
        self.context = ContextImages(settings.image_template, settings.context_arcsec)
        self.store = ScoreStore(settings.database)
        self.truth = self._truth_flags()
        self._export_lock = threading.Lock()
        # rendered PNGs (10-60 kB each): the prefetch window of a few inspectors, many times over
        self.image = functools.lru_cache(maxsize=1024)(self._image)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **changes: Any) -> Inspection:
        """From a validated config; ``changes`` replace keys of its ``inspection`` section."""
        settings = InspectionSettings.from_config({**config["inspection"], **changes})
        mock = config["survey"] == "mock"
        return cls(
            settings,
            export_dir=config["publish"]["inspection_dir"],
            seed=config["seed"],
            truth_path=MOCK_TRUTH if mock else None,
        )

    def close(self) -> None:
        """Close the field images."""
        self.context.close()

    def __enter__(self) -> Inspection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _truth_flags(self) -> pd.Series | None:
        path = self.truth_path
        if not path or not Path(path).is_file():
            return None
        truth = read_frame(path, columns=["kind", "ra", "dec"], what="truth file")
        clusters = truth[truth["kind"].isin(_CLUSTER_KINDS)]
        index, _ = match_nearest_unique(
            self.candidates["ra"].to_numpy(),
            self.candidates["dec"].to_numpy(),
            clusters["ra"].to_numpy(),
            clusters["dec"].to_numpy(),
            radius_arcsec=self.settings.truth_radius_arcsec,
        )
        return pd.Series(index >= 0, index=self.ids)

    # ------------------------------------------------------------------ queries

    def known(self, source_id: int) -> bool:
        """Whether ``source_id`` is one of the candidates."""
        return source_id in self._known

    def order(self, inspector: str) -> list[int]:
        """The candidates in ``inspector``'s order."""
        return inspector_order(self.ids, self.seed, check_name(inspector)).tolist()

    def progress(self, inspector: str) -> dict[str, Any]:
        """Scored count, total and whether the inspector is done."""
        n = len(self.store.scores(inspector, self.ids))
        return {"scored": n, "total": int(self.ids.size), "done": n == self.ids.size}

    def facts(self, source_id: int) -> dict[str, Any]:
        """What the app shows beside the images of one candidate."""
        row = self.candidates.loc[source_id]
        g, i = _number(row.get("gmag")), _number(row.get("imag"))
        eg, ei = _number(row.get("e_gmag")), _number(row.get("e_imag"))
        names = {
            c: str(row[c]) for c in LITERATURE_CATALOGUES if c in row.index and str(row[c]).strip()
        }
        ra, dec = float(row["ra"]), float(row["dec"])
        return {
            "source_id": int(source_id),
            "ra": ra,
            "dec": dec,
            "field": int(row["field"]),
            "ccd": None if "ccd" not in row.index else int(row["ccd"]),
            "gmag": g,
            "e_gmag": eg,
            "imag": i,
            "e_imag": ei,
            "g_i": None if g is None or i is None else g - i,
            "e_g_i": None if eg is None or ei is None else math.hypot(eg, ei),
            "rproj_kpc": _number(row.get("rproj_kpc")),
            "prob_mean": _number(row.get("prob_mean")),
            "prob_std": _number(row.get("prob_std")),
            "names": names,
            "new": bool(row["new"]) if "new" in row.index else not names,
            "links": _sky_links(ra, dec),
        }

    def _image(self, source_id: int, kind: str, stretch: str) -> bytes | None:
        if kind not in KINDS or stretch not in STRETCHES:
            msg = f"unknown image {kind!r} / stretch {stretch!r}"
            raise ValueError(msg)
        if kind != "context":
            return render_png(self.stamps[source_id], kind, stretch)
        row = self.candidates.loc[source_id]
        ccd = int(row["ccd"]) if "ccd" in row.index else None
        cuts = {
            b: self.context.cut(int(row["field"]), b, float(row["ra"]), float(row["dec"]), ccd)
            for b in ("g", "i")
        }
        if any(c is None for c in cuts.values()):
            return None
        return render_png(cuts, "rgb", stretch)

    # ------------------------------------------------------------------ exports

    def agreement(self, *, done_only: bool = True) -> dict[str, Any]:
        """Agreement between inspectors (and with the mock truth, for those done)."""
        scores = self.store.all_scores(self.ids)
        done = sorted(n for n, s in scores.items() if len(s) == self.ids.size)
        shown = {n: scores[n] for n in (done if done_only else scores)}
        report = agreement_report(shown, weights=self.settings.kappa_weights)
        report["done"] = done
        report["candidates"] = int(self.ids.size)
        if self.truth is not None:
            report["truth"] = {n: truth_agreement(scores[n], self.truth) for n in done}
        return report

    def export(self) -> list[Path]:
        """Write the CSV of every inspector and ``agreement.json`` where they changed."""
        with self._export_lock:
            return write_exports(self, self.export_dir)


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return True


def export_scores(store: ScoreStore, source_ids, folder: str | Path) -> list[Path]:
    """Write ``<folder>/<inspector>.csv`` (``source_id,score``) where it changed.

    Only the scores of ``source_ids`` (the current candidates) are written,
    sorted by source_id; an inspector without any gets no file. Returns the
    files written.
    """
    written = []
    for name in store.inspectors():
        scores = store.scores(name, source_ids)
        if not scores:
            continue
        lines = [f"# visual inspection by {name}, from {store.path}", "source_id,score"]
        lines += [f"{sid},{score}" for sid, score in sorted(scores.items())]
        path = Path(folder) / f"{name}.csv"
        if _write_if_changed(path, "\n".join(lines) + "\n"):
            written.append(path)
    return written


def write_exports(inspection: Inspection, folder: Path) -> list[Path]:
    """Export every inspector's scores and the agreement to ``folder``; return the files written."""
    written = export_scores(inspection.store, inspection.ids, folder)
    report = json.dumps(inspection.agreement(done_only=False), indent=1, sort_keys=True)
    path = folder / "agreement.json"
    if _write_if_changed(path, report + "\n"):
        written.append(path)
    return written


def _sky_links(ra: float, dec: float) -> dict[str, str]:
    """Public sky viewers centred on the position."""
    return {
        "Aladin": (
            f"https://aladin.cds.unistra.fr/AladinLite/?target={ra:.6f}%20{dec:+.6f}"
            "&fov=0.02&survey=CDS%2FP%2FPanSTARRS%2FDR1%2Fcolor-z-zg-g"
        ),
        "Legacy Surveys": (
            f"https://www.legacysurvey.org/viewer?ra={ra:.6f}&dec={dec:.6f}&layer=ls-dr10&zoom=16"
        ),
        "SIMBAD": (
            "https://simbad.cds.unistra.fr/simbad/sim-coo?Coord="
            f"{ra:.6f}%20{dec:+.6f}&Radius=5&Radius.unit=arcsec"
        ),
    }
