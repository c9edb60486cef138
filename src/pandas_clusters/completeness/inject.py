"""Artificial clusters: draw them per field and round and render them into the field's images.

Each round of a field works on its own copy of the field's multi-extension
g/i images. Per CCD of the first band, ``fraction_of_sources`` times the
CCD's sources (at least one) are placed uniformly on the CCD, at least
``min_separation_arcsec`` apart, with g, r_h (log-uniform), King c, g-i and
the fraction of light in resolved members drawn over the configured ranges.
They are rendered with the mock's cluster model
(:func:`pandas_clusters.acquire.mock.render.add_king_cluster`; member stars
from :func:`pandas_clusters.acquire.mock.population.cluster_members`) at each
CCD's own PSF and AB zero point, with Poisson noise for the added light
(the CCD's ``GAIN``), and clipped at ``SATURATE``.

PSF: the header's ``SEEING`` (FWHM, arcsec) and ``PSFBETA`` (Moffat beta;
``psf_beta`` when absent). Without ``SEEING`` the FWHM is measured on the
CCD's own stars: bright (S/N > 30), unflagged, unsaturated, isolated sep
detections, whose half-light radius (``sep.flux_radius``) is sigma-clipped
and converted to the FWHM of a Moffat of ``psf_beta``. Fewer than
``psf_min_stars`` such stars is an error naming field, band, CCD and setting.
Zero point: the header (``sources.zero_point_keywords``) or the config
(``sources.zero_points``), exactly as the sources stage reads it.

Every random number comes from ``numpy.random.default_rng([seed, 16, field,
round])``: a round is reproducible on its own, whatever other rounds or
fields run.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
import sep
from astropy.coordinates import SkyCoord, search_around_sky
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from scipy.spatial import cKDTree

from pandas_clusters.acquire.mock.population import cluster_members
from pandas_clusters.acquire.mock.render import (
    KING_MAX_LIGHT_LOSS,
    KING_MAX_STAMP_PX,
    add_king_cluster,
    king_light_outside_stamp,
)
from pandas_clusters.acquire.mock.settings import MockSettings
from pandas_clusters.core.background import background
from pandas_clusters.core.geometry import projected_radius_kpc
from pandas_clusters.core.io import atomic_path
from pandas_clusters.detect.ccd import (
    CCDImage,
    explicit_zero_point,
    list_ccds,
    pixel_scale_arcsec,
    read_ccd,
)
from pandas_clusters.detect.sources import SourceSettings

from .settings import CompletenessSettings

__all__ = ["INJECTED_COLUMNS", "CCDModel", "ccd_model", "draw_clusters", "inject_field"]

log = logging.getLogger(__name__)

#: Columns of the injected-cluster table (one row per artificial cluster).
INJECTED_COLUMNS = (
    "inj_id",
    "field",
    "round",
    "ccd",
    "ra",
    "dec",
    "gmag_in",
    "imag_in",
    "g_minus_i_in",
    "r_h_pc",
    "king_c",
    "resolved_fraction",
    "n_members",
    "rproj_kpc",
    "bkg_mu_g",
    "source_density_arcmin2",
    "fwhm_arcsec_g",
    "psf_source_g",
)
_STAR_SNR = 30.0


@dataclass(frozen=True)
class CCDModel:
    """What rendering needs of one CCD of one band: PSF, calibration, noise.

    Attributes
    ----------
    fwhm_px, beta : float
        Moffat PSF.
    psf_source : str
        ``"header"`` or ``"measured"``.
    zero_point : float
        AB zero point.
    gain : float
        e-/ADU for the Poisson noise of the added light.
    pixel_scale_arcsec : float
    back : numpy.ndarray
        sep background map (ADU/px) of the original image.
    """

    fwhm_px: float
    beta: float
    psf_source: str
    zero_point: float
    gain: float
    pixel_scale_arcsec: float
    back: np.ndarray


def _label(image: CCDImage, field: int, band: str) -> str:
    return f"field {field}, band {band}, CCD {image.ref.ccd} ({image.path}[{image.ref.hdu}])"


#: Half-width of the stellar locus around the mode of the half-light radii (relative), as
#: PSFEx keeps its PSF stars within a relative range of the mode of their sizes.
_LOCUS_HALF_WIDTH = 0.2


def _stellar_locus(r50: np.ndarray) -> np.ndarray:
    """The half-light radii of the stellar locus: those within ``_LOCUS_HALF_WIDTH`` of the mode.

    Stars share the PSF's radius; galaxies and blends spread above it, and where they
    are many (M31's disk and the background galaxies, each drawn with its size) they
    pull a median of all bright isolated sources up. The mode is the radius with the
    most neighbours within half the locus's width (the smallest such radius on a tie).
    """
    r = np.sort(np.asarray(r50, dtype=float))
    if r.size == 0:
        return r
    w = 0.5 * _LOCUS_HALF_WIDTH
    counts = np.searchsorted(r, r * (1 + w), side="right") - np.searchsorted(r, r * (1 - w))
    mode = r[int(np.argmax(counts))]
    return r[np.abs(r / mode - 1.0) <= _LOCUS_HALF_WIDTH]


def _measure_fwhm_px(data, mask, back, rms, saturate, beta, min_stars, label) -> float:
    """FWHM (px) of a Moffat of ``beta`` from the half-light radii of the CCD's stars.

    The stars are the bright isolated sources of the stellar locus (:func:`_stellar_locus`).
    """
    sub = data - back
    sep.set_extract_pixstack(max(300_000, sub.size // 4))  # as the sources stage
    sep.set_sub_object_limit(4096)
    objs = sep.extract(sub, 5.0, err=rms, mask=mask, minarea=5)
    if len(objs):
        flux, ferr, _ = sep.sum_circle(sub, objs["x"], objs["y"], 3.0, err=rms, mask=mask)
        r50, rflag = sep.flux_radius(sub, objs["x"], objs["y"], 6.0 * objs["a"], 0.5, mask=mask)
        xy = np.column_stack([objs["x"], objs["y"]])
        nearest = cKDTree(xy).query(xy, k=2)[0][:, 1] if len(xy) > 1 else np.full(1, np.inf)
        ok = (
            (objs["flag"] == 0)
            & (rflag == 0)
            & (objs["peak"] + back[objs["y"].astype(int), objs["x"].astype(int)] < saturate)
            & (flux > _STAR_SNR * ferr)
            & (nearest > 20.0)
            & np.isfinite(r50)
        )
        r50 = _stellar_locus(r50[ok])
    else:
        r50 = np.zeros(0)
    if r50.size < min_stars:
        msg = (
            f"{label}: no SEEING in the header and only {r50.size} bright isolated stars to "
            f"measure the PSF on (completeness.psf_min_stars = {min_stars}); add SEEING "
            "(and PSFBETA) to the header or lower completeness.psf_min_stars"
        )
        raise ValueError(msg)
    _, median, _ = sigma_clipped_stats(r50, sigma=2.5)
    # Moffat: r_half = alpha sqrt(2^(1/(beta-1)) - 1), FWHM = 2 alpha sqrt(2^(1/beta) - 1)
    ratio = 2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0) / math.sqrt(2.0 ** (1.0 / (beta - 1)) - 1.0)
    return float(median * ratio)


def ccd_model(
    image: CCDImage, *, field: int, band: str, settings: CompletenessSettings, box: int, filt: int
) -> CCDModel:
    """PSF (header or measured), zero point, gain and background of one CCD.

    Raises
    ------
    ValueError
        No ``SEEING`` and too few stars, or no ``GAIN`` on a sky-subtracted image
        (the Poisson noise of the added light cannot be set); the message names
        field, band, CCD and the setting.
    """
    label = _label(image, field, band)
    data = image.data
    mask = ~np.isfinite(data)
    filled = np.where(mask, 0.0, data).astype(np.float32)
    back, rms = background(filled, mask, box=box, filter_size=filt)
    scale = pixel_scale_arcsec(image.wcs)
    head = image.header
    beta = float(head.get("PSFBETA", settings.psf_beta))
    if head.get("SEEING") is not None:
        fwhm_px, source = float(head["SEEING"]) / scale, "header"
    else:
        fwhm_px = _measure_fwhm_px(
            filled, mask, back, rms, image.saturate, beta, settings.psf_min_stars, label
        )
        source = "measured"
    gain = image.gain
    if gain is None:
        sky, noise = float(np.median(back[~mask])), float(np.median(rms[~mask]))
        if not sky > 3.0 * noise:
            msg = (
                f"{label}: no GAIN in the header and the sky is subtracted, so the Poisson "
                "noise of the injected light cannot be set; add GAIN (e-/ADU) to the header"
            )
            raise ValueError(msg)
        gain = sky / noise**2
    return CCDModel(fwhm_px, beta, source, image.zero_point, float(gain), scale, back)


def draw_clusters(rng: np.random.Generator, n: int, settings: CompletenessSettings) -> pd.DataFrame:
    """Intrinsic parameters of ``n`` artificial clusters (g, i, r_h, c, members)."""
    g = rng.uniform(*settings.g_range, n)
    gi = rng.uniform(*settings.g_minus_i, n)
    lo, hi = np.log(settings.r_h_pc)
    lam = np.minimum(5.0 * 10 ** (-0.4 * (g - 19.0)), 30.0)  # the mock's member count
    n_members = rng.poisson(lam).astype(np.int32)
    frac = rng.uniform(*settings.resolved_fraction, n)
    return pd.DataFrame(
        {
            "gmag_in": g,
            "imag_in": g - gi,
            "g_minus_i_in": gi,
            "r_h_pc": np.exp(rng.uniform(lo, hi, n)),
            "king_c": rng.uniform(*settings.king_c, n),
            "resolved_fraction": np.where(n_members > 0, frac, 0.0),
            "n_members": n_members,
        }
    )


def _place(rng, n, shape, scale, min_sep_arcsec, label) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform positions on a CCD at least ``min_sep_arcsec`` apart (rejection)."""
    ny, nx = shape
    sep_px = min_sep_arcsec / scale
    xs: list[float] = []
    ys: list[float] = []
    for _ in range(50 * n):
        if len(xs) == n:
            break
        x, y = rng.uniform(-0.5, nx - 0.5), rng.uniform(-0.5, ny - 0.5)
        if xs and np.min(np.hypot(np.subtract(xs, x), np.subtract(ys, y))) < sep_px:
            continue
        xs.append(x)
        ys.append(y)
    if len(xs) < n:
        msg = (
            f"{label}: cannot place {n} artificial clusters {min_sep_arcsec} arcsec apart "
            "(completeness.min_separation_arcsec / fraction_of_sources too large for the CCD)"
        )
        raise ValueError(msg)
    return np.asarray(xs), np.asarray(ys)


def _members(mock: MockSettings, row) -> pd.DataFrame:
    """Member stars (ra, dec, gmag, imag) of one artificial cluster, at its resolved fraction."""
    if row.n_members == 0:
        return pd.DataFrame({"ra": [], "dec": [], "gmag": [], "imag": []})
    proto = pd.Series(
        {
            "obj_id": int(row.inj_id),
            "n_resolved": int(row.n_members),
            "king_c": row.king_c,
            "r_h_pc": row.r_h_pc,
            "gmag": row.gmag_in,
        }
    )
    mem = cluster_members(mock, proto)
    frac = np.sum(10 ** (-0.4 * (mem["gmag"] - row.gmag_in)))
    shift = -2.5 * np.log10(row.resolved_fraction / frac)
    cosd = np.cos(np.deg2rad(row.dec))
    return pd.DataFrame(
        {
            "ra": row.ra + mem["dx_arcsec"] / 3600.0 / cosd,
            "dec": row.dec + mem["dy_arcsec"] / 3600.0,
            "gmag": mem["gmag"] + shift,
            "imag": mem["imag"] + shift,
        }
    )


def _environment(table: pd.DataFrame, sources: pd.DataFrame, radius_arcsec: float) -> np.ndarray:
    """Sources (before injection) per arcmin^2 within ``radius_arcsec`` of each cluster."""
    if not len(table) or not len(sources):
        return np.zeros(len(table))
    c1 = SkyCoord(table["ra"].to_numpy() * u.deg, table["dec"].to_numpy() * u.deg)
    c2 = SkyCoord(sources["ra"].to_numpy() * u.deg, sources["dec"].to_numpy() * u.deg)
    idx, _, _, _ = search_around_sky(c1, c2, radius_arcsec * u.arcsec)
    counts = np.bincount(idx, minlength=len(table))
    return counts / (np.pi * (radius_arcsec / 60.0) ** 2)


def _check_tidal(settings: CompletenessSettings, scale: float, label: str) -> None:
    loss = king_light_outside_stamp(settings.r_h_pc[1], settings.king_c[1], scale)
    if loss > KING_MAX_LIGHT_LOSS:
        msg = (
            f"{label}: completeness.r_h_pc = {list(settings.r_h_pc)} with completeness.king_c "
            f"= {list(settings.king_c)} puts {loss:.1%} of the largest clusters' light beyond "
            f"the renderer's {KING_MAX_STAMP_PX} px stamp at {scale:.3f} arcsec/px (supported: "
            f"{KING_MAX_LIGHT_LOSS:.0%}); lower the upper end of r_h_pc or king_c"
        )
        raise ValueError(msg)


def _draw_field(images, sources, *, field, rnd, seed, settings, src_settings):
    """The artificial clusters of one field and round, with their environment.

    Returns the table and the :class:`CCDModel` of each CCD of the first band (by CCD).
    """
    rng = np.random.default_rng([seed, 16, field, rnd])
    ref = src_settings.bands[0]
    zp = explicit_zero_point(src_settings.zero_points, ref)
    parts = []
    models: dict[int, CCDModel] = {}
    for cref in list_ccds(images[ref]):
        image = read_ccd(
            images[ref], cref, zero_point=zp, zero_point_keywords=src_settings.zero_point_keywords
        )
        label = _label(image, field, ref)
        scale = pixel_scale_arcsec(image.wcs)
        _check_tidal(settings, scale, label)
        n_src = int((sources["ccd"] == cref.ccd).sum())
        n = max(1, round(settings.fraction_of_sources * n_src))
        x, y = _place(rng, n, image.data.shape, scale, settings.min_separation_arcsec, label)
        ra, dec = image.wcs.pixel_to_world_values(x, y)
        part = draw_clusters(rng, n, settings)
        part.insert(0, "ccd", np.full(n, cref.ccd, dtype=np.int16))
        part["ra"], part["dec"] = np.mod(np.asarray(ra), 360.0), np.asarray(dec)
        model = ccd_model(
            image,
            field=field,
            band=ref,
            settings=settings,
            box=src_settings.background_box,
            filt=src_settings.background_filter,
        )
        iy = np.clip(np.rint(y).astype(int), 0, image.data.shape[0] - 1)
        ix = np.clip(np.rint(x).astype(int), 0, image.data.shape[1] - 1)
        back = model.back[iy, ix] / model.pixel_scale_arcsec**2
        with np.errstate(divide="ignore", invalid="ignore"):
            part["bkg_mu_g"] = np.where(back > 0, model.zero_point - 2.5 * np.log10(back), np.nan)
        part["fwhm_arcsec_g"] = model.fwhm_px * model.pixel_scale_arcsec
        part["psf_source_g"] = model.psf_source
        parts.append(part)
        models[cref.ccd] = model
    table = pd.concat(parts, ignore_index=True)
    table["inj_id"] = (
        np.int64(field) * 10**12 + np.int64(rnd) * 10**6 + np.arange(len(table), dtype=np.int64)
    )
    table["field"] = np.int32(field)
    table["round"] = np.int32(rnd)
    table["rproj_kpc"] = projected_radius_kpc(table["ra"].to_numpy(), table["dec"].to_numpy())
    table["source_density_arcmin2"] = _environment(table, sources, settings.density_radius_arcsec)
    return table[list(INJECTED_COLUMNS)], models


def _render_band(path, out, band, table, members, *, field, seed, settings, src_settings, models):
    """Write ``out``: the image ``path`` with every artificial cluster added in ``band``.

    ``models``: CCD models already measured for this band, by CCD (may be empty).
    """
    zp = explicit_zero_point(src_settings.zero_points, band)
    rng = np.random.default_rng([seed, 16, field, int(table["round"].iloc[0]), ord(band)])
    mcol = f"{band}mag"
    total = table["gmag_in" if band == "g" else "imag_in"].to_numpy()
    with fits.open(path, memmap=False) as hdul:
        for cref in list_ccds(path):
            image = read_ccd(
                path, cref, zero_point=zp, zero_point_keywords=src_settings.zero_point_keywords
            )
            model = models.get(cref.ccd) or ccd_model(
                image,
                field=field,
                band=band,
                settings=settings,
                box=src_settings.background_box,
                filt=src_settings.background_filter,
            )
            added = np.zeros(image.data.shape, dtype=np.float64)
            x, y = image.wcs.world_to_pixel_values(table["ra"].to_numpy(), table["dec"].to_numpy())
            ny, nx = added.shape
            near = np.flatnonzero((x > -100) & (x < nx + 100) & (y > -100) & (y < ny + 100))
            for k in near:
                mem = members[k]
                mx, my = image.wcs.world_to_pixel_values(
                    mem["ra"].to_numpy(), mem["dec"].to_numpy()
                )
                add_king_cluster(
                    added,
                    float(x[k]),
                    float(y[k]),
                    flux=10 ** (-0.4 * (total[k] - model.zero_point)),
                    r_h_pc=float(table["r_h_pc"].iloc[k]),
                    king_c=float(table["king_c"].iloc[k]),
                    fwhm_px=model.fwhm_px,
                    beta=model.beta,
                    pixel_scale_arcsec=model.pixel_scale_arcsec,
                    members=(mx, my, 10 ** (-0.4 * (mem[mcol].to_numpy() - model.zero_point))),
                )
            lit = added > 0
            added[lit] = rng.poisson(added[lit] * model.gain) / model.gain
            data = np.minimum(image.data + added, image.saturate).astype(np.float32)
            hdul[cref.hdu].data = data
        with atomic_path(out, suffix=".fits") as tmp:
            hdul.writeto(tmp, overwrite=True)


def inject_field(
    images: Mapping[str, str | os.PathLike],
    sources_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    field: int,
    rnd: int,
    seed: int,
    settings: CompletenessSettings,
    src_settings: SourceSettings,
) -> tuple[dict[str, Path], pd.DataFrame]:
    """Inject one round of artificial clusters into copies of a field's images.

    Parameters
    ----------
    images : mapping of str to path
        band -> the field's multi-extension FITS.
    sources_path : path-like
        The field's sources table (before injection): how many clusters per CCD
        and the local source density.
    out_dir : path-like
        Folder of the injected images (``{band}.fits``).
    field, rnd, seed : int
        Field, round and master seed (the round's random generator).
    settings, src_settings
        Completeness and sources settings (bands, zero points, background mesh).

    Returns
    -------
    images : dict of str to pathlib.Path
        band -> injected image.
    table : pandas.DataFrame
        One row per artificial cluster, columns :data:`INJECTED_COLUMNS`.

    Raises
    ------
    ValueError
        A size range the renderer cannot draw at this pixel scale, a CCD without
        PSF information and too few stars, clusters that cannot be placed; the
        message names field, band, CCD and the setting.
    """
    sources = pd.read_parquet(sources_path, columns=["ra", "dec", "ccd"])
    table, models = _draw_field(
        images,
        sources,
        field=field,
        rnd=rnd,
        seed=seed,
        settings=settings,
        src_settings=src_settings,
    )
    mock = MockSettings.from_config(seed=seed)
    members = [_members(mock, row) for row in table.itertuples(index=False)]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    injected = {}
    for band in src_settings.bands:
        injected[band] = out_dir / f"{band}.fits"
        _render_band(
            images[band],
            injected[band],
            band,
            table,
            members,
            field=field,
            seed=seed,
            settings=settings,
            src_settings=src_settings,
            models=models if band == src_settings.bands[0] else {},
        )
    log.info("field %d round %d: injected %d artificial clusters", field, rnd, len(table))
    return injected, table
