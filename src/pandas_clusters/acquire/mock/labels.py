"""Labels of the mock survey against the published catalogues (issue 12, item 4).

Two checks of the mock catalogues that :func:`.catalogues.make_catalogues`
draws from the mock truth:

* :data:`CATALOGUE_SIZES`: the size of each literature catalogue (C09, RBC,
  C11, W22, W23, H14) within the mock's catalogue area (``catalogue_radius_deg``
  around M31), each with its source (paper, table, count) and how it was
  brought to that area; :func:`mock_catalogue_sizes` counts the same rows of
  the mock catalogues.
* :data:`AP_COMPLETENESS`: the PHAT Andromeda Project (AP) catalogue's 50 %
  completeness limit; :func:`ap_completeness` measures the completeness of
  the mock AP list (the training positives) per g and r_h bin, and
  :func:`ap_label_noise` the fraction of its entries that are not clusters.

``docs/mock-calibration.md`` (``pandas-clusters mock-calibration``) reports
both; ``tests/test_mock_labels.py`` requires every size within a factor 1.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "AP_COMPLETENESS",
    "CATALOGUE_SIZES",
    "CatalogueSize",
    "ap_completeness",
    "ap_label_noise",
    "g50_of",
    "mock_catalogue_sizes",
    "published_sizes_in_area",
]

_CLUSTERS = ("young_cluster", "globular_cluster")


@dataclass(frozen=True)
class CatalogueSize:
    """A published catalogue size within the mock's catalogue area.

    ``value`` entries of catalogue ``catalogue`` (rows selected by ``rows``)
    lie within ``catalogue_radius_deg`` of M31; ``published`` gives the
    paper's own total and magnitude range, ``area`` how ``value`` follows
    from it, ``source`` paper, table and count.
    """

    key: str
    catalogue: str
    rows: str
    value: float
    published: str
    area: str
    source: str


#: Published sizes of the six literature catalogues within 2.5 deg of M31 (the
#: demo's ``catalogue_radius_deg``). Counts "measured" were counted on the shared
#: reference file named (``published_sizes_in_area`` recounts them).
CATALOGUE_SIZES = (
    CatalogueSize(
        "c09_clusters",
        "c09",
        "entries that are clusters",
        670.0,
        "1,300 objects in the field of M31, 670 of them likely star clusters (the rest stars "
        "and background galaxies); 140 young clusters with ages",
        "the catalogue covers the M31 field (LGS and DSS images), all within the mock's 2.5 deg",
        "Caldwell et al. 2009, AJ 137, 94 (abstract; VizieR J/AJ/137/94)",
    ),
    CatalogueSize(
        "rbc_old_clusters",
        "rbc",
        "f = 1 (old clusters)",
        386.0,
        "1,595 RBC-named objects, 416 of class f = 1 (old clusters); g of the 386 with one: "
        "14.0-20.5, 90 % within 15.5-19.6 (measured)",
        "386 of the 416 lie within 2.5 deg of M31 (measured)",
        "Peacock et al. 2010, MNRAS 402, 803, table 1 (VizieR J/MNRAS/402/803; "
        "../shared/reference/peacock2010-m31gc)",
    ),
    CatalogueSize(
        "rbc_young_clusters",
        "rbc",
        "f = 3 (young clusters)",
        156.0,
        "156 of the 1,595 RBC-named objects are of class f = 3 (young clusters); g of the 153 "
        "with one: 14.9-20.6, 90 % within 17.1-20.2 (measured)",
        "all 156 lie within 2.5 deg of M31 (measured)",
        "Peacock et al. 2010, MNRAS 402, 803, table 1 (VizieR J/MNRAS/402/803; "
        "../shared/reference/peacock2010-m31gc)",
    ),
    CatalogueSize(
        "c11_old_clusters",
        "c11",
        "all entries",
        323.0,
        "323 old clusters with Hectospec spectra (table1.dat); 37 more young and intermediate-age "
        "clusters in table2.dat",
        "all 323 lie within 1.5 deg of M31 (measured)",
        "Caldwell et al. 2011, AJ 141, 61, table 1 (CDS ReadMe J/AJ/141/61: table1.dat, "
        "323 records; ../shared/reference/caldwell2011-auriga)",
    ),
    CatalogueSize(
        "w22_candidates",
        "w22",
        "all entries",
        117.0,
        "117 new cluster candidates from 21,245,632 PAndAS sources (most young disk clusters; "
        "8 halo GC candidates, 3 of them beyond 100 kpc)",
        "at most 3 (those beyond 100 kpc) lie outside 2.5 deg; positions not at hand, so the "
        "whole list (a 3 % overestimate at most) stands for the mock's area",
        "Wang et al. 2022, A&A 658, A51 (abstract; VizieR J/A+A/658/A51)",
    ),
    CatalogueSize(
        "w23_candidates",
        "w23",
        "all entries",
        6.0,
        "50 new GC candidates with 16 < g < 19.5 (Pan-STARRS g) over ~392 deg^2 around M31",
        "6 of the 50 lie within 2.5 deg of M31 (measured)",
        "Wang et al. 2023, ApJ 954, 206, table 10 (VizieR J/ApJ/954/206: table10.dat, 50 "
        "records; ../shared/reference/wang2023-J_ApJ_954_206)",
    ),
    CatalogueSize(
        "h14_clusters",
        "h14",
        "all entries",
        15.0,
        "59 new GCs and 2 candidates in the PAndAS halo out to Rproj ~ 150 kpc; 50 % complete at "
        "M_V ~ -4.1 (V ~ 20.4 at 785 kpc)",
        "15 of the 61 table-1 entries lie within 2.5 deg of M31 (measured on the huxor14_table1 "
        "rows of ../shared/reference/pandas-cutouts-klemenz/catalogues/master_catalog_sept_2024"
        ".csv, the only H14 positions at hand)",
        "Huxor et al. 2014, MNRAS 442, 2165 (abstract; table 1)",
    ),
)

#: The AP catalogue's completeness as used for the mock AP list.
AP_COMPLETENESS = {
    "g50": 22.0,
    "tolerance_mag": 0.25,
    "source": (
        "Johnson et al. 2015, ApJ 802, 127 (abstract; VizieR J/ApJ/802/127): >3000 synthetic "
        "clusters show the AP catalogue 50 % complete down to ~500 Msun for ages < 100 Myr; the "
        "clusters span ~8 mag in F475W"
    ),
    "conversion": (
        "500 Msun at 100 Myr with a mass-to-light ratio of ~0.1-0.2 in g (chosen: typical of "
        "solar-metallicity SSP models at that age) is M_g ~ -4.1 to -3.4 (M_sun,g = 5.11 AB), "
        "g ~ 20.3-21.1 at (m-M)0 = 24.47 before extinction; with A_g ~ 1 in the PHAT disk "
        "(chosen) g ~ 21.3-22.1 AB; the mock keeps g50 = 22.0 (F475W ~ 21.9 Vega) for "
        "r_h = 2 pc. The paper's completeness figures "
        "(completeness against magnitude and size) could not be read through the project's "
        "library: the size dependence (1 mag brighter per dex of r_h) and the label noise are "
        "chosen, not published"
    ),
}


def mock_catalogue_sizes(catalogues: dict, truth: pd.DataFrame) -> dict[str, int]:
    """The mock's number for each :data:`CATALOGUE_SIZES` entry.

    Parameters
    ----------
    catalogues : dict
        Catalogue key -> frame, as :func:`.catalogues.make_catalogues` returns.
    truth : pandas.DataFrame
        The truth the catalogues were drawn from (``obj_id``, ``kind``).
    """
    kind = pd.Series(truth["kind"].astype(str).to_numpy(), index=truth["obj_id"].to_numpy())
    out = {}
    for size in CATALOGUE_SIZES:
        cat = catalogues[size.catalogue]
        if size.rows == "entries that are clusters":
            k = kind.reindex(cat["truth_id"].to_numpy()).to_numpy(dtype=object)
            out[size.key] = int(np.isin(k, _CLUSTERS).sum())
        elif size.rows.startswith("f = "):
            out[size.key] = int((cat["f"] == int(size.rows.split()[2])).sum())
        else:
            out[size.key] = len(cat)
    return out


def _within(ra, dec, radius_deg: float) -> np.ndarray:
    from pandas_clusters.core.geometry import tangent_plane_deg

    xi, eta = tangent_plane_deg(np.asarray(ra, dtype=float), np.asarray(dec, dtype=float))
    return np.hypot(xi, eta) <= radius_deg


def published_sizes_in_area(reference: str | Path, radius_deg: float) -> dict[str, int]:
    """Recount the "measured" :data:`CATALOGUE_SIZES` on the shared reference files.

    Returns a dict with the keys whose file is present: ``rbc_old_clusters``,
    ``rbc_young_clusters`` (Peacock+ 2010 FITS), ``c11_old_clusters``
    (``table1.dat``), ``w23_candidates`` (``table10`` FITS) and
    ``h14_clusters`` (master catalogue rows from ``huxor14_table1``).
    """
    import warnings

    from astropy.coordinates import SkyCoord
    from astropy.io.fits.verify import VerifyWarning
    from astropy.table import Table

    ref = Path(reference)
    out: dict[str, int] = {}
    peacock = ref / "peacock2010-m31gc" / "peacock2010_m31_gc.fits"
    if peacock.is_file():
        with warnings.catch_warnings():
            # the published file's ASCII-table TNULL is wider than its column; harmless here
            warnings.simplefilter("ignore", VerifyWarning)
            t = Table.read(peacock, unit_parse_strict="silent")
        inside = _within(t["RAJ2000"], t["DEJ2000"], radius_deg)
        f = np.asarray(t["f"])
        out["rbc_old_clusters"] = int(((f == 1) & inside).sum())
        out["rbc_young_clusters"] = int(((f == 3) & inside).sum())
    c11 = ref / "caldwell2011-auriga" / "table1.dat"
    if c11.is_file():
        rows = [r for r in c11.read_text(encoding="ascii").splitlines() if r.strip()]
        # CDS ReadMe bytes 13-33: RAh RAm RAs, DE- DEd DEm DEs
        c = SkyCoord([r[12:22] for r in rows], [r[22:33] for r in rows], unit=("hourangle", "deg"))
        out["c11_old_clusters"] = int(_within(c.ra.deg, c.dec.deg, radius_deg).sum())
    w23 = ref / "wang2023-J_ApJ_954_206" / "J_ApJ_954_206_table10.dat.fits"
    if w23.is_file():
        t = Table.read(w23, unit_parse_strict="silent")
        out["w23_candidates"] = int(_within(t["RAdeg"], t["DEdeg"], radius_deg).sum())
    master = ref / "pandas-cutouts-klemenz" / "catalogues" / "master_catalog_sept_2024.csv"
    if master.is_file():
        m = pd.read_csv(master)
        h = m.loc[m["DATATABLE"].astype(str) == "huxor14_table1"]
        out["h14_clusters"] = int(_within(h["RADEG"], h["DECDEG"], radius_deg).sum())
    return out


def ap_completeness(
    catalogue: pd.DataFrame, truth: pd.DataFrame, g_edges, rh_edges
) -> pd.DataFrame:
    """Completeness of the mock AP list for young clusters inside the PHAT footprint.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        The mock ``phat_clusters`` catalogue (``truth_id``).
    truth : pandas.DataFrame
        Truth with ``obj_id``, ``kind``, ``gmag``, ``r_h_pc`` and ``in_phat``.
    g_edges, rh_edges : array-like
        Bin edges in g (AB mag) and r_h (pc).

    Returns
    -------
    pandas.DataFrame
        One row per (g bin, r_h bin): ``g_lo``, ``g_hi``, ``rh_lo``, ``rh_hi``,
        ``n_true``, ``n_listed``, ``completeness`` (NaN where ``n_true`` is 0).
    """
    young = truth.loc[(truth["kind"].astype(str) == "young_cluster") & truth["in_phat"]]
    listed = young["obj_id"].isin(catalogue["truth_id"]).to_numpy()
    g = young["gmag"].to_numpy()
    rh = young["r_h_pc"].to_numpy()
    rows = []
    for g_lo, g_hi in zip(g_edges[:-1], g_edges[1:], strict=True):
        for r_lo, r_hi in zip(rh_edges[:-1], rh_edges[1:], strict=True):
            sel = (g >= g_lo) & (g < g_hi) & (rh >= r_lo) & (rh < r_hi)
            n = int(sel.sum())
            k = int(listed[sel].sum())
            rows.append((g_lo, g_hi, r_lo, r_hi, n, k, k / n if n else np.nan))
    cols = ["g_lo", "g_hi", "rh_lo", "rh_hi", "n_true", "n_listed", "completeness"]
    return pd.DataFrame(rows, columns=cols)


def g50_of(table: pd.DataFrame) -> float:
    """g at which a completeness table (one r_h bin) crosses 50 % (linear interpolation)."""
    t = table.dropna(subset=["completeness"]).sort_values("g_lo")
    mid = 0.5 * (t["g_lo"].to_numpy() + t["g_hi"].to_numpy())
    c = t["completeness"].to_numpy()
    below = np.flatnonzero((c[:-1] >= 0.5) & (c[1:] < 0.5))
    if below.size == 0:
        msg = "completeness never crosses 50 % over the given g bins"
        raise ValueError(msg)
    k = below[0]
    return float(mid[k] + (c[k] - 0.5) / (c[k] - c[k + 1]) * (mid[k + 1] - mid[k]))


def ap_label_noise(catalogue: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Fractions of mock AP entries that are no cluster: galaxies and spurious entries."""
    kind = pd.Series(truth["kind"].astype(str).to_numpy(), index=truth["obj_id"].to_numpy())
    k = kind.reindex(catalogue["truth_id"].to_numpy()).to_numpy(dtype=object)
    n = max(len(catalogue), 1)
    return {
        "n": len(catalogue),
        "galaxy": float((k == "galaxy").sum() / n),
        "spurious": float((catalogue["truth_id"].to_numpy() < 0).sum() / n),
    }
