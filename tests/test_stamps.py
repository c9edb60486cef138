"""Tests of pandas_clusters.detect.stamps: kernel, edge policy, calibration, file contract."""

from __future__ import annotations

import errno
import resource

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.wcs import WCS

from pandas_clusters.core.io import read_parquet_metadata
from pandas_clusters.detect.sources import SourceSettings, build_sources, sources_schema
from pandas_clusters.detect.stamps import (
    STAMP_FLAG_BAD_VALUE,
    STAMP_FLAG_EDGE,
    STAMP_FLAG_HAS_NAN,
    STAMP_FLAG_OFF_IMAGE,
    PaddedImage,
    StampSettings,
    cut_stamps,
    extract_stamps,
    read_stamps,
)
from pandas_clusters.learn.normalize import normalize_stamps

# --------------------------------------------------------------------------- kernel


def _ramp(ny=50, nx=70):
    return (np.arange(ny)[:, None] * 1000.0 + np.arange(nx)[None, :]).astype(np.float32)


def test_kernel_centring_and_values():
    data = _ramp()
    img = PaddedImage(data, 8)
    x = np.array([20.4, 20.6, 35.0])
    y = np.array([30.0, 10.49, 25.5])
    stamps, flags = extract_stamps(img, x, y)
    assert stamps.shape == (3, 8, 8) and stamps.dtype == np.float32
    # nearest pixel at index (S//2, S//2)
    assert stamps[0, 4, 4] == data[30, 20]
    assert stamps[1, 4, 4] == data[10, 21]
    assert stamps[2, 4, 4] == data[26, 35]
    np.testing.assert_array_equal(stamps[0], data[26:34, 16:24])
    np.testing.assert_array_equal(flags, 0)


def test_kernel_matches_cutout2d():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(60, 80)).astype(np.float32)
    data[:, 40] = np.nan
    x = rng.uniform(-3, 83, 200)
    y = rng.uniform(-3, 63, 200)
    for size in (9, 16):
        stamps, flags = extract_stamps(PaddedImage(data, size), x, y)
        for k in range(0, 200, 7):
            cx, cy = np.floor(x[k] + 0.5), np.floor(y[k] + 0.5)
            if not (0 <= cx < 80 and 0 <= cy < 60):
                assert np.all(np.isnan(stamps[k])) and flags[k] & STAMP_FLAG_OFF_IMAGE
                continue
            ref = Cutout2D(data, (cx, cy), (size, size), mode="partial", fill_value=np.nan).data
            np.testing.assert_array_equal(stamps[k], ref)
            assert bool(flags[k] & STAMP_FLAG_HAS_NAN) == bool(np.isnan(ref).any())


def test_kernel_edge_padding_and_flags():
    data = _ramp()
    data[:, 60] = np.nan  # a bad column
    img = PaddedImage(data, 16)
    # 2 px from the left edge; bad column inside; off the image; NaN position
    x = np.array([2.0, 58.0, -5.0, np.nan, 30.0])
    y = np.array([25.0, 25.0, 25.0, 10.0, 25.0])
    stamps, flags = extract_stamps(img, x, y)
    assert flags[0] == STAMP_FLAG_EDGE | STAMP_FLAG_HAS_NAN
    assert np.all(np.isnan(stamps[0][:, :6])) and np.all(np.isfinite(stamps[0][:, 6:]))
    np.testing.assert_array_equal(stamps[0][:, 6:], data[17:33, 0:10])
    assert flags[1] == STAMP_FLAG_HAS_NAN
    assert np.isnan(stamps[1]).sum() == 16
    assert flags[2] & STAMP_FLAG_OFF_IMAGE and np.all(np.isnan(stamps[2]))
    assert flags[3] & STAMP_FLAG_OFF_IMAGE and np.all(np.isnan(stamps[3]))
    assert flags[4] == 0


# --------------------------------------------------------------------------- mock field end to end


@pytest.fixture(scope="module")
def mock_stamps(mock_field_with_sources, tmp_path_factory):
    """Stamps of the shared mock field (conftest.py), 128 rows per row group."""
    images = mock_field_with_sources["images"]
    src_path = mock_field_with_sources["path"]
    out = tmp_path_factory.mktemp("mockst") / "stamps.parquet"
    n = cut_stamps(
        src_path, images, out=out, settings=StampSettings.from_config(rows_per_group=128)
    )
    return {
        "images": images,
        "sources": mock_field_with_sources["sources"],
        "src_path": src_path,
        "out": out,
        "n": n,
    }


def test_stamp_file_contract(mock_stamps):
    out, sources = mock_stamps["out"], mock_stamps["sources"]
    assert mock_stamps["n"] == len(sources)
    pf = pq.ParquetFile(out)
    stamp_type = pf.schema_arrow.field("stamp").type
    assert pa.types.is_fixed_size_list(stamp_type) and stamp_type.list_size == 2 * 64 * 64
    assert stamp_type.value_type == pa.float32()
    # required fields: NaN pixels are values, never nulls
    assert not pf.schema_arrow.field("stamp").nullable and not stamp_type.value_field.nullable
    assert pf.schema_arrow.field("flags").type == pa.int32()
    sizes = [pf.metadata.row_group(k).num_rows for k in range(pf.metadata.num_row_groups)]
    assert max(sizes) <= 128 and sum(sizes) == len(sources)
    meta = read_parquet_metadata(out)
    assert meta["bands"] == ["g", "i"] and meta["size"] == 64 and meta["dtype"] == "float32"
    assert meta["pixel_scale_arcsec"] == pytest.approx(0.187, rel=1e-6)
    assert "30.0" in meta["scaling"]
    ids, stamps, flags, _ = read_stamps(out)
    np.testing.assert_array_equal(ids, sources["source_id"].to_numpy())
    assert stamps.shape == (len(sources), 2, 64, 64)
    assert np.all(np.diff(ids) > 0)


def test_stamps_centred_and_calibrated(mock_stamps, mock_field_with_sources):
    """Stamp pixels are the sources stage's sky-subtracted pixels on the AB=30 scale."""
    import sep
    from astropy.coordinates import SkyCoord

    ids, stamps, flags, _ = read_stamps(mock_stamps["out"])
    src = mock_stamps["sources"]
    ccds = {(c["band"]): c for c in read_parquet_metadata(mock_stamps["src_path"])["ccds"]}
    good = (src["flags"] == 0).to_numpy() & (flags == 0)
    sel = np.flatnonzero(good & (src["gmag"] < 21.5).to_numpy())
    assert sel.size >= 3
    # the light centroid is the source's position only where the detection is one object:
    # within 0.1" of a mock object (blends in the crowded disk sit between their members)
    truth = mock_field_with_sources["truth"]
    on_sky = SkyCoord(src["ra"].to_numpy()[sel], src["dec"].to_numpy()[sel], unit="deg")
    _, sep_truth, _ = on_sky.match_to_catalog_sky(
        SkyCoord(truth["ra"].to_numpy(), truth["dec"].to_numpy(), unit="deg")
    )
    single = sep_truth.arcsec < 0.1
    assert single.sum() >= 3
    yy, xx = np.mgrid[:64, :64]
    for k, band in enumerate(("g", "i")):
        x = src[f"x_{band}"].to_numpy()[sel]
        y = src[f"y_{band}"].to_numpy()[sel]
        dx = x - np.floor(x + 0.5)
        dy = y - np.floor(y + 0.5)
        img = np.ascontiguousarray(stamps[sel, k])
        info = ccds[band]
        for j in range(sel.size):
            flux, _, _ = sep.sum_circle(
                img[j], [32 + dx[j]], [32 + dy[j]], info["aperture_radius_px"], subpix=0
            )
            mag = 30.0 - 2.5 * np.log10(flux[0]) + info["aperture_correction"]
            assert mag == pytest.approx(src[f"{band}mag"].to_numpy()[sel[j]], abs=2e-3)
        core = np.hypot(xx[None] - 32 - dx[:, None, None], yy[None] - 32 - dy[:, None, None]) < 4
        w = img * core
        cx = (w * xx).sum(axis=(1, 2)) / w.sum(axis=(1, 2)) - 32
        cy = (w * yy).sum(axis=(1, 2)) / w.sum(axis=(1, 2)) - 32
        assert np.median(np.abs(cx - dx)[single]) < 0.15
        assert np.median(np.abs(cy - dy)[single]) < 0.15
    # sky-subtracted as the sources stage subtracts it (sep's background, a mode estimate):
    # in the crowded disk the unresolved stars skew the pixels, so the median sits a small
    # fraction of the noise above zero (1.2 ADU against a noise of 7 in g, issue 12 item
    # 45), where the unsubtracted pixels stand many times the noise above it
    from astropy.io import fits

    from pandas_clusters.core.background import background
    from pandas_clusters.detect.sources import SourceSettings

    ss = SourceSettings.from_config()
    raw = fits.getdata(mock_field_with_sources["images"]["g"], 1).astype(np.float32)
    bad = ~np.isfinite(raw)
    raw[bad] = 0.0
    back, rms = background(raw, bad, box=ss.background_box, filter_size=ss.background_filter)
    noise = float(np.median(rms))
    assert abs(np.nanmedian(stamps[:, 0])) < 0.25 * noise
    assert np.median(raw[~bad]) > 5 * noise


def test_edge_source_padded_and_flagged(mock_stamps, tmp_path):
    """A source 2 px from the CCD edge keeps its row, NaN-padded and flagged."""
    src = pd.read_parquet(mock_stamps["src_path"])
    row = src.iloc[[0]].copy()
    row["x_g"], row["y_g"] = 2.0, 300.0
    row["x_i"], row["y_i"] = 2.3, 300.1
    path = tmp_path / "one.parquet"
    pq.write_table(
        pa.Table.from_pandas(row, schema=sources_schema(("g", "i")), preserve_index=False), path
    )
    out = tmp_path / "st.parquet"
    assert (
        cut_stamps(path, mock_stamps["images"], out=out, settings=StampSettings.from_config()) == 1
    )
    _, stamps, flags, _ = read_stamps(out)
    assert flags[0] & STAMP_FLAG_EDGE and flags[0] & STAMP_FLAG_HAS_NAN
    assert np.all(np.isnan(stamps[0, :, :, :30]))
    assert np.isfinite(stamps[0, 0, :, 31:]).mean() > 0.9
    norm = normalize_stamps(stamps)
    assert norm.shape == stamps.shape and np.all(np.isfinite(norm))


def test_empty_sources_give_valid_empty_stamps(mock_stamps, tmp_path):
    path = tmp_path / "none.parquet"
    pq.write_table(sources_schema(("g", "i")).empty_table(), path)
    out = tmp_path / "st.parquet"
    settings = StampSettings.from_config(size=17)
    assert cut_stamps(path, mock_stamps["images"], out=out, settings=settings) == 0
    table = pq.read_table(out)
    assert table.num_rows == 0
    assert table.schema.field("stamp").type.list_size == 2 * 17 * 17
    assert read_parquet_metadata(out)["size"] == 17


def test_missing_column_and_band_errors(mock_stamps, tmp_path):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"source_id": [1], "ccd": [0]}), path)
    with pytest.raises(ValueError, match=r"bad\.parquet: missing column\(s\) x_g"):
        cut_stamps(
            path,
            mock_stamps["images"],
            out=tmp_path / "o.parquet",
            settings=StampSettings.from_config(),
        )
    with pytest.raises(ValueError, match="no image for band"):
        cut_stamps(
            mock_stamps["src_path"],
            {"g": mock_stamps["images"]["g"]},
            out=tmp_path / "o.parquet",
            settings=StampSettings.from_config(),
        )
    assert not (tmp_path / "o.parquet").exists()


def test_missing_zero_point_in_stamps(tmp_path):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [10.0, 41.0]
    w.wcs.crpix = [20, 20]
    w.wcs.cd = [[-5e-5, 0], [0, 5e-5]]
    hdu = fits.ImageHDU(np.ones((40, 40), np.float32), header=w.to_header())
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp_path / "g.fits")
    src = pd.DataFrame(
        {"source_id": [1], "ccd": np.array([1], np.int16), "x_g": [5.0], "y_g": [5.0]}
    )
    src.to_parquet(tmp_path / "s.parquet")
    settings = StampSettings.from_config(bands=("g",), size=8)
    with pytest.raises(ValueError, match=r"g\.fits\[1\].*zero point"):
        cut_stamps(
            tmp_path / "s.parquet",
            {"g": tmp_path / "g.fits"},
            out=tmp_path / "o.parquet",
            settings=settings,
        )


@pytest.mark.reference
def test_real_cfht_image_stamps(tmp_path, cfht_image):
    src = tmp_path / "s.parquet"
    settings = SourceSettings.from_config(
        bands=("g",), zero_points={"g": 26.5}, aperture_correction="none"
    )
    sources = build_sources({"g": cfht_image}, field=0, out=src, settings=settings)
    out = tmp_path / "st.parquet"
    st = StampSettings.from_config(bands=("g",), zero_points={"g": 26.5})
    assert cut_stamps(src, {"g": cfht_image}, out=out, settings=st) == len(sources)
    ids, stamps, flags, meta = read_stamps(out)
    assert stamps.shape == (len(sources), 1, 64, 64)
    assert meta["pixel_scale_arcsec"] == pytest.approx(0.187, abs=0.002)
    # 101 px image: every 64 px stamp of a source farther than 18 px from the centre is padded
    assert np.all(flags[np.isnan(stamps).any(axis=(1, 2, 3))] & STAMP_FLAG_HAS_NAN)


def test_stamps_leave_nothing_when_the_disk_fills(mock_stamps, tmp_path):
    # a file-size limit makes writes fail as on a full disk
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    out = tmp_path / "stamps.parquet"
    settings = StampSettings.from_config(size=32, rows_per_group=16)
    output = len(mock_stamps["sources"]) * 2 * 32 * 32 * 4
    resource.setrlimit(resource.RLIMIT_FSIZE, (output // 2, hard))
    try:
        with pytest.raises(OSError, match="too large") as err:
            cut_stamps(
                mock_stamps["src_path"],
                mock_stamps["images"],
                out=out,
                settings=settings,
                threads=2,
            )
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert err.value.errno == errno.EFBIG
    assert str(err.value.filename) == str(out)  # names the file being written
    assert list(tmp_path.iterdir()) == []  # no output, no temporary left behind


# --------------------------------------------------------------------------- usable sources only


def test_mag_limit_cuts_only_usable_sources(mock_stamps, tmp_path):
    """With a limit, exactly the sources with a finite gmag <= limit get a stamp, unchanged."""
    src = mock_stamps["sources"]
    gmag = src["gmag"].to_numpy()
    limit = float(np.nanquantile(gmag, 0.3))
    out = tmp_path / "bright.parquet"
    settings = StampSettings.from_config(rows_per_group=128, mag_limit=limit)
    n = cut_stamps(mock_stamps["src_path"], mock_stamps["images"], out=out, settings=settings)
    want = src["source_id"].to_numpy()[np.isfinite(gmag) & (gmag <= limit)]
    assert 0 < n == len(want) < len(src)
    ids, stamps, flags, meta = read_stamps(out)
    np.testing.assert_array_equal(np.sort(ids), np.sort(want))
    assert meta["mag_limit"] == limit and meta["n_sources_table"] == len(src)
    all_ids, all_stamps, all_flags, _ = read_stamps(mock_stamps["out"])
    pos = pd.Index(all_ids).get_indexer(ids)
    np.testing.assert_array_equal(stamps, all_stamps[pos])
    np.testing.assert_array_equal(flags, all_flags[pos])


def _config(**sections):
    from pandas_clusters.core.config import validate_config

    return validate_config({"survey": "mock", **sections}, source="test")


def test_stamps_limit_follows_the_faintest_limit_in_use():
    from pandas_clusters.core.config import stamps_params

    base = stamps_params(_config(training={"mag_limits": [21.0, 22.0]}))
    assert base["mag_limit"] == pytest.approx(22.0 + 0.3)
    assert "all_sources" not in base and "mag_margin" not in base
    StampSettings.from_config(**base)  # the rule's params build the settings
    # a limit that is not the faintest does not touch the stamps (same params: no rerun)
    assert stamps_params(_config(training={"mag_limits": [20.0, 22.0]})) == base
    assert stamps_params(_config(selection={"mag_limit": 21.0})) == stamps_params(_config())
    # the faintest limit, or the margin, does
    fainter = stamps_params(_config(training={"mag_limits": [21.0, 23.0]}))
    assert fainter["mag_limit"] == pytest.approx(23.3)
    margin = stamps_params(_config(stamps={"mag_margin": 0.0}))
    assert margin["mag_limit"] == pytest.approx(22.0)
    # every source: stamps.all_sources, or inference classifying every source
    assert stamps_params(_config(stamps={"all_sources": True}))["mag_limit"] is None
    assert stamps_params(_config(inference={"all_sources": True}))["mag_limit"] is None


# --------------------------------------------------------------------------- corrupt values


def _small_image(path, data):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [10.0, 41.0]
    w.wcs.crpix = [20, 20]
    w.wcs.cd = [[-5e-5, 0], [0, 5e-5]]
    header = w.to_header()
    header["MAGZPT"] = 30.0
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header=header)]).writeto(path)


def test_infinite_and_absurd_pixels_become_nan_and_flagged(tmp_path):
    rng = np.random.default_rng(5)
    data = rng.normal(100.0, 3.0, (60, 60)).astype(np.float32)
    data[10, 10] = np.inf
    data[45, 45] = 1.5e16
    _small_image(tmp_path / "g.fits", data)
    src = pd.DataFrame(
        {
            "source_id": [1, 2, 3],
            "ccd": np.array([1, 1, 1], np.int16),
            "x_g": [10.0, 45.0, 28.0],
            "y_g": [10.0, 45.0, 28.0],
        }
    )
    src.to_parquet(tmp_path / "s.parquet")
    out = tmp_path / "o.parquet"
    settings = StampSettings.from_config(bands=("g",), size=8, background_box=16)
    assert cut_stamps(
        tmp_path / "s.parquet", {"g": tmp_path / "g.fits"}, out=out, settings=settings
    )
    ids, stamps, flags, _ = read_stamps(out)
    for k in (0, 1):
        assert flags[k] & STAMP_FLAG_BAD_VALUE and flags[k] & STAMP_FLAG_HAS_NAN
        assert np.isnan(stamps[k, 0, 4, 4]) and np.isfinite(stamps[k]).sum() == 63
    assert flags[2] == 0 and np.all(np.abs(stamps[2]) < 100)


def _stamps_file(path, values, flags, *, checksums):
    table = pa.table(
        {
            "source_id": pa.array(np.arange(len(values)), pa.int64()),
            "stamp": pa.FixedSizeListArray.from_arrays(
                pa.array(values.ravel(), pa.float32()), values[0].size
            ),
            "flags": pa.array(flags, pa.int32()),
        }
    )
    meta = {b"pandas_clusters": b'{"bands": ["g"], "size": 4}'}
    pq.write_table(
        table.replace_schema_metadata(meta),
        path,
        write_page_checksum=checksums,
        use_dictionary=False,
        compression="none",
    )


def test_reader_refuses_absurd_and_unflagged_nan_values(tmp_path):
    values = np.zeros((3, 1, 4, 4), np.float32)
    values[1, 0, 2, 2] = 1.5e16
    _stamps_file(tmp_path / "a.parquet", values, [0, 0, 0], checksums=False)
    with pytest.raises(
        ValueError, match=r"a\.parquet: source_id 1 holds the pixel value 1\.5e\+16"
    ):
        read_stamps(tmp_path / "a.parquet")
    values[1, 0, 2, 2] = np.nan
    _stamps_file(tmp_path / "b.parquet", values, [0, 0, 0], checksums=False)
    with pytest.raises(ValueError, match=r"b\.parquet: source_id 1 has NaN pixels but no HAS_NAN"):
        read_stamps(tmp_path / "b.parquet")
    _stamps_file(tmp_path / "c.parquet", values, [0, STAMP_FLAG_HAS_NAN, 0], checksums=False)
    assert read_stamps(tmp_path / "c.parquet")[1].shape == (3, 1, 4, 4)


def _overwrite_pixels(path, value=None):
    """Overwrite 8 bytes of the stamp column with 1.5e16 (where pixel ``value`` is, if given)."""
    raw = path.read_bytes()
    if value is None:
        col = pq.ParquetFile(path).metadata.row_group(0).column(1)
        offset = col.data_page_offset + col.total_compressed_size // 2
    else:
        offset = raw.index(np.float32(value).tobytes())
    path.write_bytes(raw[:offset] + np.full(2, 1.5e16, np.float32).tobytes() + raw[offset + 8 :])


def test_overwritten_bytes_in_a_stamps_file_are_an_error(mock_stamps, tmp_path):
    """Page checksums (written by cut_stamps) catch bytes overwritten inside the file."""
    out = tmp_path / "st.parquet"
    out.write_bytes(mock_stamps["out"].read_bytes())
    _overwrite_pixels(out)
    with pytest.raises(ValueError, match=r"st\.parquet cannot be read as Parquet: "):
        read_stamps(out)
    # a file written without checksums: the absurd values themselves are refused
    values = np.arange(64 * 16, dtype=np.float32).reshape(64, 1, 4, 4)
    _stamps_file(tmp_path / "n.parquet", values, np.zeros(64), checksums=False)
    _overwrite_pixels(tmp_path / "n.parquet", value=500.0)
    with pytest.raises(ValueError, match=r"n\.parquet: source_id 31 holds the pixel value 1\.5e"):
        read_stamps(tmp_path / "n.parquet")


def test_plain_writer_thread_writes_the_same_file(mock_stamps, tmp_path):
    """threads=2 (encoding in a second thread) writes what threads=1 writes."""
    settings = StampSettings.from_config(rows_per_group=128)
    outs = {}
    for threads in (1, 2):
        outs[threads] = tmp_path / f"t{threads}.parquet"
        n = cut_stamps(
            mock_stamps["src_path"],
            mock_stamps["images"],
            out=outs[threads],
            settings=settings,
            threads=threads,
        )
        assert n == mock_stamps["n"]
    want = read_stamps(mock_stamps["out"])
    for path in outs.values():
        for a, b in zip(read_stamps(path)[:3], want[:3], strict=True):
            np.testing.assert_array_equal(a, b)  # NaN pixels compare equal
