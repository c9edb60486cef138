"""Counts of the mock sky against published counts (``docs/mock-calibration.md``).

Each reference is a published number of objects of one class in a region
and magnitude range; :func:`mock_counts` counts the mock's objects of that
class in the same region and range, from the same population the images
are rendered from. :data:`REFERENCES` cites paper, table and value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pandas_clusters.core.geometry import M31

from .population import catalogue_truth, draw_region
from .settings import MockSettings

__all__ = [
    "LGGS_BOX_DEG",
    "REFERENCES",
    "Reference",
    "mock_counts",
    "rbc_counts_by_vmag",
    "write_calibration_report",
]


@dataclass(frozen=True)
class Reference:
    """A published count: ``value`` objects of ``kind`` in ``region``, ``mag`` range."""

    key: str
    kind: str
    value: float
    region: str
    mag: str
    source: str


#: Along-axis and across-axis full widths (deg) of the box standing for the LGGS M31
#: fields: ten 36' Mosaic fields along the major axis, 2.2 deg^2 in all.
LGGS_BOX_DEG = (2.5, 0.88)
#: g - V and (g - i) coefficient of the V magnitude of a star: V = g - 0.4 (g - i) + 0.0.
_V_FROM_G = 0.4

REFERENCES = (
    Reference(
        "phat_ap_young_clusters",
        "young_cluster",
        2753.0,
        "PHAT footprint (~0.5 deg^2 searched)",
        "the AP catalogue's depth (50% complete near 500 Msun, F475W ~ 22)",
        "Johnson et al. 2015, ApJ 802, 127 (PHAT Stellar Cluster Survey II, Andromeda Project "
        "catalogue; abstract and VizieR J/ApJ/802/127): 2,753 clusters and 2,270 background "
        "galaxies within ~0.5 deg^2 of PHAT imaging; clusters span ~8 mag in F475W",
    ),
    Reference(
        "lggs_m31_stars",
        "star",
        371781.0,
        "2.2 deg^2 along the M31 major axis",
        "V < 23 (LGGS errors < 10% at ~23 mag)",
        "Massey et al. 2006, AJ 131, 2478 (LGGS I; VizieR J/AJ/131/2478, table4.dat): "
        "371,781 M31-field stars (foreground included) with B, V, R in 2.2 deg^2",
    ),
    Reference(
        "rbc_confirmed_gcs",
        "globular_cluster",
        623.0,
        "all of M31 (RBC v5 confirmed clusters, class 1, with a V magnitude)",
        "all V (per-V-bin counts in the table below)",
        "Revised Bologna Catalogue v5 (Galleti et al., August 2012), class 1 records as the "
        "HNSKY supplement in ../shared/reference/rbc-v5-hnsky-czsky (623 of 625 with V)",
    ),
)


def _phat_area_deg2(footprint, *, n: int = 200_000, seed: int = 0) -> float:
    from pandas_clusters.core.footprint import in_footprint
    from pandas_clusters.core.geometry import offsets_to_radec

    rng = np.random.default_rng(seed)
    xi, eta = rng.uniform(-1.6, 1.6, n), rng.uniform(-1.6, 1.6, n)
    ra, dec = offsets_to_radec(xi, eta)
    return float(in_footprint(ra, dec, footprint).mean() * 3.2**2)


def _lggs_stars(settings: MockSettings, *, sample_fraction: float = 0.04, seed: int = 0) -> float:
    """Mock stars with V < 23 in the LGGS-like box along the major axis.

    Counted on a seeded random ``sample_fraction`` of the box's star cells
    (the cells' stars are those of the images) and scaled to the whole box.
    """
    along, across = LGGS_BOX_DEG
    pa = np.deg2rad(M31.pa_deg)
    cell = settings.cell_deg
    half = 0.5 * np.array([along, across])
    ext = float(np.hypot(*half))
    idx = np.arange(int(np.floor(-ext / cell)), int(np.ceil(ext / cell)) + 1)
    ii, jj = (a.ravel() for a in np.meshgrid(idx, idx))
    cx, cy = (ii + 0.5) * cell, (jj + 0.5) * cell
    u = cx * np.sin(pa) + cy * np.cos(pa)
    v = cx * np.cos(pa) - cy * np.sin(pa)
    inside = np.flatnonzero((np.abs(u) <= half[0]) & (np.abs(v) <= half[1]))
    rng = np.random.default_rng(seed)
    pick = rng.choice(inside, size=max(1, int(sample_fraction * inside.size)), replace=False)
    total = 0
    for k in pick:
        x0, y0 = ii[k] * cell, jj[k] * cell
        df = draw_region(
            settings,
            xi_range=(x0 + 1e-9, x0 + cell - 1e-9),
            eta_range=(y0 + 1e-9, y0 + cell - 1e-9),
            kinds=("star", "bright_star"),
        )
        df = df.loc[df["xi"].between(x0, x0 + cell) & df["eta"].between(y0, y0 + cell)]
        vmag = df["gmag"] - _V_FROM_G * (df["gmag"] - df["imag"])
        total += int((vmag < 23.0).sum())
    # cells whose centre lies in the box tile it, up to the edges
    return float(total * inside.size / pick.size * (along * across) / (inside.size * cell**2))


def rbc_counts_by_vmag(rbc_vmag: np.ndarray, mock_gc_vmag: np.ndarray, edges) -> pd.DataFrame:
    """RBC and mock old-cluster counts per V bin."""
    r, _ = np.histogram(rbc_vmag, edges)
    m, _ = np.histogram(mock_gc_vmag, edges)
    return pd.DataFrame({"v_lo": edges[:-1], "v_hi": edges[1:], "rbc": r, "mock": m})


def mock_counts(settings: MockSettings, *, phat_catalogue: pd.DataFrame | None = None) -> dict:
    """The mock's number for each reference (see :data:`REFERENCES`).

    ``phat_catalogue``: the mock PHAT-like catalogue (drawn with its
    completeness) if already made; drawn here otherwise.
    """
    from pandas_clusters.core.footprint import in_footprint, mock_phat_footprint

    from .catalogues import make_catalogues

    footprint = mock_phat_footprint()
    truth = catalogue_truth(settings)
    if phat_catalogue is None:
        truth_fp = truth.assign(
            in_phat=in_footprint(truth["ra"].to_numpy(), truth["dec"].to_numpy(), footprint)
        )
        phat_catalogue = make_catalogues(truth_fp, footprint=footprint, seed=settings.seed)[
            "phat_clusters"
        ]
    area = _phat_area_deg2(footprint)
    gc = truth.loc[truth["kind"] == "globular_cluster"]
    return {
        # scaled to the ~0.5 deg^2 the AP searched
        "phat_ap_young_clusters": float(len(phat_catalogue) * 0.5 / area),
        "lggs_m31_stars": _lggs_stars(settings),
        "rbc_confirmed_gcs": float(len(gc)),
        "phat_area_deg2": area,
        "mock_gc_vmag": (gc["gmag"] - _V_FROM_G * (gc["gmag"] - gc["imag"])).to_numpy(),
    }


def write_calibration_report(settings: MockSettings, out, *, rbc_vmag, command: str) -> dict:
    """Write ``docs/mock-calibration.md``: each reference, its value, the mock's, the ratio."""
    from pandas_clusters.core.io import atomic_path

    counts = mock_counts(settings)
    lines = [
        "# Mock calibration: counts against published data",
        "",
        f"Produced by `{command}` (`pandas_clusters.acquire.mock.calibration`).",
        "The test `tests/test_mock_counts.py` requires every ratio within a factor 1.5.",
        "",
        "| reference | class | region | magnitudes | published | mock | mock / published |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for ref in REFERENCES:
        m = counts[ref.key]
        lines.append(
            f"| {ref.source} | {ref.kind} | {ref.region} | {ref.mag} | {ref.value:,.0f} | "
            f"{m:,.0f} | {m / ref.value:.2f} |"
        )
    table = rbc_counts_by_vmag(rbc_vmag, counts["mock_gc_vmag"], np.arange(14.0, 21.0, 1.0))
    lines += ["", "Old clusters per V bin (RBC v5 class 1 against the mock):", ""]
    lines += ["| V | RBC | mock |", "|---|---:|---:|"]
    lines += [f"| {r.v_lo:g}-{r.v_hi:g} | {r.rbc} | {r.mock} |" for r in table.itertuples()]
    lines += [
        "",
        "Notes. The PHAT-like count is the mock PHAT catalogue (the truth drawn with the",
        "catalogue's completeness) scaled from the mock footprint's area to the 0.5 deg^2 the",
        "AP searched. The LGGS count takes V = g - 0.4 (g - i) and a 2.5 x 0.88 deg box along",
        "the major axis for the survey's ten fields. The mock's settings calibrated here:",
        "`young_cluster_density_arcmin2`, `star_density_arcmin2`,",
        "`globular_cluster_density_arcmin2` and the old clusters' luminosity function.",
        "",
        "Not yet calibrated (no reference number looked up yet): background-galaxy counts in g",
        "(the mock draws `galaxy_density_arcmin2` galaxies over `galaxy_mag_range` with a",
        "slope of 0.33 dex/mag; published B-band counts steepen to 0.47 dex/mag at",
        "20 < B < 24, McCracken et al. 2001, A&A 376, 756, CFDF) and the Milky Way",
        "foreground dwarfs towards M31 (`foreground_density_arcmin2`).",
    ]
    lines += _kept_sections(out)
    with atomic_path(out, suffix=".md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return counts


# hand-written sections of docs/mock-calibration.md (issue 12, part 3: "Contaminants")
_KEPT = re.compile(r"<!-- (\w+):start -->.*?<!-- \1:end -->", re.S)


def _kept_sections(path) -> list[str]:
    """The ``<!-- name:start -->...<!-- name:end -->`` sections of an existing report.

    They are written by hand (their references are not counts the module
    computes) and survive a rewrite of the report.
    """
    path = Path(path)
    if not path.exists():
        return []
    return [
        line for m in _KEPT.finditer(path.read_text()) for line in ["", *m.group(0).split("\n")]
    ]
