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

from .population import (
    catalogue_truth,
    draw_region,
    foreground_density_total,
    galaxy_g_counts_total,
)
from .settings import MockSettings

__all__ = [
    "FIELD_BOX_DEG",
    "DEPTH_BEFORE",
    "DRIVER16_F435W",
    "GALAXY_G_EDGES",
    "GALAXY_KINDS",
    "HSC_G_CUMULATIVE",
    "LGGS_BOX_DEG",
    "REFERENCES",
    "MEGACAM_ETC_DEPTH",
    "W23_AREA_DEG2",
    "Reference",
    "driver16_g_counts",
    "galaxy_count_model",
    "galaxy_counts_by_g",
    "galaxy_counts_deep",
    "galaxy_counts_faint",
    "galaxy_counts_hsc",
    "hsc_g_counts",
    "mock_catalogues",
    "mock_counts",
    "pandas_depth",
    "peacock_rh_relation",
    "rbc_counts_by_vmag",
    "read_peacock2010",
    "sky_limited_depth",
    "write_calibration_report",
]

#: CFHT's MegaCam exposure time calculator, "Quick MegaCam photometric performance table"
#: (https://www.cfht.hawaii.edu/Instruments/Imaging/Megacam/dietmegacam.html): the AB
#: magnitude of a point source at S/N = 10 on the dark sky in one hour (3600 s) through the
#: first-generation filters PAndAS used (g' = g.MP9401; i' = i.MP9701, replaced in 2007 by
#: i.MP9702: McConnachie+ 2018's observing log), from the 2003A characterisation: optimal
#: aperture, 0.8" seeing, airmass 1. PSF fitting does at least as well as the optimal
#: aperture on a sky-limited point source, so the PSF-photometry depth is at least this.
#: Per band (magnitude, FWHM in arcsec).
MEGACAM_ETC_DEPTH = {"g": (26.1, 0.8), "i": (24.9, 0.8)}
#: The same table's columns for the second-generation filters of 2015 on (gS = g.MP9402,
#: iS = i.MP9703, the mode-2 filters of the THELI MegaPrime notes, marvinweb.astro.uni-bonn.de/
#: data_products/Lucie/README_MEGAPRIME.txt; not PAndAS's): S/N = 10 by PSF fitting at the
#: modal image quality of 2003-2009 and airmass 1.2; a check on :data:`MEGACAM_ETC_DEPTH`.
MEGACAM_ETC_DEPTH_2015_FILTERS = {"g": (25.7, 0.75), "i": (24.6, 0.63)}
#: Exposure time (s) of :data:`MEGACAM_ETC_DEPTH`.
MEGACAM_ETC_EXPOSURE_S = 3600.0


def sky_limited_depth(band: str, exptime_s: float, seeing_arcsec: float) -> float:
    """S/N = 10 point-source depth (AB) of a MegaCam stack of ``exptime_s`` at ``seeing_arcsec``.

    Scales :data:`MEGACAM_ETC_DEPTH` on the sky-limited law: the noise of a
    PSF-fitted flux grows as the PSF's width and falls as the square root of
    the exposure, so the depth moves by ``1.25 log10(t / 3600 s) + 2.5
    log10(FWHM_modal / FWHM)``.
    """
    if band not in MEGACAM_ETC_DEPTH:
        msg = f"no MegaCam depth for band {band!r} (known: {sorted(MEGACAM_ETC_DEPTH)})"
        raise ValueError(msg)
    if exptime_s <= 0 or seeing_arcsec <= 0:
        msg = f'exposure ({exptime_s} s) and seeing ({seeing_arcsec}") must be positive'
        raise ValueError(msg)
    mag, fwhm = MEGACAM_ETC_DEPTH[band]
    return float(
        mag
        + 1.25 * np.log10(exptime_s / MEGACAM_ETC_EXPOSURE_S)
        + 2.5 * np.log10(fwhm / seeing_arcsec)
    )


def pandas_depth(band: str, seeing_arcsec: float, *, sheet: pd.DataFrame | None = None) -> dict:
    """The PAndAS stacks' S/N = 10 depth in ``band``: the typical field's summed exposure.

    ``sheet`` is the PAndAS field sheet (default: the packaged one, built from
    McConnachie+ 2018's observing log). Returns the median summed exposure
    (s) over the 406 fields, the number of fields with it, and the depth of
    :func:`sky_limited_depth` at that exposure and ``seeing_arcsec``.
    """
    from pandas_clusters.core.fields import load_field_sheet

    sheet = load_field_sheet() if sheet is None else sheet
    t = sheet[f"{band}_exptime_s"].to_numpy(dtype=float)
    t = t[t > 0]
    median = float(np.median(t))
    return {
        "exptime_s": median,
        "fields": int(t.size),
        "fields_at_median": int(np.sum(t == median)),
        "depth_mag": sky_limited_depth(band, median, seeing_arcsec),
    }


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
    # issue 12, part 3: the stars the RBC lists (taken for clusters, then classified)
    Reference(
        "rbc_stars",
        "star (RBC class 6)",
        708.0,
        "all of M31 (RBC v5 stars, CLASS 6: Milky Way foreground and M31 stars)",
        "the RBC's depth (median g 18.95 in Peacock+ 2010's class 6)",
        "Revised Bologna Catalogue v5 (Galleti et al., August 2012), CLASS 6 rows of the "
        "compiled master catalogue (DATATABLE m31rbcV5) in ../shared/reference/"
        "pandas-cutouts-klemenz/catalogues/master_catalog_sept_2024.csv",
    ),
    # issue 12, item 2 (mock-labels): the Milky Way foreground towards M31
    Reference(
        "w23_foreground_stars",
        "star (Milky Way foreground)",
        1.85e6,
        "~392 deg^2 around M31 (Gaia EDR3 sources with Pan-STARRS1 photometry)",
        "16 < g < 19.5 (Pan-STARRS g ~ PAndAS g)",
        "Wang et al. 2023, ApJ 954, 206 (abstract and VizieR J/ApJ/954/206 ReadMe): 1.85 "
        "million sources of 16 < g < 19.5 within ~392 deg^2 around M31, 20,658 of them "
        "extended; counted here as Milky Way stars (the extended sources, M31's clusters and "
        "its stars brighter than g = 19.5 are ~1 % of them)",
    ),
)

# issue 12, item 2 (mock-labels): background galaxies, Milky Way foreground
#: Area (deg^2) and g range of the Wang+ 2023 source counts.
W23_AREA_DEG2 = 392.0
W23_G_RANGE = (16.0, 19.5)
#: Offsets (deg) of the box, far from M31's disk, where the mock's foreground and
#: galaxy counts per deg^2 are measured (the mock draws both uniformly).
FIELD_BOX_DEG = ((3.0, 3.4), (-3.4, -3.0))
#: The larger box for the galaxy counts (fewer per deg^2 at bright g than stars).
GALAXY_BOX_DEG = ((3.0, 4.5), (-4.5, -3.0))
#: The Wang+ 2023 extended sources (table 8) per g bin: a lower bound on the galaxy counts
#: (Gaia detects few extended galaxies; no g-band galaxy count table was at hand).
W23_EXTENDED = "wang2023-J_ApJ_954_206/J_ApJ_954_206_table8.dat.gz.fits"


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


def _field_box_counts(settings: MockSettings, kinds, g_edges, box=FIELD_BOX_DEG) -> np.ndarray:
    """Mock objects of ``kinds`` per deg^2 per g bin in ``box`` (offsets, deg)."""
    (x0, x1), (y0, y1) = box
    df = draw_region(settings, xi_range=(x0, x1), eta_range=(y0, y1), kinds=kinds)
    df = df.loc[df["xi"].between(x0, x1) & df["eta"].between(y0, y1)]
    n, _ = np.histogram(df["gmag"], g_edges)
    return n / ((x1 - x0) * (y1 - y0))


def galaxy_counts_by_g(settings: MockSettings, reference) -> pd.DataFrame | None:
    """Mock galaxies and the Wang+ 2023 extended sources per deg^2 per 0.5 mag in g.

    ``None`` when the shared table 8 is absent. The extended sources are a lower
    bound on the galaxy counts (see :data:`W23_EXTENDED`).
    """
    path = Path(reference) / W23_EXTENDED
    if not path.is_file():
        return None
    from astropy.table import Table

    edges = np.arange(W23_G_RANGE[0], W23_G_RANGE[1] + 0.01, 0.5)
    g = np.asarray(Table.read(path, unit_parse_strict="silent")["gmag"], dtype=float)
    ref, _ = np.histogram(g, edges)
    mock = _field_box_counts(settings, GALAXY_KINDS, edges, GALAXY_BOX_DEG)
    return pd.DataFrame(
        {"g_lo": edges[:-1], "g_hi": edges[1:], "w23_extended": ref / W23_AREA_DEG2, "mock": mock}
    )


# --------------------------------------------------------------------------- issue 12 (mock-galaxies)
#: The three background-galaxy classes (their counts add up to the g-band galaxy counts).
GALAXY_KINDS = ("galaxy", "compact_galaxy", "edge_on_galaxy")
#: g bins (edges) of the mock's galaxy counts over the magnitudes where the mock draws.
GALAXY_G_EDGES = np.arange(15.0, 29.01, 1.0)
#: HSC g-band cumulative galaxy counts n(<g) per deg^2 (column ``data``) of LSSTDESC/descqa,
#: ``descqa/data/apparent_mag_func/HSC/hsc_g_n.dat`` (commit 4f3ab3d4e3688c69335f39e144dc0b8a7f4c1d05;
#: label "HSC extrapolated (desqagen 2018)", earlier "HSC (D. Campbell, Sprint Week-Dec 2017)"),
#: at g = 19.5, 20, ..., 25: brighter, the HSC counts fall below the Gaia lower bound
#: (saturation); fainter, the file's ``data`` column flattens (incompleteness) and its
#: ``n(<mag)`` column is a power-law extrapolation.
HSC_G_CUMULATIVE = {
    19.5: 114.07382213496106,
    20.0: 287.40984552044955,
    20.5: 609.3840394295809,
    21.0: 1138.2501057909349,
    21.5: 1972.5528338532067,
    22.0: 3303.109217002441,
    22.5: 5450.412320898518,
    23.0: 9094.505312001664,
    23.5: 15540.045512012082,
    24.0: 27414.573996110455,
    24.5: 48396.430141397774,
    25.0: 81154.62379591222,
}
HSC_G_SOURCE = (
    "HSC g-band cumulative galaxy counts n(<g) per deg^2 as compiled for the LSST DESC "
    "validation suite: LSSTDESC/descqa, descqa/data/apparent_mag_func/HSC/hsc_g_n.dat "
    "(column 'data'; commit 4f3ab3d; label 'HSC extrapolated (desqagen 2018)', first "
    "'HSC (D. Campbell, Sprint Week-Dec 2017)')"
)


#: Faint galaxy counts: Driver et al. 2016 (ApJ 827, 108), HST F435W (AB), galaxies per
#: deg^2 per 0.5 mag at the bin centres, as compiled in the data file of their count
#: compilation distributed with the Shark model, ICRAR/shark
#: ``data/lf/numbercounts/Driver16_numbercounts.data`` (commit 0f5aaa94d4915e31fb4d648f5318a25c6fc799d0;
#: columns facility, band, mag, N per 0.5 mag per deg^2, error, data set), data set 4 of the
#: F435W rows: the set whose 24.75 point (32,079) agrees with the HSC g count of the same bin
#: (32,758) within 2%; the file's deeper set 6 runs 0.15 dex lower there with the same
#: slope (0.27 dex/mag over 25-29 against set 4's 0.24 over 25.25-28.75). F435W is bluer than g; no colour
#: term is applied (for the blue galaxies that dominate at these magnitudes it is about
#: 0.1-0.2 mag, 0.03-0.05 dex at these slopes).
DRIVER16_F435W = {
    24.75: 32079.2,
    25.25: 47227.7,
    25.75: 65940.6,
    26.25: 81089.1,
    26.75: 106040.0,
    27.25: 145248.0,
    27.75: 196931.0,
    28.25: 229901.0,
    28.75: 336832.0,
}
DRIVER16_SOURCE = (
    "Driver et al. 2016 (ApJ 827, 108) HST F435W galaxy counts per 0.5 mag, data set 4 of "
    "their compilation as distributed with the Shark model: ICRAR/shark, "
    "data/lf/numbercounts/Driver16_numbercounts.data (commit 0f5aaa9)"
)


def driver16_g_counts() -> pd.DataFrame:
    """Driver+ 2016's F435W galaxies per deg^2 per 0.5-mag bin fainter than g = 25 (the mock's range)."""
    centres = np.array([g for g in sorted(DRIVER16_F435W) if g > 25.0])
    return pd.DataFrame(
        {
            "g_lo": centres - 0.25,
            "g_hi": centres + 0.25,
            "driver16": [DRIVER16_F435W[g] for g in centres],
        }
    )


def hsc_g_counts() -> pd.DataFrame:
    """The HSC galaxies per deg^2 per 0.5-mag g bin (differences of :data:`HSC_G_CUMULATIVE`)."""
    g = np.array(sorted(HSC_G_CUMULATIVE))
    n = np.array([HSC_G_CUMULATIVE[k] for k in g])
    return pd.DataFrame({"g_lo": g[:-1], "g_hi": g[1:], "hsc": np.diff(n)})


def galaxy_count_model(settings: MockSettings, edges) -> np.ndarray:
    """Galaxies per deg^2 per g bin that the settings ask for (all three galaxy classes).

    ``galaxy_density_arcmin2`` x (1 + the compact and edge-on fractions) spread over
    ``galaxy_mag_range`` with the shape of ``galaxy_g_counts``.
    """
    from .population import _count_cdf

    lo, hi = settings.galaxy_mag_range
    total = settings.galaxy_density_arcmin2 * 3600.0
    total *= 1.0 + settings.compact_galaxy_fraction + settings.edge_on_galaxy_fraction
    g, cdf, _ = _count_cdf(tuple(map(tuple, settings.galaxy_g_counts)), float(lo), float(hi))
    return total * np.diff(np.interp(np.asarray(edges, dtype=float), g, cdf))


def galaxy_counts_hsc(settings: MockSettings) -> pd.DataFrame:
    """The mock's galaxies (three classes, box :data:`GALAXY_BOX_DEG`) against HSC per g bin."""
    table = hsc_g_counts()
    edges = np.append(table["g_lo"].to_numpy(), table["g_hi"].iloc[-1])
    mock = _field_box_counts(settings, GALAXY_KINDS, edges, GALAXY_BOX_DEG)
    return table.assign(mock=mock, ratio=mock / table["hsc"])


def galaxy_counts_faint(settings: MockSettings) -> pd.DataFrame:
    """The mock's galaxies (three classes, box :data:`GALAXY_BOX_DEG`) against Driver+ 2016, g > 25.

    Bins beyond ``galaxy_mag_range`` are left out (the mock draws no galaxy there).
    """
    table = driver16_g_counts()
    table = table.loc[table["g_hi"] <= settings.galaxy_mag_range[1]].reset_index(drop=True)
    edges = np.append(table["g_lo"].to_numpy(), table["g_hi"].iloc[-1])
    mock = _field_box_counts(settings, GALAXY_KINDS, edges, GALAXY_BOX_DEG)
    return table.assign(mock=mock, ratio=mock / table["driver16"])


def galaxy_counts_deep(settings: MockSettings, edges=GALAXY_G_EDGES) -> pd.DataFrame:
    """The mock's galaxies per deg^2 per g bin (drawn, box :data:`GALAXY_BOX_DEG`) and the model."""
    edges = np.asarray(edges, dtype=float)
    mock = _field_box_counts(settings, GALAXY_KINDS, edges, GALAXY_BOX_DEG)
    (x0, x1), (y0, y1) = GALAXY_BOX_DEG
    return pd.DataFrame(
        {
            "g_lo": edges[:-1],
            "g_hi": edges[1:],
            "mock": mock,
            "n_drawn": np.round(mock * (x1 - x0) * (y1 - y0)).astype(int),
            "model": galaxy_count_model(settings, edges),
        }
    )


def rbc_counts_by_vmag(rbc_vmag: np.ndarray, mock_gc_vmag: np.ndarray, edges) -> pd.DataFrame:
    """RBC and mock old-cluster counts per V bin."""
    r, _ = np.histogram(rbc_vmag, edges)
    m, _ = np.histogram(mock_gc_vmag, edges)
    return pd.DataFrame({"v_lo": edges[:-1], "v_hi": edges[1:], "rbc": r, "mock": m})


def mock_catalogues(settings: MockSettings) -> tuple[pd.DataFrame, dict]:
    """The catalogue truth (with ``in_phat``) and the eight mock catalogues drawn from it."""
    from pandas_clusters.core.footprint import in_footprint, mock_phat_footprint

    from .catalogues import make_catalogues

    footprint = mock_phat_footprint()
    truth = catalogue_truth(settings)
    truth = truth.assign(
        in_phat=in_footprint(truth["ra"].to_numpy(), truth["dec"].to_numpy(), footprint)
    )
    return truth, make_catalogues(truth, footprint=footprint, seed=settings.seed)


def mock_counts(settings: MockSettings, *, catalogues: dict | None = None) -> dict:
    """The mock's number for each reference (see :data:`REFERENCES`).

    ``catalogues``: the mock catalogues (:func:`mock_catalogues`) if already
    made; drawn here otherwise.
    """
    from pandas_clusters.core.footprint import mock_phat_footprint

    from .catalogues import RBC_CLASS

    footprint = mock_phat_footprint()
    if catalogues is None:
        truth, catalogues = mock_catalogues(settings)
    else:
        truth = catalogue_truth(settings, kinds=("globular_cluster",))
    phat_catalogue = catalogues["phat_clusters"]
    rbc = catalogues["rbc"]
    area = _phat_area_deg2(footprint)
    gc = truth.loc[truth["kind"] == "globular_cluster"]
    foreground = _field_box_counts(settings, ("star", "bright_star"), np.array(W23_G_RANGE))
    return {
        "w23_foreground_stars": float(foreground[0] * W23_AREA_DEG2),
        # scaled to the ~0.5 deg^2 the AP searched
        "phat_ap_young_clusters": float(len(phat_catalogue) * 0.5 / area),
        "lggs_m31_stars": _lggs_stars(settings),
        "rbc_confirmed_gcs": float(len(gc)),
        "rbc_stars": float((rbc["f"] == RBC_CLASS["star"]).sum()),
        "phat_area_deg2": area,
        "mock_gc_vmag": (gc["gmag"] - _V_FROM_G * (gc["gmag"] - gc["imag"])).to_numpy(),
    }


def write_calibration_report(
    settings: MockSettings, out, *, rbc_vmag, command: str, reference=None
) -> dict:
    """Write ``docs/mock-calibration.md``: each reference, its value, the mock's, the ratio.

    ``reference`` (the shared reference folder), when given, adds the galaxy
    counts against the Wang+ 2023 extended sources.
    """
    from pandas_clusters.core.io import atomic_path

    truth, cats = mock_catalogues(settings)
    counts = mock_counts(settings, catalogues=cats)
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
        "`globular_cluster_density_arcmin2`, the old clusters' luminosity function and",
        "`foreground_density_arcmin2` (the Wang+ 2023 row; below).",
        "",
        "M31's resolved stars: red giants on the exponential disk of the diffuse light, the",
        "young ones (blue main sequence and blue loop, yellow and red supergiants) on the",
        "star-forming ring of the young clusters; `star_density_arcmin2` gives both at 5 kpc",
        "(55% red giants there, a choice). With the young stars on the ring (issue 12, seventh",
        "round) the LGGS row was 1.44 at the former 1,400 per arcmin^2; `star_density_arcmin2`",
        "was set again on it, to 940 (the LGGS box's V < 23 stars are 16% red giants, 74% young",
        "stars and 10% Milky Way foreground in the mock).",
        "",
    ]
    lines += _depth_lines(settings)
    lines += _galaxy_size_lines(settings)
    lines += _foreground_and_galaxy_lines(settings, reference)
    lines += _old_population_lines(reference, seed=settings.seed)
    lines += _label_lines(settings, truth, cats)
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


# --------------------------------------------------------------------------- Peacock+ 2010
#: Peacock+ 2010 (J/MNRAS/402/803) table 1 in the shared reference folder.
PEACOCK_TABLE = "peacock2010-m31gc/peacock2010_m31_gc.fits"


def read_peacock2010(path: str | Path) -> pd.DataFrame:
    """Peacock+ 2010's M31 cluster candidates: RA, Dec (deg), class, total g, r_h (pc).

    ``cls`` is the table's classification ``f`` (1 = confirmed cluster, as in the
    RBC), ``g_total`` its SDSS-calibrated g and ``r_h_pc`` its King-fit half-light
    radius (NaN where none). A table without these columns is refused, naming the file.
    """
    import warnings

    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    with warnings.catch_warnings(), fits.open(path) as hdul:
        # VizieR's export declares a TNULL wider than the RBC-class column (f1, unused)
        warnings.simplefilter("ignore", VerifyWarning)
        data = hdul[1].data
        missing = {"RAJ2000", "DEJ2000", "f", "gmag", "rh"} - set(data.columns.names)
        if missing:
            msg = f"{path}, HDU 1: columns {sorted(missing)} missing (Peacock+ 2010 table 1)"
            raise ValueError(msg)
        cls = pd.to_numeric(pd.Series(np.asarray(data["f"]).astype(str)).str.strip(), "coerce")
        return pd.DataFrame(
            {
                "ra": np.asarray(data["RAJ2000"], dtype=np.float64),
                "dec": np.asarray(data["DEJ2000"], dtype=np.float64),
                "cls": cls.to_numpy(),
                "g_total": np.asarray(data["gmag"], dtype=np.float64),
                "r_h_pc": np.asarray(data["rh"], dtype=np.float64),
            }
        )


def peacock_rh_relation(path: str | Path) -> dict:
    """The confirmed clusters' r_h against Rproj in Peacock+ 2010: a power law and medians.

    A least-squares line through ln r_h against ln Rproj (kpc) of the class-1 clusters
    with a measured r_h. Returns ``r_h_at_1kpc_pc``, ``slope``, ``log_scatter`` (rms
    of the residual in ln r_h), ``n``, ``rproj_min_kpc``, ``rproj_max_kpc``,
    ``normalised_p01_p99`` (the 1st and 99th percentiles of r_h divided by the law) and
    ``bins``: rows (lo, hi, n, median r_h) over 0-5-10-15-30 kpc.
    """
    from pandas_clusters.core.geometry import projected_radius_kpc

    t = read_peacock2010(path)
    t = t.loc[(t["cls"] == 1) & np.isfinite(t["r_h_pc"]) & (t["r_h_pc"] > 0)]
    if len(t) < 3:
        msg = f"{path}: fewer than 3 confirmed clusters with an r_h (Peacock+ 2010 table 1)"
        raise ValueError(msg)
    r = projected_radius_kpc(t["ra"].to_numpy(), t["dec"].to_numpy())
    rh = t["r_h_pc"].to_numpy()
    slope, icept = np.polyfit(np.log(r), np.log(rh), 1)
    resid = np.log(rh) - (icept + slope * np.log(r))
    law = np.exp(icept) * r**slope
    bins = []
    for lo, hi in ((0.0, 5.0), (5.0, 10.0), (10.0, 15.0), (15.0, 30.0)):
        s = (r >= lo) & (r < hi)
        bins.append((lo, hi, int(s.sum()), float(np.median(rh[s])) if s.any() else np.nan))
    return {
        "r_h_at_1kpc_pc": float(np.exp(icept)),
        "slope": float(slope),
        "log_scatter": float(np.sqrt(np.mean(resid**2))),
        "n": len(t),
        "rproj_min_kpc": float(r.min()),
        "rproj_max_kpc": float(r.max()),
        "normalised_p01_p99": tuple(
            float(v) for v in np.percentile(rh / law * np.exp(icept), [1, 99])
        ),
        "bins": bins,
    }


# --------------------------------------------------------------------------- Caldwell+ 2011
#: The CfA "M31 Hectospec Catalog of Old Clusters" (Caldwell et al. 2011, AJ 141, 61, and
#: its 2015 web version) in the shared reference folder.
CALDWELL_OLD_CATALOGUE = "caldwell2011-auriga/M31_Hectospec_old_catalog.dat"


def read_caldwell_old_clusters(path: str | Path) -> pd.DataFrame:
    """The CfA catalogue of M31's old clusters: RA, Dec (deg), [Fe/H], its error and source.

    The file is tab-separated under a header line beginning ``object`` and a line of
    dashes; ``feh`` and ``feh_err`` are NaN where the catalogue gives none. A file without that header
    or without the ``RA``, ``DEC`` and ``[Fe/H]`` columns is refused, naming the file.
    """
    from astropy.coordinates import SkyCoord

    lines = Path(path).read_text(encoding="latin-1").splitlines()
    head = next((i for i, line in enumerate(lines) if line.startswith("object")), None)
    if head is None:
        msg = f"{path}: no header line beginning 'object' (the CfA old-cluster catalogue)"
        raise ValueError(msg)
    names = [c.strip() for c in lines[head].split("\t")]
    missing = {"RA", "DEC", "[Fe/H]", "[Fe/H]_err", "[Fe/H]_source"} - set(names)
    if missing:
        msg = f"{path}: columns {sorted(missing)} missing (the CfA old-cluster catalogue)"
        raise ValueError(msg)
    rows = [line.split("\t")[: len(names)] for line in lines[head + 2 :] if line.strip()]
    t = pd.DataFrame(rows, columns=names).apply(lambda c: c.str.strip())
    c = SkyCoord(t["RA"].to_numpy(), t["DEC"].to_numpy(), unit=("hourangle", "deg"))
    return pd.DataFrame(
        {
            "name": t["object"].to_numpy(),
            "ra": c.ra.deg,
            "dec": c.dec.deg,
            "feh": pd.to_numeric(t["[Fe/H]"], errors="coerce").to_numpy(dtype=float),
            "feh_err": pd.to_numeric(t["[Fe/H]_err"], errors="coerce").to_numpy(dtype=float),
            "feh_source": t["[Fe/H]_source"].to_numpy(),
        }
    )


def caldwell_feh_deciles(path: str | Path, edges_kpc) -> list[tuple]:
    """The old clusters' [Fe/H] distribution per projected radius bin in the CfA catalogue.

    Rows ``(lo, hi, n, deciles)`` for the bins between ``edges_kpc`` (the last may be
    ``inf``): the number of clusters with an [Fe/H] and its 0th, 10th, ..., 100th
    percentiles. A bin with fewer than 5 clusters is refused (no distribution to draw).
    """
    return [
        (lo, hi, f.size, tuple(float(v) for v in np.percentile(f, np.arange(0, 101, 10))))
        for lo, hi, f in _caldwell_feh_by_bin(path, edges_kpc)
    ]


def _caldwell_feh_by_bin(path: str | Path, edges_kpc) -> list[tuple[float, float, np.ndarray]]:
    """``(lo, hi, [Fe/H] values)`` of the CfA catalogue's clusters per Rproj bin (>= 5 each)."""
    from pandas_clusters.core.geometry import projected_radius_kpc

    t = read_caldwell_old_clusters(path)
    t = t.loc[np.isfinite(t["feh"])]
    r = projected_radius_kpc(t["ra"].to_numpy(), t["dec"].to_numpy())
    feh = t["feh"].to_numpy()
    out = []
    for lo, hi in zip(edges_kpc[:-1], edges_kpc[1:], strict=True):
        s = (r >= lo) & (r < hi)
        if s.sum() < 5:
            msg = f"{path}: {int(s.sum())} clusters with an [Fe/H] at Rproj {lo}-{hi} kpc (< 5)"
            raise ValueError(msg)
        out.append((float(lo), float(hi), feh[s]))
    return out


def _feh_table_lines(reference, seed: int) -> list[str]:
    """Table lines: the CfA catalogue's [Fe/H] per Rproj bin against the mock's draw."""
    from pandas_clusters.acquire.mock.population import (
        GC_FEH_RPROJ_EDGES_KPC,
        cluster_metallicity,
    )
    from pandas_clusters.core.geometry import radius_bin_labels

    path = None if reference is None else Path(reference) / CALDWELL_OLD_CATALOGUE
    if path is None or not path.is_file():
        return ["(the CfA old-cluster catalogue is not at hand: run with `--reference`.)"]
    lines = [
        "| Rproj (kpc) | clusters | catalogue [Fe/H] 10th / 50th / 90th | richer than -0.9 "
        "| mock 10th / 50th / 90th | mock richer than -0.9 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    bins = _caldwell_feh_by_bin(path, GC_FEH_RPROJ_EDGES_KPC)
    for label, (lo, hi, f) in zip(radius_bin_labels(GC_FEH_RPROJ_EDGES_KPC), bins, strict=True):
        mid = 0.5 * (lo + hi) if np.isfinite(hi) else 2.0 * lo
        m = cluster_metallicity(seed, np.arange(2000), mid)
        p, q = np.percentile(f, [10, 50, 90]), np.percentile(m, [10, 50, 90])
        lines.append(
            f"| {label} | {f.size} | "
            f"{p[0]:.2f} / {p[1]:.2f} / {p[2]:.2f} | "
            f"{np.mean(f > -0.9):.2f} | {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f} | "
            f"{np.mean(m > -0.9):.2f} |"
        )
    return lines


# --------------------------------------------------------------------------- issue 12 (spheroid)
def _rh_table_lines(reference) -> list[str]:
    """Table lines: Peacock+ 2010's median r_h per Rproj bin against the mock's law."""
    from pandas_clusters.acquire.mock.population import (
        GC_RH_INNER_KPC,
        GC_RH_MEDIAN_PC,
        GC_RH_REFERENCE_KPC,
        GC_RH_SLOPE,
    )

    path = None if reference is None else Path(reference) / PEACOCK_TABLE
    if path is None or not path.is_file():
        return ["(Peacock+ 2010's table is not at hand: run with `--reference`.)"]
    fit = peacock_rh_relation(path)
    lines = ["| Rproj (kpc) | clusters | Peacock+ 2010 median r_h (pc) | mock law (pc) |"]
    lines.append("|---|---:|---:|---:|")
    for lo, hi, n, med in fit["bins"]:
        mid = max(0.5 * (lo + hi), GC_RH_INNER_KPC)
        law = GC_RH_MEDIAN_PC * (mid / GC_RH_REFERENCE_KPC) ** GC_RH_SLOPE
        lines.append(f"| {lo:g}-{hi:g} | {n} | {med:.2f} | {law:.2f} (at {mid:g} kpc) |")
    for r in (60.0, 120.0):
        law = GC_RH_MEDIAN_PC * (r / GC_RH_REFERENCE_KPC) ** GC_RH_SLOPE
        lines.append(f"| {r:g} | none measured | | {law:.2f} (continued) |")
    return lines


def _old_population_lines(reference=None, *, seed: int = 0) -> list[str]:
    """Report lines: the old population's luminosity function and the spheroid's profile."""
    from pandas_clusters.acquire.mock import old_population as op
    from pandas_clusters.acquire.mock.catalogues import C11_FEH_ERROR_DEX
    from pandas_clusters.acquire.mock.population import (
        GC_REMOTE_RPROJ_KPC,
        GC_REMOTE_TIDAL_PC,
        GC_RH_INNER_KPC,
        GC_RH_LOG_SCATTER,
        GC_RH_MEDIAN_PC,
        GC_RH_REFERENCE_KPC,
        GC_RH_SLOPE,
        RED_GIANT_TIP_G,
    )
    from pandas_clusters.acquire.mock.render import (
        BULGE_TIP_FAINTER_MAG,
        GIANT_LF_SPAN_MAG,
        GIANT_TIP_G,
        giant_bins,
    )
    from pandas_clusters.core.geometry import M31

    dm = M31.distance_modulus
    f, w, rest = op.star_bins(dm)
    mids = -2.5 * np.log10(f)
    hb = slice(10, 11)  # the bin M_g 0.5-0.75
    n_175 = 10 ** (-0.4 * 17.5) * w / f
    f0, w0, _ = giant_bins(RED_GIANT_TIP_G, 26.5)
    before = 10 ** (-0.4 * 17.5) * w0 / f0
    sbf = -2.5 * np.log10(np.sum(w * f) + rest) - dm
    radii = (5.0, 10.0, 15.0, 20.0, 30.0, 55.0)
    mu = op.spheroid_mu_v(np.array(radii))
    lines = [
        "## The old population and M31's spheroid (issue 12, part 1)",
        "",
        "The globular clusters' resolved stars and the spheroid's (M31's inner halo, off the",
        "disk plane) follow one luminosity function per unit light, measured on a published",
        "isochrone: MIST v1.2 (Choi+ 2016; Dotter 2016), 12 Gyr, [Fe/H] = -1.35, Pan-STARRS1 AB,",
        "AllenDowney/AstronomicalData `data/MIST_iso_5fd2532653c27.iso.cmd`, with a Kroupa (2001)",
        "IMF (`python -m pandas_clusters.acquire.mock.old_population ISOCHRONE` prints the table",
        f"of `old_population.py`). Measured on it, at M31's distance modulus {dm:.2f}:",
        "",
        "| quantity | isochrone | the mock's power law before |",
        "|---|---:|---:|",
        f"| stars with g < 26 in a g = 17.5 population | {n_175[mids < 26].sum():.0f} | "
        f"{before[-2.5 * np.log10(f0) < 26].sum():.0f} |",
        f"| of them on the horizontal branch (g {mids[hb][0] - 0.125:.2f}-"
        f"{mids[hb][0] + 0.125:.2f}) | {n_175[hb].sum():.0f} | 0 |",
        f"| share of the g light on the horizontal branch | {w[hb].sum():.3f} | 0 |",
        f"| share of the g light in stars brighter than M_g = {op.MG_EDGES[-1]:g} | "
        f"{w.sum():.3f} | {w0.sum():.3f} (to {RED_GIANT_TIP_G + GIANT_LF_SPAN_MAG:g} mag) |",
        f"| fluctuation magnitude (absolute g) | {sbf:.2f} | {26.5 - dm:.2f} |",
        "",
        "The spheroid's minor-axis V surface brightness: Pritchet & van den Bergh (1994;",
        "mu_V ~ 28 at R ~ 10 kpc, ~ 30 at 20 kpc, one de Vaucouleurs law from 0.2 to 20 kpc,",
        f"axis ratio {op.SPHEROID_AXIS_RATIO}), then Irwin et al. (2005; power law of index "
        f"{op.HALO_POWER_INDEX},",
        "mu_V ~ 32 at 55 kpc). Through the two points the law has r_e = "
        f"{op.spheroid_effective_radius_kpc():.2f} kpc;",
        f"g - V = {op.G_MINUS_V:.3f} from the isochrone's integrated g - r = {op.G_MINUS_R:.3f}"
        " (Lupton 2005).",
        "It replaces the unreferenced halo of resolved stars, 4 (Rproj / 10 kpc)^-2.5 per",
        "arcmin^2. The law is the whole spheroid, bulge included: the mock renders its light",
        "beyond the bulge's (Sersic n = 2.2, r_e = 1 kpc), so that the two together are the",
        "brighter of the two laws (docs/mock-realism.md, seventh round). The table gives the law.",
        "",
        "| R minor axis (kpc) | " + " | ".join(f"{r:g}" for r in radii) + " |",
        "|---|" + "---:|" * len(radii),
        "| mu_V (mag arcsec^-2) | " + " | ".join(f"{m:.2f}" for m in mu) + " |",
        "| stars g < 26 per arcmin^2 | "
        + " | ".join(
            f"{3600 * 10 ** (-0.4 * (m + op.G_MINUS_V)) * np.sum((w / f)[mids < 26]):.1f}"
            for m in mu
        )
        + " |",
        "",
        "M31's satellites: the "
        f"{len(op.SATELLITES)} galaxies within 12 deg of McConnachie (2012)'s catalogue",
        "(updated NearbyGalaxies.dat; M32 and two more than 0.6 mag off M31's distance left",
        "out) as exponential profiles of their V, r_h, ellipticity and position angle, made",
        "of the same stars. Central V surface brightness, catalogue / mock:",
        "",
        "| satellite | catalogue mu_V0 | mock |",
        "|---|---:|---:|",
    ]
    names = [row[0] for row in op.SATELLITES]
    for name, mu0 in (("NGC 147", 21.2), ("NGC 185", 20.8), ("NGC 205", 19.2)):
        _, ra, dec, *_ = op.SATELLITES[names.index(name)]
        lines.append(f"| {name} | {mu0} | {-2.5 * np.log10(op.satellites_v_flux(ra, dec)):.2f} |")
    lines += [
        "",
        "Remote clusters: beyond Rproj = "
        f"{GC_REMOTE_RPROJ_KPC:g} kpc the old clusters take a tidal radius uniform in "
        f"{GC_REMOTE_TIDAL_PC[0]:g}-{GC_REMOTE_TIDAL_PC[1]:g} pc,",
        "the photometric tidal radii Tanvir et al. (2012, MNRAS 422, 162; abstract) find for",
        "the classical globular clusters at 13-100 kpc on deep HST images.",
        "Their half-light radii grow slowly outwards, as M31's own clusters' do: Peacock et",
        "al. (2010, MNRAS 402, 803; J/MNRAS/402/803 table 1) give r_h for 213 confirmed",
        "clusters at Rproj 2.4-22.8 kpc; the mock draws r_h log-normally (scatter "
        f"{GC_RH_LOG_SCATTER:.2f} in ln r_h)",
        f"around {GC_RH_MEDIAN_PC:g} pc (Rproj / {GC_RH_REFERENCE_KPC:g} kpc)^{GC_RH_SLOPE:.3f}, "
        f"held flat inside {GC_RH_INNER_KPC:g} kpc, the least-squares",
        "fit to that table (`calibration.peacock_rh_relation`; the test",
        "`tests/test_mock_old_population.py::test_gc_half_light_law_is_the_fit_to_peacock2010`",
        "re-measures it on the shared table). Median r_h per Rproj bin, Peacock+ 2010 / the",
        "mock's law at the bin's centre:",
        "",
        *_rh_table_lines(reference),
        "",
        "Their metallicities are M31's own clusters' at the same Rproj: the CfA catalogue of",
        "old clusters (Caldwell et al. 2011, AJ 141, 61, integrated-light [Fe/H] of their",
        "table 1, with the halo clusters' [Fe/H] from colour-magnitude diagrams in its 2015",
        "version; the shared `caldwell2011-auriga`) gives [Fe/H] for 339 clusters. Each mock",
        "old cluster draws its [Fe/H] from the deciles of its Rproj bin",
        "(`population.cluster_metallicity`; `calibration.caldwell_feh_deciles` measures them,",
        "`tests/test_mock_old_population.py::test_gc_metallicity_deciles_are_caldwell2011s`",
        "re-measures them on the shared file), and its resolved giants follow the luminosity",
        "function of that [Fe/H] (`old_population.cluster_star_bins`: the metal-poor MIST",
        "function at -1.35 and below, the disk's PARSEC functions at -0.44, -0.15 and +0.02,",
        "shared linearly between grid points, at the scaled-solar [M/H] that stands for an",
        f"alpha-enhanced cluster: [Fe/H] + {float(op.cluster_scaled_solar_mh(0.0)):.2f} "
        f"for [alpha/Fe] = +{op.GC_ALPHA_FE:g}, Salaris et al.",
        "1993, ApJ 414, 580; M31's clusters' alpha ratios are like the Milky Way's, Colucci",
        "et al. 2014, ApJ 797, 116, and those are ~ +0.3, Carney 1996). The mock C11 lists",
        f"each cluster's [Fe/H] with a scatter of {C11_FEH_ERROR_DEX:g} dex,",
        "the catalogue's median error. Catalogue / mock draw (the mock's seed, 2,000 clusters",
        "at the bin's centre):",
        "",
        *_feh_table_lines(reference, seed),
        "",
        *_disk_population_lines(),
        "",
        "The bulge keeps the mock's power law, its red",
        f"giants from g = {GIANT_TIP_G:.1f} (the resolved red giants' tip, {RED_GIANT_TIP_G}, made "
        f"{BULGE_TIP_FAINTER_MAG} mag fainter:",
        "Jablonka+ 1999 find the bulge's red giant branch tip 1.3 mag fainter in I at 1.1 kpc",
        "than at 7 kpc, a lower bound in g), normalised to `unresolved_fluctuation_mag`; the spheroid",
        "takes the metal-poor function although Irwin+ 2005 find a V - i of ~1.6 (more",
        "metal-rich) along the minor axis: its brightest giants are too blue and too many in g.",
        "",
    ]
    return lines


#: M31's old disc in Tamm et al. (2012, A&A 546, A4) table 2: stellar mass (Msun) and
#: g-band mass-to-light ratio (Msun / Lsun,g; its B07 model, luminosities from Tempel et
#: al. 2011's SDSS photometry corrected for M31's own dust). The young disc (a ring at
#: 10 kpc) is a separate component there and is left out.
TAMM2012_DISC_MASS_MSUN = 5.6e10
TAMM2012_DISC_ML_G = 5.23
#: The Sun's absolute SDSS g (AB): Willmer (2018, ApJS 236, 47) table 3.
SUN_ABS_G_AB = 5.11
#: Ellipticity of M31's disk on the Spitzer/IRAC image, Courteau et al. (2011, ApJ 739,
#: 20), abstract (0.73 +- 0.03); their disk scale length, 5.3 kpc, is the mock's.
COURTEAU2011_DISK_ELLIPTICITY = 0.73


def disk_central_mu_g(scale_kpc: float) -> float:
    """Sky central g surface brightness (mag arcsec^-2) of an exponential disk holding
    Tamm et al. (2012)'s old-disc g light, with scale length ``scale_kpc`` and Courteau
    et al. (2011)'s ellipticity: ``m + 2.5 log10(2 pi h^2 (1 - e))``, ``h`` in arcsec.

    It is the light of the disc without M31's dust (Tamm et al.'s luminosities are
    corrected for it).
    """
    from pandas_clusters.core.geometry import M31

    lum = TAMM2012_DISC_MASS_MSUN / TAMM2012_DISC_ML_G
    mag = SUN_ABS_G_AB - 2.5 * np.log10(lum) + M31.distance_modulus
    h_arcsec = scale_kpc * 1e3 / M31.pc_per_arcsec
    area = 2.0 * np.pi * h_arcsec**2 * (1.0 - COURTEAU2011_DISK_ELLIPTICITY)
    return float(mag + 2.5 * np.log10(area))


#: Wang et al. (2025, arXiv:2503.18367; abstract): the mean V extinction of M31's member
#: stars over about 10 deg^2 (UKIRT/WFCAM, PS1 and Gaia DR3 photometry), a check of the
#: dust layer's extinction, not an input.
WANG2025_MEAN_AV = 1.17


def _dust_lines(s: MockSettings) -> list[str]:
    """Report lines: M31's dust on its disk's light and on the galaxies behind it."""
    from pandas_clusters.acquire.mock import dust

    radii = (0.0, 3.0, 6.0, 10.0, 13.0, 20.0, 30.0)
    rows = [
        f"| {r:g} | {float(dust.light_extinction_v(r, s.disk_scale_kpc)):.2f} | "
        f"{float(dust.screen_extinction_v(r, s.disk_scale_kpc)):.2f} | "
        f"{float(dust.screen_extinction(r, s.disk_scale_kpc, 'g')):.2f} | "
        f"{float(dust.screen_extinction(r, s.disk_scale_kpc, 'i')):.2f} |"
        for r in radii
    ]
    knots = ", ".join(f"{a} mag at {r:g} kpc" for r, a in dust.LIGHT_EXTINCTION_V)
    return [
        f"M31's dust (`m31_dust` = {str(s.m31_dust).lower()}; `acquire.mock.dust`): the extinction "
        "of the disk's light by M31's",
        "own dust in V is that of the model that corrected it, Tempel, Tamm & Tenjes (2010, A&A",
        f"509, A91; abstract): {knots}",
        '("0.4-0.5 mag at R = 6-13 kpc"), linear between; beyond 13 kpc the dust\'s column',
        f"falls with the dust disc's scale length, {dust.DUST_SCALE_RATIO} times the stars' "
        f"(the same abstract; on the mock's {s.disk_scale_kpc} kpc).",
        "It is laid as a thin layer in the disk's mid-plane, the geometry of",
        "Dalcanton et al. (2015, ApJ 814, 3)'s model of the PHAT stars (an unreddened foreground",
        f"and a reddened background): {dust.REDDENED_FRACTION:.0%} of the disk's stars lie behind "
        "it and are seen through the",
        "whole layer, whose extinction is the one that dims the light by Tempel et al.'s amount;",
        "the background galaxies are seen through the whole layer too. V to the MegaCam bands:",
        "Gordon et al. (2023)'s average Milky Way law (R_V = 3.1, the `dust_extinction` package) at",
        f"the filters' central wavelengths ({dust.CENTRAL_WAVELENGTH_NM['g']:g} and "
        f"{dust.CENTRAL_WAVELENGTH_NM['i']:g} nm): A_g / A_V = {dust.band_ratio('g'):.3f}, "
        f"A_i / A_V = {dust.band_ratio('i'):.3f}.",
        "",
        "| R_disk (kpc) | A_V of the disk's light | A_V of the layer | A_g of the layer | "
        "A_i of the layer |",
        "|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "A check, not an input: the layer's A_V at 6-13 kpc, "
        f"{float(dust.screen_extinction_v(10.0, s.disk_scale_kpc)):.2f}, is of the order of the "
        f"mean A_V = {WANG2025_MEAN_AV}",
        "that Wang et al. (2025, arXiv:2503.18367; abstract) measure over about 10 deg^2 for",
        "M31's member stars bright enough for PS1 and Gaia (young stars, a thinner layer than",
        "the old disk's). The mock's resolved stars, clusters and contaminants keep their magnitudes:",
        "their numbers are calibrated on observed, dust-dimmed counts. The bulge and the",
        "spheroid take no dust.",
        "",
    ]


def _disk_population_lines() -> list[str]:
    """Report lines: the disk's old metal-rich stars, per unit of its light."""
    from pandas_clusters.acquire.mock import old_population as op
    from pandas_clusters.acquire.mock import population as pop
    from pandas_clusters.core.geometry import M31

    s = MockSettings.demo()
    dm = M31.distance_modulus
    grid = op.DISK_METALLICITY_GRID
    disk_bins = [op.star_bins(dm, disk_grid=k) for k in range(grid.size)]
    f = disk_bins[0][0]
    fp, wp, restp = op.star_bins(dm)
    mids = -2.5 * np.log10(f)
    radii = (5.0, 10.0, 20.0, 30.0)
    mu = [s.disk_mu0_g + 2.5 / np.log(10.0) * r / s.disk_scale_kpc for r in radii]
    red = [float(pop._m31_star_densities(np.array([r]), s)[0][0]) for r in radii]

    def sbf(f, w, rest):
        return -2.5 * np.log10(np.sum(w * f) + rest) - dm

    def stars(m, fl, wl, lim):
        return 3600 * 10 ** (-0.4 * m) * np.sum((wl / fl)[-2.5 * np.log10(fl) < lim])

    def disk_stars(m, r, lim):
        shares = op.disk_grid_weights(op.disk_metallicity(r))
        return sum(
            a * stars(m, fl, wl, lim) for a, (fl, wl, _) in zip(shares, disk_bins, strict=True)
        )

    def per_light(fl, wl, bright):
        return np.sum((wl / fl)[mids - dm < bright]) * 10 ** (-0.4 * dm)

    disk_cols = " | ".join(f"disk (PARSEC, [M/H] = {mh:.3f})" for mh in grid)

    published_mu0 = disk_central_mu_g(s.disk_scale_kpc)
    return [
        "M31's disk light: `disk_mu0_g` = "
        f"{s.disk_mu0_g} mag arcsec^-2 at the centre, on the sky, falling with the scale",
        f"length {s.disk_scale_kpc} kpc of Courteau et al. (2011, ApJ 739, 20; abstract), is the",
        "old disc's g light of Tamm et al. (2012, A&A 546, A4, table 2: "
        f"{TAMM2012_DISC_MASS_MSUN:.2g} Msun at",
        f"M/L_g = {TAMM2012_DISC_ML_G}, from Tempel et al. 2011's SDSS photometry; the Sun's "
        f"M_g = {SUN_ABS_G_AB}, Willmer 2018)",
        "spread as that exponential with Courteau et al.'s disk ellipticity "
        f"{COURTEAU2011_DISK_ELLIPTICITY}: {published_mu0:.2f}",
        "(`calibration.disk_central_mu_g`). That light is corrected for M31's dust; the mock",
        "puts the dust back (`m31_dust`, below).",
        "",
        *_dust_lines(s),
        "M31's disk (issue 12, docs/mock-realism.md items 45 and 49): its light is made of an",
        "old metal-rich population, drawn per unit light from luminosity functions measured",
        "the same way on PARSEC v1.2S (Bressan+ 2012), 10 Gyr, UBVRIJHK, asteca/ASteCA",
        "`isochrones/parsec12_ubvrijhk/0.005500.dat`, `0.010500.dat` and `0.015500.dat` (commit",
        "6dfe89d; Z = 0.0055, 0.0105, 0.0155), B and V to g and r by Lupton (2005)'s",
        "transformations (`python -m pandas_clusters.acquire.mock.old_population TABLE 10.0`).",
        "The disk's [M/H] (`old_population.disk_metallicity`): "
        f"{op.DISK_INNER_MH} within {op.DISK_INNER_KPC:g} kpc",
        "(Gunn et al. 2023, arXiv:2304.09901, abstract: APOGEE integrated light of the disk",
        "within ~7 kpc, [M/H] = -0.023 +0.050 -0.052, old at ~12 Gyr), falling outwards by "
        f"{-op.DISK_MH_GRADIENT_DEX_PER_KPC:.3f} dex/kpc",
        "(Gregersen et al. 2015, AJ 150, 189, abstract: PHAT's red giants, -0.020 +- 0.004",
        "dex/kpc from ~4 to 20 kpc), held at the grid's metal-poorest point beyond (the outer",
        "disk: a main component at [Fe/H] ~ -0.6 in HST fields at 4.5-35 kpc, Bellazzini et",
        "al. 2003, A&A 405, 867, abstract; [Fe/H] = -0.9 beyond 15 kpc, Ibata et al. 2005,",
        "ApJ 634, 287, abstract); each pixel's light is shared between the two isochrones",
        "around its [M/H], linearly (`old_population.disk_grid_weights`). The same recipe on",
        "the file set's Z = 0.0005 ([M/H] = -1.49) gives the MIST function above to a few",
        "hundredths in fluctuation magnitude (0.34).",
        "",
        f"| quantity | {disk_cols} | spheroid (MIST, [Fe/H] = -1.35) |",
        "|---|" + "---:|" * (grid.size + 1),
        "| brightest star (absolute g) | "
        + " | ".join(f"{(mids[wl > 0][0] - dm):.2f}" for _, wl, _ in disk_bins)
        + f" | {mids[wp > 0][0] - dm:.2f} (bin centres) |",
        "| fluctuation magnitude (absolute g) | "
        + " | ".join(f"{sbf(*b):.2f}" for b in disk_bins)
        + f" | {sbf(fp, wp, restp):.2f} |",
        "| stars brighter than M_g = 1.5 per unit light (M_g = 0) | "
        + " | ".join(f"{per_light(fl, wl, 1.5):.3f}" for fl, wl, _ in disk_bins)
        + f" | {per_light(fp, wp, 1.5):.3f} |",
        "",
        "On the mock's disk (g surface brightness "
        f"{s.disk_mu0_g} + 1.0857 r / {s.disk_scale_kpc} kpc), per arcmin^2: the old stars",
        "brighter than g = 26 in its texture, and the resolved red giants drawn one by one,",
        "now only those brighter than the old population's brightest star (g = "
        f"{pop.DISK_BRIGHTEST_G:.2f}; their density per magnitude there, and so the LGGS row above, as before):",
        "",
        "| r_disk (kpc) | " + " | ".join(f"{r:g}" for r in radii) + " |",
        "|---|" + "---:|" * len(radii),
        "| mu_g (mag arcsec^-2) | " + " | ".join(f"{m:.2f}" for m in mu) + " |",
        "| disk [M/H] | "
        + " | ".join(f"{float(op.disk_metallicity(r)):.3f}" for r in radii)
        + " |",
        "| old stars g < 26 | "
        + " | ".join(f"{disk_stars(m, r, 26):.0f}" for m, r in zip(mu, radii, strict=True))
        + " |",
        "| resolved red giants | " + " | ".join(f"{n:.1f}" for n in red) + " |",
    ]


# --------------------------------------------------------------------------- issue 12 (mock-labels)


#: The mock's S/N-10 depths before they were set on the MegaCam calculator (issue 12).
DEPTH_BEFORE = {"g": 26.5, "i": 26.0}


def _depth_lines(settings: MockSettings) -> list[str]:
    """The stacks' depth: the MegaCam calculator scaled to the typical PAndAS exposure."""
    lines = [
        "",
        "## Depth of the stacks",
        "",
        "S/N = 10 point-source depth (dark sky) of the typical PAndAS stack: CFHT's MegaCam",
        "exposure time calculator (the DIET page's \"Quick MegaCam photometric performance",
        'table": S/N = 10 in one hour, optimal aperture, 0.8" seeing, airmass 1, for the',
        "first-generation filters g' = g.MP9401 and i' = i.MP9701, the filters of every PAndAS",
        "exposure in McConnachie+ 2018's observing log, with i.MP9702 after i.MP9701 broke in",
        "2007) scaled to the median summed exposure per band of the 406 PAndAS fields (the",
        "same log, J/ApJ/868/55, through the packaged field sheet) and the mock's seeing, on",
        "the sky-limited law `m = m_1h + 1.25 log10(t / 3600 s) + 2.5 log10(FWHM_table / FWHM)`",
        "(`calibration.pandas_depth`).",
        "",
        "| band | calculator, 1 h (FWHM) | PAndAS exposure (fields with it) | mock seeing |"
        " derived depth | mock `depth_mag` |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for band in ("g", "i"):
        mag, fwhm = MEGACAM_ETC_DEPTH[band]
        d = pandas_depth(band, settings.seeing_arcsec[band])
        lines.append(
            f'| {band} | {mag:.1f} ({fwhm:.2f}") | {d["exptime_s"]:.0f} s '
            f'({d["fields_at_median"]} of {d["fields"]}) | {settings.seeing_arcsec[band]:.2f}" | '
            f"{d['depth_mag']:.2f} | {settings.depth_mag[band]:.2f} |"
        )
    depth = {b: pandas_depth(b, settings.seeing_arcsec[b]) for b in ("g", "i")}
    t = depth["g"]["exptime_s"]
    second = {
        b: m
        + 1.25 * np.log10(t / MEGACAM_ETC_EXPOSURE_S)
        + 2.5 * np.log10(f / settings.seeing_arcsec[b])
        for b, (m, f) in MEGACAM_ETC_DEPTH_2015_FILTERS.items()
    }
    longer = {b: 10 ** ((DEPTH_BEFORE[b] - depth[b]["depth_mag"]) / 1.25) for b in ("g", "i")}
    lines += [
        "",
        "The mock's depth is that of PSF photometry; on a sky-limited point source PSF fitting",
        "does at least as well as the optimal aperture, so these depths are lower bounds.",
        "Checks: the same table's columns for the second-generation filters of 2015 on (gS =",
        "g.MP9402, iS = i.MP9703, not PAndAS's; PSF fitting, modal image quality of",
        f"2003-2009, airmass 1.2: gS {MEGACAM_ETC_DEPTH_2015_FILTERS['g'][0]} at "
        f'{MEGACAM_ETC_DEPTH_2015_FILTERS["g"][1]}", iS {MEGACAM_ETC_DEPTH_2015_FILTERS["i"][0]} at '
        f'{MEGACAM_ETC_DEPTH_2015_FILTERS["i"][1]}" in one hour)',
        f"scale to {second['g']:.2f} and {second['i']:.2f} (the mock took them until the",
        "twelfth round of docs/mock-realism.md, item 34); the survey's own planning",
        'page (A. McConnachie, PAndAS "The Science and the Survey") quotes limiting',
        "magnitudes of roughly g = 25.5 and i = 24.5. Before (issue 12, eleventh round of",
        f"docs/mock-realism.md) the mock rendered S/N = 10 at g = {DEPTH_BEFORE['g']} and "
        f"i = {DEPTH_BEFORE['i']}, uncited",
        f"since the project's first commit: on the same law, stacks {longer['g']:.0f} (g) and "
        f"{longer['i']:.0f} (i)",
        f"times longer than the {t:.0f} s PAndAS took.",
        "",
        "`depth_mag` is the typical stack's; each field's moves by its own summed exposure",
        f"t in the field sheet, 1.25 log10(t / {t:.0f} s) (`MockSettings.field_depth`), and its",
        "stack averages its own number of exposures. The demo's fields (g; i):",
        "",
        "| field | exposures, g | depth, g | exposures, i | depth, i |",
        "|---|---:|---:|---:|---:|",
    ]
    for f in settings.fields:
        cells = []
        for b in ("g", "i"):
            n, te = settings.field_exposures(f.id, b)
            cells += [f"{n} x {te / n:.0f} s", f"{settings.field_depth(f.id, b):.2f}"]
        lines.append(f"| {f.id} | " + " | ".join(cells) + " |")
    lines += [
        "",
    ]
    return lines


#: The mock's background galaxy size law before it came from Shen et al. 2003 (issue 12,
#: twelfth round): r_e = 1.2" 10^(-0.12 (g - 20)), lognormal scatter 0.35, unreferenced.
def _size_law_before(g):
    return 1.2 * 10 ** (-0.12 * (np.asarray(g, dtype=float) - 20.0))


def _galaxy_size_lines(settings: MockSettings) -> list[str]:
    """Report lines: the background galaxies' half-light radii and where they come from."""
    from .galaxy_sizes import (
        EARLY_TYPE_LF,
        GALAXY_G_MINUS_R,
        LATE_TYPE_LF,
        SHEN03_EARLY,
        SHEN03_LATE,
        galaxy_half_light_radius,
    )
    from .population import EARLY_TYPE_SERSIC_N, catalogue_truth

    rng = np.random.default_rng([int(settings.seed), 31])
    n = 20000
    gal = catalogue_truth(settings, kinds=("galaxy",))
    lines = [
        "## Background galaxies' sizes",
        "",
        "Each galaxy of apparent g is put at a redshift drawn from the redshift distribution",
        "of galaxies of that magnitude (comoving volume, flat LambdaCDM with H0 = 70 and",
        "Omega_m = 0.3, times its type's Schechter luminosity function in r, r = g - "
        f"{GALAXY_G_MINUS_R}, no evolution, no K-correction): late types (Sersic n 0.6-1.5)",
        f"Blanton et al. 2003's (ApJ 592, 819; M* = {LATE_TYPE_LF['mstar']:.2f} at h = 0.7, "
        f"alpha = {LATE_TYPE_LF['alpha']}),",
        f"early types (n {EARLY_TYPE_SERSIC_N[0]:g}-{EARLY_TYPE_SERSIC_N[1]:g}, Shen et al.'s n > 2.5) 0.45 mag brighter, M* = {EARLY_TYPE_LF['mstar']:.2f}, alpha = "
        f"{EARLY_TYPE_LF['alpha']} (Nakamura et al. 2003,",
        "AJ 125, 1682). Its absolute magnitude there gives the median and lognormal scatter",
        "of its half-light radius in kpc from Shen et al. 2003 (MNRAS 343, 978, table 1; r",
        f"band): late types alpha = {SHEN03_LATE['alpha']}, beta = {SHEN03_LATE['beta']}, "
        f"gamma = {SHEN03_LATE['gamma']}, M0 = {SHEN03_LATE['m0']},",
        f"sigma1 = {SHEN03_LATE['sigma1']}, sigma2 = {SHEN03_LATE['sigma2']}; early types "
        f"a = {SHEN03_EARLY['a']}, b = {SHEN03_EARLY['b']} (the values SkyPy's",
        "size functions carry). Their radii and magnitudes are SDSS Petrosian ones: R50 holds",
        "half the light inside twice the radius where the azimuthally averaged surface",
        "brightness is 0.2 of the mean inside it, in circles. The mock's r_e is along the",
        "major axis and its g total: each galaxy's Petrosian r and R50 are those of its own",
        "elliptical Sersic profile (`galaxy_sizes.petrosian_half_light`; a de Vaucouleurs",
        "profile's Petrosian magnitude misses 0.20 mag, as Graham et al. 2005, AJ 130, 1535,",
        "find, and its R50 is 0.73 r_e; an exponential's R50 is its r_e).",
        "Checks: the mock's galaxies of g = 18 (r = 17.3) lie at a median z of about 0.1,",
        "as the SDSS main sample (r < 17.77) does; at g = 26 a late type's median (no",
        'evolution) is about 0.35", where Smail et al. 1995 find about 0.2" at R ~ 26; every',
        "galaxy, however faint, is drawn with its size (docs/mock-realism.md, item 47).",
        "",
        "| g | median z, late / early | median r_e (round; n = 1 / 3), late / early | mock galaxies' median r_e (major axis) | law before |",
        "|---:|---:|---:|---:|---:|",
    ]
    for g in (16.0, 17.0, 18.0, 19.0, 20.0, 22.0, 24.0):
        cells = []
        for early in (False, True):
            index = np.full(n, 3.0 if early else 1.0)
            r, z = galaxy_half_light_radius(rng, np.full(n, g), early, np.ones(n), index)
            cells.append((float(np.median(z)), float(np.median(r))))
        sel = gal["gmag"].between(g - 0.5, g + 0.5)
        mock = (
            f'{gal.loc[sel, "r_e_arcsec"].median():.2f}" ({int(sel.sum())})' if sel.any() else "-"
        )
        lines.append(
            f"| {g:.0f} | {cells[0][0]:.3f} / {cells[1][0]:.3f} | "
            f'{cells[0][1]:.2f}" / {cells[1][1]:.2f}" | {mock} | {float(_size_law_before(g)):.2f}" |'
        )
    lines += [
        "",
        "The mock galaxies' column: the embedded mock's galaxies within 0.5 mag, all types and",
        "shapes (their number in brackets; the catalogues' galaxies, to g = "
        f"{settings.catalogue_galaxy_faint_mag}).",
        "",
    ]
    return lines


def _foreground_and_galaxy_lines(settings: MockSettings, reference) -> list[str]:
    """Report lines: the Milky Way foreground and the background galaxies in g."""
    lines = [
        "## Milky Way foreground and background galaxies in g",
        "",
        "The foreground row above: the mock's stars with 16 < g < 19.5 per deg^2, measured in",
        f"a box of offsets {FIELD_BOX_DEG} deg far from M31's disk (the mock's foreground is",
        f"uniform; M31's own mock stars are all fainter than g = 19.5) times {W23_AREA_DEG2:g} deg^2.",
        "Calibrated on it: `foreground_density_arcmin2`, the foreground stars per arcmin^2",
        "with 16 < g < 19.5 (the published count, 1.85e6 x 0.99 / 392 deg^2). Not published:",
        "the shape of the luminosity function, dN/dg ~ 10^(0.15 g) over 16-19.5, continued",
        f"to `star_faint_mag` with slope `foreground_faint_slope` = {settings.foreground_faint_slope:g}",
        "dex/mag (Milky Way star counts flatten at faint magnitudes; no count at PAndAS depth",
        "was found), which gives the mock "
        f"{foreground_density_total(settings):.1f} foreground stars per arcmin^2 in all.",
        "",
    ]
    table = None if reference is None else galaxy_counts_by_g(settings, reference)
    if table is None:
        return [*lines, "Galaxy counts: the shared Wang+ 2023 table 8 is absent.", ""]
    lines += [
        f"Background galaxies per deg^2 per 0.5 mag (mock: offsets {GALAXY_BOX_DEG} deg)",
        "against the 20,658 extended Gaia sources of",
        "Wang et al. 2023 (ApJ 954, 206, table 8, 16 < g < 19.5 over ~392 deg^2, shared",
        "reference file): a LOWER bound (Gaia misses most extended galaxies).",
        "",
        "| g | Wang+ 2023 extended (lower bound) | mock galaxies |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {r.g_lo:g}-{r.g_hi:g} | {r.w23_extended:.1f} | {r.mock:.1f} |"
        for r in table.itertuples()
    ]
    return [*lines, "", *_galaxy_count_lines(settings)]


def _galaxy_count_lines(settings: MockSettings) -> list[str]:
    """Report lines: the mock's galaxies per g bin against the HSC and Driver+ 2016 counts."""
    hsc = galaxy_counts_hsc(settings)
    faint = galaxy_counts_faint(settings)
    deep = galaxy_counts_deep(settings)
    lo, hi = settings.galaxy_mag_range
    knots = settings.galaxy_g_counts
    lines = [
        "### Background galaxies per g bin (issue 12, part 2)",
        "",
        f"Reference, 19.5 < g < 25: {HSC_G_SOURCE}. The file holds n(<g) at 0.1-mag steps",
        "from g = 12 to 30; its `data` column is the measured count (its `n(<mag)` column",
        "switches to a power law fainter than g = 25). Used: g = 19.5-25 (brighter, HSC",
        "saturates: its counts at g < 18.5 fall below the Gaia lower bound above; fainter,",
        "`data` flattens with incompleteness). HSC g and MegaCam g are both AB and close in",
        "wavelength; no colour term is applied. This is not a refereed table: it is the count",
        "the LSST DESC uses to validate its mock catalogues (DESCQA, Mao et al. 2018, ApJS",
        "234, 36), measured on public HSC-SSP data.",
        "",
        f"Reference, g > 25: {DRIVER16_SOURCE}. Its F435W set 4 (Hubble",
        "Space Telescope counts reaching F435W = 29) gives 32,079 galaxies per deg^2 in the",
        "24.5-25 bin where HSC g gives 32,758, and rises by 0.24 dex/mag over 25.25-28.75",
        "(least squares; the same file's deeper set 6: 0.27 over 25-29; the HSC file's last",
        "segment, which the mock continued before, 0.386). F435W is bluer than g; no colour",
        "term is applied (about 0.1-0.2",
        "mag for the blue galaxies that dominate here: 0.03-0.05 dex at this slope).",
        "",
        "Calibrated on them: `galaxy_g_counts`, the shape (log10 dN/dg at the 0.5-mag bin",
        f"centres {knots[0][0]:g}-{knots[-1][0]:g}: HSC to 24.75, Driver+ 2016 beyond), and",
        f"`galaxy_density_arcmin2` = {settings.galaxy_density_arcmin2:g} per arcmin^2 (the",
        "ordinary galaxies; with the compact and edge-on fractions the three classes hold",
        f"the knots' {galaxy_g_counts_total(settings):.1f} per arcmin^2 over {lo:g} < g < {hi:g}).",
        "Brighter than g = 19.5 the counts are EXTRAPOLATED with the first segment's slope,",
        "not measured. Mock: galaxies of the three classes per deg^2 per 0.5 mag, measured",
        f"in the box of offsets {GALAXY_BOX_DEG} deg; `tests/test_mock_counts.py` requires",
        "each ratio within a factor 1.5.",
        "",
        "| g | reference | reference (per deg^2) | mock (per deg^2) | mock / reference |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r.g_lo:g}-{r.g_hi:g} | HSC | {r.hsc:,.0f} | {r.mock:,.0f} | {r.ratio:.2f} |"
        for r in hsc.itertuples()
    ]
    lines += [
        f"| {r.g_lo:g}-{r.g_hi:g} | Driver+ 2016 | {r.driver16:,.0f} | {r.mock:,.0f} "
        f"| {r.ratio:.2f} |"
        for r in faint.itertuples()
    ]
    lines += [
        "",
        "All magnitudes the mock draws, per 1-mag bin (mock per deg^2, galaxies drawn in the",
        "box, and the settings' counts; the bins brighter than g = 19.5 are extrapolated):",
        "",
        "| g | mock (per deg^2) | drawn in the box | settings' counts (per deg^2) |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r.g_lo:g}-{r.g_hi:g} | {r.mock:,.0f} | {r.n_drawn:,d} | {r.model:,.0f} |"
        for r in deep.itertuples()
    ]
    return [*lines, ""]


def _label_lines(settings: MockSettings, truth: pd.DataFrame, cats: dict) -> list[str]:
    """Report lines: literature catalogue sizes, AP completeness and label noise."""
    from .labels import (
        AP_COMPLETENESS,
        CATALOGUE_SIZES,
        ap_completeness,
        ap_label_noise,
        mock_catalogue_sizes,
    )

    sizes = mock_catalogue_sizes(cats, truth)
    r = settings.catalogue_radius_deg
    lines = [
        "## Labels: the literature catalogues and the AP list",
        "",
        f"Sizes within the mock's catalogue area ({r:g} deg around M31; the test",
        "`tests/test_mock_labels.py` requires each ratio within a factor 1.5):",
        "",
        "| catalogue | rows | published | in the mock's area | mock | mock / published | source |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for c in CATALOGUE_SIZES:
        m = sizes[c.key]
        lines.append(
            f"| {c.catalogue} | {c.rows} | {c.published} | {c.value:,.0f} ({c.area}) | {m:,d} | "
            f"{m / c.value:.2f} | {c.source} |"
        )
    g_edges = np.arange(19.0, 23.01, 0.5)
    rh_edges = np.array([1.0, 2.0, 3.5, 6.0])
    comp = ap_completeness(cats["phat_clusters"], truth, g_edges, rh_edges)
    lines += [
        "",
        "Completeness of the mock AP list (the training positives): young clusters inside the",
        "PHAT footprint listed in `phat_clusters`, per g bin (rows) and r_h bin (columns).",
        f"Cited: {AP_COMPLETENESS['source']}. Conversion to g: {AP_COMPLETENESS['conversion']}.",
        "",
        "| g | "
        + " | ".join(
            f"r_h {a:g}-{b:g} pc" for a, b in zip(rh_edges[:-1], rh_edges[1:], strict=True)
        )
        + " |",
        "|---|" + "---:|" * (len(rh_edges) - 1),
    ]
    for g_lo in g_edges[:-1]:
        part = comp.loc[comp["g_lo"] == g_lo]
        cells = [
            "-" if np.isnan(x.completeness) else f"{x.completeness:.2f} ({x.n_true})"
            for x in part.itertuples()
        ]
        lines.append(f"| {g_lo:g}-{g_lo + 0.5:g} | " + " | ".join(cells) + " |")
    noise = ap_label_noise(cats["phat_clusters"], truth)
    lines += [
        "",
        f"Label noise of the mock AP list ({noise['n']:,d} entries): {noise['galaxy']:.1%} are",
        f"background galaxies listed as clusters, {noise['spurious']:.1%} match no object",
        "(chosen, not published: `AP_GALAXY_AS_CLUSTER_RATE` and the 0.2 % spurious entries in",
        "`pandas_clusters.acquire.mock.catalogues`; Johnson+ 2015 classify clusters and",
        "background galaxies from the same volunteer votes, so a galaxy can enter the cluster",
        "list; the paper's own contamination figure could not be read through the library).",
        "",
    ]
    return lines
