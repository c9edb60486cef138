"""Fixtures of the inspection tests: a small mock field's candidates, stamps and images.

The candidates are real detections of a rendered mock field (the conftest's
``mock_field_with_sources``) with their stamps cut by the stamps stage, laid
out as the workflow does (``results/crossmatch``, ``results/stamps``,
``resources/images``) under one folder.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import shutil
from pathlib import Path

import numpy as np

from pandas_clusters.core.catalogues import LITERATURE_CATALOGUES
from pandas_clusters.core.io import write_parquet
from pandas_clusters.detect.stamps import StampSettings, cut_stamps
from pandas_clusters.inspection import Inspection, InspectionSettings

N_CANDIDATES = 12


def build_layout(root: Path, mock: dict) -> Path:
    """Candidates, stamps, field images and truth of one mock field, laid out under ``root``.

    ``mock`` is the conftest's ``mock_field_with_sources``.
    """
    images = root / "resources" / "images" / "1"
    images.mkdir(parents=True)
    for band, path in mock["images"].items():
        shutil.copy(path, images / f"{band}.fits")
    stamps = root / "results" / "stamps" / "1.parquet"
    cut_stamps(mock["path"], mock["images"], out=stamps, settings=StampSettings.from_config())
    sources = mock["sources"]
    bright = sources[np.isfinite(sources["gmag"]) & np.isfinite(sources["imag"])]
    cand = bright.nsmallest(N_CANDIDATES, "gmag").sort_values("source_id").reset_index(drop=True)
    rng = np.random.default_rng(15)
    cand["prob_mean"] = rng.uniform(0.5, 1.0, len(cand))
    cand["prob_std"] = rng.uniform(0.0, 0.1, len(cand))
    cand["conf"] = cand["prob_mean"]
    for key in LITERATURE_CATALOGUES:
        cand[key] = ""
    cand.loc[0, "c09"] = "B001-G070"
    cand["new"] = (cand[list(LITERATURE_CATALOGUES)] == "").all(axis=1)
    write_parquet(cand, root / "results" / "crossmatch" / "candidates.parquet")
    write_parquet(mock["truth"], root / "resources" / "mock" / "truth.parquet")
    return root


def settings_for(root: Path, work: Path, **changes) -> InspectionSettings:
    """Settings reading ``root``'s layout, with the database under ``work/inspection``."""
    base = InspectionSettings.from_config(
        database=str(work / "inspection" / "inspection.sqlite"),
        candidates=str(root / "results" / "crossmatch" / "candidates.parquet"),
        stamps_template=str(root / "results" / "stamps" / "{field}.parquet"),
        image_template=str(root / "resources" / "images" / "{field}" / "{band}.fits"),
        host="127.0.0.1",
        port=0,
        context_arcsec=30.0,
        stretch="asinh",
        prefetch=4,
        mosaic_size=60,
        kappa_weights="linear",
        truth_radius_arcsec=1.0,
    )
    return dataclasses.replace(base, **changes)


def open_inspection(root: Path, work: Path, **changes) -> Inspection:
    """The app's model over ``root``'s layout; database and exports under ``work/inspection``."""
    return Inspection(
        settings_for(root, work, **changes),
        export_dir=work / "inspection",
        seed=20250616,
        truth_path=root / "resources" / "mock" / "truth.parquet",
    )


def request(port, method, path, body=None, headers=None, raw=None):
    """One HTTP request to the app: ``(status, parsed JSON or bytes)``."""
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdrs = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    try:  # closed also when the server dies mid-request (the killed-server tests)
        con.request(method, path, body=data, headers=hdrs)
        res = con.getresponse()
        payload = res.read()
    finally:
        con.close()
    if res.getheader("Content-Type", "").startswith("application/json"):
        return res.status, json.loads(payload)
    return res.status, payload


def config_yaml(root: Path, work: Path, **inspection) -> Path:
    """A config file for the CLI with the layout's paths (mock survey defaults otherwise)."""
    import yaml

    s = settings_for(root, work)
    export_dir = str(work / "inspection")
    section = {
        "database": s.database,
        "candidates": s.candidates,
        "stamps_template": s.stamps_template,
        "image_template": s.image_template,
        "port": 0,
        **inspection,
    }
    cfg = {"inspection": section, "publish": {"inspection_dir": export_dir}}
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def env_with_src() -> dict[str, str]:
    """The environment of a subprocess that imports this checkout's package."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ)
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


__all__ = [
    "N_CANDIDATES",
    "config_yaml",
    "env_with_src",
    "open_inspection",
    "build_layout",
    "request",
    "settings_for",
]
