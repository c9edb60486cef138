"""Tests of pandas_clusters.catalogue.publish (CDS table 7 + ReadMe, FITS and Parquet copies)."""

from __future__ import annotations

import re
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import Angle
from astropy.io import ascii
from astropy.table import Table

from pandas_clusters.catalogue.publish import (
    TABLE7_COLUMNS,
    InspectionWarning,
    PublishSettings,
    build_table7,
    publish_catalogue,
    read_inspection_scores,
)
from pandas_clusters.core.catalogues import LITERATURE_CATALOGUES
from pandas_clusters.core.io import write_parquet

SEEDS = Path(__file__).parents[2] / "shared" / "seeds"


def _seed_lines() -> list[str]:
    files = sorted(SEEDS.glob("001_*.txt")) if SEEDS.is_dir() else []
    if not files:
        pytest.skip("../shared/seeds/001_*.txt is absent")
    return files[0].read_text(encoding="utf-8").splitlines()


def _normalise(line: str) -> str:
    return " ".join(line.split())


def _dedup_bibcodes(line: str) -> str:
    """The seed text repeats each bibcode (link text + target): keep one copy."""
    return re.sub(r"(\S{19}) \1", r"\1", line)


def _bbb_section(lines: list[str]) -> list[str]:
    """Whitespace-normalised, non-empty lines from 'Byte-by-byte' up to 'History:'."""
    start = next(i for i, s in enumerate(lines) if s.strip().startswith("Byte-by-byte"))
    end = next(i for i, s in enumerate(lines) if i > start and s.strip().startswith("History:"))
    return [_normalise(s) for s in lines[start:end] if s.strip()]


_COL = re.compile(r"^\s*(\d+)(?:-\s*(\d+))?\s+([AIF][\d.]+)\s+(\S+)\s+(\S+)\s*(.*)$")


def _parse_bbb(lines: list[str]) -> dict[str, dict[str, str]]:
    """Label -> format, unit, explanation (continuations joined) of a byte-by-byte block."""
    cols: dict[str, dict[str, str]] = {}
    last = None
    assert lines[2].startswith("Bytes Format Units Label"), lines[:4]
    for line in lines[4:]:
        if line.startswith("---"):
            break
        m = _COL.match(line)
        if m:
            last = m.group(5)
            cols[last] = {"format": m.group(3), "unit": m.group(4), "expl": m.group(6).strip()}
        elif last is not None:
            cols[last]["expl"] += " " + line.strip()
    assert len(cols) == len(TABLE7_COLUMNS), list(cols)
    return cols


def _bare(expl: str) -> str:
    """Explanation without the [min/max] limits and the '?' null flag."""
    return re.sub(r"^(\[[^\]]*\])?\??\s*", "", expl)


def _limits(expl: str) -> tuple[float, float] | None:
    m = re.match(r"^\[([^/\]]+)(?:/([^\]]+))?\]", expl)
    if not m:
        return None
    lo = float(m.group(1))
    return lo, float(m.group(2) or lo)


def _candidates(n: int, rng: np.random.Generator) -> pd.DataFrame:
    ra = rng.uniform(8.0, 12.5, n)
    dec = rng.uniform(38.5, 43.0, n)
    df = pd.DataFrame(
        {
            "source_id": rng.permutation(np.arange(n, dtype=np.int64) * 7 + 1000),
            "field": rng.integers(207, 286, n).astype(np.int32),
            "ccd": np.ones(n, np.int16),
            "ra": ra,
            "dec": dec,
            "gmag": rng.uniform(15, 21, n),
            "e_gmag": rng.uniform(0.001, 0.05, n),
            "imag": rng.uniform(14, 20, n),
            "e_imag": rng.uniform(0.001, 0.1, n),
            "rproj_kpc": rng.uniform(1, 30, n),
            "conf": rng.uniform(0.5, 1.0, n),
        }
    )
    for key in LITERATURE_CATALOGUES:
        df[key] = ""
    df["new"] = True
    return df


def _publish(tmp_path, df, *, inspection=None, settings=None, meta=None):
    cand = write_parquet(df, tmp_path / "crossmatch.parquet", metadata=meta or {})
    out = tmp_path / "cds"
    paths = {
        "dat_path": out / "table7.dat",
        "readme_path": out / "ReadMe",
        "fits_path": out / "table7.fits",
        "parquet_path": out / "table7.parquet",
    }
    result = publish_catalogue(
        cand, settings=settings or PublishSettings.from_config(), inspection_dir=inspection, **paths
    )
    return paths, result


def _write_inspection(folder: Path, scores: dict[str, dict[int, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for who, table in scores.items():
        lines = ["# visual inspection", "source_id,score"]
        lines += [f"{sid},{s}" for sid, s in table.items()]
        (folder / f"{who}.csv").write_text("\n".join(lines) + "\n")
    return folder


def _assert_same_values(cds: Table, copy: pd.DataFrame) -> None:
    assert len(cds) == len(copy)
    for spec in TABLE7_COLUMNS:
        got = cds[spec.label]
        mask = np.ma.getmaskarray(got)
        want = copy[spec.label]
        want_null = want.isna().to_numpy()
        np.testing.assert_array_equal(mask, want_null, err_msg=spec.label)
        vals = np.ma.getdata(got)[~mask]
        ref = want[~want_null]
        if spec.kind == "F":
            np.testing.assert_allclose(
                vals, ref.to_numpy(float), rtol=0, atol=1e-9, err_msg=spec.label
            )
        elif got.dtype.kind in "iu":
            np.testing.assert_array_equal(vals, ref.to_numpy(np.int64), err_msg=spec.label)
        else:
            assert [str(v) for v in vals] == [str(v) for v in ref], spec.label


def test_roundtrip_cds_parquet_fits(tmp_path):
    rng = np.random.default_rng(7)
    df = _candidates(40, rng)
    df.loc[3, "imag"] = np.nan
    df.loc[3, "e_imag"] = np.nan
    df.loc[[0, 5], "c09"] = ["B001-G070", "B1234-G567"]
    df.loc[[0, 9], "rbc"] = ["B001", "SK050A"]
    df.loc[[2, 9, 11], "w22"] = ["12", "7", "104"]
    df.loc[12, "w23"] = "3"
    df.loc[14, "h14"] = "PAndAS-04"
    df["new"] = (df[list(LITERATURE_CATALOGUES)] == "").all(axis=1)
    ids = df["source_id"].tolist()
    folder = _write_inspection(
        tmp_path / "inspection",
        {"alice": {s: 2 for s in ids}, "bob": {s: 1 for s in ids[1:]}},  # bob missed one
    )
    with pytest.warns(InspectionWarning, match="1 candidate"):
        paths, meta = _publish(tmp_path, df, inspection=folder)
    assert meta["records"] == 40 and meta["inspection"]["inspectors"] == ["alice", "bob"]
    cds = ascii.read(paths["dat_path"], readme=str(paths["readme_path"]), format="cds")
    copy = pd.read_parquet(paths["parquet_path"])
    assert cds.colnames == [c.label for c in TABLE7_COLUMNS]
    assert list(copy.columns) == [c.label for c in TABLE7_COLUMNS] + ["source_id"]
    _assert_same_values(cds, copy)
    fits = Table.read(paths["fits_path"])
    fits.convert_bytestring_to_unicode()
    for spec in TABLE7_COLUMNS:
        got, want = fits[spec.label], cds[spec.label]
        mask = np.ma.getmaskarray(want)
        assert (np.ma.getmaskarray(got) == mask).all(), spec.label
        np.testing.assert_array_equal(np.asarray(got)[~mask], np.asarray(want)[~mask])
    # Rows in RA order, Seq from 1; sexagesimal back to degrees within the rounding
    assert cds["Seq"].tolist() == list(range(1, 41))
    ra = 15 * (cds["RAh"] + cds["RAm"] / 60 + cds["RAs"] / 3600)
    np.testing.assert_allclose(np.asarray(ra), np.sort(df["ra"].to_numpy()), atol=15 * 5e-4 / 3600)
    assert np.all(np.diff(np.asarray(ra)) >= 0)
    # the candidate bob missed has a blank Score; the others 2 + 1
    missed = copy.index[copy["source_id"] == ids[0]][0]
    assert np.ma.getmaskarray(cds["Score"])[missed]
    assert set(np.ma.compressed(cds["Score"]).tolist()) == {3}
    # integer names become I columns, the others A columns
    bbb = _parse_bbb(_bbb_section(paths["readme_path"].read_text().splitlines()))
    assert bbb["W22"]["format"] == "I3" and bbb["W23"]["format"] == "I1"
    assert bbb["C09"]["format"] == "A10" and bbb["H14"]["format"] == "A9"
    assert bbb["imag"]["expl"].startswith("[") and "]? " in bbb["imag"]["expl"]
    # every record has the Lrecl of the ReadMe
    lines = paths["dat_path"].read_text().splitlines()
    summary = next(
        s
        for s in paths["readme_path"].read_text().splitlines()
        if s.strip().startswith("table7.dat")
    )
    lrecl = int(summary.split()[1])
    assert {len(s) for s in lines} == {lrecl}
    assert int(summary.split()[2]) == 40


def test_labels_units_explanations_equal_seed(tmp_path):
    seed = _parse_bbb(_bbb_section([_dedup_bibcodes(s) for s in _seed_lines()]))
    rng = np.random.default_rng(3)
    df = _candidates(25, rng)
    df.loc[1, "w22"] = "5"
    paths, _ = _publish(tmp_path, df)
    ours = _parse_bbb(_bbb_section(paths["readme_path"].read_text().splitlines()))
    assert list(ours) == list(seed)
    for label, s in seed.items():
        assert ours[label]["unit"] == s["unit"], label
        assert _bare(ours[label]["expl"]) == _bare(s["expl"]), label
    # astropy reads the same labels and units
    cds = ascii.read(paths["dat_path"], readme=str(paths["readme_path"]), format="cds")
    for label, s in seed.items():
        unit = cds[label].unit
        assert (unit is None and s["unit"] == "---") or unit.to_string("cds") == s["unit"]


def _paper_rows(seed: dict[str, dict[str, str]], rng: np.random.Generator):
    """Candidates and inspection scores whose ranges equal seed 001's annotations."""
    n = int(_limits(seed["Seq"]["expl"])[1])
    lim = {k: _limits(v["expl"]) for k, v in seed.items()}

    def ints(label):
        lo, hi = (int(v) for v in lim[label])
        v = rng.integers(lo, hi + 1, n)
        v[rng.choice(n, 2, replace=False)] = [lo, hi]
        return v

    def floats(label):
        d = int(seed[label]["format"].split(".")[1])
        lo, hi = lim[label]
        v = np.round(rng.uniform(lo, hi, n), d)
        v[rng.choice(n, 2, replace=False)] = [lo, hi]
        return v

    h, m, dd = ints("RAh"), ints("RAm"), ints("DEd")
    s_dec = int(seed["RAs"]["format"].split(".")[1])
    s = rng.integers(0, 60 * 10**s_dec - 1, n) / 10**s_dec
    s[0] = 12.5  # two-digit seconds, as in F6.3
    ds_dec = int(seed["DEs"]["format"].split(".")[1])
    dm = rng.integers(0, 60, n)
    ds = rng.integers(0, 60 * 10**ds_dec - 1, n) / 10**ds_dec
    ds[0] = 33.25
    df = pd.DataFrame(
        {
            "source_id": np.arange(n, dtype=np.int64) + 10_000,
            "ra": 15.0 * (h + m / 60 + s / 3600),
            "dec": dd + dm / 60 + ds / 3600,
            "gmag": floats("gmag"),
            "e_gmag": floats("e_gmag"),
            "imag": floats("imag"),
            "e_imag": floats("e_imag"),
            "field": ints("PAndAS").astype(np.int32),
            "rproj_kpc": floats("Rproj"),
            "conf": floats("Conf"),
        }
    )
    for key in LITERATURE_CATALOGUES:
        fmt = seed[key.upper()]["format"]
        width = int(fmt[1:])
        names = np.array([""] * n, dtype=object)
        rows = rng.choice(n, n // 5, replace=False)
        if fmt[0] == "I":
            vals = rng.integers(1, 10**width, len(rows))
            vals[0] = 10**width - 1
            names[rows] = [str(v) for v in vals]
        else:
            names[rows] = [(f"N{k}" + "x" * width)[: rng.integers(2, width + 1)] for k in rows]
            names[rows[0]] = "L" * width
        df[key] = names
    df["new"] = (df[list(LITERATURE_CATALOGUES)] == "").all(axis=1)
    # Score 3 or 4 for the published rows, below 3 for extra rows that min_score drops
    lo, hi = (int(v) for v in lim["Score"])
    pairs = {3: [(2, 1), (1, 2)], 4: [(2, 2)]}
    totals = rng.integers(lo, hi + 1, n)
    totals[:2] = [lo, hi]
    first = {}
    second = {}
    for sid, t in zip(df["source_id"], totals, strict=True):
        a, b = pairs[int(t)][rng.integers(len(pairs[int(t)]))]
        first[int(sid)], second[int(sid)] = a, b
    extra = df.iloc[:5].copy()
    extra["source_id"] = np.arange(5, dtype=np.int64) + 90_000
    for k, sid in enumerate(extra["source_id"]):
        first[int(sid)], second[int(sid)] = [(1, 1), (0, 2), (0, 0), (1, 0), (2, 0)][k]
    return pd.concat([df, extra], ignore_index=True), {"one": first, "two": second}, n


def test_byte_by_byte_reproduces_seed_for_paper_ranges(tmp_path):
    """Seed 001's text lost its leading spaces and doubles each bibcode (link text and
    target): both sides are compared whitespace-normalised, the seed's doubled bibcode
    kept once."""
    seed_lines = [_dedup_bibcodes(s) for s in _seed_lines()]
    seed_bbb = _bbb_section(seed_lines)
    seed = _parse_bbb(seed_bbb)
    df, scores, n = _paper_rows(seed, np.random.default_rng(2025))
    folder = _write_inspection(tmp_path / "inspection", scores)
    paths, meta = _publish(
        tmp_path, df, inspection=folder, settings=PublishSettings.from_config(min_score=3)
    )
    assert meta["records"] == n
    ours = _bbb_section(paths["readme_path"].read_text().splitlines())
    assert len(ours) == len(seed_bbb)
    for a, b in zip(ours, seed_bbb, strict=True):
        assert a == b, f"ours: {a!r}\nseed: {b!r}"
    # the File Summary gives the same Lrecl and record count as the seed
    summary = [
        _normalise(s)
        for s in paths["readme_path"].read_text().splitlines()
        if s.strip().startswith("table7.dat")
    ]
    seed_summary = [_normalise(s) for s in seed_lines if s.startswith("table7.dat")]
    assert summary[0].split()[:3] == seed_summary[0].split()[:3]
    cds = ascii.read(paths["dat_path"], readme=str(paths["readme_path"]), format="cds")
    assert len(cds) == n and set(cds["Score"].tolist()) == {3, 4}


def test_empty_candidate_list_writes_valid_pair(tmp_path):
    df = _candidates(0, np.random.default_rng(0))
    paths, meta = _publish(tmp_path, df)
    assert meta["records"] == 0
    assert paths["dat_path"].read_text() == ""
    cds = ascii.read(paths["dat_path"], readme=str(paths["readme_path"]), format="cds")
    assert len(cds) == 0 and cds.colnames == [c.label for c in TABLE7_COLUMNS]
    assert len(pd.read_parquet(paths["parquet_path"])) == 0
    assert len(Table.read(paths["fits_path"])) == 0
    summary = next(
        s
        for s in paths["readme_path"].read_text().splitlines()
        if s.strip().startswith("table7.dat")
    )
    assert summary.split()[2] == "0"


def test_no_inspection_leaves_score_blank_and_says_so(tmp_path):
    df = _candidates(5, np.random.default_rng(1))
    paths, meta = _publish(
        tmp_path, df, inspection=tmp_path / "no_such_folder", meta={"absent": ["h14", "w23"]}
    )
    text = paths["readme_path"].read_text()
    assert "No visual inspection was made for this table: Score is blank." in text
    assert "(H14, W23 not available to the cross-match)" in " ".join(text.split())
    cds = ascii.read(paths["dat_path"], readme=str(paths["readme_path"]), format="cds")
    assert np.ma.getmaskarray(cds["Score"]).all()
    with pytest.raises(ValueError, match="min_score is set but no visual-inspection"):
        _publish(tmp_path / "again", df, settings=PublishSettings.from_config(min_score=3))


def test_inspection_file_errors(tmp_path):
    ids = [1, 2, 3]
    bad = _write_inspection(tmp_path / "bad", {"carol": {1: 2, 2: 3, 3: 0}})
    with pytest.raises(ValueError, match=r"carol\.csv.*score must be 0, 1 or 2, got 3"):
        read_inspection_scores(bad, ids)
    cols = tmp_path / "cols"
    cols.mkdir()
    (cols / "dave.csv").write_text("id,score\n1,2\n")
    with pytest.raises(ValueError, match=r"dave\.csv.*\['source_id'\]"):
        read_inspection_scores(cols, ids)
    dup = tmp_path / "dup"
    dup.mkdir()
    (dup / "erin.csv").write_text("source_id,score\n1,2\n1,1\n")
    with pytest.raises(ValueError, match=r"erin\.csv.*source_id 1 is scored twice"):
        read_inspection_scores(dup, ids)
    ok = _write_inspection(tmp_path / "ok", {"a": {1: 2, 2: 1, 3: 0}, "b": {1: 2, 2: 2, 3: 0}})
    scores, meta = read_inspection_scores(ok, ids)
    assert scores.tolist() == [4, 3, 0] and meta["inspectors"] == ["a", "b"]


def test_sexagesimal_matches_astropy_with_carries():
    rng = np.random.default_rng(11)
    ra = np.concatenate([rng.uniform(0, 360, 200), [15 * (41 / 60 + 59.9996 / 3600), 359.99999999]])
    dec = np.concatenate([rng.uniform(-89, 89, 200), [-0.0001, -1e-7]])
    df = _candidates(len(ra), rng).assign(ra=ra, dec=dec)
    t = build_table7(df)
    order = np.lexsort((df["source_id"], dec, ra))
    for row, k in zip(t.itertuples(index=False), order, strict=True):
        want_ra = Angle(ra[k], u.deg).to_string(unit=u.hourangle, sep=" ", precision=3, pad=True)
        got_ra = f"{row.RAh:02d} {row.RAm:02d} {row.RAs:06.3f}"
        if want_ra.startswith("24"):
            want_ra = "00" + want_ra[2:]
        assert got_ra == want_ra
        want_de = Angle(dec[k], u.deg).to_string(
            unit=u.deg, sep=" ", precision=2, pad=True, alwayssign=True
        )
        got_de = f"{row[4]}{row.DEd:02d} {row.DEm:02d} {row.DEs:05.2f}"
        assert got_de == want_de.replace("-00 00 00.00", "+00 00 00.00")


def test_failed_readme_leaves_no_files(tmp_path):
    df = _candidates(3, np.random.default_rng(5))
    settings = PublishSettings.from_config(readme={"short_title": "x" * 90})
    with pytest.raises(ValueError, match="longer than 80"):
        _publish(tmp_path, df, settings=settings)
    assert not (tmp_path / "cds").exists() or not any((tmp_path / "cds").iterdir())
    with pytest.raises(ValueError, match="unknown key"):
        PublishSettings.from_config({"readme": {"titel": "x"}})


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("{sid},1.5", r"line 4: score must be 0, 1 or 2, got 1\.5 for source_id"),
        ("{sid},1.0", r"line 4: score must be 0, 1 or 2, got 1\.0"),
        ("{sid},3", r"line 4: score must be 0, 1 or 2, got 3"),
        ("{sid},-1", r"line 4: score must be 0, 1 or 2, got -1"),
        ("{sid},", r"line 4: score must be 0, 1 or 2, got a blank cell"),
        (",2", r"line 4: source_id must be an integer, got a blank cell"),
        ("12a,2", r"line 4: source_id must be an integer, got 12a"),
        ("{sid}.0,2", r"line 4: source_id must be an integer, got \d+\.0"),
        ("999999,2", r"line 4: source_id 999999 is not one of the candidates"),
        ("{first},0", r"line 4: source_id \d+ is scored twice \(also on line 3\)"),
        ("{sid},2,extra", r"line 4: 3 field\(s\), the header has 2"),
    ],
)
def test_inspection_scores_parsed_strictly(tmp_path, line, error):
    """Each bad line is an error naming the file and line; publish writes nothing."""
    df = _candidates(6, np.random.default_rng(14))
    ids = df["source_id"].tolist()
    folder = tmp_path / "inspection"
    _write_inspection(folder, {"alice": {s: 2 for s in ids}})
    lines = ["# by hand", "source_id,score", f"{ids[0]},1"]
    lines += [line.format(sid=ids[1], first=ids[0])]
    lines += [f"{s},1" for s in ids[2:]]
    (folder / "bob.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"bob\.csv'?, " + error):
        _publish(tmp_path, df, inspection=folder, settings=PublishSettings.from_config(min_score=3))
    assert not (tmp_path / "cds").exists() or not any((tmp_path / "cds").iterdir())


def test_inspection_export_of_the_app_is_read_back(tmp_path):
    """The CSV files `pandas-clusters inspect` exports are what publish sums."""
    from pandas_clusters.inspection import ScoreStore
    from pandas_clusters.inspection.app import export_scores

    df = _candidates(8, np.random.default_rng(15))
    ids = df["source_id"].tolist()
    store = ScoreStore(tmp_path / "inspection" / "inspection.sqlite")
    given = {"alice": [2, 2, 1, 0, 2, 1, 2, 0], "bob": [2, 1, 1, 0, 2, 2, 0, 2]}
    for name, values in given.items():
        token = store.open_session(name)
        for sid, value in zip(ids, values, strict=True):
            store.set_score(name, token, sid, value)
    written = export_scores(store, ids, tmp_path / "inspection")
    assert sorted(p.name for p in written) == ["alice.csv", "bob.csv"]
    paths, meta = _publish(
        tmp_path,
        df,
        inspection=tmp_path / "inspection",
        settings=PublishSettings.from_config(min_score=3),
    )
    total = {s: a + b for s, a, b in zip(ids, given["alice"], given["bob"], strict=True)}
    kept = {s: t for s, t in total.items() if t >= 3}
    copy = pd.read_parquet(paths["parquet_path"])
    assert dict(zip(copy["source_id"], copy["Score"], strict=True)) == kept
    text = " ".join(paths["readme_path"].read_text().split())
    assert "for two manual inspectors" in text and "Only scores of 3 or 4 are included." in text
    assert meta["inspection"]["inspectors"] == ["alice", "bob"]
