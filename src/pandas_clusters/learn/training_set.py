"""The labelled training set for one limiting magnitude.

Labels come from a cross-match of the detected sources with the PHAT
cluster catalogue:

* **positive** (``label = 1``): for each PHAT cluster, the nearest source
  within ``match_radius_arcsec``;
* **ambiguous** (dropped): any *other* source within that radius of a PHAT
  cluster (typically a resolved member star, or a second detection of the
  cluster), which is neither a clean positive nor a clean negative;
* **negative** (``label = 0``): every other source inside the PHAT footprint,
  PHAT background galaxies among them (flagged ``is_phat_galaxy``).

Sources outside the footprint are unlabelled and never used, and so are
sources without a finite g magnitude or with a flag of ``exclude_flags``. Objects seen in
two overlapping fields are kept once (the lower ``source_id``). The limit
applies to the g magnitude (``gmag <= mag_limit``), after labelling, so that
a cluster whose counterpart is too faint does not promote a brighter
neighbour to a positive.

Class balance (``class_balance``):

``"none"``
    keep every source; plain cross-entropy.
``"weighted"``
    keep every source; training weighs the cross-entropy by inverse class
    frequency of the train split.
``"undersample"``
    randomly drop negatives of the **train split only** down to
    ``negatives_per_positive`` per positive; validation and test keep the
    natural class ratio, so that purity is measured as it will be met.

The split into ``train``/``validation``/``test`` is seeded and stratified by
label. With ``split_block_arcsec > 0`` whole sky blocks of that size (on the
M31 tangent plane) go to one split, so that neighbouring and overlapping
stamps never straddle splits; blocks are assigned greedily to the split
whose per-class quota is furthest from met.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.coordinates import SkyCoord, search_around_sky

from pandas_clusters.core.columns import check_stamp_values, require_columns
from pandas_clusters.core.config import StageSettings
from pandas_clusters.core.geometry import tangent_plane_deg
from pandas_clusters.core.io import read_frame, read_parquet, read_parquet_metadata, write_parquet
from pandas_clusters.core.skymatch import deduplicate_across_fields

__all__ = [
    "CLASS_BALANCE_CHOICES",
    "SPLITS",
    "TrainsetSettings",
    "TrainsetWarning",
    "assign_splits",
    "build_trainset",
    "label_sources",
    "write_trainset",
]

#: Split names, in order.
SPLITS: tuple[str, str, str] = ("train", "validation", "test")
#: Accepted values of ``class_balance``.
CLASS_BALANCE_CHOICES: tuple[str, ...] = ("none", "weighted", "undersample")

_SOURCE_COLUMNS = ["source_id", "field", "ra", "dec", "gmag", "imag", "rproj_kpc", "flags"]
#: Read only to choose the copy kept of an object seen in several fields.
_DEDUP_COLUMNS = ["e_gmag", "e_imag"]


class TrainsetWarning(UserWarning):
    """A split without positives, or another oddity of the training set."""


@dataclass(frozen=True)
class TrainsetSettings(StageSettings):
    """Settings of the training set for one limiting magnitude.

    Attributes
    ----------
    mag_limit : float
        Keep sources with ``gmag <= mag_limit`` (AB mag).
    match_radius_arcsec : float
        Radius of the PHAT cross-match, arcsec.
    class_balance : str
        One of :data:`CLASS_BALANCE_CHOICES` (see the module docstring).
    negatives_per_positive : float
        Negatives kept per positive in the train split (``undersample`` only).
    split_fractions : tuple of float
        Fractions of train, validation and test (sum to 1).
    split_seed : int
        Seed of the split and of the undersampling.
    split_block_arcsec : float
        Side of the sky blocks kept whole within one split, arcsec; 0 disables.
    exclude_flags : int
        Bit mask of source ``flags`` (:mod:`pandas_clusters.detect.sources`) that
        remove a source from the training set after labelling; 0 keeps all.
    """

    _section: ClassVar[str] = "training"

    mag_limit: float
    match_radius_arcsec: float
    class_balance: str
    negatives_per_positive: float
    split_fractions: tuple[float, float, float]
    split_seed: int
    split_block_arcsec: float
    exclude_flags: int

    def __post_init__(self) -> None:
        if self.class_balance not in CLASS_BALANCE_CHOICES:
            msg = (
                f"training.class_balance must be one of {', '.join(CLASS_BALANCE_CHOICES)}, "
                f"got {self.class_balance!r}"
            )
            raise ValueError(msg)
        fr = tuple(float(f) for f in self.split_fractions)
        if len(fr) != 3 or min(fr) < 0 or abs(sum(fr) - 1.0) > 1e-6:
            msg = f"split fractions (train, validation, test) must be >= 0 and sum to 1, got {fr}"
            raise ValueError(msg)
        object.__setattr__(self, "split_fractions", fr)
        if self.match_radius_arcsec <= 0:
            msg = f"training.match_radius_arcsec must be > 0, got {self.match_radius_arcsec}"
            raise ValueError(msg)
        if self.negatives_per_positive <= 0:
            msg = f"training.negatives_per_positive must be > 0, got {self.negatives_per_positive}"
            raise ValueError(msg)

    @classmethod
    def _derive(cls, values: dict[str, Any]) -> dict[str, Any]:
        """The split's fractions, seed and block size from ``training.split``."""
        split = values["split"]
        return {
            "split_fractions": (split["train"], split["validation"], split["test"]),
            "split_seed": split["seed"],
            "split_block_arcsec": split["block_arcsec"],
            **values,
        }


def _coords(ra, dec) -> SkyCoord:
    return SkyCoord(np.asarray(ra, float) * u.deg, np.asarray(dec, float) * u.deg, frame="icrs")


def _read_catalogue(path: str | os.PathLike) -> pd.DataFrame:
    df = read_frame(path, what="catalogue")
    require_columns(df.columns, ("name", "ra_deg", "dec_deg"), where=f"catalogue {str(path)!r}")
    return df


def _read_sources(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    if not paths:
        msg = "no sources files given"
        raise ValueError(msg)
    frames = []
    for p in paths:
        schema = pq.read_schema(p)
        columns = _SOURCE_COLUMNS + _DEDUP_COLUMNS
        require_columns(schema.names, columns, where=f"sources file {str(p)!r}")
        frames.append(read_frame(p, columns=columns, what="sources file"))
    df = pd.concat(frames, ignore_index=True).sort_values("source_id", kind="stable")
    if df["source_id"].duplicated().any():
        dup = df.loc[df["source_id"].duplicated(), "source_id"].iloc[0]
        msg = f"source_id {dup} occurs twice among the sources files {[str(p) for p in paths]}"
        raise ValueError(msg)
    return df.reset_index(drop=True)


def label_sources(
    sources: pd.DataFrame,
    clusters: pd.DataFrame,
    galaxies: pd.DataFrame | None,
    *,
    match_radius_arcsec: float,
) -> pd.DataFrame:
    """Label sources by a cross-match with the PHAT cluster catalogue.

    Parameters
    ----------
    sources : pandas.DataFrame
        With ``ra``, ``dec`` (deg), all inside the PHAT footprint.
    clusters, galaxies : pandas.DataFrame
        PHAT catalogues with ``name``, ``ra_deg``, ``dec_deg`` (deg); ``galaxies``
        may be None.
    match_radius_arcsec : float
        Match radius, arcsec.

    Returns
    -------
    pandas.DataFrame
        ``sources`` without the ambiguous rows, with the added columns
        ``label`` (int8), ``phat_name`` (str, empty for negatives),
        ``match_sep_arcsec`` (float64, NaN for negatives) and
        ``is_phat_galaxy`` (bool).
    """
    radius = match_radius_arcsec * u.arcsec
    n = len(sources)
    out = sources.copy()
    label = np.zeros(n, np.int8)
    ambiguous = np.zeros(n, bool)
    name = np.full(n, "", dtype=object)
    sep_arcsec = np.full(n, np.nan)
    is_gal = np.zeros(n, bool)
    if n and len(clusters):
        src = _coords(sources["ra"], sources["dec"])
        cat = _coords(clusters["ra_deg"], clusters["dec_deg"])
        i_cat, i_src, sep, _ = search_around_sky(cat, src, radius)
        ambiguous[i_src] = True
        if len(i_cat):
            order = np.lexsort((sep.to_value(u.arcsec), i_cat))
            i_cat, i_src, sep = i_cat[order], i_src[order], sep[order]
            first = np.r_[True, i_cat[1:] != i_cat[:-1]]  # nearest source per cluster
            best_src = i_src[first]
            label[best_src] = 1
            name[best_src] = clusters["name"].to_numpy()[i_cat[first]]
            sep_arcsec[best_src] = sep[first].to_value(u.arcsec)
            ambiguous[best_src] = False
    if n and galaxies is not None and len(galaxies):
        src = _coords(sources["ra"], sources["dec"])
        gal = _coords(galaxies["ra_deg"], galaxies["dec_deg"])
        _, i_src, _, _ = search_around_sky(gal, src, radius)
        is_gal[i_src] = True
    out["label"] = label
    out["phat_name"] = name.astype(str)
    out["match_sep_arcsec"] = sep_arcsec
    out["is_phat_galaxy"] = is_gal & (label == 0)
    return out.loc[~ambiguous].reset_index(drop=True)


def _block_ids(ra, dec, block_arcsec: float) -> np.ndarray:
    xi, eta = tangent_plane_deg(ra, dec)
    bx = np.floor(np.asarray(xi) * 3600.0 / block_arcsec).astype(np.int64)
    by = np.floor(np.asarray(eta) * 3600.0 / block_arcsec).astype(np.int64)
    return (bx << 32) ^ (by & 0xFFFFFFFF)


def assign_splits(
    labels: np.ndarray,
    *,
    fractions: tuple[float, float, float],
    seed: int,
    blocks: np.ndarray | None = None,
) -> np.ndarray:
    """Seeded split stratified by label, optionally keeping blocks whole.

    Parameters
    ----------
    labels : array of int
        Class of each row.
    fractions : tuple of float
        Fractions of train, validation, test.
    seed : int
        Seed of the random permutation.
    blocks : array of int, optional
        Block key of each row; rows sharing a key go to the same split.

    Returns
    -------
    numpy.ndarray
        Split name of each row (object array of :data:`SPLITS`).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    out = np.empty(len(labels), dtype=object)
    frac = np.asarray(fractions, float)
    if blocks is None:
        for cls in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == cls))
            cuts = np.round(np.cumsum(frac)[:-1] * len(idx)).astype(int)
            for name, part in zip(SPLITS, np.split(idx, cuts), strict=True):
                out[part] = name
        return out
    classes = np.unique(labels)
    keys, inverse = np.unique(np.asarray(blocks), return_inverse=True)
    counts = np.zeros((len(keys), len(classes)))
    np.add.at(counts, (inverse, np.searchsorted(classes, labels)), 1)
    totals = counts.sum(axis=0)
    assigned = np.zeros((3, len(classes)))
    choice = np.empty(len(keys), dtype=np.int64)
    for b in rng.permutation(len(keys)):
        done = assigned.sum(axis=0) + counts[b]
        deficit = ((frac[:, None] * done - assigned) / totals) @ (counts[b] > 0)
        deficit[frac == 0] = -np.inf
        s = int(np.argmax(deficit))
        choice[b] = s
        assigned[s] += counts[b]
    out[:] = np.asarray(SPLITS, dtype=object)[choice[inverse]]
    return out


def _read_stamps(
    paths: Sequence[str | os.PathLike], source_ids: np.ndarray
) -> tuple[pa.Array, dict[str, Any]]:
    wanted = pa.array(np.asarray(source_ids, np.int64))
    tables, meta0 = [], None
    for p in paths:
        meta = read_parquet_metadata(p)
        for key in ("bands", "size"):
            if key not in meta:
                msg = f"stamps file {str(p)!r} lacks the metadata key {key!r}"
                raise ValueError(msg)
        if meta0 is None:
            meta0 = meta
        elif (list(meta["bands"]), int(meta["size"])) != (list(meta0["bands"]), int(meta0["size"])):
            msg = (
                f"stamps file {str(p)!r} has bands {meta['bands']} size {meta['size']}, "
                f"unlike {meta0['bands']} size {meta0['size']} in the other stamps files"
            )
            raise ValueError(msg)
        t = read_parquet(
            p, columns=["source_id", "stamp", "flags"], filters=[("source_id", "in", wanted)]
        )
        if t.num_rows:
            values = t["stamp"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
            check_stamp_values(
                values.reshape(t.num_rows, -1),
                t["flags"].to_numpy(),
                t["source_id"].to_numpy(),
                path=p,
            )
        tables.append(t.select(["source_id", "stamp"]))
    if meta0 is None:
        msg = "no stamps files given"
        raise ValueError(msg)
    table = pa.concat_tables(tables)
    got = pd.Index(table["source_id"].to_numpy())
    pos = got.get_indexer(np.asarray(source_ids, np.int64))
    if (pos < 0).any():
        missing = np.asarray(source_ids)[pos < 0][:5].tolist()
        msg = f"no stamp for source_id(s) {missing} in the stamps files {[str(p) for p in paths]}"
        raise ValueError(msg)
    stamp = table["stamp"].combine_chunks().take(pa.array(pos))
    n_expected = len(meta0["bands"]) * int(meta0["size"]) ** 2
    if pa.types.is_fixed_size_list(stamp.type) and stamp.type.list_size != n_expected:
        msg = f"stamps have {stamp.type.list_size} values per row, expected {n_expected}"
        raise ValueError(msg)
    return stamp, {"bands": list(meta0["bands"]), "size": int(meta0["size"])}


def build_trainset(
    sources_paths: Sequence[str | os.PathLike],
    stamps_paths: Sequence[str | os.PathLike],
    *,
    clusters_path: str | os.PathLike,
    galaxies_path: str | os.PathLike | None,
    footprint: Mapping[str, Sequence[Sequence[float]]],
    settings: TrainsetSettings,
) -> tuple[pa.Table, dict[str, Any]]:
    """Build the labelled, split training set (see the module docstring).

    Parameters
    ----------
    sources_paths, stamps_paths : sequence of path-like
        ``results/sources/{field}.parquet`` and ``results/stamps/{field}.parquet``
        of every field.
    clusters_path, galaxies_path : path-like
        PHAT cluster and background-galaxy catalogues (Parquet).
    footprint : mapping
        PHAT footprint, brick -> 4 ``[ra, dec]`` corners (deg), as returned by
        :func:`pandas_clusters.core.footprint.load_footprint`.
    settings : TrainsetSettings

    Returns
    -------
    table : pyarrow.Table
        One row per labelled source, sorted by ``source_id``: ``source_id``,
        ``field``, ``ra``, ``dec``, ``gmag``, ``imag``, ``rproj_kpc``, ``flags``,
        ``label`` (int8, 1 = PHAT cluster), ``phat_name``, ``match_sep_arcsec``,
        ``is_phat_galaxy``, ``split`` (train/validation/test) and ``stamp``.
    metadata : dict
        ``bands``, ``size``, the settings and the counts per split and class.

    Raises
    ------
    ValueError
        If no source is a PHAT cluster within the limits (no positives).
    """
    sources = _footprint_sources(sources_paths, footprint, settings)
    clusters = _read_catalogue(clusters_path)
    galaxies = _read_catalogue(galaxies_path) if galaxies_path is not None else None
    df = label_sources(
        sources, clusters, galaxies, match_radius_arcsec=settings.match_radius_arcsec
    )
    df = _apply_limits(df, settings)
    n_pos = _count_positives(df, settings, clusters_path, len(sources), len(clusters))
    df["split"] = _split_labels(df, settings)
    if settings.class_balance == "undersample":
        df = _undersample_train(df, settings)
    counts = _split_counts(df)
    _warn_splits_without_positives(counts, n_pos, settings)
    stamp, stamp_meta = _read_stamps(stamps_paths, df["source_id"].to_numpy())
    table = pa.Table.from_pandas(df, preserve_index=False).append_column("stamp", stamp)
    metadata = {
        **stamp_meta,
        "settings": settings.to_dict(),
        "mag_limit": settings.mag_limit,
        "mag_band": "g",
        "class_balance": settings.class_balance,
        "counts": counts,
    }
    return table, metadata


def _footprint_sources(
    sources_paths: Sequence[str | os.PathLike],
    footprint: Mapping[str, Sequence[Sequence[float]]],
    settings: TrainsetSettings,
) -> pd.DataFrame:
    """The sources inside the PHAT footprint, each object once across fields."""
    from pandas_clusters.core.footprint import in_footprint

    sources = _read_sources(sources_paths)
    inside = np.asarray(
        in_footprint(sources["ra"].to_numpy(), sources["dec"].to_numpy(), footprint)
    )
    sources = sources.loc[inside].reset_index(drop=True)
    unique = deduplicate_across_fields(sources, radius_arcsec=settings.match_radius_arcsec)
    return unique[_SOURCE_COLUMNS]


def _apply_limits(df: pd.DataFrame, settings: TrainsetSettings) -> pd.DataFrame:
    """Labelled sources with a finite ``gmag <= mag_limit`` and none of ``exclude_flags``."""
    keep = np.isfinite(df["gmag"]) & (df["gmag"] <= settings.mag_limit)
    keep &= (df["flags"].to_numpy() & settings.exclude_flags) == 0
    df = df.loc[keep]
    return df.reset_index(drop=True)


def _count_positives(
    df: pd.DataFrame,
    settings: TrainsetSettings,
    clusters_path: str | os.PathLike,
    n_sources: int,
    n_clusters: int,
) -> int:
    """Positives left within the limits; an error naming the inputs when there are none."""
    n_pos = int(df["label"].sum())
    if n_pos == 0:
        msg = (
            f"training set for mag_limit {settings.mag_limit} has no positives: no source with "
            f"gmag <= {settings.mag_limit} inside the PHAT footprint lies within "
            f"{settings.match_radius_arcsec} arcsec of a cluster of {str(clusters_path)!r} "
            f"({n_sources} sources in the footprint, {n_clusters} clusters)"
        )
        raise ValueError(msg)
    return n_pos


def _split_labels(df: pd.DataFrame, settings: TrainsetSettings) -> np.ndarray:
    """Split name of each row (:func:`assign_splits`, by sky block when configured)."""
    blocks = None
    if settings.split_block_arcsec > 0:
        blocks = _block_ids(df["ra"], df["dec"], settings.split_block_arcsec)
    return assign_splits(
        df["label"].to_numpy(),
        fractions=settings.split_fractions,
        seed=settings.split_seed,
        blocks=blocks,
    ).astype(str)


def _undersample_train(df: pd.DataFrame, settings: TrainsetSettings) -> pd.DataFrame:
    """Randomly drop train negatives down to ``negatives_per_positive`` per train positive."""
    rng = np.random.default_rng([settings.split_seed, 1])
    train_neg = np.flatnonzero((df["split"] == "train").to_numpy() & (df["label"] == 0))
    n_train_pos = int(((df["split"] == "train") & (df["label"] == 1)).sum())
    keep_n = int(round(settings.negatives_per_positive * n_train_pos))
    if keep_n < len(train_neg):
        drop = rng.choice(train_neg, size=len(train_neg) - keep_n, replace=False)
        df = df.drop(index=drop).reset_index(drop=True)
    return df


def _split_counts(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Positives and negatives per split."""
    return {
        s: {
            "positive": int(((df["split"] == s) & (df["label"] == 1)).sum()),
            "negative": int(((df["split"] == s) & (df["label"] == 0)).sum()),
        }
        for s in SPLITS
    }


def _warn_splits_without_positives(
    counts: Mapping[str, Mapping[str, int]], n_pos: int, settings: TrainsetSettings
) -> None:
    """A :class:`TrainsetWarning` for each non-empty split without positives."""
    for s in SPLITS:
        if counts[s]["positive"] == 0 and settings.split_fractions[SPLITS.index(s)] > 0:
            warnings.warn(
                f"the {s} split of the training set for mag_limit {settings.mag_limit} "
                f"has no positives ({n_pos} positives in all)",
                TrainsetWarning,
                stacklevel=3,  # the caller of build_trainset
            )


def write_trainset(
    path: str | os.PathLike,
    sources_paths: Sequence[str | os.PathLike],
    stamps_paths: Sequence[str | os.PathLike],
    *,
    clusters_path: str | os.PathLike,
    galaxies_path: str | os.PathLike | None,
    footprint_path: str | os.PathLike,
    settings: TrainsetSettings,
) -> Path:
    """Build the training set (:func:`build_trainset`) and write it to ``path`` (Parquet)."""
    from pandas_clusters.core.footprint import load_footprint

    table, metadata = build_trainset(
        sources_paths,
        stamps_paths,
        clusters_path=clusters_path,
        galaxies_path=galaxies_path,
        footprint=load_footprint(footprint_path),
        settings=settings,
    )
    return write_parquet(table, path, metadata=metadata, row_group_size=4096)
