"""Figures of the survey report: sky map, magnitudes and colours, stamp gallery.

:func:`write_report_figures` reads the cross-matched candidates
(``results/crossmatch/candidates.parquet``), the stamps of every field
(``results/stamps/{field}.parquet``) and, optionally, the sources of every
field (for the outlines of the processed fields), and writes three PNG files:

- **sky map**, two panels (the area within the Rproj limit, and a zoom on the
  processed fields): the candidates in tangent-plane offsets from the centre
  of M31 (xi east, eta north, degrees; east to the left), the Rproj limit as a circle
  (points at that on-sky separation), the disk ellipse (position angle
  38 deg, inclination 77 deg, :data:`pandas_clusters.core.geometry.M31`) at the
  deprojected radius ``disk_radius_kpc``, the convex hull of each processed
  field's sources, new and known candidates in different markers;
- **magnitudes**: histograms of g and g - i and the colour-magnitude
  diagram, new and known candidates apart;
- **gallery**: the ``gallery_size`` most probable candidates (``prob_mean``,
  ties by ``source_id``), one panel per band, asinh-stretched with
  :func:`pandas_clusters.learn.normalize.normalize_stamps` (pixels off the image
  grey), labelled with ``source_id``, probability, field and the first
  literature name (``new`` when none).

A candidate list with no rows gives the same three files, saying "no
candidates". Figures are drawn on matplotlib's Agg canvas (no pyplot, no
display) and written atomically (:func:`pandas_clusters.core.io.save_figure`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pandas_clusters.core.catalogues import LITERATURE_CATALOGUES
from pandas_clusters.core.columns import require_columns
from pandas_clusters.core.config import StageSettings
from pandas_clusters.core.geometry import M31, M31Geometry, tangent_plane_deg
from pandas_clusters.core.io import read_frame, read_parquet_metadata, save_figure
from pandas_clusters.learn.normalize import normalize_stamps

__all__ = [
    "REQUIRED_COLUMNS",
    "FigureSettings",
    "disk_ellipse_deg",
    "gallery_order",
    "plot_gallery",
    "plot_magnitudes",
    "plot_skymap",
    "rproj_circle_deg",
    "write_report_figures",
]

log = logging.getLogger(__name__)

#: Columns the candidates table must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("source_id", "field", "ra", "dec", "gmag", "imag", "prob_mean")

_NEW_STYLE = {"marker": "*", "color": "tab:red", "label": "new"}
_KNOWN_STYLE = {"marker": "o", "color": "tab:blue", "label": "known (literature)"}
_ALL_STYLE = {"marker": "o", "color": "tab:purple", "label": "candidates"}


@dataclass(frozen=True)
class FigureSettings(StageSettings):
    """Settings of the report figures.

    Attributes
    ----------
    gallery_size : int
        Number of candidates in the stamp gallery (the most probable ones).
    gallery_columns : int
        Candidates per row of the gallery (each takes one panel per band).
    rproj_max_kpc : float
        Projected radius drawn as a circle on the sky map, kpc (the selection's
        Rproj cut).
    disk_radius_kpc : float
        Deprojected radius of the disk ellipse drawn on the sky map, kpc.
    dpi : int
        Resolution of the PNG files, dots per inch.
    """

    _section: ClassVar[str] = "figures"
    _defaults_from: ClassVar[Mapping[str, str]] = {"rproj_max_kpc": "selection.rproj_max_kpc"}

    gallery_size: int
    gallery_columns: int
    rproj_max_kpc: float
    disk_radius_kpc: float
    dpi: int

    def __post_init__(self) -> None:
        for name in ("gallery_size", "gallery_columns", "dpi"):
            if getattr(self, name) < 1:
                msg = f"figures.{name} must be >= 1, got {getattr(self, name)}"
                raise ValueError(msg)
        for name in ("rproj_max_kpc", "disk_radius_kpc"):
            if not getattr(self, name) > 0:
                msg = f"figures.{name} must be > 0 kpc, got {getattr(self, name)}"
                raise ValueError(msg)


# --- geometry of the overlays ---------------------------------------------------------


def rproj_circle_deg(
    rproj_kpc: float, *, geometry: M31Geometry = M31, n: int = 361
) -> tuple[np.ndarray, np.ndarray]:
    """Tangent-plane outline of the points at projected radius ``rproj_kpc``.

    Parameters
    ----------
    rproj_kpc : float
        Projected (on-sky) distance to the centre, kpc.
    geometry : M31Geometry, optional
    n : int, optional
        Number of points (closed: the last equals the first).

    Returns
    -------
    xi, eta : numpy.ndarray
        Offsets as :func:`pandas_clusters.core.geometry.tangent_plane_deg` gives
        them, degrees.
    """
    sep = np.rad2deg(rproj_kpc / geometry.distance_kpc) * u.deg
    pa = np.linspace(0.0, 360.0, n) * u.deg
    pts = geometry.centre.directional_offset_by(pa, sep)
    return tangent_plane_deg(pts.ra.deg, pts.dec.deg, geometry=geometry)


def disk_ellipse_deg(
    radius_kpc: float, *, geometry: M31Geometry = M31, n: int = 361
) -> tuple[np.ndarray, np.ndarray]:
    """Tangent-plane outline of the disk at deprojected radius ``radius_kpc``.

    The inverse of :func:`pandas_clusters.core.geometry.deprojected_radius_kpc`:
    a circle of radius ``radius_kpc`` in the disk plane, its minor axis
    shortened by cos(inclination), rotated to the position angle.

    Parameters
    ----------
    radius_kpc : float
        Radius in the plane of the disk, kpc.
    geometry : M31Geometry, optional
    n : int, optional
        Number of points (closed).

    Returns
    -------
    xi, eta : numpy.ndarray
        Offsets, degrees (xi east, eta north).
    """
    r_deg = np.rad2deg(radius_kpc / geometry.distance_kpc)
    t = np.linspace(0.0, 2.0 * np.pi, n)
    x_major = r_deg * np.cos(t)
    y_minor = r_deg * np.sin(t) * np.cos(np.deg2rad(geometry.inclination_deg))
    pa = np.deg2rad(geometry.pa_deg)
    xi = x_major * np.sin(pa) - y_minor * np.cos(pa)
    eta = x_major * np.cos(pa) + y_minor * np.sin(pa)
    return xi, eta


def _field_outline(xi: np.ndarray, eta: np.ndarray) -> np.ndarray | None:
    """Closed convex hull of the points, shape (M, 2); None for fewer than 3 distinct points."""
    from scipy.spatial import ConvexHull, QhullError

    pts = np.column_stack([xi, eta])
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(np.unique(pts, axis=0)) < 3:
        return None
    try:
        hull = ConvexHull(pts)
    except QhullError:  # collinear points
        return None
    ring = pts[hull.vertices]
    return np.vstack([ring, ring[:1]])


def _read_field_outlines(
    sources_paths: Mapping[int, str | os.PathLike] | None, *, geometry: M31Geometry
) -> dict[int, np.ndarray]:
    outlines: dict[int, np.ndarray] = {}
    for field, path in sorted((sources_paths or {}).items()):
        table = pq.read_table(path, columns=["ra", "dec"])
        if table.num_rows == 0:
            log.info("field %s: no sources, no outline", field)
            continue
        xi, eta = tangent_plane_deg(
            table.column("ra").to_numpy(), table.column("dec").to_numpy(), geometry=geometry
        )
        ring = _field_outline(xi, eta)
        if ring is not None:
            outlines[int(field)] = ring
    return outlines


# --- candidates -------------------------------------------------------------------------


def _read_candidates(path: str | os.PathLike) -> pd.DataFrame:
    df = read_frame(path, what="candidates file")
    require_columns(df.columns, REQUIRED_COLUMNS, where=f"candidates file {str(path)!r}")
    return df


def _new_mask(df: pd.DataFrame) -> np.ndarray | None:
    """The ``new`` flag as bool, or None when the table has no cross-match."""
    if "new" not in df.columns:
        return None
    return df["new"].to_numpy(dtype=bool)


def _literature_name(row: pd.Series) -> str:
    for key in LITERATURE_CATALOGUES:
        name = row.get(key)
        if isinstance(name, str) and name.strip():
            return f"{key.upper()} {name.strip()}"
    if "new" in row.index:
        return "new" if bool(row["new"]) else "known"
    return ""


def _groups(df: pd.DataFrame) -> list[tuple[pd.DataFrame, dict[str, str]]]:
    new = _new_mask(df)
    if new is None:
        return [(df, _ALL_STYLE)]
    # the known ones (usually fewer) last, i.e. drawn on top
    return [(df.loc[new], _NEW_STYLE), (df.loc[~new], _KNOWN_STYLE)]


def _no_candidates(ax, text: str = "no candidates") -> None:
    ax.text(
        0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=13, color="0.3"
    )


# --- sky map ----------------------------------------------------------------------------


def _draw_sky(
    ax,
    offsets: pd.DataFrame,
    candidates: pd.DataFrame,
    *,
    settings: FigureSettings,
    field_outlines: Mapping[int, np.ndarray],
    geometry: M31Geometry,
    zoom: bool,
) -> None:
    cx, cy = rproj_circle_deg(settings.rproj_max_kpc, geometry=geometry)
    ax.plot(cx, cy, color="0.35", ls="--", lw=1.0, label=f"Rproj = {settings.rproj_max_kpc:g} kpc")
    ex, ey = disk_ellipse_deg(settings.disk_radius_kpc, geometry=geometry)
    ax.plot(
        ex,
        ey,
        color="tab:green",
        lw=1.0,
        label=(
            f"disk R = {settings.disk_radius_kpc:g} kpc (PA {geometry.pa_deg:g}°, "
            f"i = {geometry.inclination_deg:g}°)"
        ),
    )
    for k, (field, ring) in enumerate(sorted(field_outlines.items())):
        ax.plot(ring[:, 0], ring[:, 1], color="0.55", lw=0.8, label="fields" if k == 0 else None)
        if zoom:
            ax.text(
                float(ring[:-1, 0].max()),
                float(ring[:-1, 1].max()),
                str(field),
                fontsize=7,
                color="0.35",
                ha="left",
                va="bottom",
            )
    ax.plot([0.0], [0.0], marker="+", color="k", ms=10, ls="none", label="M31 centre")
    for part, style in _groups(candidates):
        if len(part) == 0:
            continue
        big = style["marker"] == "*"
        ax.scatter(
            offsets.loc[part.index, "xi"],
            offsets.loc[part.index, "eta"],
            s=(40 if big else 14) * (1.0 if zoom else 0.6),
            marker=style["marker"],
            color=style["color"],
            alpha=0.8,
            lw=0,
            label=f"{style['label']} ({len(part)})",
        )
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("ξ (deg, east)")
    ax.set_ylabel("η (deg, north)")
    ax.grid(alpha=0.2)


def _zoom_box(
    offsets: pd.DataFrame, field_outlines: Mapping[int, np.ndarray]
) -> tuple[float, float, float, float] | None:
    """Square (xmin, xmax, ymin, ymax) around the fields and candidates; None if empty."""
    xs = [offsets["xi"].to_numpy(float)] + [r[:, 0] for r in field_outlines.values()]
    ys = [offsets["eta"].to_numpy(float)] + [r[:, 1] for r in field_outlines.values()]
    x, y = np.concatenate(xs), np.concatenate(ys)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    xc, yc = (x[ok].min() + x[ok].max()) / 2, (y[ok].min() + y[ok].max()) / 2
    half = 0.55 * max(np.ptp(x[ok]), np.ptp(y[ok]), 0.02)  # square, so that aspect 1 fits
    return xc - half, xc + half, yc - half, yc + half


def plot_skymap(
    candidates: pd.DataFrame,
    *,
    settings: FigureSettings,
    field_outlines: Mapping[int, np.ndarray] | None = None,
    geometry: M31Geometry = M31,
) -> Figure:
    """Sky map of the candidates around M31 in tangent-plane offsets.

    Left: the whole area within the Rproj limit; right: a zoom on the
    processed fields and the candidates (same overlays, fields labelled).

    Parameters
    ----------
    candidates : pandas.DataFrame
        ``ra``, ``dec`` (ICRS deg), optionally ``new``.
    settings : FigureSettings
    field_outlines : mapping, optional
        Field -> closed outline (M, 2) in (xi, eta) degrees.
    geometry : M31Geometry, optional

    Returns
    -------
    matplotlib.figure.Figure
        Two axes, east to the left in both.
    """
    outlines = dict(field_outlines or {})
    xi, eta = tangent_plane_deg(
        candidates["ra"].to_numpy(float), candidates["dec"].to_numpy(float), geometry=geometry
    )
    offsets = pd.DataFrame(
        {"xi": np.atleast_1d(xi), "eta": np.atleast_1d(eta)}, index=candidates.index
    )
    fig = Figure(figsize=(13.0, 7.2), layout="constrained")
    ax_all, ax_zoom = fig.subplots(1, 2)
    for ax, zoom in ((ax_all, False), (ax_zoom, True)):
        _draw_sky(
            ax,
            offsets,
            candidates,
            settings=settings,
            field_outlines=outlines,
            geometry=geometry,
            zoom=zoom,
        )
        if len(candidates) == 0:
            _no_candidates(ax)
    lim = 1.1 * np.rad2deg(settings.rproj_max_kpc / geometry.distance_kpc)
    ax_all.set_xlim(lim, -lim)  # east to the left
    ax_all.set_ylim(-lim, lim)
    ax_all.set_title("within the Rproj limit")
    ax_all.legend(loc="lower left", fontsize=7, framealpha=0.8)
    box = _zoom_box(offsets, outlines)
    if box is None:
        ax_zoom.set_xlim(lim, -lim)
        ax_zoom.set_ylim(-lim, lim)
    else:
        ax_zoom.set_xlim(box[1], box[0])
        ax_zoom.set_ylim(box[2], box[3])
    ax_zoom.set_title("processed fields")
    fig.suptitle(f"Cluster candidates around M31 (N = {len(candidates)})")
    return fig


# --- magnitudes and colours -------------------------------------------------------------


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _bins(values: np.ndarray, *, min_width: float) -> np.ndarray:
    """Common bin edges of all groups: numpy's "auto" rule, no narrower than ``min_width``."""
    edges = np.histogram_bin_edges(values, bins="auto")
    if len(edges) < 2 or edges[1] - edges[0] < min_width:
        lo = np.floor(values.min() / min_width) * min_width
        hi = max(np.ceil(values.max() / min_width) * min_width, lo + min_width)
        edges = np.arange(lo, hi + min_width / 2, min_width)
    return edges


def plot_magnitudes(candidates: pd.DataFrame) -> Figure:
    """g histogram, g - i histogram and colour-magnitude diagram of the candidates.

    Parameters
    ----------
    candidates : pandas.DataFrame
        ``gmag``, ``imag`` (AB mag), optionally ``new``. Rows with a NaN
        magnitude are left out of the panels that need it (counted in the titles).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(13.0, 4.2), layout="constrained")
    ax_g, ax_c, ax_cmd = fig.subplots(1, 3)
    g_all = candidates["gmag"].to_numpy(float)
    gi_all = g_all - candidates["imag"].to_numpy(float)
    n_g, n_gi = int(np.isfinite(g_all).sum()), int(np.isfinite(gi_all).sum())
    if len(candidates) == 0:
        for ax in (ax_g, ax_c, ax_cmd):
            _no_candidates(ax)
    else:
        g_bins = _bins(_finite(g_all), min_width=0.1) if n_g else None
        gi_bins = _bins(_finite(gi_all), min_width=0.05) if n_gi else None
        for part, style in _groups(candidates):
            g = part["gmag"].to_numpy(float)
            gi = g - part["imag"].to_numpy(float)
            label = f"{style['label']} ({len(part)})"
            if n_g and np.isfinite(g).any():
                ax_g.hist(
                    _finite(g), bins=g_bins, histtype="step", color=style["color"], label=label
                )
            if n_gi and np.isfinite(gi).any():
                ax_c.hist(
                    _finite(gi), bins=gi_bins, histtype="step", color=style["color"], label=label
                )
                ok = np.isfinite(gi) & np.isfinite(g)
                ax_cmd.scatter(
                    gi[ok],
                    g[ok],
                    s=30 if style["marker"] == "*" else 10,
                    marker=style["marker"],
                    color=style["color"],
                    alpha=0.7,
                    lw=0,
                    label=label,
                )
        for ax, n in ((ax_g, n_g), (ax_c, n_gi), (ax_cmd, n_gi)):
            if n:
                ax.legend(fontsize=7)
            else:
                _no_candidates(ax, "no finite magnitudes")
    ax_g.set_xlabel("g (AB mag)")
    ax_g.set_ylabel("candidates")
    ax_g.set_title(f"g magnitude (N = {n_g})")
    ax_c.set_xlabel("g - i (mag)")
    ax_c.set_ylabel("candidates")
    ax_c.set_title(f"g - i colour (N = {n_gi})")
    ax_cmd.set_xlabel("g - i (mag)")
    ax_cmd.set_ylabel("g (AB mag)")
    ax_cmd.set_title("colour-magnitude diagram")
    ax_cmd.invert_yaxis()
    for ax in (ax_g, ax_c):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


# --- gallery ----------------------------------------------------------------------------


def gallery_order(candidates: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` most probable candidates: ``prob_mean`` descending, then ``source_id``."""
    order = candidates.sort_values(
        ["prob_mean", "source_id"], ascending=[False, True], kind="stable"
    )
    return order.head(n)


def _read_selected_stamps(
    path: str | os.PathLike, source_ids: Sequence[int]
) -> tuple[dict[int, np.ndarray], list[str]]:
    """Stamps (C, S, S) of the given sources, reading only the row groups that hold them."""
    meta = read_parquet_metadata(path)
    for key in ("bands", "size"):
        if key not in meta:
            msg = f"stamps file {str(path)!r} lacks the metadata key {key!r}"
            raise ValueError(msg)
    bands, size = list(meta["bands"]), int(meta["size"])
    wanted = pa.array(np.asarray(source_ids, dtype=np.int64), pa.int64())
    pf = pq.ParquetFile(path)
    found: dict[int, np.ndarray] = {}
    for rg in range(pf.num_row_groups):
        ids = pf.read_row_group(rg, columns=["source_id"]).column("source_id")
        hit = pc.is_in(ids, value_set=wanted).to_numpy(zero_copy_only=False)
        if not hit.any():
            continue
        rows = np.flatnonzero(hit)
        col = pf.read_row_group(rg, columns=["stamp"]).column("stamp").take(pa.array(rows))
        values = col.combine_chunks().flatten().to_numpy(zero_copy_only=False)
        if values.size != len(rows) * len(bands) * size * size:
            msg = (
                f"stamps file {str(path)!r}: stamp length does not match bands {bands} size {size}"
            )
            raise ValueError(msg)
        arr = values.astype(np.float32).reshape(len(rows), len(bands), size, size)
        for sid, stamp in zip(ids.to_numpy()[rows].tolist(), arr, strict=True):
            found[int(sid)] = stamp
    return found, bands


def _display(stamp: np.ndarray) -> np.ndarray:
    """asinh-stretched stamp (C, S, S) for display; NaN where the stamp is NaN."""
    shown = normalize_stamps(stamp[None])[0]
    return np.where(np.isfinite(stamp), shown, np.nan)


def plot_gallery(
    top: pd.DataFrame,
    stamps: Mapping[int, np.ndarray],
    *,
    bands: Sequence[str],
    settings: FigureSettings,
) -> Figure:
    """Stamp gallery: one panel per band for each candidate of ``top``, in order.

    Parameters
    ----------
    top : pandas.DataFrame
        The candidates to show (see :func:`gallery_order`), with ``source_id``,
        ``prob_mean``, ``field`` and optionally the literature name columns.
    stamps : mapping
        ``source_id`` -> stamp (C, S, S), calibrated flux (NaN off the image).
    bands : sequence of str
        Band of each stamp channel.
    settings : FigureSettings

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = len(top)
    nb = max(len(bands), 1)
    ncols = min(settings.gallery_columns, max(n, 1))
    nrows = max(1, -(-n // ncols))
    panel, title_h, head_h = 1.25, 0.42, 0.45  # inches: stamp panel, per-row titles, header
    width = max(ncols * (nb * panel + 0.15), 5.0)
    height = max(nrows * (panel + title_h) + head_h, 3.0)
    fig = Figure(figsize=(width, height))
    if n == 0:
        ax = fig.add_subplot()
        ax.set_axis_off()
        _no_candidates(ax)
        fig.suptitle("Most probable candidates")
        return fig
    outer = fig.add_gridspec(
        nrows,
        ncols,
        left=0.01,
        right=0.99,
        bottom=0.01,
        top=1.0 - (head_h + title_h) / height,
        wspace=0.12,
        hspace=title_h / panel,
    )
    cmap = "gray_r"
    for k, (_, row) in enumerate(top.iterrows()):
        r, c = divmod(k, ncols)
        cell = outer[r, c].subgridspec(1, nb, wspace=0.03)
        stamp = _display(stamps[int(row["source_id"])])
        finite = stamp[np.isfinite(stamp)]
        vmin, vmax = (-1.0, float(np.percentile(finite, 99.5))) if finite.size else (-1.0, 1.0)
        vmax = max(vmax, vmin + 1.0)
        for b in range(nb):
            ax = fig.add_subplot(cell[0, b])
            img = np.ma.masked_invalid(stamp[b])
            ax.imshow(img, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_facecolor("0.75")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(
                0.04, 0.96, bands[b], transform=ax.transAxes, va="top", fontsize=7, color="tab:red"
            )
            if b == 0:
                ax.set_title(
                    f"{int(row['source_id'])}\np={float(row['prob_mean']):.3f} "
                    f"f{int(row['field'])} {_literature_name(row)}",
                    fontsize=6.5,
                    loc="left",
                )
    fig.suptitle(
        f"{n} most probable candidates ({', '.join(bands)}; asinh stretch)",
        fontsize=10,
        y=1.0 - 0.08 / height,
        va="top",
    )
    return fig


# --- entry point ------------------------------------------------------------------------


def write_report_figures(
    candidates_path: str | os.PathLike,
    stamps_paths: Mapping[int, str | os.PathLike],
    *,
    skymap: str | os.PathLike,
    magnitudes: str | os.PathLike,
    gallery: str | os.PathLike,
    settings: FigureSettings,
    sources_paths: Mapping[int, str | os.PathLike] | None = None,
) -> dict[str, Path]:
    """Write the sky map, magnitude/colour figure and stamp gallery of the survey.

    Parameters
    ----------
    candidates_path : path-like
        Candidates Parquet (``results/crossmatch/candidates.parquet``): the
        columns :data:`REQUIRED_COLUMNS`, optionally ``new`` and the literature
        name columns (``c09`` ... ``h14``).
    stamps_paths : mapping
        Field -> stamps Parquet (``results/stamps/{field}.parquet``); must hold
        every field of the gallery's candidates.
    skymap, magnitudes, gallery : path-like
        Output PNG files.
    settings : FigureSettings
    sources_paths : mapping, optional
        Field -> sources Parquet; when given, each field's outline (convex
        hull of its sources) is drawn on the sky map.

    Returns
    -------
    dict
        ``{"skymap": path, "magnitudes": path, "gallery": path}``.

    Raises
    ------
    ValueError
        If the candidates file lacks a required column, a gallery candidate's
        field has no stamps file, or its ``source_id`` is not in that file.
    """
    candidates = _read_candidates(candidates_path)
    log.info("%d candidates from %s", len(candidates), candidates_path)
    stamps_by_field = {int(k): v for k, v in stamps_paths.items()}

    outlines = _read_field_outlines(sources_paths, geometry=M31)
    fig = plot_skymap(candidates, settings=settings, field_outlines=outlines)
    out = {"skymap": save_figure(fig, skymap, dpi=settings.dpi, fmt="png")}

    fig = plot_magnitudes(candidates)
    out["magnitudes"] = save_figure(fig, magnitudes, dpi=settings.dpi, fmt="png")

    top = gallery_order(candidates, settings.gallery_size)
    stamps: dict[int, np.ndarray] = {}
    bands: list[str] = []
    for field, part in top.groupby("field", sort=True):
        path = stamps_by_field.get(int(field))
        if path is None:
            msg = (
                f"candidate(s) of field {int(field)} in {str(candidates_path)!r} but no stamps "
                f"file for that field (given: {sorted(stamps_by_field)})"
            )
            raise ValueError(msg)
        ids = part["source_id"].to_numpy(np.int64)
        found, file_bands = _read_selected_stamps(path, ids)
        missing = sorted(set(ids.tolist()) - set(found))
        if missing:
            msg = f"stamps file {str(path)!r} lacks source_id(s) {missing[:5]} of the candidates"
            raise ValueError(msg)
        if bands and file_bands != bands:
            msg = f"stamps file {str(path)!r} has bands {file_bands}, others have {bands}"
            raise ValueError(msg)
        bands = file_bands
        stamps.update(found)
    fig = plot_gallery(top, stamps, bands=bands, settings=settings)
    out["gallery"] = save_figure(fig, gallery, dpi=settings.dpi, fmt="png")
    log.info("wrote %s", ", ".join(str(p) for p in out.values()))
    return out
