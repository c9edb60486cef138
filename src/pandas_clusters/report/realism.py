"""Realism of the mock survey, measured against real PAndAS pixels.

The shared reference ``pandas-cutouts-klemenz`` holds real PAndAS g-band
cutouts around known M31 objects, made with one recipe (its SOURCE.txt):
an astropy ``Cutout2D`` of 128 x 128 native pixels centred on the object,
NaN/inf -> 0, astropy ``ZScaleInterval`` limits, clip, ``numpy.arcsinh``,
rescale min..max to 0..255, 8-bit greyscale PNG.

This module renders mock cutouts with the same recipe *at the real
objects' positions* (a one-CCD mock field laid at each real position, so the
projected and disk radii, the M31 light and the crowding are those of the
mock sky there) with a central object of the same class drawn from the mock
population, and compares distributions of image statistics, real against
mock, per class and per projected-radius bin:

``noise_corr``
    lag-1 autocorrelation of the high-pass residual (image minus its 9 x 9
    median), mean of the x and y lags;
``blobs``
    PSF-scale sources per cutout: local maxima (3 x 3) of the image smoothed
    with a Gaussian of sigma 1.5 px that stand 20 grey levels above the
    smoothed image's median; a flat maximum (a plateau, such as an object
    clipped at 255 by the zscale limits) counts once, as one source;
``frac_bright``, ``grey_median``
    the grey-level histogram: fraction of pixels brighter than 128, median;
``profile_width``
    the central object's half-width (px): the radius at which the
    azimuthally averaged profile around the centre falls half way from its
    central value (r < 2 px) to the cutout's median;
``gradient`` (a breakdown, not a target)
    the grey levels by which a plane fitted to the cutout's 16 x 16 px block
    medians (the central object's left out) changes across the cutout: M31's
    light's large-scale gradient as the stacks keep it.

Targets (issue 12): each mock median within 15% of the real one (within
0.05 for ``noise_corr``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pandas_clusters.acquire.mock.calibration import DEPTH_BEFORE
from pandas_clusters.core.geometry import (
    projected_radius_kpc,
    radii_from_offsets_kpc,
    radius_bin_labels,
    tangent_plane_deg,
)

__all__ = [
    "CLASS_SETS",
    "RADIUS_BINS_KPC",
    "STATISTICS",
    "compare_statistics",
    "cutout_recipe",
    "fill_unmeasured_galaxy_g",
    "image_statistics",
    "magnitude_source",
    "magnitude_source_table",
    "mock_cutouts",
    "read_real_cutouts",
    "statistics_table",
]

#: Real cutout sets compared, by class.
CLASS_SETS = {"cluster": "rbc_class1_cluster", "galaxy": "rbc_class4_galaxy"}
#: Projected-radius bins (kpc) of the comparison.
RADIUS_BINS_KPC = (0.0, 15.0, 30.0, np.inf)
#: Statistic -> (absolute tolerance or None, relative tolerance) of the targets.
STATISTICS = {
    "noise_corr": (0.05, None),
    "blobs": (None, 0.15),
    "frac_bright": (None, 0.15),
    "grey_median": (None, 0.15),
    "profile_width": (None, 0.15),
}
CUTOUT_SIZE = 128
_NAME = re.compile(
    r"cutout_m(?P<field>\d+)_(?P<band>[gi])_ccd_(?P<ccd>\d+)_(?P<ra>[-\d.]+)_(?P<dec>[-\d.]+)"
    r"(?P<partial>_partial)?\.png$"
)


# -- the recipe and the statistics -----------------------------------------------------
def cutout_recipe(data: np.ndarray) -> np.ndarray:
    """8-bit cutout of ``data`` with the real cutouts' recipe (see the module docstring)."""
    from astropy.visualization import ZScaleInterval

    d = np.nan_to_num(np.asarray(data, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    vmin, vmax = ZScaleInterval().get_limits(d)
    s = np.arcsinh(np.clip(d, vmin, vmax))
    lo, hi = s.min(), s.max()
    if hi <= lo:
        return np.zeros(d.shape, dtype=np.uint8)
    return ((s - lo) / (hi - lo) * 255).astype(np.uint8)


def image_statistics(img: np.ndarray) -> dict[str, float]:
    """The realism statistics of one 8-bit cutout (see the module docstring)."""
    from scipy.ndimage import gaussian_filter, label, maximum_filter, median_filter

    a = np.asarray(img, dtype=np.float64)
    res = a - median_filter(a, size=9, mode="reflect")
    corr = []
    for r0, r1 in ((res[:, :-1], res[:, 1:]), (res[:-1, :], res[1:, :])):
        u, v = r0.ravel() - r0.mean(), r1.ravel() - r1.mean()
        den = np.sqrt(np.sum(u * u) * np.sum(v * v))
        corr.append(np.sum(u * v) / den if den > 0 else np.nan)
    sm = gaussian_filter(a, 1.5)
    peaks = (sm == maximum_filter(sm, size=3)) & (sm > np.median(sm) + 20.0)
    # a plateau (every pixel its own 3 x 3 maximum) is one maximum, not one per pixel
    n_peaks = label(peaks, structure=np.ones((3, 3), dtype=bool))[1]
    return {
        "noise_corr": float(np.mean(ok)) if (ok := [c for c in corr if np.isfinite(c)]) else np.nan,
        "blobs": float(n_peaks),
        "frac_bright": float(np.mean(a > 128)),
        "grey_median": float(np.median(a)),
        "profile_width": _profile_width(a),
        "gradient": _gradient(a),
    }


def _gradient(a: np.ndarray, block: int = 16) -> float:
    """Grey levels by which M31's light changes across the cutout (not a target).

    A plane fitted by least squares to the medians of ``block`` x ``block`` pixel
    blocks, the blocks whose centres lie within two blocks of the cutout's centre
    (the central object's) left out; returns the plane's change across the
    cutout's width along its steepest direction.
    """
    ny, nx = (d // block for d in a.shape)
    blocks = a[: ny * block, : nx * block].reshape(ny, block, nx, block).swapaxes(1, 2)
    med = np.median(blocks.reshape(ny, nx, -1), axis=2)
    yy, xx = np.mgrid[:ny, :nx].astype(float)
    keep = np.hypot(yy - (ny - 1) / 2.0, xx - (nx - 1) / 2.0) > 2.0
    design = np.c_[xx[keep], yy[keep], np.ones(int(keep.sum()))]
    (gx, gy, _), *_ = np.linalg.lstsq(design, med[keep], rcond=None)
    return float(np.hypot(gx, gy) * nx)


def _profile_width(a: np.ndarray) -> float:
    ny, nx = a.shape
    yy, xx = np.indices(a.shape)
    r = np.hypot(xx - (nx - 1) / 2.0, yy - (ny - 1) / 2.0)
    ring = np.floor(r).astype(int)
    prof = np.bincount(ring.ravel(), a.ravel()) / np.maximum(np.bincount(ring.ravel()), 1)
    centre = float(a[r < 2].mean())
    half = 0.5 * (centre + float(np.median(a)))
    below = np.flatnonzero(prof[: nx // 2] <= half)
    if centre <= half or below.size == 0:
        return float(nx // 2)
    k = int(below[0])
    if k == 0:
        return 0.0
    # linear interpolation between ring k-1 and ring k (ring centres at k + 0.5)
    f = (prof[k - 1] - half) / max(prof[k - 1] - prof[k], 1e-9)
    return float(k - 0.5 + f)


# -- the real cutouts ------------------------------------------------------------------
def read_real_cutouts(
    reference: str | Path, *, classes: Sequence[str] = tuple(CLASS_SETS), partial: bool = False
) -> pd.DataFrame:
    """Index of the real cutouts: path, class, field, ccd, ra, dec, radii.

    Parameters
    ----------
    reference : path
        The ``pandas-cutouts-klemenz`` folder (with ``cutouts/<set>/``).
    classes : sequence of str
        Keys of :data:`CLASS_SETS`.
    partial : bool
        Keep cutouts that reached a CCD edge (default: drop them).
    """
    rows = []
    for cls in classes:
        folder = Path(reference) / "cutouts" / CLASS_SETS[cls]
        if not folder.is_dir():
            msg = f"{folder}: no such cutout set (expected the shared pandas-cutouts-klemenz)"
            raise FileNotFoundError(msg)
        for path in sorted(folder.glob("*.png")):
            m = _NAME.match(path.name)
            if m is None:
                msg = f"{path}: name does not follow cutout_m<FFF>_<band>_ccd_<N>_<ra>_<dec>.png"
                raise ValueError(msg)
            if m["partial"] and not partial:
                continue
            rows.append(
                {
                    "path": str(path),
                    "cls": cls,
                    "field": int(m["field"]),
                    "ccd": int(m["ccd"]),
                    "ra": float(m["ra"]),
                    "dec": float(m["dec"]),
                }
            )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["rproj_kpc"] = projected_radius_kpc(df["ra"].to_numpy(), df["dec"].to_numpy())
    xi, eta = tangent_plane_deg(df["ra"].to_numpy(), df["dec"].to_numpy())
    df["rdisk_kpc"] = radii_from_offsets_kpc(xi, eta)[0]
    return df


def read_png(path: str | Path) -> np.ndarray:
    """An 8-bit greyscale PNG as a uint8 array."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8)


def radius_bin(rproj_kpc) -> np.ndarray:
    """Label of the projected-radius bin, e.g. ``'0-15'``, ``'30+'``."""
    edges = RADIUS_BINS_KPC
    labels = radius_bin_labels(edges)
    idx = np.clip(
        np.searchsorted(edges, np.asarray(rproj_kpc), side="right") - 1, 0, len(labels) - 1
    )
    return np.asarray(labels, dtype=object)[idx]


# -- the mock cutouts ------------------------------------------------------------------
#: Mock classes standing for each real set: the RBC's confirmed clusters (class 1) are old
#: globular clusters, its class 4 background galaxies.
MOCK_KINDS = {"cluster": ("globular_cluster",), "galaxy": ("galaxy",)}
#: Faint limit (g) of the mock galaxies standing for the RBC's galaxies (objects once taken
#: for cluster candidates, of the catalogue's depth).
GALAXY_FAINT_MAG = 20.0
#: g - V of an old M31 globular cluster (the RBC gives V).
GC_G_MINUS_V = 0.35
RBC_SUPPLEMENT = "rbc-v5-hnsky-czsky/M31_RBC_v5_hnsky_HEAD_29c8fe8b.sup"
#: Wang+ 2023 (J/ApJ/954/206) table 8: Gaia EDR3 extended sources around M31 with their
#: Pan-STARRS1 g PSF magnitudes (15.1 < g < 19.5): the magnitudes of the real galaxies.
WANG_TABLE8 = "wang2023-J_ApJ_954_206/J_ApJ_954_206_table8.dat.gz.fits"
#: Faint limit of that table's g (its selection: 16 < g < 19.5).
PS1_G_LIMIT = 19.5
#: Median g-band seeing (FWHM, arcsec) of the Pan-STARRS1 3pi survey (Chambers+ 2016, table 11).
PS1_G_FWHM_ARCSEC = 1.31
#: Mock galaxies whose PSF magnitude is computed for the matching (a seeded sample).
GALAXY_POOL = 1500
# Peacock+ 2010 (J/MNRAS/402/803) table 1 (``calibration.PEACOCK_TABLE``, read with
# ``calibration.read_peacock2010``): SDSS-calibrated g of the RBC's objects, galaxies
# included; for galaxies a total g (PS1 PSF g minus it: median 0.98 mag on the 62 real
# galaxies that have both, as the mock galaxies' PSF offsets, 0.96 mag): the magnitudes of
# the real galaxies that Wang+ 2023 table 8 (Gaia-selected) lacks.
#: Caldwell & Romanowsky 2016 (J/ApJ/824/42) table 1, an AAS machine-readable table: the log
#: mass of M31's old clusters, the PAndAS halo clusters of Huxor+ 2014 among them (most of the
#: real clusters beyond 30 kpc, which the RBC v5 lists without V).
CR16_TABLE = "caldwell-romanowsky2016-auriga/CR16_table1.txt"
#: Match radius (arcsec) for CR16's positions (RA to 0.1 s of time, Dec to 1").
CR16_MATCH_ARCSEC = 3.0


def read_rbc_vmag(path: str | Path) -> pd.DataFrame:
    """RA, Dec (deg) and V of the RBC v5 confirmed clusters (the HNSKY supplement's records)."""
    rows = []
    for k, line in enumerate(Path(path).read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip() or line.startswith(";"):
            continue
        parts = line.split(",")
        if len(parts) < 7:
            msg = f"{path}, line {k}: expected 'RAh,,,Dec,,,mag*10,...', got {line!r}"
            raise ValueError(msg)
        if parts[6].strip():
            rows.append((15.0 * float(parts[0]), float(parts[3]), float(parts[6]) / 10.0))
    return pd.DataFrame(rows, columns=["ra", "dec", "vmag"])


def read_cr16_logm(path: str | Path) -> pd.DataFrame:
    """RA, Dec (deg) and log mass (solar masses) of CR16's old clusters that have one."""
    from astropy.table import Table

    try:
        t = Table.read(path, format="ascii.mrt")
    except Exception as err:
        msg = f"{path}: not readable as an AAS machine-readable table ({err})"
        raise ValueError(msg) from err
    need = {"RAh", "RAm", "RAs", "DEd", "DEm", "DEs", "LogM"}
    missing = need - set(t.colnames)
    if missing:
        msg = f"{path}: columns {sorted(missing)} missing (Caldwell & Romanowsky 2016 table 1)"
        raise ValueError(msg)
    logm = np.ma.filled(np.ma.asarray(t["LogM"], dtype=np.float64), np.nan)

    def col(name):
        return np.asarray(np.ma.filled(np.ma.asarray(t[name], dtype=np.float64), np.nan))

    # the table's declinations are all north (its byte-by-byte header has no sign column)
    df = pd.DataFrame(
        {
            "ra": 15.0 * (col("RAh") + col("RAm") / 60.0 + col("RAs") / 3600.0),
            "dec": col("DEd") + col("DEm") / 60.0 + col("DEs") / 3600.0,
            "logm": logm,
        }
    )
    return df.loc[np.isfinite(df["logm"])].reset_index(drop=True)


def mass_magnitude_zero_point(
    rbc: pd.DataFrame, masses: pd.DataFrame, *, radius_arcsec: float = CR16_MATCH_ARCSEC
) -> tuple[float, int]:
    """``V + 2.5 log M`` of the clusters with both an RBC V and a CR16 mass: (median, count).

    CR16's masses come from photometry; ``V = zp - 2.5 log M`` gives a V to the
    clusters the RBC lists without one. Measured on the catalogues, not on the cutouts.
    """
    logm = match_magnitude(rbc, masses, "logm", radius_arcsec=radius_arcsec)
    ok = np.isfinite(logm) & np.isfinite(rbc["vmag"].to_numpy())
    if not ok.any():
        msg = "no cluster has both an RBC V and a CR16 mass: no zero point for V from mass"
        raise ValueError(msg)
    return float(np.median(rbc["vmag"].to_numpy()[ok] + 2.5 * logm[ok])), int(ok.sum())


def cluster_vmag(real: pd.DataFrame, reference: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """V of each real cutout's cluster and its source (``'rbc'``, ``'cr16'`` or ``''``).

    The RBC v5 V where it has one; else CR16's log mass as
    ``V = zp - 2.5 log M`` (:func:`mass_magnitude_zero_point`); NaN for galaxies and
    for clusters in neither (the satellites' clusters, mostly).
    """
    ref = Path(reference)
    vmag = np.full(len(real), np.nan)
    source = np.full(len(real), "", dtype=object)
    rbc_path, cr16_path = ref / RBC_SUPPLEMENT, ref / CR16_TABLE
    if rbc_path.is_file():
        rbc = read_rbc_vmag(rbc_path)
        vmag = match_magnitude(real, rbc, "vmag")
        source[np.isfinite(vmag)] = "rbc"
        if cr16_path.is_file():
            masses = read_cr16_logm(cr16_path)
            zp, _ = mass_magnitude_zero_point(rbc, masses)
            from_mass = zp - 2.5 * match_magnitude(
                real, masses, "logm", radius_arcsec=CR16_MATCH_ARCSEC
            )
            fill = ~np.isfinite(vmag) & np.isfinite(from_mass)
            vmag[fill], source[fill] = from_mass[fill], "cr16"
    is_cluster = (real["cls"] == "cluster").to_numpy()
    vmag[~is_cluster], source[~is_cluster] = np.nan, ""
    return vmag, source


def match_magnitude(
    real: pd.DataFrame, table: pd.DataFrame, column: str, *, radius_arcsec: float = 2.0
) -> np.ndarray:
    """``table[column]`` of each real cutout's object: the nearest row within ``radius_arcsec``.

    NaN where no row of ``table`` (with ``ra``, ``dec`` in deg) is that close.
    """
    from astropy.coordinates import SkyCoord

    out = np.full(len(real), np.nan)
    if len(real) == 0 or len(table) == 0:
        return out
    a = SkyCoord(real["ra"].to_numpy(), real["dec"].to_numpy(), unit="deg")
    b = SkyCoord(table["ra"].to_numpy(), table["dec"].to_numpy(), unit="deg")
    idx, sep, _ = a.match_to_catalog_sky(b)
    ok = sep.arcsec <= radius_arcsec
    out[ok] = table[column].to_numpy()[idx[ok]]
    return out


def fill_unmeasured_galaxy_g(real: pd.DataFrame, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Total g of the real galaxies, drawn where no catalogue at hand measures one.

    A real galaxy absent from Wang+ 2023 table 8 (no ``g_ps1``) and from Peacock+
    2010 (no ``g_total``) has no magnitude. Absence from table 8 does not make it
    faint: of the real galaxies that table lacks and Peacock+ 2010 measures, most
    are brighter than its g = 19.5 limit in total g (Gaia misses extended galaxies),
    so each unmeasured galaxy takes the total g of one of those, drawn at random
    (seeded): the magnitudes of galaxies missed by the same table. Returns the
    ``g_total`` column so filled and its source per row (``"peacock2010"``,
    ``"drawn"`` or ``""`` where none).
    """
    g_total = real["g_total"].to_numpy(dtype=np.float64, copy=True)
    g_ps1 = real["g_ps1"].to_numpy(dtype=np.float64)
    galaxy = (real["cls"] == "galaxy").to_numpy()
    source = np.where(np.isfinite(g_total), "peacock2010", "").astype(object)
    missed = galaxy & ~np.isfinite(g_ps1)
    like = g_total[missed & np.isfinite(g_total)]
    empty = np.flatnonzero(missed & ~np.isfinite(g_total))
    if like.size and empty.size:
        rng = np.random.default_rng([int(seed), 14])
        g_total[empty] = rng.choice(np.sort(like), size=empty.size)
        source[empty] = "drawn"
    return g_total, source


#: Where each real object's magnitude, the one its mock partner is matched on, comes
#: from (:func:`magnitude_source`), in the order :func:`magnitude_source_table` lists them.
MAGNITUDE_SOURCES = {
    "rbc": "RBC v5 V",
    "cr16": "V from CR16's mass",
    "ps1": "Wang+ 2023 PS1 g",
    "peacock2010": "Peacock+ 2010 g",
    "drawn": "none: drawn",
    "none": "none",
}


def magnitude_source(real: pd.DataFrame) -> np.ndarray:
    """Source of the magnitude each real object's mock partner is matched on.

    Clusters: ``vmag_source`` (``'rbc'``, ``'cr16'``; ``'none'`` without a V).
    Galaxies: ``'ps1'`` where Wang+ 2023 table 8 gives a PS1 g, else ``g_total_source``
    (``'peacock2010'``, ``'drawn'`` by :func:`fill_unmeasured_galaxy_g`; ``'none'``).
    Keys of :data:`MAGNITUDE_SOURCES`.
    """
    g_ps1 = real["g_ps1"].to_numpy(dtype=np.float64)
    galaxy_src = np.where(np.isfinite(g_ps1), "ps1", real["g_total_source"].to_numpy())
    is_gal = (real["cls"] == "galaxy").to_numpy()
    out = np.where(is_gal, galaxy_src, real["vmag_source"].to_numpy()).astype(object)
    out[out == ""] = "none"
    return out


def read_ps1_gmag(path: str | Path) -> pd.DataFrame:
    """RA, Dec (deg) and Pan-STARRS1 g (PSF magnitude) of Wang+ 2023's extended sources (table 8)."""
    from astropy.io import fits

    with fits.open(path) as hdul:
        data = hdul[1].data
        missing = {"RAdeg", "DEdeg", "gmag"} - set(data.columns.names)
        if missing:
            msg = f"{path}, HDU 1: columns {sorted(missing)} missing (Wang+ 2023 table 8)"
            raise ValueError(msg)
        return pd.DataFrame(
            {
                "ra": np.asarray(data["RAdeg"], dtype=np.float64),
                "dec": np.asarray(data["DEdeg"], dtype=np.float64),
                "g_ps1": np.asarray(data["gmag"], dtype=np.float64),
            }
        )


def psf_magnitude_offsets(
    settings, galaxies: pd.DataFrame, *, fwhm_arcsec: float = PS1_G_FWHM_ARCSEC
) -> np.ndarray:
    """PSF magnitude minus total magnitude of mock galaxies seen with a Gaussian PSF.

    Each galaxy's noiseless image (its Sersic profile convolved with a Gaussian
    PSF of FWHM ``fwhm_arcsec``) is measured by optimal PSF photometry,
    ``F_psf = sum(I P) / sum(P^2)`` with the PSF ``P`` centred on the galaxy, as
    the Pan-STARRS1 PSF magnitudes of Wang+ 2023 are: extended objects lose the
    light outside the PSF.
    """
    from pandas_clusters.acquire.mock.render import _extended_stamp

    sigma = fwhm_arcsec / settings.pixel_scale_arcsec / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    pr = int(np.ceil(4 * sigma))
    o = np.arange(-pr, pr + 1)
    psf = np.exp(-(o[None, :] ** 2 + o[:, None] ** 2) / (2 * sigma**2))
    psf /= psf.sum()
    out = np.full(len(galaxies), np.nan)
    for k, row in enumerate(galaxies.itertuples(index=False)):
        stamp, x0, y0 = _extended_stamp(row, 0.0, 0.0, 1.0, settings, psf)
        if stamp is None:
            continue
        cy, cx = -y0, -x0  # the stamp pixel of the galaxy's centre
        cut = stamp[cy - pr : cy + pr + 1, cx - pr : cx + pr + 1]
        out[k] = -2.5 * np.log10(np.sum(cut * psf) / np.sum(psf**2))
    return out


def _central_pool(
    settings, *, seed: int = 0, cluster_radius_deg: float | None = None
) -> pd.DataFrame:
    """Mock clusters, and galaxies brighter than ``GALAXY_FAINT_MAG`` with their PS1-like g.

    At most ``GALAXY_POOL`` galaxies (a seeded sample) keep their PSF magnitude
    (``g_ps1``, :func:`psf_magnitude_offsets`); the others are dropped. The
    clusters are drawn out to ``cluster_radius_deg`` from M31 where that exceeds
    the mock catalogues' ``catalogue_radius_deg`` (2.5 deg, 34 kpc, in the demo):
    the real clusters reach 120 kpc, and the mock's own halo clusters must stand
    for them.
    """
    from pandas_clusters.acquire.mock.population import CATALOGUE_KINDS, catalogue_truth

    pool = catalogue_truth(settings, kinds=tuple(k for k in CATALOGUE_KINDS if k != "star"))
    if cluster_radius_deg is not None and cluster_radius_deg > settings.catalogue_radius_deg:
        wide = dataclasses.replace(settings, catalogue_radius_deg=float(cluster_radius_deg))
        kinds = MOCK_KINDS["cluster"]
        pool = pd.concat(
            [pool.loc[~pool["kind"].isin(kinds)], catalogue_truth(wide, kinds=kinds)],
            ignore_index=True,
        )
    is_gal = (pool["kind"] == "galaxy").to_numpy()
    gal = np.flatnonzero(is_gal & (pool["gmag"] < GALAXY_FAINT_MAG).to_numpy())
    rng = np.random.default_rng([int(seed), 13])
    if gal.size > GALAXY_POOL:
        gal = np.sort(rng.choice(gal, GALAXY_POOL, replace=False))
    keep = np.flatnonzero(~is_gal)
    pool["rbin"] = radius_bin(projected_radius_kpc(pool["ra"].to_numpy(), pool["dec"].to_numpy()))
    pool["g_ps1"] = np.nan
    galaxies = pool.iloc[gal]
    pool.loc[pool.index[gal], "g_ps1"] = galaxies["gmag"].to_numpy() + psf_magnitude_offsets(
        settings, galaxies
    )
    return pool.iloc[np.sort(np.concatenate([keep, gal]))].reset_index(drop=True)


#: Margin (deg) of the mock cluster pool beyond the farthest real cluster compared.
CLUSTER_POOL_MARGIN_DEG = 0.5
#: Fewest mock clusters of a radius bin to pick a central cluster among (else any bin's).
MIN_BIN_CLUSTERS = 8


def _pick_central(
    pool: pd.DataFrame,
    cls: str,
    rng,
    *,
    gmag: float = np.nan,
    g_ps1: float = np.nan,
    rbin: str | None = None,
) -> pd.Series:
    """A mock object of the class: among the 8 nearest in magnitude, one at random.

    Clusters are taken from the mock clusters of the real one's radius bin ``rbin``
    (``pool["rbin"]``; all bins where it holds fewer than :data:`MIN_BIN_CLUSTERS`): the
    mock's clusters change with radius (half-light and tidal radii), and a mock
    cluster of the inner disk laid at 40 kpc would hide that. Clusters are matched in
    total g (``gmag``: the RBC's V + ``GC_G_MINUS_V``).
    Galaxies are matched in PS1-like PSF g where the real one has Wang+ 2023's
    ``g_ps1``; otherwise the real galaxy is not in that table, so the candidates
    are the mock galaxies fainter than its ``PS1_G_LIMIT`` in PSF g, matched in
    total g where the real one has Peacock+ 2010's or one drawn from those
    (``gmag``, :func:`fill_unmeasured_galaxy_g`). Without a magnitude, any candidate.
    """
    cand = pool.loc[pool["kind"].isin(MOCK_KINDS[cls])]
    if cls == "cluster" and rbin is not None and "rbin" in cand:
        same = cand.loc[cand["rbin"] == rbin]
        cand = same if len(same) >= MIN_BIN_CLUSTERS else cand
    col, mag = "gmag", gmag
    if cls == "galaxy":
        cand = cand.loc[cand["g_ps1"].notna()]
        if np.isfinite(g_ps1):
            col, mag = "g_ps1", g_ps1
        else:
            faint = cand.loc[cand["g_ps1"] > PS1_G_LIMIT]
            cand = faint if len(faint) else cand
    if cand.empty:
        msg = f"the mock population has no {cls}"
        raise ValueError(msg)
    if not np.isfinite(mag):
        return cand.iloc[int(rng.integers(len(cand)))]
    near = np.argsort(np.abs(cand[col].to_numpy() - mag), kind="stable")[:8]
    return cand.iloc[int(near[rng.integers(near.size)])]


def mock_cutout(
    settings, ra: float, dec: float, central: pd.Series, key: int, *, field: int | None = None
) -> np.ndarray:
    """Render a one-CCD mock g field at (ra, dec) with ``central`` there; the recipe's cutout.

    Parameters
    ----------
    settings : MockSettings
        The mock sky (its field sheet and CCD layout are replaced).
    ra, dec : float
        Position of the cutout's centre, ICRS deg.
    central : pandas.Series
        A truth row of the mock population, moved to (ra, dec).
    key : int
        Non-negative integer naming this cutout (seeds its noise).
    field : int, optional
        The real PAndAS field the cutout stands for: its stacks' exposures (number
        and summed time per band, the field sheet's) set the mock's depth and
        resampling there; default the survey's typical stack.
    """
    from pandas_clusters.acquire.mock import MockField
    from pandas_clusters.acquire.mock.render import _field_objects, render_ccd
    from pandas_clusters.acquire.mock.settings import BANDS, typical_exposures

    s = dataclasses.replace(
        settings,
        fields=(
            MockField(
                id=int(key),
                ra_deg=float(ra),
                dec_deg=float(dec),
                exposures={
                    b: typical_exposures(b) if field is None else settings.field_exposures(field, b)
                    for b in BANDS
                },
            ),
        ),
        ccd_nx=CUTOUT_SIZE,
        ccd_ny=CUTOUT_SIZE,
        ccd_columns=1,
        ccd_rows=1,
        bad_columns_per_ccd=0,
    )
    objects = _field_objects(s, int(key))
    row = central.to_frame().T.reindex(columns=objects.columns)
    row["ra"], row["dec"] = float(ra), float(dec)
    objects = pd.concat([objects, row.astype(objects.dtypes.to_dict())], ignore_index=True)
    img, _ = render_ccd(s, int(key), "g", 0, objects=objects)
    return cutout_recipe(img)


def mock_cutouts(
    settings, real: pd.DataFrame, *, seed: int, key_offset: int = 0
) -> tuple[pd.DataFrame, list]:
    """One mock cutout per row of ``real`` (its class and position).

    Row ``k``'s cutout is keyed ``key_offset + k`` (its noise and its stack's
    resampling offsets); ``seed`` draws the central objects.

    Returns
    -------
    (pandas.DataFrame, list of ndarray)
        The index (class, position, radii, the central object's kind, g and
        obj_id) and the 8-bit images in the same order. The central object is
        matched in magnitude (:func:`_pick_central`) where ``real`` has the
        columns ``vmag`` (clusters: V, :func:`cluster_vmag`), ``g_ps1`` and ``g_total``
        (galaxies: Wang+ 2023's PS1 g, Peacock+ 2010's g).
    """
    is_cluster = (real["cls"] == "cluster").to_numpy()
    radius = None
    if is_cluster.any():
        xi, eta = tangent_plane_deg(
            real["ra"].to_numpy()[is_cluster], real["dec"].to_numpy()[is_cluster]
        )
        radius = float(np.max(np.hypot(xi, eta))) + CLUSTER_POOL_MARGIN_DEG
    pool = _central_pool(settings, seed=seed, cluster_radius_deg=radius)
    rng = np.random.default_rng([int(seed), 12])
    nan = np.full(len(real), np.nan)
    vmag = real["vmag"].to_numpy() if "vmag" in real else nan
    g_ps1 = real["g_ps1"].to_numpy() if "g_ps1" in real else nan
    g_total = real["g_total"].to_numpy() if "g_total" in real else nan
    rows, images = [], []
    for k, r in enumerate(real.itertuples(index=False)):
        if r.cls == "galaxy":
            central = _pick_central(pool, r.cls, rng, gmag=g_total[k], g_ps1=g_ps1[k])
        else:
            central = _pick_central(
                pool, r.cls, rng, gmag=vmag[k] + GC_G_MINUS_V, rbin=str(radius_bin(r.rproj_kpc))
            )
        field = int(r.field) if "field" in real and pd.notna(r.field) else None
        images.append(mock_cutout(settings, r.ra, r.dec, central, key=key_offset + k, field=field))
        rows.append(
            {
                "cls": r.cls,
                "ra": r.ra,
                "dec": r.dec,
                "rproj_kpc": r.rproj_kpc,
                "rdisk_kpc": r.rdisk_kpc,
                "kind": central["kind"],
                "gmag": float(central["gmag"]),
                "obj_id": int(central["obj_id"]),
                "mag_source": getattr(r, "mag_source", ""),
            }
        )
    return pd.DataFrame(rows), images


# -- the comparison --------------------------------------------------------------------
def statistics_table(index: pd.DataFrame, images: Sequence[np.ndarray]) -> pd.DataFrame:
    """``index`` with the statistics of each image and its radius bin."""
    stats = pd.DataFrame([image_statistics(im) for im in images], index=index.index)
    out = pd.concat([index, stats], axis=1)
    out["rbin"] = radius_bin(out["rproj_kpc"].to_numpy())
    return out


def _target(stat: str, real: float, mock: float) -> tuple[str, bool]:
    abs_tol, rel_tol = STATISTICS[stat]
    if abs_tol is not None:
        return f"within {abs_tol:g}", bool(abs(mock - real) <= abs_tol)
    return f"within {rel_tol:.0%}", bool(abs(mock - real) <= rel_tol * abs(real))


#: Bootstrap resamples of the real sample behind each real median's interval.
BOOTSTRAP_RESAMPLES = 1000


def median_interval(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """16th and 84th percentiles of the medians of :data:`BOOTSTRAP_RESAMPLES` resamples.

    How far the median of ``values`` (one real sample) could move with another draw
    of the same number of real objects: with 10 real cutouts in a bin it is wide.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    draws = rng.choice(v, size=(BOOTSTRAP_RESAMPLES, v.size), replace=True)
    lo, hi = np.percentile(np.median(draws, axis=1), [16, 84])
    return float(lo), float(hi)


def _within_spread(stat: str, lo: float, hi: float, mock: float) -> bool:
    """Whether ``mock`` meets the target against some median in the real interval [lo, hi]."""
    abs_tol, rel_tol = STATISTICS[stat]
    if abs_tol is not None:
        return bool(lo - abs_tol <= mock <= hi + abs_tol)
    return bool(lo - rel_tol * abs(lo) <= mock <= hi + rel_tol * abs(hi))


def compare_statistics(
    real: pd.DataFrame, mock: pd.DataFrame, *, min_count: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Medians real vs mock per class, radius bin ('all' included) and statistic.

    Bins with fewer than ``min_count`` real cutouts are left out. ``real_lo`` and
    ``real_hi`` bound the real median's 68% bootstrap interval (:func:`median_interval`,
    seeded with ``seed``); ``within_spread`` says whether the mock median would meet
    the target against some median in that interval (a miss that is not is one the
    real sample's size cannot explain).
    """
    rng = np.random.default_rng([int(seed), 77])
    rows = []
    for cls, b, sel_r, sel_m in _class_bins(real, mock):
        if sel_r.sum() < min_count or sel_m.sum() == 0:
            continue
        for stat in STATISTICS:
            r_med = float(real.loc[sel_r, stat].median())
            m_med = float(mock.loc[sel_m, stat].median())
            target, ok = _target(stat, r_med, m_med)
            lo, hi = median_interval(real.loc[sel_r, stat].to_numpy(), rng)
            rows.append(
                {
                    "cls": cls,
                    "rbin": b,
                    "statistic": stat,
                    "n_real": int(sel_r.sum()),
                    "n_mock": int(sel_m.sum()),
                    "real_median": r_med,
                    "real_lo": lo,
                    "real_hi": hi,
                    "mock_median": m_med,
                    "target": target,
                    "pass": ok,
                    "within_spread": ok or _within_spread(stat, lo, hi, m_med),
                }
            )
    return pd.DataFrame(rows)


def _class_bins(real: pd.DataFrame, mock: pd.DataFrame):
    """``(cls, rbin, real rows, mock rows)`` per class and radius bin, 'all' first.

    The bins are those of the class's real cutouts; the rows are boolean masks.
    """
    for cls in sorted(set(real["cls"])):
        for b in ["all", *sorted(set(real.loc[real["cls"] == cls, "rbin"]))]:
            sel_r = (real["cls"] == cls) & ((real["rbin"] == b) | (b == "all"))
            sel_m = (mock["cls"] == cls) & ((mock["rbin"] == b) | (b == "all"))
            yield cls, b, sel_r, sel_m


#: Edges (kpc) of the deprojected disk radius bins of :func:`disk_zone_table`: the inner
#: disk, the star-forming ring's zone, the outer (extended) disk, beyond it.
DISK_ZONES_KPC = (0.0, 10.0, 20.0, 40.0, np.inf)
#: The statistics :func:`disk_zone_table` splits: M31's resolved stars show in these.
DISK_ZONE_STATISTICS = ("blobs", "noise_corr")


def disk_zone_table(real: pd.DataFrame, mock: pd.DataFrame) -> pd.DataFrame:
    """Real and mock medians of :data:`DISK_ZONE_STATISTICS` per class and disk radius.

    The Rproj bins of :func:`compare_statistics` mix the disk and the halo: a galaxy
    at Rproj 10 kpc on the minor axis lies 40 kpc out in the disk's plane. This
    breakdown bins by ``rdisk_kpc`` (the deprojected radius in M31's disk,
    :data:`DISK_ZONES_KPC`); it is not a target. Zones without a real cutout are left
    out.
    """
    return _zone_table(real, mock, "rdisk_kpc", DISK_ZONES_KPC, DISK_ZONE_STATISTICS)


#: Projected-radius zones (kpc) of :func:`gradient_table`: where M31's bulge and inner
#: disk change fastest.
GRADIENT_ZONES_KPC = (0.0, 0.5, 1.0, 2.0, 4.0, 15.0, np.inf)


def gradient_table(real: pd.DataFrame, mock: pd.DataFrame) -> pd.DataFrame:
    """Real and mock medians of ``gradient`` per class and projected radius (not a target).

    Bins by ``rproj_kpc`` (:data:`GRADIENT_ZONES_KPC`); zones without a real cutout
    are left out.
    """
    return _zone_table(real, mock, "rproj_kpc", GRADIENT_ZONES_KPC, ("gradient",))


def _zone_table(real, mock, column: str, edges, stats) -> pd.DataFrame:
    """Real and mock medians of ``stats`` per class and bin of ``column`` (``edges``)."""
    edges = np.asarray(edges, dtype=float)
    labels = radius_bin_labels(edges)

    def zone(df):
        return pd.cut(df[column], edges, right=False, labels=labels)

    rz, mz = zone(real), zone(mock)
    rows = []
    for cls in sorted(set(real["cls"])):
        for lab in labels:
            sel_r = (real["cls"] == cls) & (rz == lab)
            sel_m = (mock["cls"] == cls) & (mz == lab)
            if not sel_r.any():
                continue
            rows.append({"cls": cls, "zone": lab, **_medians(real, mock, sel_r, sel_m, stats)})
    return pd.DataFrame(rows)


def _medians(real, mock, sel_r, sel_m, stats) -> dict:
    """Counts and medians of ``stats`` of the selected real and mock rows (NaN: no mock row)."""
    row = {"n_real": int(sel_r.sum()), "n_mock": int(sel_m.sum())}
    for stat in stats:
        row[f"{stat}_real"] = float(real.loc[sel_r, stat].median())
        row[f"{stat}_mock"] = float(mock.loc[sel_m, stat].median()) if sel_m.any() else np.nan
    return row


def _median_rows(tab: pd.DataFrame, keys, stats) -> list[str]:
    """Markdown rows of a medians table: the ``keys`` columns, n real, real / mock per stat."""
    out = []
    for r in tab.itertuples(index=False):
        head = " | ".join(str(getattr(r, k)) for k in keys)
        vals = " | ".join(
            f"{getattr(r, f'{s}_real'):.3g} / {getattr(r, f'{s}_mock'):.3g}" for s in stats
        )
        out.append(f"| {head} | {r.n_real} | {vals} |")
    return out


def _disk_zone_lines(real: pd.DataFrame, mock: pd.DataFrame) -> list[str]:
    head = " | ".join(f"{s} real / mock" for s in DISK_ZONE_STATISTICS)
    return [
        "## By radius in the disk's plane (a breakdown, not a target)",
        "",
        "The same cutouts binned by their deprojected radius in M31's disk (kpc;",
        "`realism.disk_zone_table`): medians, real / mock.",
        "",
        f"| class | r_disk (kpc) | n real | {head} |",
        "|---|---|---:|" + "---:|" * len(DISK_ZONE_STATISTICS),
        *_median_rows(disk_zone_table(real, mock), ("cls", "zone"), DISK_ZONE_STATISTICS),
    ]


def _gradient_lines(real: pd.DataFrame, mock: pd.DataFrame) -> list[str]:
    return [
        "## M31's light across a cutout (a breakdown, not a target)",
        "",
        "`gradient`: the grey levels by which a plane fitted to the cutout's 16 x 16 px",
        "block medians (the central object's blocks left out) changes across the cutout;",
        "binned by projected radius (kpc; `realism.gradient_table`): medians, real / mock.",
        "",
        "| class | Rproj (kpc) | n real | gradient real / mock |",
        "|---|---|---:|---:|",
        *_median_rows(gradient_table(real, mock), ("cls", "zone"), ("gradient",)),
    ]


def magnitude_source_table(real: pd.DataFrame, mock: pd.DataFrame) -> pd.DataFrame:
    """Real and mock medians of every statistic per class, Rproj bin and magnitude source.

    A breakdown, not a target: the comparison pairs each real object with a mock one
    of its magnitude (``mag_source``, :func:`magnitude_source`), and where no
    catalogue at hand measures the real one the pairing is a guess. Rows per class
    and bin ('all' first) and source (:data:`MAGNITUDE_SOURCES` order); combinations
    without a real cutout are left out.
    """
    rows = []
    for cls, b, in_r, in_m in _class_bins(real, mock):
        present = set(real.loc[in_r, "mag_source"])
        for src in [s for s in MAGNITUDE_SOURCES if s in present]:
            sel_r = in_r & (real["mag_source"] == src)
            sel_m = in_m & (mock["mag_source"] == src)
            row = {
                "cls": cls,
                "rbin": b,
                "source": src,
                **_medians(real, mock, sel_r, sel_m, STATISTICS),
            }
            rows.append(row)
    return pd.DataFrame(rows)


def _magnitude_source_lines(real: pd.DataFrame, mock: pd.DataFrame) -> list[str]:
    head = " | ".join(f"{s} real / mock" for s in STATISTICS)
    tab = magnitude_source_table(real, mock)
    tab["source"] = tab["source"].map(MAGNITUDE_SOURCES)
    return [
        "## By the real object's magnitude (a breakdown, not a target)",
        "",
        "Each real object's mock partner is matched on a magnitude from a catalogue; where",
        "none at hand measures a real galaxy its g is drawn (`realism.fill_unmeasured_galaxy_g`).",
        "The table's cutouts split by that source (`realism.magnitude_source_table`):",
        "medians, real / mock.",
        "",
        f"| class | Rproj (kpc) | magnitude | n real | {head} |",
        "|---|---|---|---:|" + "---:|" * len(STATISTICS),
        *_median_rows(tab, ("cls", "rbin", "source"), STATISTICS),
    ]


def montage(images: Sequence[np.ndarray], *, columns: int = 6, gap: int = 4) -> np.ndarray:
    """Tile 8-bit cutouts into one image, ``columns`` per row, white gaps."""
    n = len(images)
    if n == 0:
        msg = "montage of no images"
        raise ValueError(msg)
    h, w = images[0].shape
    rows = -(-n // columns)
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), 255, dtype=np.uint8)
    for k, im in enumerate(images):
        r, c = divmod(k, columns)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = im
    return out


# -- the report ------------------------------------------------------------------------
#: The mock's settings before issue 12 (white noise, the depth it had, no unresolved
#: texture, the sparse
#: background galaxies, the uncalibrated star and cluster densities), rendered beside the
#: current ones in the report. Not reverted (code, not settings): the old clusters'
#: luminosity function, the spheroid's and satellites' light (smooth: their stars are
#: in the texture, off here), galaxies fainter than g = 24 drawn as point sources and the
#: background galaxies' sizes from published laws (docs/mock-realism.md item 35).
BASELINE_OVERRIDES = {
    "stack_resampling": False,
    "stack_background_mesh_px": 0,
    "depth_mag": dict(DEPTH_BEFORE),
    "unresolved_fluctuation_mag": float("inf"),
    "galaxy_density_arcmin2": 6.0,
    "galaxy_mag_range": (18.5, 25.5),
    "star_density_arcmin2": 260.0,
    "young_cluster_density_arcmin2": 12.0,
    "globular_cluster_density_arcmin2": 0.25,
}


#: Mock cutouts per real cutout: each draw pairs the real object anew (seed + draw) and
#: renders it with its own noise. With one draw the pairing alone moved the table by up to
#: 5 targets (33, 30 and 28 of 40 for the first three draws on 120 real cutouts per class;
#: docs/mock-realism.md item 42).
MOCK_DRAWS = 3
#: ``per_class`` of :func:`measure` for every real cutout (294 clusters, 237 galaxies): the
#: sample of docs/mock-realism.md since its item 43 (120 per class before, 10 clusters at
#: 15-30 kpc among them).
EVERY_REAL_CUTOUT = None


def real_sample(reference: str | Path, *, per_class: int | None, seed: int) -> pd.DataFrame:
    """Index of a seeded sample of ``per_class`` real cutouts per class (every one for None).

    With the columns the mock's central objects are matched on (:func:`mock_cutouts`):
    the clusters' V (:func:`cluster_vmag`), the galaxies' PS1 g (Wang+ 2023 table 8) and
    total g (Peacock+ 2010, or :func:`fill_unmeasured_galaxy_g`). No pixel is read.
    """
    from pandas_clusters.acquire.mock.calibration import PEACOCK_TABLE, read_peacock2010

    ref = Path(reference)
    real = read_real_cutouts(ref / "pandas-cutouts-klemenz")
    real["vmag"], real["vmag_source"] = cluster_vmag(real, ref)
    wang = ref / WANG_TABLE8
    real["g_ps1"] = (
        match_magnitude(real, read_ps1_gmag(wang), "g_ps1") if wang.is_file() else np.nan
    )
    peacock = ref / PEACOCK_TABLE
    real["g_total"] = (
        match_magnitude(real, read_peacock2010(peacock), "g_total") if peacock.is_file() else np.nan
    )
    for col in ("g_ps1", "g_total"):
        real[col] = np.where(real["cls"] == "galaxy", real[col], np.nan)
    real["g_total"], real["g_total_source"] = fill_unmeasured_galaxy_g(real, seed=seed)
    real["mag_source"] = magnitude_source(real)
    parts = [
        d.sample(len(d) if per_class is None else min(per_class, len(d)), random_state=int(seed))
        for _, d in real.groupby("cls")
    ]
    return pd.concat(parts).reset_index(drop=True)


def measure(
    settings,
    reference: str | Path,
    *,
    per_class: int | None,
    seed: int,
    mock_draws: int = MOCK_DRAWS,
) -> tuple[pd.DataFrame, pd.DataFrame, list, list]:
    """Real and mock statistics on a seeded sample of ``per_class`` real cutouts per class.

    ``per_class=None`` takes every real cutout (:data:`EVERY_REAL_CUTOUT`), as
    docs/mock-realism.md does.

    Each real cutout gets ``mock_draws`` mock cutouts (:data:`MOCK_DRAWS`; column
    ``draw`` of the mock statistics): the first draw's come first, in the real
    sample's order.

    Parameters
    ----------
    settings : MockSettings
    reference : path
        The shared ``reference`` folder (holding ``pandas-cutouts-klemenz`` and
        the RBC supplement).

    Returns
    -------
    real_stats, mock_stats : pandas.DataFrame
    real_images, mock_images : list of ndarray
    """
    sample = real_sample(reference, per_class=per_class, seed=seed)
    real_images = [read_png(p) for p in sample["path"]]
    parts, mock_images = [], []
    for draw in range(int(mock_draws)):
        idx, images = mock_cutouts(
            settings, sample, seed=int(seed) + draw, key_offset=draw * len(sample)
        )
        parts.append(idx.assign(draw=draw))
        mock_images += images
    return (
        statistics_table(sample, real_images),
        statistics_table(pd.concat(parts, ignore_index=True), mock_images),
        real_images,
        mock_images,
    )


def _figures(real_stats, mock_stats, base_stats, real_images, mock_images, figdir: Path):
    import matplotlib as mpl
    from matplotlib.figure import Figure
    from PIL import Image

    from pandas_clusters.core.io import atomic_path, save_figure

    figdir.mkdir(parents=True, exist_ok=True)
    for cls in CLASS_SETS:
        sel = np.flatnonzero((real_stats["cls"] == cls).to_numpy())[:18]
        if sel.size == 0:
            continue
        top = montage([real_images[i] for i in sel])
        bot = montage([mock_images[i] for i in sel])
        sep = np.full((16, top.shape[1]), 255, dtype=np.uint8)
        with atomic_path(figdir / f"montage_{cls}.png") as tmp:
            Image.fromarray(np.vstack([top, sep, bot])).save(tmp, format="png")
    stats = list(STATISTICS)
    fig = Figure(figsize=(3.2 * len(stats), 5.6))
    axes = fig.subplots(2, len(stats))
    colours = mpl.colormaps["tab10"]
    for r, cls in enumerate(CLASS_SETS):
        for c, stat in enumerate(stats):
            ax = axes[r, c]
            for k, (name, df) in enumerate(
                (("real", real_stats), ("mock", mock_stats), ("mock before", base_stats))
            ):
                v = df.loc[df["cls"] == cls, stat].dropna().to_numpy()
                if v.size:
                    ax.hist(v, bins=20, histtype="step", color=colours(k), label=name)
            ax.set_title(f"{cls}: {stat}", fontsize=9)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, figdir / "statistics.png")


def _table_lines(comp: pd.DataFrame, base: pd.DataFrame) -> list[str]:
    key = ["cls", "rbin", "statistic"]
    before = base[[*key, "mock_median", "pass"]].rename(
        columns={"mock_median": "mock_median_before", "pass": "pass_before"}
    )
    merged = comp.merge(before, on=key)
    lines = [
        "| class | Rproj (kpc) | statistic | n real | real median (68%) | mock median | "
        "mock before | target | pass (before) | a miss the real sample explains |",
        "|---|---|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in merged.itertuples(index=False):
        spread = "" if r.pass_ else ("yes" if r.within_spread else "no")
        lines.append(
            f"| {r.cls} | {r.rbin} | {r.statistic} | {r.n_real} | {r.real_median:.3g} "
            f"({r.real_lo:.3g}-{r.real_hi:.3g}) | "
            f"{r.mock_median:.3g} | {r.mock_median_before:.3g} | {r.target} | "
            f"{'yes' if r.pass_ else 'no'} ({'yes' if r.pass_before else 'no'}) | {spread} |"
        )
    return lines


def _kept_section(path: Path, name: str) -> list[str]:
    """The hand-written block ``<!-- name:start -->...<!-- name:end -->`` of ``path``, if any.

    A regenerated report keeps it (the prose of "what changed and why").
    """
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    m = re.search(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", text, re.S)
    return ["", *m.group(0).splitlines(), ""] if m else []


def _v_from_mass_text(reference: str | Path) -> str:
    ref = Path(reference)
    if not ((ref / RBC_SUPPLEMENT).is_file() and (ref / CR16_TABLE).is_file()):
        return "none (the CR16 table or the RBC supplement is absent)"
    zp, n = mass_magnitude_zero_point(
        read_rbc_vmag(ref / RBC_SUPPLEMENT), read_cr16_logm(ref / CR16_TABLE)
    )
    return (
        f"{zp:.2f} - 2.5 log M with Caldwell & Romanowsky 2016's mass M (the zero point the"
        f" median over the {n} clusters with both)"
    )


def write_realism_report(
    settings,
    reference: str | Path,
    out: str | Path,
    *,
    per_class: int | None,
    seed: int,
    command: str,
) -> pd.DataFrame:
    """Measure real vs mock (and the pre-issue-12 mock) and write ``out`` (Markdown) + figures.

    Figures go to ``<out without .md>/`` beside the report. Returns the comparison table.
    """
    from pandas_clusters.core.io import atomic_path

    out = Path(out)
    figdir = out.with_suffix("")
    real_s, mock_s, real_im, mock_im = measure(settings, reference, per_class=per_class, seed=seed)
    base = dataclasses.replace(settings, **BASELINE_OVERRIDES)
    _, base_s, _, _ = measure(base, reference, per_class=per_class, seed=seed)
    comp = compare_statistics(real_s, mock_s, seed=seed).rename(columns={"pass": "pass_"})
    comp_base = compare_statistics(real_s, base_s, seed=seed)
    _figures(real_s, mock_s, base_s, real_im, mock_im, figdir)
    n_pass, n_base = int(comp["pass_"].sum()), int(comp_base["pass"].sum())
    n_spread = int((~comp["pass_"] & comp["within_spread"]).sum())
    rel = figdir.name
    lines = [
        "# Mock realism: real PAndAS pixels against the mock",
        "",
        f"Produced by `{command}`; `pandas_clusters.report.realism` documents the statistics.",
        "Real: the shared `pandas-cutouts-klemenz` g-band cutouts (RBC class 1 confirmed",
        "clusters, class 4 background galaxies; CCD-edge cutouts left out). Mock: a one-CCD mock",
        "g field laid at each real object's position, with a mock object of the class there",
        "(clusters: one of the mock old clusters of the real one's radius bin, drawn out to",
        "the farthest real cluster, nearest in g to V + 0.35, V the RBC's or, where the RBC",
        f"has none, {_v_from_mass_text(reference)}; galaxies: the",
        "mock galaxy nearest in PS1-like PSF g to the real one's Pan-STARRS1 g of Wang+ 2023",
        f"table 8, or, where the real galaxy is not in it, one fainter than its limit g = {PS1_G_LIMIT}",
        "nearest in total g to the real one's g of Peacock+ 2010, or where neither table has",
        "it, to the Peacock+ 2010 g of a real galaxy missing from the PS1 table drawn at random; mock",
        f"galaxies brighter than g = {GALAXY_FAINT_MAG}), cut with the same",
        f"recipe (128 px, zscale, arcsinh, 8 bit); {MOCK_DRAWS} such mock cutouts per real one,",
        "each paired anew and with its own noise, their statistics pooled. 'Mock before' is the mock without this",
        "issue's changes",
        f"({', '.join(f'{k}={v}' for k, v in BASELINE_OVERRIDES.items())}).",
        "",
        f"Targets met: **{n_pass} of {len(comp)}** (before: {n_base} of {len(comp_base)}).",
        f"Sample: {'every real cutout' if per_class is None else f'up to {per_class} real cutouts per class'}"
        f", seed {seed}. In brackets, the 68%",
        f"interval of the real median over {BOOTSTRAP_RESAMPLES} bootstrap resamples of the",
        "real sample: how far another draw of as many real objects could move it. Of the",
        f"{len(comp) - n_pass} missed targets, {n_spread} would be met against some median in",
        "that interval (last column): misses the real sample's size can explain; the other",
        f"{len(comp) - n_pass - n_spread} it cannot.",
        "",
        *_table_lines(comp, comp_base),
        "",
        *_disk_zone_lines(real_s, mock_s),
        "",
        *_gradient_lines(real_s, mock_s),
        "",
        *_magnitude_source_lines(real_s, mock_s),
        "",
        "## Real (top) beside mock (bottom)",
        "",
        f"![clusters, real above mock]({rel}/montage_cluster.png)",
        "",
        f"![galaxies, real above mock]({rel}/montage_galaxy.png)",
        "",
        "## Distributions",
        "",
        f"![statistics]({rel}/statistics.png)",
        "",
    ]
    lines += _kept_section(out, "changes")
    s2r = out.with_name("mock-sim-to-real.json")
    if s2r.is_file():  # keep the sim-to-real section (pandas-clusters mock-sim-to-real)
        from .sim_to_real import sim_to_real_lines

        lines += ["", *sim_to_real_lines(json.loads(s2r.read_text(encoding="utf-8")))]
    with atomic_path(out, suffix=".md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return comp
