"""Mock literature catalogues and PHAT cluster lists drawn from the mock truth.

:func:`make_catalogues` turns the truth table of the simulated sky (young and
globular clusters, background galaxies; ``docs/data-model.md``, "Mock
truth") into the eight catalogues the pipeline reads, each a DataFrame with
the normalised columns ``name`` (string), ``ra_deg``, ``dec_deg`` (float64,
ICRS deg), ``truth_id`` (int64, the truth ``obj_id``; -1 for a spurious
entry), followed by the columns of the catalogue's VizieR table under their
VizieR names (:data:`ORIGINAL_COLUMNS`, units in :data:`ORIGINAL_UNITS`).

Selection model
---------------
Each catalogue has a :class:`Selection` (fields of :class:`CatalogueSettings`,
all with defaults). A truth object of kind ``k`` and total g magnitude ``g``
enters with probability::

    p = rate[k] / (1 + exp((g - g50) / g_width)) * radial(rproj_kpc)

where ``radial`` is 1, or the logistic ``1 / (1 + exp(-(R - rproj50_kpc) /
rproj_width_kpc))`` where ``rproj50_kpc`` is set (H14's halo clusters),
times ``exp(-R / scale)`` for the kinds listed in ``rproj_scale_kpc`` (the
RBC's stars, taken for clusters where the candidate searches looked: the disk),
restricted to ``g_range`` and, for the PHAT lists, to the footprint. Listed
positions carry a Gaussian error of ``scatter_arcsec`` per coordinate
(tangent plane), magnitudes one of ``mag_scatter``. A catalogue may add
``spurious_fraction`` x (number selected) entries that match no truth
object (``truth_id = -1``), and may cap its length at ``max_entries``
(keeping a random subset). The defaults:

``phat_clusters`` (J/ApJ/802/127, Johnson+ 2015, Andromeda Project clusters)
    Young and globular clusters (rate 0.97) inside the footprint, 50 %
    complete at g = 22 (width 0.35 mag) for r_h = 2 pc, 1 mag brighter per
    dex of r_h above that (``g50_size_slope``), 0.1" scatter, 0.2 % spurious
    entries placed at random inside the footprint, and label noise: background
    galaxies listed as clusters (rate 0.03, same magnitude cut): the training
    positives (docs/mock-calibration.md).
``phat_galaxies`` (the AP background-galaxy list)
    Galaxies inside the footprint (rate 0.9, g50 = 22.5, 0.1").
``rbc`` (Revised Bologna Catalogue; column layout of J/MNRAS/402/803, the
    RBC-named table of Peacock+ 2010)
    Globular clusters 0.9, young clusters 0.11; g50 = 19.5; 0.3". Like the real
    RBC it also lists contaminants, with their RBC classes in ``f``
    (:data:`RBC_CLASS`): background galaxies (4), HII regions (5), stars (6:
    Milky Way foreground and M31, rate 0.089 x exp(-Rproj / 6.5 kpc)), asterisms
    (7), at rates that give the mock RBC about the real RBC v5's counts of
    each class (docs/mock-calibration.md, "Contaminants").
``c09`` (J/AJ/137/94, Caldwell+ 2009)
    Globular clusters 0.8, young clusters 0.15; g50 = 19.3; 0.2".
``c11`` (J/AJ/141/61 table1, Caldwell+ 2011, old clusters)
    Globular clusters 0.7, young clusters 0.02; g50 = 19.0; 0.15".
``w22`` (J/A+A/658/A51, Wang+ 2022, new candidates)
    Young clusters 0.04, globular clusters 0.01, g50 = 20.5, 0.2", none
    already in RBC, C09 or C11 (they are new), plus 10 % spurious entries
    (blends): positions 30-180" from a random young cluster.
``w23`` (J/ApJ/954/206 table10, Wang+ 2023, new GC candidates)
    Globular clusters (rate 0.35) with 16 < g < 19.5 not in RBC, C09 or C11,
    at most 9 (Zhang+ 2025 store W23 as I1), 0.15".
``h14`` (Huxor+ 2014, PAndAS halo globular clusters)
    Globular clusters with rate 0.95 x logistic in Rproj (50 % at 28 kpc,
    width 3 kpc), at most 99, 0.1".

Names
-----
Every cluster listed in RBC, C09, C11 or H14 gets one identity, shared by
all catalogues, built the way the real names are (checked against the C11
``table1.dat``/``table2.dat`` (J/AJ/141/61) and Peacock et al. 2010's RBC-named
table (J/MNRAS/402/803)):

* H14 members are ``PAndAS-NN`` (numbered by RA) everywhere.
* Others get an RBC main name: Bologna ``B123`` (``B123D`` for the BolD
  list), numbered by RA like Battistini's lists, or, for young clusters,
  ``SK045A``, ``M012``, ``KHM31-74``, ``DAO38``; Bologna objects may carry a
  secondary designation (Sargent ``G045``, or ``D058``, ``V013``).
* RBC's ``Name`` is the main name alone (``B123``, <= 9 characters, as in
  Peacock's table and Zhang+ 2025's A9 column); C09 and C11 write main and
  secondary joined by a dash (``B123-G045``, <= 10 characters, Zhang's A10).
* Young clusters only in C09 get Massey's positional Local Group Survey
  name ``LGSHMMSS.S_DDMMSS`` (17 characters, Zhang's A17).
* W22 and W23 names are integers (``ID`` and ``Seq``, by RA); PHAT names
  are the Andromeda Project ``APID``, one number space for both PHAT lists.

Determinism: the selection of catalogue ``k`` (index in
:data:`CATALOGUES`) uses ``numpy.random.default_rng([seed, k])``, the
names ``[seed, 8]`` and the AP IDs ``[seed, 9]``; the truth is processed
in ``obj_id`` order, so the result does not depend on its row order.
Columns whose VizieR layout could not be checked against a real file are
marked so in :data:`CATALOGUE_SOURCES`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import Angle, SkyCoord

from pandas_clusters.core.catalogues import CATALOGUES
from pandas_clusters.core.footprint import in_footprint
from pandas_clusters.core.geometry import M31, projected_radius_kpc

from .population import cluster_metallicity, metallicity_quantile

__all__ = [
    "CATALOGUES",
    "CATALOGUE_SOURCES",
    "RBC_CLASS",
    "NORMALISED_COLUMNS",
    "ORIGINAL_COLUMNS",
    "ORIGINAL_UNITS",
    "CatalogueSettings",
    "Selection",
    "catalogue_metadata",
    "empty_catalogue",
    "make_catalogues",
]

#: Catalogue keys, in the order that seeds their random streams.

#: Normalised columns every catalogue starts with.
NORMALISED_COLUMNS = {
    "name": "string",
    "ra_deg": "float64",
    "dec_deg": "float64",
    "truth_id": "int64",
}

#: VizieR columns (name -> pandas dtype) of each catalogue, in table order.
ORIGINAL_COLUMNS: dict[str, dict[str, str]] = {
    "phat_clusters": {
        "APID": "int32",
        "RAdeg": "float64",
        "DEdeg": "float64",
        "Reff": "float64",
        "F475W": "float64",
        "e_F475W": "float64",
        "F814W": "float64",
        "e_F814W": "float64",
    },
    "phat_galaxies": {"APID": "int32", "RAdeg": "float64", "DEdeg": "float64"},
    "c09": {"Name": "string", "RAJ2000": "string", "DEJ2000": "string", "Vmag": "float64"},
    "rbc": {
        "Name": "string",
        "RAJ2000": "float64",
        "DEJ2000": "float64",
        "f": "int16",
        "gmag": "float64",
        "e_gmag": "float64",
        "g-r": "float64",
        "r-i": "float64",
        "rh": "float64",
    },
    "c11": {
        "Name": "string",
        "RAJ2000": "string",
        "DEJ2000": "string",
        "E(B-V)": "float64",
        "Vel": "float64",
        "e_Vel": "int16",
        "logM": "float64",
        "[Fe/H]": "float64",
        "Age": "float64",
    },
    "w22": {
        "ID": "int16",
        "RAdeg": "float64",
        "DEdeg": "float64",
        "gmag": "float64",
        "imag": "float64",
    },
    "w23": {
        "Seq": "int16",
        "RAdeg": "float64",
        "DEdeg": "float64",
        "Gmag": "float64",
        "gmag": "float64",
        "g-r": "float64",
        "E(BP/RP)": "float64",
        "Gp-G": "float64",
        "Pext": "float64",
        "PGC": "float64",
    },
    "h14": {
        "Name": "string",
        "RAJ2000": "string",
        "DEJ2000": "string",
        "Rproj": "float64",
        "gmag": "float64",
        "imag": "float64",
    },
}

#: Units of the VizieR columns (VizieR spelling; absent = dimensionless / text).
ORIGINAL_UNITS: dict[str, dict[str, str]] = {
    "phat_clusters": {
        "RAdeg": "deg",
        "DEdeg": "deg",
        "Reff": "arcsec",
        "F475W": "mag",
        "e_F475W": "mag",
        "F814W": "mag",
        "e_F814W": "mag",
    },
    "phat_galaxies": {"RAdeg": "deg", "DEdeg": "deg"},
    "c09": {"RAJ2000": "h:m:s", "DEJ2000": "d:m:s", "Vmag": "mag"},
    "rbc": {
        "RAJ2000": "deg",
        "DEJ2000": "deg",
        "gmag": "mag",
        "e_gmag": "mag",
        "g-r": "mag",
        "r-i": "mag",
        "rh": "pc",
    },
    "c11": {
        "RAJ2000": "h:m:s",
        "DEJ2000": "d:m:s",
        "E(B-V)": "mag",
        "Vel": "km/s",
        "e_Vel": "km/s",
        "logM": "[Msun]",
        "[Fe/H]": "[Sun]",
        "Age": "Gyr",
    },
    "w22": {"RAdeg": "deg", "DEdeg": "deg", "gmag": "mag", "imag": "mag"},
    "w23": {
        "RAdeg": "deg",
        "DEdeg": "deg",
        "Gmag": "mag",
        "gmag": "mag",
        "g-r": "mag",
        "E(BP/RP)": "[-]",
        "Gp-G": "mag",
    },
    "h14": {
        "RAJ2000": "h:m:s",
        "DEJ2000": "d:m:s",
        "Rproj": "kpc",
        "gmag": "mag",
        "imag": "mag",
    },
}

#: Where each catalogue comes from and how sure its column layout is.
CATALOGUE_SOURCES: dict[str, dict[str, str]] = {
    "phat_clusters": {
        "reference": "Johnson et al. 2015, ApJ 802, 127",
        "vizier": "J/ApJ/802/127",
        "layout": "APID, RAdeg, DEdeg, Reff (arcsec), F475W seen in a public script reading "
        "the VizieR FITS of table2; errors and F814W (Vega mag) assumed",
    },
    "phat_galaxies": {
        "reference": "Johnson et al. 2015, ApJ 802, 127 (background galaxies)",
        "vizier": "J/ApJ/802/127",
        "layout": "APID, RAdeg, DEdeg assumed by analogy with the cluster table",
    },
    "c09": {
        "reference": "Caldwell et al. 2009, AJ 137, 94",
        "vizier": "J/AJ/137/94",
        "layout": "Name (A17, as in Zhang+ 2025), RAJ2000/DEJ2000 sexagesimal as VizieR "
        "serves RAh..DEs; Vmag assumed",
    },
    "rbc": {
        "reference": "Galleti et al. 2004, A&A 416, 917 (RBC)",
        "vizier": "J/A+A/416/917",
        "layout": "columns of J/MNRAS/402/803 table1 (Peacock+ 2010, RBC names), checked "
        "against its VizieR FITS",
    },
    "c11": {
        "reference": "Caldwell et al. 2011, AJ 141, 61",
        "vizier": "J/AJ/141/61",
        "layout": "table1 labels from its CDS ReadMe; RAh..DEs served as RAJ2000/DEJ2000",
    },
    "w22": {
        "reference": "Wang et al. 2022, A&A 658, A51",
        "vizier": "J/A+A/658/A51",
        "layout": "integer ID (as in Zhang+ 2025); other columns assumed",
    },
    "w23": {
        "reference": "Wang et al. 2023, ApJ 954, 206",
        "vizier": "J/ApJ/954/206",
        "layout": "table10 labels and units from its CDS ReadMe",
    },
    "h14": {
        "reference": "Huxor et al. 2014, MNRAS 442, 2165",
        "vizier": "J/MNRAS/442/2165",
        "layout": "Name 'PAndAS-NN' (A9, as in Zhang+ 2025); other columns assumed",
    },
}

_YOUNG = "young_cluster"
_GC = "globular_cluster"
#: The median error of the CfA old-cluster catalogue's [Fe/H] (Caldwell et al. 2011 and its
#: 2015 version, 339 clusters with one; ``calibration.read_caldwell_old_clusters``, which
#: the tests re-measure): the mock C11's [Fe/H] scatter by it around the clusters' own.
C11_FEH_ERROR_DEX = 0.14
_GALAXY = "galaxy"

# contaminants in the RBC (issue 12, part 3)
#: RBC class codes of the non-cluster truth kinds. 4 (background galaxy), 5 (HII region)
#: and 6 (star) are the codes of both Peacock+ 2010's ``f`` (J/MNRAS/402/803) and the RBC v5
#: ``CLASS``; 7 (asterism) is RBC v5's (Peacock's f has no asterism class).
RBC_CLASS = {
    "galaxy": 4,
    "compact_galaxy": 4,
    "edge_on_galaxy": 4,
    "hii_region": 5,
    "star": 6,
    "bright_star": 6,
    "asterism": 7,
}
#: Inclusion rates of the contaminants in the mock RBC (same g completeness as its clusters),
#: set so that the demo's catalogue truth gives about the real RBC v5's 436 galaxies,
#: 20 HII regions, 708 stars and 2 asterisms (docs/mock-calibration.md, "Contaminants").
_RBC_CONTAMINANT_RATES = (
    ("galaxy", 0.05),
    ("compact_galaxy", 0.05),
    ("edge_on_galaxy", 0.05),
    ("hii_region", 0.94),
    ("star", 0.089),
    ("asterism", 0.02),
)
#: The RBC's stars fall off with Rproj on this scale (kpc): the median Rproj of the mock
#: RBC's stars is then the real RBC v5 class 6's, 8.3 kpc (docs/mock-calibration.md).
RBC_STAR_RPROJ_SCALE_KPC = 6.5

# issue 12, item 4 (mock-labels): label realism of the mock AP (PHAT) cluster list.
#: Chosen, not published: brightening of the AP 50 % magnitude per dex of cluster
#: half-light radius (diffuse clusters are harder to find at a fixed total magnitude).
AP_G50_SIZE_SLOPE = 1.0
#: Chosen, not published: probability that a background galaxy inside the footprint
#: (before the magnitude cut) is listed as a cluster: the AP's disputed objects
#: (Johnson+ 2015 list clusters and background galaxies from the same votes).
AP_GALAXY_AS_CLUSTER_RATE = 0.03


@dataclass(frozen=True)
class Selection:
    """How one catalogue samples the truth (see the module docstring).

    Attributes
    ----------
    rates : tuple of (kind, float)
        Highest inclusion probability per truth ``kind`` (others: 0).
    g50 : float
        g magnitude (AB) at which the completeness is half of ``rates``.
    g_width : float
        Width of the logistic completeness in g, mag.
    g_range : (float, float)
        Hard g window (AB mag); objects outside are never listed.
    rproj50_kpc : float or None
        If set, completeness also rises with Rproj as a logistic, half at
        this projected radius (kpc).
    rproj_width_kpc : float
        Width of that logistic, kpc.
    rproj_scale_kpc : tuple of (kind, float)
        Per truth ``kind``, the rate falls as ``exp(-Rproj / scale)`` (kpc).
    scatter_arcsec : float
        Gaussian positional error per coordinate, arcsec.
    mag_scatter : float
        Gaussian photometric error of listed magnitudes, mag.
    spurious_fraction : float
        Expected spurious entries per selected object.
    max_entries : int or None
        Keep at most this many true entries (a random subset).
    in_footprint : bool
        Only objects (and listed positions) inside the PHAT footprint.
    exclude_known : bool
        Drop objects listed in RBC, C09 or C11 (catalogues of new objects).
    g50_size_slope : float
        Issue 12, item 4 (labels): the 50 % magnitude brightens by this many
        mag per dex of half-light radius above ``rh_ref_pc`` (diffuse, larger
        clusters are harder to find at a fixed total magnitude); 0 = no size
        dependence. Objects without a radius (galaxies) use ``g50``.
    rh_ref_pc : float
        Half-light radius (pc) at which the 50 % magnitude is ``g50``.
    """

    rates: tuple[tuple[str, float], ...]
    g50: float = 19.5
    g_width: float = 0.5
    g_range: tuple[float, float] = (-math.inf, math.inf)
    rproj50_kpc: float | None = None
    rproj_width_kpc: float = 3.0
    rproj_scale_kpc: tuple[tuple[str, float], ...] = ()
    scatter_arcsec: float = 0.2
    mag_scatter: float = 0.05
    spurious_fraction: float = 0.0
    max_entries: int | None = None
    in_footprint: bool = False
    exclude_known: bool = False
    # issue 12, item 4 (mock-labels): completeness in size as well as magnitude
    g50_size_slope: float = 0.0
    rh_ref_pc: float = 2.0

    def __post_init__(self):
        for kind, rate in self.rates:
            if not 0.0 <= rate <= 1.0:
                msg = f"selection rate for {kind!r} must lie in [0, 1], got {rate}"
                raise ValueError(msg)
        if self.g_width <= 0 or self.rproj_width_kpc <= 0:
            msg = "selection widths g_width and rproj_width_kpc must be positive"
            raise ValueError(msg)
        for kind, scale in self.rproj_scale_kpc:
            if not scale > 0:
                msg = f"selection rproj_scale_kpc for {kind!r} must be positive, got {scale}"
                raise ValueError(msg)
        if self.rh_ref_pc <= 0:
            msg = f"selection rh_ref_pc must be positive, got {self.rh_ref_pc}"
            raise ValueError(msg)
        if self.scatter_arcsec < 0 or self.mag_scatter < 0 or self.spurious_fraction < 0:
            msg = "scatter_arcsec, mag_scatter and spurious_fraction must be >= 0"
            raise ValueError(msg)

    def probability(
        self,
        kind: np.ndarray,
        gmag: np.ndarray,
        rproj_kpc: np.ndarray,
        r_h_pc: np.ndarray | None = None,
    ) -> np.ndarray:
        """Inclusion probability of truth objects (before footprint and exclusions).

        ``r_h_pc`` (half-light radius, pc; NaN where none) shifts the 50 %
        magnitude by ``g50_size_slope`` mag per dex about ``rh_ref_pc``.
        """
        rate = np.zeros(len(kind))
        for k, r in self.rates:
            rate[np.asarray(kind == k)] = r
        for k, scale in self.rproj_scale_kpc:
            sel = np.asarray(kind == k)
            rate[sel] *= np.exp(-np.asarray(rproj_kpc, dtype=float)[sel] / scale)
        g50 = np.full(len(kind), self.g50)
        if r_h_pc is not None and self.g50_size_slope:
            rh = np.asarray(r_h_pc, dtype=float)
            ok = np.isfinite(rh) & (rh > 0)
            g50[ok] -= self.g50_size_slope * np.log10(rh[ok] / self.rh_ref_pc)
        with np.errstate(over="ignore"):
            p = rate / (1.0 + np.exp((gmag - g50) / self.g_width))
            if self.rproj50_kpc is not None:
                p = p / (1.0 + np.exp(-(rproj_kpc - self.rproj50_kpc) / self.rproj_width_kpc))
        lo, hi = self.g_range
        p[~((gmag > lo) & (gmag < hi))] = 0.0
        return np.nan_to_num(p, nan=0.0)


def _sel(**kw) -> Selection:
    return Selection(**kw)


@dataclass(frozen=True)
class CatalogueSettings:
    """Selections of the eight mock catalogues and the naming mix.

    Attributes
    ----------
    phat_clusters, phat_galaxies, c09, rbc, c11, w22, w23, h14 : Selection
        One per catalogue; defaults as in the module docstring.
    young_families : tuple of (str, float)
        Relative frequency of RBC name families for young clusters.
    bologna_d_fraction : tuple of (kind, float)
        Fraction of Bologna-named objects on the BolD list (``B123D``).
    secondary_fraction : tuple of (kind, float)
        Fraction of Bologna-named objects with a secondary designation.
    """

    # issue 12, item 4 (mock-labels): the AP catalogue's completeness in magnitude and
    # size, and its label noise (galaxies listed as clusters); docs/mock-calibration.md
    phat_clusters: Selection = field(
        default_factory=lambda: _sel(
            rates=((_YOUNG, 0.97), (_GC, 0.97), (_GALAXY, AP_GALAXY_AS_CLUSTER_RATE)),
            g50=22.0,
            g_width=0.35,
            g50_size_slope=AP_G50_SIZE_SLOPE,
            rh_ref_pc=2.0,
            scatter_arcsec=0.1,
            mag_scatter=0.03,
            spurious_fraction=0.002,
            in_footprint=True,
        )
    )
    phat_galaxies: Selection = field(
        default_factory=lambda: _sel(
            # every galaxy kind: the compact and edge-on galaxies of issue 12 are galaxies too
            rates=((_GALAXY, 0.9), ("compact_galaxy", 0.9), ("edge_on_galaxy", 0.9)),
            g50=22.5,
            g_width=0.4,
            scatter_arcsec=0.1,
            in_footprint=True,
        )
    )
    c09: Selection = field(
        default_factory=lambda: _sel(
            rates=((_GC, 0.8), (_YOUNG, 0.15)), g50=19.3, g_width=0.4, scatter_arcsec=0.2
        )
    )
    # issue 12, item 4 (mock-labels): the literature catalogues' sizes within the mock's
    # area, docs/mock-calibration.md (RBC young clusters, W22, W23 and H14 rates)
    rbc: Selection = field(
        default_factory=lambda: _sel(
            rates=((_GC, 0.9), (_YOUNG, 0.11), *_RBC_CONTAMINANT_RATES),
            rproj_scale_kpc=(("star", RBC_STAR_RPROJ_SCALE_KPC),),
            g50=19.5,
            g_width=0.5,
            scatter_arcsec=0.3,
        )
    )
    c11: Selection = field(
        default_factory=lambda: _sel(
            rates=((_GC, 0.7), (_YOUNG, 0.02)), g50=19.0, g_width=0.4, scatter_arcsec=0.15
        )
    )
    w22: Selection = field(
        default_factory=lambda: _sel(
            rates=((_YOUNG, 0.04), (_GC, 0.01)),
            g50=20.5,
            g_width=0.4,
            scatter_arcsec=0.2,
            spurious_fraction=0.1,
            exclude_known=True,
        )
    )
    w23: Selection = field(
        default_factory=lambda: _sel(
            rates=((_GC, 0.35),),
            g50=30.0,
            g_range=(16.0, 19.5),
            scatter_arcsec=0.15,
            max_entries=9,
            exclude_known=True,
        )
    )
    h14: Selection = field(
        default_factory=lambda: _sel(
            rates=((_GC, 0.95),),
            g50=22.5,
            rproj50_kpc=28.0,
            rproj_width_kpc=3.0,
            scatter_arcsec=0.1,
            max_entries=99,
        )
    )
    young_families: tuple[tuple[str, float], ...] = (
        ("B", 0.4),
        ("SK", 0.2),
        ("M", 0.15),
        ("KHM31", 0.15),
        ("DAO", 0.1),
    )
    bologna_d_fraction: tuple[tuple[str, float], ...] = ((_GC, 0.08), (_YOUNG, 0.5))
    secondary_fraction: tuple[tuple[str, float], ...] = ((_GC, 0.7), (_YOUNG, 0.3))

    def selection(self, name: str) -> Selection:
        """The :class:`Selection` of catalogue ``name``."""
        if name not in CATALOGUES:
            msg = f"unknown catalogue {name!r}; expected one of {CATALOGUES}"
            raise ValueError(msg)
        return getattr(self, name)

    def replace_selection(self, name: str, **changes) -> CatalogueSettings:
        """A copy with fields of catalogue ``name``'s :class:`Selection` changed.

        Example: ``CatalogueSettings().replace_selection("c09", scatter_arcsec=0.5)``.
        """
        new = dataclasses.replace(self.selection(name), **changes)
        return dataclasses.replace(self, **{name: new})


def catalogue_metadata(name: str, *, mock: bool = True) -> dict:
    """File metadata for a catalogue Parquet file (for ``io.write_parquet``).

    Returns
    -------
    dict
        ``catalogue``, ``mock``, ``vizier``, ``reference``, ``layout`` and
        ``units`` (VizieR column -> unit).
    """
    if name not in CATALOGUES:
        msg = f"unknown catalogue {name!r}; expected one of {CATALOGUES}"
        raise ValueError(msg)
    return {
        "catalogue": name,
        "mock": bool(mock),
        **CATALOGUE_SOURCES[name],
        "units": dict(ORIGINAL_UNITS[name]),
    }


def empty_catalogue(name: str) -> pd.DataFrame:
    """A zero-row catalogue with the full schema of ``name``."""
    if name not in CATALOGUES:
        msg = f"unknown catalogue {name!r}; expected one of {CATALOGUES}"
        raise ValueError(msg)
    cols = {**NORMALISED_COLUMNS, **ORIGINAL_COLUMNS[name]}
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in cols.items()})


# --------------------------------------------------------------------------- helpers


def _per_kind(pairs, kind: np.ndarray) -> np.ndarray:
    out = np.zeros(len(kind))
    for k, v in pairs:
        out[np.asarray(kind == k)] = v
    return out


def _scatter(rng, ra, dec, sigma_arcsec):
    n = len(ra)
    dx = rng.normal(0.0, sigma_arcsec, n) / 3600.0
    dy = rng.normal(0.0, sigma_arcsec, n) / 3600.0
    new_dec = dec + dy
    new_ra = (ra + dx / np.cos(np.deg2rad(new_dec))) % 360.0
    return new_ra, new_dec


def _sexagesimal(ra, dec, *, ra_precision: int, dec_precision: int):
    """VizieR-style 'hh mm ss.ss' / '+dd mm ss.s' strings and the degrees they encode."""
    if len(ra) == 0:
        return np.array([], dtype=object), np.array([], dtype=object), np.array([]), np.array([])
    ra_s = Angle(ra * u.deg).to_string(unit=u.hour, sep=" ", precision=ra_precision, pad=True)
    de_s = Angle(dec * u.deg).to_string(
        unit=u.deg, sep=" ", precision=dec_precision, pad=True, alwayssign=True
    )
    ra_s = np.atleast_1d(ra_s).astype(object)
    de_s = np.atleast_1d(de_s).astype(object)
    back = SkyCoord(list(ra_s), list(de_s), unit=(u.hourangle, u.deg), frame="icrs")
    return ra_s, de_s, back.ra.deg, back.dec.deg


def _lgs_names(ra, dec):
    """Massey LGS-style positional names 'LGSHMMSS.S_DDMMSS' (17 characters, Dec >= 0)."""
    names = []
    for r, d in zip(ra, dec, strict=True):
        tot = round(r / 15.0 * 3600.0, 1) % 86400.0
        h = int(tot // 3600)
        m = int((tot - 3600 * h) // 60)
        s = tot - 3600 * h - 60 * m
        dt = int(round(abs(d) * 3600.0))
        dd, rem = divmod(dt, 3600)
        dm, ds = divmod(rem, 60)
        sign = "" if d >= 0 else "-"
        names.append(f"LGS{h % 10:1d}{m:02d}{s:04.1f}_{sign}{dd:02d}{dm:02d}{ds:02d}")
    return np.array(names, dtype=object)


def _ranks_by_ra(ra: np.ndarray, rng, *, max_gap: int) -> np.ndarray:
    """Running numbers in RA order, with random gaps (1..max_gap) like real lists."""
    order = np.argsort(ra, kind="stable")
    steps = rng.integers(1, max_gap + 1, len(ra))
    nums = np.empty(len(ra), dtype=np.int64)
    nums[order] = np.cumsum(steps)
    return nums


def _number_by_ra(out, mask, ra, rng, fmt, *, few: int, gap: int) -> None:
    """Write ``fmt.format(k)`` into ``out`` where ``mask``, ``k`` numbered by RA.

    Numbers step by 1..``gap`` while fewer than ``few`` objects share the
    format, by 1 otherwise (:func:`_ranks_by_ra`). ``fmt`` is a format string
    or a callable ``(row, k) -> name``.
    """
    idx = np.flatnonzero(mask)
    nums = _ranks_by_ra(ra[idx], rng, max_gap=gap if idx.size < few else 1)
    for i, k in zip(idx, nums, strict=True):
        out[i] = fmt(i, k) if callable(fmt) else fmt.format(k)


def _name_families(rbc_style, young, u_family, settings) -> np.ndarray:
    """RBC name family per row ('' where none): Bologna for old clusters, a mix for young."""
    fam = np.full(len(young), "", dtype=object)
    fam[rbc_style & ~young] = "B"
    names_, weights = zip(*settings.young_families, strict=True)
    cum = np.cumsum(np.asarray(weights, dtype=float))
    cum /= cum[-1]
    pick = np.searchsorted(cum, u_family, side="right").clip(0, len(names_) - 1)
    sel = rbc_style & young
    fam[sel] = np.asarray(names_, dtype=object)[pick[sel]]
    return fam


def _young_name(family: str, fmt: str, u_suffix):
    """Namer ``(row, k) -> name`` of a young-cluster family (SK suffix A/B; <= 9 characters)."""

    def name(i, k):
        text = fmt.format(k)
        if family == "SK":
            text += "A" if u_suffix[i] < 0.8 else "B"
        return text if len(text) <= 9 else f"K{k:d}"

    return name


def _unique_lgs(lgs, only_c09) -> None:
    """Make positional names unique: nudge the Dec seconds of a repeated name (in place)."""
    seen: set[str] = set()
    for i in np.flatnonzero(only_c09):
        name = lgs[i]
        while name in seen:
            ds = (int(name[-2:]) + 1) % 60
            name = f"{name[:-2]}{ds:02d}"
        seen.add(name)
        lgs[i] = name


def _identities(truth: pd.DataFrame, members: Mapping[str, np.ndarray], rng, settings):
    """Main and secondary designations (object arrays, '' where none) per truth row."""
    n = len(truth)
    kind = truth["kind"].to_numpy(dtype=object)
    ra = truth["ra"].to_numpy()
    dec = truth["dec"].to_numpy()
    main = np.full(n, "", dtype=object)
    second = np.full(n, "", dtype=object)
    lgs = np.full(n, "", dtype=object)

    # uniform draws for every row, so that choices do not depend on membership counts
    u_family, u_dlist, u_second, u_second_kind, u_suffix = (rng.random(n) for _ in range(5))

    h14 = members["h14"]
    idx = np.flatnonzero(h14)
    if idx.size:
        order = idx[np.argsort(ra[idx], kind="stable")]
        for k, i in enumerate(order, start=1):
            main[i] = f"PAndAS-{k:02d}"

    named = (members["rbc"] | members["c09"] | members["c11"]) & ~h14
    young = kind == _YOUNG
    only_c09 = members["c09"] & ~members["rbc"] & ~members["c11"] & young & ~h14
    lgs[only_c09] = _lgs_names(ra[only_c09], dec[only_c09])
    # families: globular clusters are Bologna-named, young clusters a mix
    fam = _name_families(named & ~only_c09, young, u_family, settings)

    is_b = fam == "B"
    d_list = is_b & (u_dlist < _per_kind(settings.bologna_d_fraction, kind))
    for mask, fmt in ((is_b & ~d_list, "B{:03d}"), (d_list, "B{:03d}D")):
        _number_by_ra(main, mask, ra, rng, fmt, few=450, gap=2)
    # secondary designations for Bologna objects: Sargent G (old) or D / V
    has2 = is_b & (u_second < _per_kind(settings.secondary_fraction, kind))
    g_like = has2 & ((kind != _YOUNG) | (u_second_kind < 0.3))
    _number_by_ra(second, g_like, ra, rng, "G{:03d}", few=400, gap=2)
    _number_by_ra(
        second,
        has2 & ~g_like,
        ra,
        rng,
        lambda i, k: f"{'D' if u_suffix[i] < 0.6 else 'V'}{k:03d}",
        few=400,
        gap=2,
    )
    formats = {"SK": "SK{:03d}", "M": "M{:03d}", "KHM31": "KHM31-{:d}", "DAO": "DAO{:d}"}
    for family, fmt in formats.items():
        namer = _young_name(family, fmt, u_suffix)
        _number_by_ra(main, fam == family, ra, rng, namer, few=300, gap=3)

    joined = np.array(
        [m if not s else f"{m}-{s}" for m, s in zip(main, second, strict=True)], dtype=object
    )
    # C09 and C11 write names in at most 10 characters: drop a secondary that does not fit
    too_long = np.array([len(x) > 10 for x in joined], dtype=bool)
    joined[too_long] = main[too_long]
    _unique_lgs(lgs, only_c09)
    return main, joined, lgs


def _spurious_in_footprint(rng, n, footprint):
    corners = np.concatenate([np.asarray(v, dtype=float) for v in footprint.values()])
    ra_lo, ra_hi = corners[:, 0].min(), corners[:, 0].max()
    de_lo, de_hi = corners[:, 1].min(), corners[:, 1].max()
    ra_out, de_out = [], []
    got = 0
    for _ in range(1000):
        if got >= n:
            break
        m = max(4 * (n - got), 16)
        ra = rng.uniform(ra_lo, ra_hi, m)
        de = np.rad2deg(
            np.arcsin(rng.uniform(np.sin(np.deg2rad(de_lo)), np.sin(np.deg2rad(de_hi)), m))
        )
        ok = in_footprint(ra, de, footprint)
        ra_out.append(ra[ok])
        de_out.append(de[ok])
        got += int(ok.sum())
    ra = np.concatenate(ra_out)[:n] if ra_out else np.array([])
    de = np.concatenate(de_out)[:n] if de_out else np.array([])
    return ra, de


def _spurious_near(rng, n, ra_src, dec_src, *, r_min_arcsec=30.0, r_max_arcsec=180.0):
    """Positions 30-180 arcsec away from randomly chosen source positions."""
    pick = rng.integers(0, len(ra_src), n)
    r = rng.uniform(r_min_arcsec, r_max_arcsec, n) / 3600.0
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    dec = dec_src[pick] + r * np.sin(phi)
    ra = (ra_src[pick] + r * np.cos(phi) / np.cos(np.deg2rad(dec))) % 360.0
    return ra, dec


# --------------------------------------------------------------------------- main entry


def _prepare_truth(truth: pd.DataFrame, footprint) -> pd.DataFrame:
    required = ("obj_id", "kind", "ra", "dec", "gmag", "imag")
    missing = [c for c in required if c not in truth.columns]
    if missing:
        msg = f"mock truth lacks the column(s) {missing} (see docs/data-model.md, 'Mock truth')"
        raise ValueError(msg)
    df = truth.copy()
    df["obj_id"] = df["obj_id"].astype(np.int64)
    if df["obj_id"].duplicated().any():
        dups = df.loc[df["obj_id"].duplicated(), "obj_id"].head(5).tolist()
        msg = f"mock truth has duplicate obj_id values, e.g. {dups}"
        raise ValueError(msg)
    df["kind"] = df["kind"].astype(str)
    for c in ("ra", "dec", "gmag", "imag"):
        df[c] = df[c].astype(np.float64)
    if "rproj_kpc" not in df.columns:
        df["rproj_kpc"] = projected_radius_kpc(df["ra"].to_numpy(), df["dec"].to_numpy())
    if "r_h_pc" not in df.columns:
        df["r_h_pc"] = np.nan
    if "in_phat" not in df.columns:
        df["in_phat"] = in_footprint(df["ra"].to_numpy(), df["dec"].to_numpy(), footprint)
    df["in_phat"] = df["in_phat"].astype(bool)
    return df.sort_values("obj_id", kind="stable").reset_index(drop=True)


def make_catalogues(
    truth: pd.DataFrame,
    *,
    footprint: Mapping,
    seed: int,
    settings: CatalogueSettings | None = None,
) -> dict[str, pd.DataFrame]:
    """Draw the eight mock catalogues from the mock truth.

    Parameters
    ----------
    truth : pandas.DataFrame
        Mock truth (``docs/data-model.md``): at least ``obj_id``, ``kind``,
        ``ra``, ``dec`` (deg), ``gmag``, ``imag`` (AB); ``rproj_kpc``,
        ``r_h_pc`` and ``in_phat`` are used when present (``in_phat`` is
        computed with :func:`pandas_clusters.core.footprint.in_footprint` and
        ``rproj_kpc`` with :func:`pandas_clusters.core.geometry.projected_radius_kpc`
        otherwise).
    footprint : mapping
        PHAT footprint, brick -> corners (``pandas_clusters.core.footprint``).
    seed : int
        Seed of every random draw.
    settings : CatalogueSettings, optional
        Selection model; the defaults of :class:`CatalogueSettings` if omitted.

    Returns
    -------
    dict
        Catalogue key (:data:`CATALOGUES`) -> DataFrame with the
        normalised columns then the VizieR ones; W22, W23 and PHAT sorted by
        their integer ID, the others by RA.

    Raises
    ------
    ValueError
        If the truth lacks a required column or repeats an ``obj_id``.
    """
    settings = CatalogueSettings() if settings is None else settings
    df = _prepare_truth(truth, footprint)
    old = df["kind"].to_numpy(dtype=object) == _GC
    df["feh"] = np.nan
    df.loc[old, "feh"] = cluster_metallicity(
        seed, df.loc[old, "obj_id"].to_numpy(), df.loc[old, "rproj_kpc"].to_numpy()
    )
    rngs = {name: np.random.default_rng([int(seed), k]) for k, name in enumerate(CATALOGUES)}
    members = _memberships(df, settings, rngs)
    # one identity per cluster, shared by RBC, C09, C11 and H14
    main, joined, lgs = _identities(
        df, members, np.random.default_rng([int(seed), len(CATALOGUES)]), settings
    )
    out: dict[str, pd.DataFrame] = {}
    builders = {
        "c09": _build_c09,
        "rbc": _build_rbc,
        "c11": _build_c11,
        "w22": _build_w22,
        "w23": _build_w23,
        "h14": _build_h14,
    }
    ap_rng = np.random.default_rng([int(seed), len(CATALOGUES) + 1])
    phat = {}
    for name in CATALOGUES:
        rng = rngs[name]
        cols = _listed(df, members[name], settings.selection(name), rng, footprint)
        if name.startswith("phat"):
            phat[name] = cols
            continue
        out[name] = builders[name](cols, rng=rng, main=main, joined=joined, lgs=lgs, df=df)
    out.update(_build_phat(phat, ap_rng))
    return {name: _finalise(name, out[name]) for name in CATALOGUES}


def _memberships(df: pd.DataFrame, settings, rngs) -> dict[str, np.ndarray]:
    """Who is listed where: a boolean mask over the truth rows per catalogue.

    Draws ``len(df)`` uniforms from each catalogue's stream, for every truth
    row in ``obj_id`` order, then applies the exclusions and length caps.
    """
    n = len(df)
    kind = df["kind"].to_numpy(dtype=object)
    g = df["gmag"].to_numpy()
    rproj = df["rproj_kpc"].to_numpy()
    r_h = df["r_h_pc"].to_numpy(dtype=float)
    in_phat = df["in_phat"].to_numpy()
    members: dict[str, np.ndarray] = {}
    order_keys: dict[str, np.ndarray] = {}
    for name in CATALOGUES:
        sel = settings.selection(name)
        u_draw = rngs[name].random(n)
        chosen = u_draw < sel.probability(kind, g, rproj, r_h)
        if sel.in_footprint:
            chosen &= in_phat
        members[name] = chosen
        order_keys[name] = u_draw
    known = members["rbc"] | members["c09"] | members["c11"]
    for name in CATALOGUES:
        sel = settings.selection(name)
        if sel.exclude_known:
            members[name] &= ~known
        if sel.max_entries is not None and members[name].sum() > sel.max_entries:
            idx = np.flatnonzero(members[name])
            keep = idx[np.argsort(order_keys[name][idx], kind="stable")[: sel.max_entries]]
            members[name] = np.zeros(n, dtype=bool)
            members[name][keep] = True
    return members


def _listed(df: pd.DataFrame, member: np.ndarray, sel: Selection, rng, footprint) -> dict:
    """Listed values of one catalogue: scattered positions and magnitudes, spurious entries.

    Returns the columns ``ra``, ``dec``, ``truth_id``, ``gmag``, ``imag``,
    ``r_h_pc`` and ``idx`` (truth row, -1 for a spurious entry).
    """
    idx = np.flatnonzero(member)
    ra, dec = _scatter(rng, df["ra"].to_numpy()[idx], df["dec"].to_numpy()[idx], sel.scatter_arcsec)
    truth_id = df["obj_id"].to_numpy()[idx]
    gm = df["gmag"].to_numpy()[idx] + rng.normal(0.0, sel.mag_scatter, idx.size)
    im = df["imag"].to_numpy()[idx] + rng.normal(0.0, sel.mag_scatter, idx.size)
    rh = df["r_h_pc"].to_numpy()[idx].astype(float)
    n_spur = int(rng.binomial(idx.size, min(sel.spurious_fraction, 1.0))) if idx.size else 0
    if n_spur:
        if sel.in_footprint:
            s_ra, s_dec = _spurious_in_footprint(rng, n_spur, footprint)
        else:
            young = np.flatnonzero(df["kind"].to_numpy(dtype=object) == _YOUNG)
            src = young if young.size else np.arange(len(df))
            s_ra, s_dec = _spurious_near(
                rng, n_spur, df["ra"].to_numpy()[src], df["dec"].to_numpy()[src]
            )
        n_spur = len(s_ra)
        pick = rng.integers(0, idx.size, n_spur)
        ra = np.concatenate([ra, s_ra])
        dec = np.concatenate([dec, s_dec])
        truth_id = np.concatenate([truth_id, np.full(n_spur, -1, dtype=np.int64)])
        gm = np.concatenate([gm, gm[pick] + rng.normal(0.0, 0.3, n_spur)])
        im = np.concatenate([im, im[pick] + rng.normal(0.0, 0.3, n_spur)])
        rh = np.concatenate([rh, rh[pick]])
        idx = np.concatenate([idx, np.full(n_spur, -1, dtype=np.int64)])
    if sel.in_footprint and len(ra):
        inside = in_footprint(ra, dec, footprint)
        ra, dec, truth_id, gm, im, rh, idx = (
            a[inside] for a in (ra, dec, truth_id, gm, im, rh, idx)
        )
    return dict(ra=ra, dec=dec, truth_id=truth_id, gmag=gm, imag=im, r_h_pc=rh, idx=idx)


# --------------------------------------------------------------------------- builders


def _safe_index(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Truth row indices with spurious entries (-1) mapped to row 0, and the spurious mask."""
    spur = idx < 0
    return np.where(spur, 0, idx), spur


def _spurious_names(prefix: str, spur: np.ndarray, *, start: int) -> np.ndarray:
    """Names ``prefix + NN`` (NN from ``start``) for the spurious entries of a catalogue."""
    return np.array([f"{prefix}{start + k:02d}" for k in range(int(spur.sum()))], dtype=object)


def _finalise(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    cols = {**NORMALISED_COLUMNS, **ORIGINAL_COLUMNS[name]}
    if len(frame) == 0:
        return empty_catalogue(name)
    frame = frame[list(cols)].copy()
    for c, t in cols.items():
        frame[c] = frame[c].astype(t)
    return frame.reset_index(drop=True)


def _sorted_by_ra(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["ra_deg", "dec_deg"], kind="stable").reset_index(drop=True)


def _vmag(gmag, imag):
    # V from g, g-i (Jester et al. 2005-like transformation via g-r = 0.65 (g-i))
    return gmag - 0.59 * 0.65 * (gmag - imag) - 0.01


def _build_phat(cols_by_name, rng) -> dict[str, pd.DataFrame]:
    sizes = {k: len(v["ra"]) for k, v in cols_by_name.items()}
    total = sum(sizes.values())
    # one AP ID space shared by the cluster and galaxy lists, IDs in random order
    apid = rng.permutation(total).astype(np.int64) + 1
    out = {}
    start = 0
    for name in ("phat_clusters", "phat_galaxies"):
        c = cols_by_name[name]
        m = sizes[name]
        ids = apid[start : start + m]
        start += m
        ra = np.round(c["ra"], 6)
        dec = np.round(c["dec"], 6)
        frame = pd.DataFrame(
            {
                "name": [str(x) for x in ids],
                "ra_deg": ra,
                "dec_deg": dec,
                "truth_id": c["truth_id"],
                "APID": ids,
                "RAdeg": ra,
                "DEdeg": dec,
            }
        )
        if name == "phat_clusters":
            e_g = np.round(0.01 + 0.02 * np.exp(np.clip(c["gmag"] - 20.0, -10, 5)), 3)
            e_i = np.round(0.01 + 0.02 * np.exp(np.clip(c["imag"] - 19.5, -10, 5)), 3)
            frame["Reff"] = np.round(c["r_h_pc"] / M31.pc_per_arcsec, 2)
            frame["F475W"] = np.round(c["gmag"] - 0.10, 3)  # AB -> Vega (ACS/WFC F475W)
            frame["e_F475W"] = e_g
            frame["F814W"] = np.round(c["imag"] - 0.42, 3)  # AB -> Vega (ACS/WFC F814W)
            frame["e_F814W"] = e_i
        out[name] = frame.sort_values("APID", kind="stable").reset_index(drop=True)
    return out


def _build_c09(c, *, rng, main, joined, lgs, df):
    idx, spur = _safe_index(c["idx"])
    names = np.where(lgs[idx] != "", lgs[idx], joined[idx])
    # spurious entries carry positional names, as new LGS objects would
    names[spur] = _lgs_names(c["ra"][spur], c["dec"][spur])
    ra_s, de_s, ra, dec = _sexagesimal(c["ra"], c["dec"], ra_precision=2, dec_precision=1)
    frame = pd.DataFrame(
        {
            "name": names,
            "ra_deg": ra,
            "dec_deg": dec,
            "truth_id": c["truth_id"],
            "Name": names,
            "RAJ2000": ra_s,
            "DEJ2000": de_s,
            "Vmag": np.round(_vmag(c["gmag"], c["imag"]), 2),
        }
    )
    return _sorted_by_ra(frame)


def _build_rbc(c, *, rng, main, joined, lgs, df):
    idx, spur = _safe_index(c["idx"])
    names = main[idx]
    names[spur] = _spurious_names("NB", spur, start=100)
    kind = np.where(spur, "", df["kind"].to_numpy(dtype=object)[idx])
    ra = np.round(c["ra"], 5)
    dec = np.round(c["dec"], 5)
    gi = c["gmag"] - c["imag"]
    frame = pd.DataFrame(
        {
            "name": names,
            "ra_deg": ra,
            "dec_deg": dec,
            "truth_id": c["truth_id"],
            "Name": names,
            "RAJ2000": ra,
            "DEJ2000": dec,
            # Peacock+ 2010 classes: 1 old cluster, 2 candidate, 3 young cluster; the
            # contaminants' RBC classes (RBC_CLASS)
            "f": _rbc_classes(kind, spur),
            "gmag": np.round(c["gmag"], 2),
            "e_gmag": np.round(rng.uniform(0.01, 0.06, len(idx)), 2),
            "g-r": np.round(0.65 * gi, 2),
            "r-i": np.round(0.35 * gi, 2),
            "rh": np.round(c["r_h_pc"] * np.exp(rng.normal(0.0, 0.1, len(idx))), 2),
        }
    )
    return _sorted_by_ra(frame)


def _rbc_classes(kind: np.ndarray, spur: np.ndarray) -> np.ndarray:
    """RBC ``f`` per row: 1 old, 2 candidate (spurious), 3 young, :data:`RBC_CLASS` otherwise."""
    f = np.where(kind == _YOUNG, 3, np.where(spur, 2, 1))
    for k, code in RBC_CLASS.items():
        f[(kind == k) & ~spur] = code
    return f


def _build_c11(c, *, rng, main, joined, lgs, df):
    idx, spur = _safe_index(c["idx"])
    m = len(idx)
    names = joined[idx]
    names[spur] = _spurious_names("NB", spur, start=100)
    young = (df["kind"].to_numpy(dtype=object)[idx] == _YOUNG) & ~spur
    ra_s, de_s, ra, dec = _sexagesimal(c["ra"], c["dec"], ra_precision=2, dec_precision=1)
    vmag = _vmag(c["gmag"], c["imag"])
    # absolute V at 785 kpc with A_V ~ 0.4; M/L_V ~ 2 (old), 0.3 (young)
    abs_v = vmag - 24.47 - 0.4
    ml = np.where(young, 0.3, 2.0)
    logm = np.round(0.4 * (4.83 - abs_v) + np.log10(ml), 1)
    # the clusters' own [Fe/H] (population.cluster_metallicity) with C11's median error,
    # 0.14 dex (docs/mock-calibration.md); a spurious entry's from M31's at its Rproj
    feh = df["feh"].to_numpy(dtype=float)[idx]
    rproj = projected_radius_kpc(c["ra"], c["dec"])
    feh = np.where(spur, metallicity_quantile(rng.random(m), rproj), feh)
    feh = np.where(young, np.nan, np.round(feh + rng.normal(0.0, C11_FEH_ERROR_DEX, m), 1))
    age = np.where(young, np.round(rng.uniform(0.1, 3.0, m), 1), 14.0)
    frame = pd.DataFrame(
        {
            "name": names,
            "ra_deg": ra,
            "dec_deg": dec,
            "truth_id": c["truth_id"],
            "Name": names,
            "RAJ2000": ra_s,
            "DEJ2000": de_s,
            "E(B-V)": np.round(rng.uniform(0.03, 0.4, m), 2),
            "Vel": np.round(rng.normal(-300.0, 120.0, m), 1),
            "e_Vel": rng.integers(5, 31, m),
            "logM": logm,
            "[Fe/H]": feh,
            "Age": age,
        }
    )
    return _sorted_by_ra(frame)


def _build_w22(c, *, rng, main, joined, lgs, df):
    ra = np.round(c["ra"], 6)
    dec = np.round(c["dec"], 6)
    order = np.lexsort((dec, ra))
    ids = np.empty(len(ra), dtype=np.int64)
    ids[order] = np.arange(1, len(ra) + 1)
    frame = pd.DataFrame(
        {
            "name": [str(x) for x in ids],
            "ra_deg": ra,
            "dec_deg": dec,
            "truth_id": c["truth_id"],
            "ID": ids,
            "RAdeg": ra,
            "DEdeg": dec,
            "gmag": np.round(c["gmag"], 3),
            "imag": np.round(c["imag"], 3),
        }
    )
    return frame.sort_values("ID", kind="stable").reset_index(drop=True)


def _build_w23(c, *, rng, main, joined, lgs, df):
    m = len(c["ra"])
    ra = np.round(c["ra"], 6)
    dec = np.round(c["dec"], 6)
    order = np.lexsort((dec, ra))
    seq = np.empty(m, dtype=np.int64)
    seq[order] = np.arange(1, m + 1)
    gi = c["gmag"] - c["imag"]
    frame = pd.DataFrame(
        {
            "name": [str(x) for x in seq],
            "ra_deg": ra,
            "dec_deg": dec,
            "truth_id": c["truth_id"],
            "Seq": seq,
            "RAdeg": ra,
            "DEdeg": dec,
            # Pan-STARRS g ~ PAndAS g; Gaia G ~ g - 0.3 (g-i) for these colours
            "Gmag": np.round(c["gmag"] - 0.3 * gi + rng.normal(0.0, 0.05, m), 3),
            "gmag": np.round(c["gmag"], 3),
            "g-r": np.round(np.abs(0.65 * gi), 3),
            "E(BP/RP)": np.round(rng.uniform(0.4, 1.5, m), 3),
            "Gp-G": np.round(rng.uniform(-3.2, -0.7, m), 3),
            "Pext": np.round(rng.uniform(0.6, 1.0, m), 2),
            "PGC": np.round(rng.uniform(0.27, 0.97, m), 2),
        }
    )
    return frame.sort_values("Seq", kind="stable").reset_index(drop=True)


def _build_h14(c, *, rng, main, joined, lgs, df):
    idx, spur = _safe_index(c["idx"])
    names = main[idx]
    names[spur] = _spurious_names("PAndAS-", spur, start=int((~spur).sum()) + 1)
    ra_s, de_s, ra, dec = _sexagesimal(c["ra"], c["dec"], ra_precision=2, dec_precision=1)
    frame = pd.DataFrame(
        {
            "name": names,
            "ra_deg": ra,
            "dec_deg": dec,
            "truth_id": c["truth_id"],
            "Name": names,
            "RAJ2000": ra_s,
            "DEJ2000": de_s,
            "Rproj": np.round(projected_radius_kpc(ra, dec), 1) if len(ra) else np.array([]),
            "gmag": np.round(c["gmag"], 2),
            "imag": np.round(c["imag"], 2),
        }
    )
    return _sorted_by_ra(frame)
