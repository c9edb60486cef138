"""Matching positions on the sky: one-to-one cross-matches and the one de-duplication policy.

Two places need to know that detections in overlapping fields are one object: the
training set (so that an object is labelled once) and the selection (so that it is
published once). Both use :func:`deduplicate_across_fields`, whose policy is:

* copies are detections of *different* fields closer than the radius;
* the copy kept is the one with the best photometry: smallest ``e_gmag``, then smallest
  ``e_imag`` (missing errors count as infinite), then the lowest ``source_id``;
* objects are settled in that order, each absorbing at most one copy per other field,
  so a chain of neighbours never merges two real objects of the same field.

So the same object keeps the same ``source_id`` from the training set to the catalogue.
(Detections of one field on two overlapping CCDs are merged earlier, by the sources stage,
which keeps the detection farther from the CCD edge.)
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord, search_around_sky

__all__ = ["deduplicate_across_fields", "match_nearest_unique"]


def match_nearest_unique(
    ra1, dec1, ra2, dec2, *, radius_arcsec: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one nearest-first match of two position lists.

    Parameters
    ----------
    ra1, dec1 : array_like
        First list (the candidates), ICRS deg.
    ra2, dec2 : array_like
        Second list (the catalogue), ICRS deg.
    radius_arcsec : float
        Largest accepted separation, arcsec.

    Returns
    -------
    index : numpy.ndarray of int64
        For each entry of the first list, the index of its match in the second
        list, or -1.
    separation_arcsec : numpy.ndarray of float64
        Separation of the match, arcsec (NaN where none).

    Notes
    -----
    Pairs within the radius are accepted in order of increasing separation
    while neither member is taken, so no entry of either list is used twice.
    """
    ra1 = np.atleast_1d(np.asarray(ra1, dtype=float))
    dec1 = np.atleast_1d(np.asarray(dec1, dtype=float))
    ra2 = np.atleast_1d(np.asarray(ra2, dtype=float))
    dec2 = np.atleast_1d(np.asarray(dec2, dtype=float))
    index = np.full(len(ra1), -1, dtype=np.int64)
    sep_out = np.full(len(ra1), np.nan)
    if len(ra1) == 0 or len(ra2) == 0:
        return index, sep_out
    for label, arr in (("ra1", ra1), ("dec1", dec1), ("ra2", ra2), ("dec2", dec2)):
        if not np.all(np.isfinite(arr)):
            msg = f"match_nearest_unique: {label} has non-finite values"
            raise ValueError(msg)
    c1 = SkyCoord(ra1 * u.deg, dec1 * u.deg, frame="icrs")
    c2 = SkyCoord(ra2 * u.deg, dec2 * u.deg, frame="icrs")
    i1, i2, sep, _ = search_around_sky(c1, c2, radius_arcsec * u.arcsec)
    if len(i1) == 0:
        return index, sep_out
    sep_as = sep.to_value(u.arcsec)
    order = np.lexsort((i2, i1, sep_as))
    taken2 = np.zeros(len(ra2), dtype=bool)
    for k in order.tolist():
        a, b = i1[k], i2[k]
        if index[a] >= 0 or taken2[b]:
            continue
        index[a] = b
        sep_out[a] = sep_as[k]
        taken2[b] = True
    return index, sep_out


def _policy_rank(df: pd.DataFrame) -> np.ndarray:
    """Rank of each row under the de-duplication policy (0 = kept first)."""
    e_g = np.nan_to_num(df["e_gmag"].to_numpy(float), nan=np.inf)
    e_i = np.nan_to_num(df["e_imag"].to_numpy(float), nan=np.inf)
    sid = df["source_id"].to_numpy(np.int64)
    rank = np.empty(len(df), dtype=np.int64)
    rank[np.lexsort((sid, e_i, e_g))] = np.arange(len(df))
    return rank


def deduplicate_across_fields(df: pd.DataFrame, *, radius_arcsec: float) -> pd.DataFrame:
    """Keep one copy of each object seen in several overlapping fields (module policy).

    Parameters
    ----------
    df : pandas.DataFrame
        Detections with ``source_id``, ``field``, ``ra``, ``dec`` (deg), ``e_gmag`` and
        ``e_imag`` (mag).
    radius_arcsec : float
        Detections of different fields closer than this are copies, arcsec.

    Returns
    -------
    pandas.DataFrame
        The kept rows (in their input order) with ``n_copies`` (int32) and
        ``duplicate_fields`` (str, comma-separated fields of the absorbed copies,
        empty when none) added.
    """
    out = df.copy()
    n = len(out)
    keep = np.ones(n, dtype=bool)
    absorbed: list[set[int]] = [set() for _ in range(n)]
    if n >= 2:
        coords = SkyCoord(
            out["ra"].to_numpy(float) * u.deg, out["dec"].to_numpy(float) * u.deg, frame="icrs"
        )
        i, j, _, _ = search_around_sky(coords, coords, radius_arcsec * u.arcsec)
        fields = out["field"].to_numpy()
        sel = (i != j) & (fields[i] != fields[j])
        if sel.any():
            keep, absorbed = _settle(_policy_rank(out), fields, i[sel], j[sel])
    out["n_copies"] = np.array([1 + len(v) for v in absorbed], dtype=np.int32)
    out["duplicate_fields"] = [",".join(str(f) for f in sorted(v)) for v in absorbed]
    return out.loc[keep].reset_index(drop=True)


def _settle(rank, fields, i, j) -> tuple[np.ndarray, list[set[int]]]:
    """Walk the rows best first; a row near an already kept row of another field whose
    field that row has not absorbed yet becomes its copy."""
    n = len(rank)
    keep = np.ones(n, dtype=bool)
    absorbed: list[set[int]] = [set() for _ in range(n)]
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        neighbours[a].append(b)
    kept_so_far = np.zeros(n, dtype=bool)
    for k in np.argsort(rank).tolist():
        fk = int(fields[k])
        winners = [b for b in neighbours[k] if kept_so_far[b] and fk not in absorbed[b]]
        if winners:
            keep[k] = False
            absorbed[min(winners, key=lambda b: rank[b])].add(fk)
        else:
            kept_so_far[k] = True
    return keep, absorbed
