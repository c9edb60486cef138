"""Tests of pandas_clusters.detect.sources: detection, photometry, flags, IDs, bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from astropy.stats import sigma_clip
from astropy.wcs import WCS
from scipy.spatial import cKDTree

from pandas_clusters.core.io import read_parquet_metadata
from pandas_clusters.detect.ccd import resolve_zero_point
from pandas_clusters.detect.sources import (
    CASU_COLUMNS,
    FLAG_EDGE,
    FLAG_NAN_IN_APERTURE,
    FLAG_NO_APCORR,
    FLAG_SATURATED,
    ApertureCorrectionWarning,
    EmptyCCDWarning,
    SourceSettings,
    _windowed_positions,
    build_sources,
    make_source_id,
    sources_schema,
)

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def mock_field(mock_field_with_sources):
    """The shared mock field (conftest.py): images, truth, sources."""
    return mock_field_with_sources


def _tangent_arcsec(ra, dec, ra0, dec0):
    ra, dec = np.deg2rad(ra), np.deg2rad(dec)
    ra0, dec0 = np.deg2rad(ra0), np.deg2rad(dec0)
    cosc = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(ra - ra0)
    xi = np.cos(dec) * np.sin(ra - ra0) / cosc
    eta = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(ra - ra0)) / cosc
    return np.column_stack([np.rad2deg(xi), np.rad2deg(eta)]) * 3600.0


def _score(truth: pd.DataFrame, sources: pd.DataFrame):
    """Isolated truth stars, and their nearest source within 0.5 arcsec."""
    ra0, dec0 = truth["ra"].mean(), truth["dec"].mean()
    t = _tangent_arcsec(truth["ra"].to_numpy(), truth["dec"].to_numpy(), ra0, dec0)
    s = _tangent_arcsec(sources["ra"].to_numpy(), sources["dec"].to_numpy(), ra0, dec0)
    g = truth["gmag"].to_numpy()
    kind = truth["kind"].to_numpy()
    # isolated: no other object within 2" brighter than g + 4 mag (one 4 mag fainter at 1"
    # moves a light centroid by 0.03"), no extended object within 5" brighter than g + 2 mag
    # (the mock's faint background galaxies, about 100 per arcmin^2, lie near every star)
    tree = cKDTree(t)
    near = tree.query_ball_point(t, 2.0)
    brighter_near = np.array(
        [any(g[j] < g[k] + 4.0 for j in lst if j != k) for k, lst in enumerate(near)]
    )
    ext = kind != "star"
    near_ext = np.zeros(len(t), bool)
    if ext.any():
        ext_idx = np.flatnonzero(ext)
        around = cKDTree(t[ext]).query_ball_point(t, 5.0)
        near_ext = np.array(
            [
                any(ext_idx[j] != k and g[ext_idx[j]] < g[k] + 2.0 for j in lst)
                for k, lst in enumerate(around)
            ]
        )
    isolated = (kind == "star") & ~brighter_near & ~near_ext
    dist, idx = cKDTree(s).query(t)
    matched = dist < 0.5
    return isolated, matched, idx, dist


# --------------------------------------------------------------------------- mock scoring


def test_mock_completeness(mock_field):
    truth, src = mock_field["truth"], mock_field["sources"]
    isolated, matched, _, _ = _score(truth, src)
    sel = isolated & (truth["gmag"].to_numpy() < 23.0)
    assert sel.sum() >= 20
    assert matched[sel].mean() >= 0.95


def test_mock_photometry_and_astrometry(mock_field):
    truth, src = mock_field["truth"], mock_field["sources"]
    isolated, matched, idx, dist = _score(truth, src)
    flags = src["flags"].to_numpy()[idx]
    clean = (flags & (FLAG_EDGE | FLAG_NAN_IN_APERTURE | FLAG_SATURATED)) == 0
    sel = isolated & matched & clean & (truth["gmag"].to_numpy() < 22.0)
    assert sel.sum() >= 10
    rows = src.iloc[idx[sel]]
    dg = rows["gmag"].to_numpy() - truth["gmag"].to_numpy()[sel]
    di = rows["imag"].to_numpy() - truth["imag"].to_numpy()[sel]
    assert abs(np.median(dg)) < 0.03
    assert abs(np.median(di)) < 0.03
    assert np.all(rows["e_gmag"].to_numpy() > 0) and np.all(rows["e_gmag"].to_numpy() < 0.05)
    # in the mock's crowded disk a few "isolated" stars (no brighter neighbour within 2")
    # still have fainter companions that pull the centroid by a few tenths of a pixel:
    # the typical offset is a small fraction of a pixel (0.187"), most stars lie within
    # half a pixel, and the rms of the core (3-sigma clipped) stays under 0.05". (A
    # 3-sigma clip keeping 80% of the stars was asked before: the tighter the core, the
    # more of the crowded stars it clips, 24 of 28 kept before issue 12's item 49 with a
    # core of 0.021", 23 of 29 after it with 0.014".)
    assert np.median(dist[sel]) < 0.03
    assert np.mean(dist[sel] < 0.1) >= 0.8
    offsets = sigma_clip(dist[sel], sigma=3.0, maxiters=5).compressed()
    assert np.sqrt(np.mean(offsets**2)) < 0.05


def test_mock_bands_aligned_on_sky(mock_field):
    """x_i/y_i are the i-band WCS pixel of the same sky position, not the g pixel."""
    src = mock_field["sources"]
    with fits.open(mock_field["images"]["i"]) as hdul:
        wcs_i = WCS(hdul[1].header)
    xi, yi = wcs_i.world_to_pixel_values(src["ra"].to_numpy(), src["dec"].to_numpy())
    np.testing.assert_allclose(src["x_i"], xi, atol=1e-6)
    np.testing.assert_allclose(src["y_i"], yi, atol=1e-6)
    assert np.max(np.hypot(src["x_i"] - src["x_g"], src["y_i"] - src["y_g"])) > 0.05


def test_sources_file_contract(mock_field, tmp_path):
    path = mock_field["path"]
    table = pq.read_table(path)
    assert table.schema.remove_metadata() == sources_schema(("g", "i"))
    ids = table.column("source_id").to_numpy()
    assert np.all(np.diff(ids) > 0)
    assert np.all(ids // 10**15 == 1)
    meta = read_parquet_metadata(path)
    assert meta["bands"] == ["g", "i"] and meta["flag_bits"]["EDGE"] == FLAG_EDGE
    assert {c["band"] for c in meta["ccds"]} == {"g", "i"}
    assert np.all(np.isfinite(table.column("rproj_kpc").to_numpy()))
    # stable across reruns
    again = build_sources(
        mock_field["images"],
        field=1,
        out=tmp_path / "again.parquet",
        settings=SourceSettings.from_config(),
    )
    np.testing.assert_array_equal(again["source_id"].to_numpy(), ids)


def test_make_source_id_ranges():
    ids = make_source_id(207, [0, 35], [10.0, 2047.9], [5.25, 4611.0])
    assert ids[0] == 207 * 10**15 + 0 * 10**12 + 21 * 10**6 + 40
    assert ids[1] // 10**12 % 1000 == 35
    with pytest.raises(ValueError, match="field"):
        make_source_id(10_000, [0], [0.0], [0.0])


# --------------------------------------------------------------------------- synthetic images


def _write_mef(path, *, ccds, seed=1, zp=30.0, stars=(), drop=None, shape=(120, 160)):
    """MEF with one HDU per (ccd, crpix) entry; Gaussian stars at (ra, dec, mag)."""
    rng = np.random.default_rng(seed)
    hdus = [fits.PrimaryHDU()]
    for ccd, crpix in ccds:
        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        w.wcs.crval = [10.0, 41.0]
        w.wcs.crpix = crpix
        s = 0.187 / 3600.0
        w.wcs.cd = [[-s, 0.0], [0.0, s]]
        ny, nx = shape
        img = 100.0 + rng.normal(0.0, 3.0, shape)
        yy, xx = np.mgrid[:ny, :nx]
        for ra, dec, mag in stars:
            x, y = w.world_to_pixel_values(ra, dec)
            flux = 10 ** (-0.4 * (mag - zp))
            sig = 1.5
            img += (
                flux
                / (2 * np.pi * sig**2)
                * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sig**2))
            )
        hdr = w.to_header()
        hdr["EXTNAME"] = f"ccd{ccd:02d}"
        hdr["CCDNUM"] = ccd
        hdr["MAGZPT"] = zp
        hdr["GAIN"] = 2.0
        hdr["SATURATE"] = 60000.0
        for key in drop or ():
            del hdr[key]
        hdus.append(fits.ImageHDU(img.astype(np.float32), header=hdr))
    fits.HDUList(hdus).writeto(path)
    return path


def test_missing_wcs_names_file_and_hdu(tmp_path):
    g = _write_mef(tmp_path / "g.fits", ccds=[(0, [80, 60])], drop=["CTYPE1", "CTYPE2"])
    with pytest.raises(ValueError, match=r"g\.fits\[1\].*celestial WCS"):
        build_sources(
            {"g": g},
            field=3,
            out=tmp_path / "s.parquet",
            settings=SourceSettings.from_config(bands=("g",)),
        )
    assert not (tmp_path / "s.parquet").exists()


def test_missing_zero_point_names_file_and_hdu(tmp_path):
    g = _write_mef(tmp_path / "g.fits", ccds=[(0, [80, 60])], drop=["MAGZPT"])
    settings = SourceSettings.from_config(bands=("g",))
    with pytest.raises(ValueError, match=r"g\.fits\[1\].*zero point"):
        build_sources({"g": g}, field=3, out=tmp_path / "s.parquet", settings=settings)
    # an explicit zero point is accepted
    explicit = dataclasses.replace(settings, zero_points={"g": 30.0}, aperture_correction="none")
    build_sources({"g": g}, field=3, out=tmp_path / "s.parquet", settings=explicit)
    assert (tmp_path / "s.parquet").exists()


def test_zero_point_keywords():
    hdr = fits.Header({"PHOT_C": 26.0, "EXPTIME": 100.0})
    assert resolve_zero_point(hdr, label="x", keywords=("MAGZPT", "PHOT_C")) == pytest.approx(31.0)
    assert resolve_zero_point(hdr, label="x", explicit=25.0) == 25.0
    with pytest.raises(ValueError, match="x: no photometric zero point"):
        resolve_zero_point(hdr, label="x", keywords=("MAGZPT",))


def test_all_nan_ccd_gives_empty_file_and_warning(tmp_path):
    paths = {}
    for band in ("g", "i"):
        p = _write_mef(tmp_path / f"{band}.fits", ccds=[(0, [80, 60])])
        with fits.open(p, mode="update") as hdul:
            hdul[1].data[:] = np.nan
        paths[band] = p
    out = tmp_path / "empty.parquet"
    with pytest.warns(EmptyCCDWarning, match=r"g\.fits\[1\].*all NaN"):
        frame = build_sources(paths, field=5, out=out, settings=SourceSettings.from_config())
    assert len(frame) == 0
    table = pq.read_table(out)
    assert table.num_rows == 0
    assert table.schema.remove_metadata() == sources_schema(("g", "i"))


def test_duplicates_in_ccd_overlap_resolved(tmp_path):
    # CCD 1 is CCD 0 shifted by 100 px in x: a 60 px wide overlap
    stars = []
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [10.0, 41.0]
    w.wcs.crpix = [80, 60]
    w.wcs.cd = [[-0.187 / 3600, 0], [0, 0.187 / 3600]]
    for x, y in [(30, 30), (60, 80), (125, 40), (140, 90), (230, 60)]:
        ra, dec = w.pixel_to_world_values(x, y)
        stars.append((float(ra), float(dec), 20.0))
    paths = {
        b: _write_mef(
            tmp_path / f"{b}.fits", ccds=[(0, [80, 60]), (1, [-20, 60])], stars=stars, seed=k
        )
        for k, b in enumerate(("g", "i"))
    }
    settings = SourceSettings.from_config(aperture_correction="none", detect_thresh=5.0)
    frame = build_sources(paths, field=2, out=tmp_path / "s.parquet", settings=settings)
    bright = frame[frame["gmag"] < 21]
    assert len(bright) == 5
    assert set(bright["ccd"]) == {0, 1}
    assert np.all(np.abs(bright["gmag"] - 20.0) < 0.1)


# --------------------------------------------------------------------------- CASU catalogue input


def test_casu_catalogue_input(tmp_path):
    rows = [
        # RA Dec iccd xg yg g dg ig xi yi i di ii ia field
        (10.1, 41.2, 3, 101.0, 201.0, 21.5, 0.02, -1, 101.5, 200.5, 20.9, 0.03, -1, 0, 7),
        (10.2, 41.3, 4, 11.0, 21.0, 17.0, 0.01, -9, 11.2, 20.8, 16.1, 0.01, -9, 0, 7),
        (10.3, 41.4, 4, 51.0, 61.0, 99.999, 9.9, 0, 51.2, 60.8, 23.0, 0.2, 1, 0, 7),
        (10.4, 41.5, 4, 71.0, 81.0, 22.0, 0.05, 1, 71.2, 80.8, 21.0, 0.05, 1, 0, 8),
    ]
    cat = pd.DataFrame(rows, columns=list(CASU_COLUMNS))
    path = tmp_path / "casu.txt"
    cat.to_csv(path, sep=" ", index=False)
    settings = SourceSettings.from_config(method="catalogue")
    frame = build_sources(
        {}, field=7, out=tmp_path / "s.parquet", settings=settings, catalogue=path
    )
    assert len(frame) == 3  # the field-8 row is dropped
    assert frame["x_g"].iloc[0] == pytest.approx(100.0)
    assert frame["y_i"].iloc[0] == pytest.approx(199.5)
    assert frame["gmag"].iloc[0] == pytest.approx(21.5)
    flags = frame["flags"].to_numpy()
    assert flags[0] == 0
    assert flags[1] & FLAG_SATURATED  # class -9, the first row of CCD 4
    assert np.isnan(frame["gmag"]).sum() == 1
    assert pq.read_table(tmp_path / "s.parquet").schema.remove_metadata() == sources_schema(
        ("g", "i")
    )
    with pytest.raises(ValueError, match="missing column.*ia"):
        cat.drop(columns="ia").to_csv(tmp_path / "bad.txt", sep=" ", index=False)
        build_sources(
            {},
            field=7,
            out=tmp_path / "b.parquet",
            settings=settings,
            catalogue=tmp_path / "bad.txt",
        )


# --------------------------------------------------------------------------- real CFHT image


@pytest.mark.reference
def test_real_cfht_megacam_image(tmp_path, cfht_image):
    settings = SourceSettings.from_config(bands=("g",))
    with pytest.raises(ValueError, match=r"query_images\.fits\[0\].*zero point"):
        build_sources({"g": cfht_image}, field=0, out=tmp_path / "s.parquet", settings=settings)
    # a zero point given explicitly; a 2 s exposure of 101 px has no star for an aperture correction
    settings = dataclasses.replace(settings, zero_points={"g": 26.5})
    with pytest.warns(ApertureCorrectionWarning, match=r"query_images\.fits\[0\]"):
        frame = build_sources(
            {"g": cfht_image}, field=0, out=tmp_path / "s.parquet", settings=settings
        )
    assert np.all(frame["flags"].to_numpy() & FLAG_NO_APCORR)
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.schema.remove_metadata() == sources_schema(("g",))
    assert table.num_rows == len(frame)
    assert np.all(frame["ccd"] == 10)


# --------------------------------------------------------------------------- speed paths


def test_ccd_workers_give_the_same_table_and_warnings(tmp_path):
    """threads=2 (CCDs in worker processes) writes what threads=1 writes, warnings included."""
    stars = [(10.0 + dx * 1e-4, 41.0 + dy * 1e-4, 20.0) for dx, dy in [(0, 0), (3, 2), (-9, 1)]]
    paths = {}
    for k, band in enumerate(("g", "i")):
        p = _write_mef(
            tmp_path / f"{band}.fits",
            ccds=[(0, [80, 60]), (1, [-200, 60]), (2, [-480, 60])],
            stars=stars,
            seed=k,
        )
        with fits.open(p, mode="update") as hdul:
            hdul[2].data[:] = np.nan  # CCD 1: no data, a warning from a worker
        paths[band] = p
    settings = SourceSettings.from_config(aperture_correction="none", detect_thresh=3.0)
    frames = {}
    for threads in (1, 2):
        with pytest.warns(EmptyCCDWarning, match=r"g\.fits\[2\] \(CCD 1, band g\)"):
            frames[threads] = build_sources(
                paths,
                field=4,
                out=tmp_path / f"s{threads}.parquet",
                settings=settings,
                threads=threads,
            )
    assert len(frames[1]) >= 3
    pd.testing.assert_frame_equal(frames[1], frames[2])
    assert pq.read_table(tmp_path / "s1.parquet").equals(pq.read_table(tmp_path / "s2.parquet"))


def test_reproject_bilinear_matches_reproject_interp():
    """The node-grid mapping resamples as reproject_interp does (NaN pattern and values)."""
    from reproject import reproject_interp

    from pandas_clusters.detect.sources import reproject_bilinear

    def wcs(crpix, rot_deg):
        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        w.wcs.crval = [10.0, 41.0]
        w.wcs.crpix = crpix
        s, c = np.sin(np.deg2rad(rot_deg)), np.cos(np.deg2rad(rot_deg))
        scale = 0.187 / 3600.0
        w.wcs.cd = [[-scale * c, scale * s], [scale * s, scale * c]]
        return w

    rng = np.random.default_rng(2)
    data = rng.normal(0.0, 1.0, (300, 200)).astype(np.float32)
    data[50:53, :] = np.nan
    data[:, 120] = np.nan
    w_in, w_out = wcs([100.3, 150.2], 0.02), wcs([97.8, 153.1], 0.0)
    want, _ = reproject_interp((data, w_in), w_out, shape_out=(310, 190), order="bilinear")
    got = reproject_bilinear(data, w_in, w_out, (310, 190), step=64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got).sum() > 1000  # off the input grid, and its NaN pixels
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, equal_nan=True)


# --------------------------------------------------------------------------- positions


def _objects(**cols) -> np.ndarray:
    """sep-like object records with the columns the position step reads."""
    dtype = [(k, np.float64 if k in ("x", "y", "a") else np.int64) for k in cols]
    return np.array([tuple(v for v in cols.values())], dtype=dtype)


def test_windowed_position_starts_at_the_peak_not_a_lopsided_barycentre():
    # a compact source at (40.3, 50.6) inside one detection with a wide faint patch of
    # crowded stars to its right: the detection's barycentre lies 25 px away
    yy, xx = np.mgrid[:100, :160].astype(float)
    det = 200.0 * np.exp(-((xx - 40.3) ** 2 + (yy - 50.6) ** 2) / (2 * 1.6**2))
    det += np.where((xx > 45) & (xx < 120) & (np.abs(yy - 50) < 20), 3.0, 0.0)
    mask = np.zeros(det.shape, dtype=bool)
    objs = _objects(x=65.0, y=50.5, a=25.0, xcpeak=40, ycpeak=51)
    x, y = _windowed_positions(det, mask, objs)
    assert x[0] == pytest.approx(40.3, abs=0.1)
    assert y[0] == pytest.approx(50.6, abs=0.1)


def test_windowed_position_beside_a_masked_column_is_measured():
    yy, xx = np.mgrid[:60, :60].astype(float)
    det = 100.0 * np.exp(-((xx - 30.4) ** 2 + (yy - 29.7) ** 2) / (2 * 1.6**2))
    mask = np.zeros(det.shape, dtype=bool)
    mask[:, 33] = True  # a bad column two pixels from the source
    det[mask] = 0.0
    objs = _objects(x=30.0, y=30.0, a=2.0, xcpeak=30, ycpeak=30)
    x, y = _windowed_positions(det, mask, objs)
    assert (x[0], y[0]) != (30.0, 30.0)  # the centroid, not the fallback
    assert x[0] == pytest.approx(30.4, abs=0.15)
    assert y[0] == pytest.approx(29.7, abs=0.1)
