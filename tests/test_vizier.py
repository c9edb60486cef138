"""VizieR catalogues through astroquery against a loopback HTTPS server (offline).

The server replays the real VizieR answers recorded by astroquery's own test
suite (``../shared/reference/astroquery-vizier-testdata``); astroquery builds
and sends the requests itself (it always speaks HTTPS, hence a throw-away
self-signed certificate that requests trusts through ``REQUESTS_CA_BUNDLE``).
"""

from __future__ import annotations

import datetime
import http.server
import io
import ipaddress
import ssl
import threading
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from pandas_clusters.acquire.catalogues import fetch_catalogue
from pandas_clusters.acquire.local import CatalogueSpec
from pandas_clusters.acquire.vizier import (
    MissingTableWarning,
    VizierError,
    VizierSettings,
    fetch_vizier_catalogue,
    query_vizier,
)
from pandas_clusters.core.io import read_parquet_metadata

# -source of the request -> recorded answer.
ROUTES = {
    "II/246/out": "ii246.txt",
    "B/iram/pdbi": "afgl2591_iram.xml",
    "II/106/catalog": "II_106_catalog.xml",
    "II/106": "II_106_catalog.xml",
    "J/ApJ/706/83": "kang2010.xml",
    "VII/258/vv10": "vii258.txt",
    "J/ApJ/706/83/table9": "find_kangapj70683.xml",  # answer without the asked-for table
    "ALL": "viz.xml",
    "DOWN": "no_server_error.xml",
}


@pytest.fixture(scope="module")
def recorded(reference):
    path = reference / "astroquery-vizier-testdata"
    if not path.is_dir():
        pytest.skip(f"reference data absent: {path}")
    return path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Replay:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.bodies: list[dict[str, str]] = []
        self.failures: list[int] = []  # HTTP statuses to answer before replaying
        self.answers: dict[str, bytes] = {}  # -source -> VOTable built by a test
        self.lock = threading.Lock()


def _handler(state: _Replay):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length).decode()
            if "=" in raw and "\n" not in raw and "&" in raw:
                fields = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
            else:
                fields = dict(
                    line.split("=", 1) if "=" in line else (line, "") for line in raw.splitlines()
                )
            with state.lock:
                state.bodies.append(fields)
                status = state.failures.pop(0) if state.failures else None
            if self.path != "/viz-bin/votable":
                self.send_error(404)
                return
            if status is not None:
                self.send_error(status)
                return
            source = fields.get("-source", "")
            body = state.answers.get(source)
            if body is None and source in ROUTES:
                body = (state.folder / ROUTES[source]).read_bytes()
            if body is None:
                self.send_error(400, "unknown -source")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def vizier(recorded, certificate, monkeypatch, serve):
    cert_path, key_path = certificate
    state = _Replay(recorded)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port = serve(server)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_path))
    state.settings = VizierSettings.from_config(
        server=f"127.0.0.1:{port}",
        timeout_s=10.0,
        retries=2,
        backoff_s=0.0,
        backoff_max_s=0.0,
    )
    return state


def test_catalogue_to_normalised_parquet(vizier, tmp_path):
    # 2MASS point sources at the M31 nucleus (and 4 other targets) in 5 resources.
    spec = CatalogueSpec(
        vizier="II/246", table="out", name_col="2MASS", ra_col="_RAJ2000", dec_col="_DEJ2000"
    )
    out = fetch_vizier_catalogue(
        spec, tmp_path / "c09.parquet", catalogue="c09", settings=vizier.settings
    )
    df = pd.read_parquet(out)
    assert list(df.columns[:3]) == ["name", "ra_deg", "dec_deg"]
    assert {"2MASS", "RAJ2000", "DEJ2000", "Kmag"} <= set(df.columns)
    assert len(df) == 11  # every <TR> of the recorded answer
    first = df.iloc[0]
    assert first["name"] == "00424433+4116085"
    assert first["ra_deg"] == pytest.approx(10.684737, abs=1e-9)
    assert first["dec_deg"] == pytest.approx(41.269035, abs=1e-9)
    np.testing.assert_allclose(df["ra_deg"], df["RAJ2000"])
    meta = read_parquet_metadata(out)
    assert meta["catalogue"] == "c09"
    assert meta["source"]["vizier"] == "II/246"
    assert meta["source"]["vizier_table"] == "II/246/out"
    assert meta["units"]["Kmag"] == "mag"
    # What astroquery sent: the table asked for, no row limit, all columns + ICRS positions.
    body = vizier.bodies[-1]
    assert body["-source"] == "II/246/out"
    assert body["-out.max"] == "unlimited"
    assert "-out.all" in body
    assert body["-out.add"] == "_RA.icrs,_DE.icrs"


def test_sexagesimal_columns_agree_with_vizier_degrees(vizier, tmp_path):
    spec = CatalogueSpec(vizier="B/iram/pdbi", name_col="Name", ra_col="RAJ2000", dec_col="DEJ2000")
    out = fetch_vizier_catalogue(
        spec, tmp_path / "x.parquet", catalogue="h14", settings=vizier.settings
    )
    df = pd.read_parquet(out)
    assert len(df) == 14
    assert df["RAJ2000"].iloc[0] == "20:29:24.87"
    # VizieR's own decimal degrees are rounded to 1e-5 deg.
    np.testing.assert_allclose(df["ra_deg"], df["_RAJ2000"], atol=1e-5)
    np.testing.assert_allclose(df["dec_deg"], df["_DEJ2000"], atol=1e-5)


def test_single_table_catalogue_needs_no_table_name(vizier, tmp_path):
    spec = CatalogueSpec(vizier="II/106", name_col="KUV", ra_col="_RAJ2000", dec_col="_DEJ2000")
    df = pd.read_parquet(
        fetch_catalogue(spec, tmp_path / "rbc.parquet", catalogue="rbc", vizier=vizier.settings)
    )
    assert len(df) == 111
    assert df["name"].map(type).eq(str).all()
    assert vizier.bodies[-1]["-source"] == "II/106"


def test_integer_names_become_text(vizier, tmp_path):
    spec = {
        "vizier": "J/ApJ/706/83",
        "name_col": "Seq",
        "ra_col": "_Glon",  # any degree column will do for this check
        "dec_col": "_Glat",
    }
    df = pd.read_parquet(
        fetch_catalogue(spec, tmp_path / "w23.parquet", catalogue="w23", vizier=vizier.settings)
    )
    assert df["name"].tolist()[:3] == ["1", "2", "3"]
    assert df["Seq"].dtype.kind == "i"


def test_missing_position_column_names_catalogue(vizier, tmp_path):
    spec = CatalogueSpec(
        vizier="J/ApJ/706/83", name_col="SSTGLMC", ra_col="_RA.icrs", dec_col="_DE.icrs"
    )
    with pytest.raises(
        KeyError, match=r"catalogue w22: column\(s\) \['_RA.icrs', '_DE.icrs'\] not found.*_Glon"
    ):
        fetch_vizier_catalogue(
            spec, tmp_path / "w22.parquet", catalogue="w22", settings=vizier.settings
        )
    assert not (tmp_path / "w22.parquet").exists()


def test_vizier_error_answer_names_catalogue(vizier, tmp_path):
    spec = CatalogueSpec(vizier="DOWN", name_col="Name", ra_col="_RA.icrs", dec_col="_DE.icrs")
    with pytest.raises(
        VizierError, match=r"catalogue phat_clusters \(DOWN\).*database is not currently reachable"
    ):
        fetch_vizier_catalogue(
            spec, tmp_path / "p.parquet", catalogue="phat_clusters", settings=vizier.settings
        )
    assert not (tmp_path / "p.parquet").exists()


def test_503_then_success_is_retried(vizier, tmp_path):
    vizier.failures[:] = [503]
    table = query_vizier("VII/258/vv10", settings=vizier.settings, catalogue="c11")
    assert len(table) == 15
    assert len(vizier.bodies) == 2


def test_persistent_503_gives_clear_error(vizier):
    vizier.failures[:] = [503] * 5
    with pytest.raises(VizierError, match=r"c11 \(VII/258\).*after 3 attempt\(s\).*HTTP 503"):
        query_vizier("VII/258", table="vv10", settings=vizier.settings, catalogue="c11")
    assert len(vizier.bodies) == 3


def test_http_error_is_not_retried(vizier):
    with pytest.raises(VizierError, match=r"c09 \(J/XX/1\).*HTTP 400"):
        query_vizier("J/XX/1", settings=vizier.settings, catalogue="c09")
    assert len(vizier.bodies) == 1


def test_several_tables_need_a_table_name(vizier):
    with pytest.raises(VizierError, match=r"returned \d+ tables \[.*'I/34/greenw2a'"):
        query_vizier("ALL", settings=vizier.settings, catalogue="rbc")


def test_missing_optional_table_gives_empty_catalogue(vizier, tmp_path):
    spec = CatalogueSpec(
        vizier="J/ApJ/706/83",
        table="table9",
        name_col="Name",
        ra_col="_RA.icrs",
        dec_col="_DE.icrs",
        required=False,
    )
    out = tmp_path / "phat_galaxies.parquet"
    with pytest.warns(MissingTableWarning, match="phat_galaxies"):
        fetch_vizier_catalogue(spec, out, catalogue="phat_galaxies", settings=vizier.settings)
    df = pd.read_parquet(out)
    assert list(df.columns) == ["name", "ra_deg", "dec_deg"] and len(df) == 0
    required = CatalogueSpec(
        vizier="J/ApJ/706/83", table="table9", name_col="Name", ra_col="a", dec_col="b"
    )
    with pytest.raises(VizierError, match=r"phat_galaxies \(J/ApJ/706/83\).*no table 'table9'"):
        fetch_vizier_catalogue(
            required, tmp_path / "g.parquet", catalogue="phat_galaxies", settings=vizier.settings
        )


def test_unreachable_server(tmp_path):
    # A port nothing listens on: connection refused at every attempt.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = VizierSettings.from_config(
        server=f"127.0.0.1:{port}", retries=1, backoff_s=0.0, timeout_s=2.0
    )
    with pytest.raises(VizierError, match=r"w23 \(J/ApJ/954/206\): server .* unreachable after 2"):
        query_vizier("J/ApJ/954/206", settings=settings, catalogue="w23")


# --- the catalogue specs of config/pandas.yaml against ReadMe-shaped answers -------------


def _vizier_votable(table, name: str) -> bytes:
    """A VOTable answer as VizieR gives it: one table named ``<catalogue>/<table>``."""
    import warnings

    from astropy.io import votable

    with warnings.catch_warnings():
        # W03 (FIELD IDs made from names such as "E(B-V)") and W50 (astropy's unit string
        # "dex(solMass)" for the ReadMe's [Msun]): our writer's quirks, not VizieR's, whose
        # answers carry IDs and CDS unit strings; the client parses with verify="ignore".
        warnings.simplefilter("ignore", votable.exceptions.VOWarning)
        vot = votable.from_table(table)
        vot.get_first_table().name = name
        buf = io.BytesIO()
        vot.to_xml(buf)
    return buf.getvalue()


def _with_vizier_positions(table, coords):
    """Add the ICRS degrees VizieR computes for every catalogue with positions."""
    table["_RA.icrs"] = coords.icrs.ra.deg * u.deg
    table["_DE.icrs"] = coords.icrs.dec.deg * u.deg
    return table


def _readme_shaped_tables(reference):
    """Per catalogue key: an astropy table with the columns of its CDS ReadMe.

    C11 and W23: the real published tables, read with their real ReadMe
    (``../shared/reference``). The others: a few rows under the labels that
    config/pandas.yaml records for them (their ReadMe was not available).
    """
    c11 = reference / "caldwell2011-auriga"
    w23 = reference / "wang2023-J_ApJ_954_206"
    tables = {}
    t = Table.read(c11 / "table1.dat", readme=str(c11 / "ReadMe"), format="ascii.cds")
    v = {c: np.asarray(t[c], dtype=float) for c in ("RAh", "RAm", "RAs", "DEd", "DEm", "DEs")}
    sign = np.where(np.asarray(t["DE-"]) == "-", -1.0, 1.0)
    coords = SkyCoord(
        ra=(v["RAh"] + v["RAm"] / 60 + v["RAs"] / 3600) * 15.0 * u.deg,
        dec=sign * (v["DEd"] + v["DEm"] / 60 + v["DEs"] / 3600) * u.deg,
        frame="fk5",
    )
    tables["c11"] = (_with_vizier_positions(t, coords), "table1")  # ReadMe: table1.dat
    # unit "[-]" (log of a ratio, CDS style) is no FITS unit: keep it as text.
    path = w23 / "J_ApJ_954_206_table10.dat.fits"
    t = Table.read(path, unit_parse_strict="silent")
    extname = fits.getheader(path, 1)["EXTNAME"]  # the ReadMe's file name, table10.dat
    tables["w23"] = (
        _with_vizier_positions(t, SkyCoord(t["RAdeg"], t["DEdeg"], unit="deg")),
        extname.removesuffix(".dat"),
    )
    ra, dec = np.array([10.80, 11.20, 11.45]), np.array([41.30, 41.62, 41.90])
    # phat_clusters: table2 (public code reads J/ApJ/802/127/table2.dat by APID, RAdeg,
    # DEdeg); the others' table names are unconfirmed (None: the spec's own).
    for key, label, names, table_name in [
        ("phat_clusters", "APID", [1, 2, 3], "table2"),
        ("phat_galaxies", "APID", [4, 5, 6], None),
        ("c09", "Name", ["B001", "B002", "B003"], None),
        ("rbc", "Name", ["B001-G070", "B002-G073", "B003-G075"], None),
        ("w22", "Seq", [1, 2, 3], None),
        ("h14", "Name", ["PAndAS-01", "PAndAS-02", "PAndAS-03"], None),
    ]:
        t = Table({label: names, "RAdeg": ra * u.deg, "DEdeg": dec * u.deg})
        tables[key] = (_with_vizier_positions(t, SkyCoord(ra, dec, unit="deg")), table_name)
    return tables


def test_every_config_catalogue_through_vizier_and_the_normaliser(
    repo, reference, vizier, tmp_path
):
    """Each spec of config/pandas.yaml picks its table and columns from a ReadMe-shaped answer."""
    import yaml

    from pandas_clusters.core.catalogues import CATALOGUES

    config = yaml.safe_load((repo / "config" / "pandas.yaml").read_text())
    specs = config["catalogues"]
    assert set(specs) == set(CATALOGUES)
    tables = _readme_shaped_tables(reference)
    for key, spec in specs.items():
        # The fake VizieR knows each table under its published name only: a spec naming
        # another table is answered HTTP 400 and fails the fetch.
        name = f"{spec['vizier']}/{tables[key][1] or spec['table'] or 'table1'}"
        vizier.answers[name] = vizier.answers[spec["vizier"]] = _vizier_votable(
            tables[key][0], name
        )
    tables = {key: t for key, (t, _) in tables.items()}
    for key, spec in specs.items():
        out = fetch_catalogue(
            spec, tmp_path / f"{key}.parquet", catalogue=key, vizier=vizier.settings
        )
        df = pd.read_parquet(out)
        want = tables[key]
        assert len(df) == len(want), key
        expected = [str(v).strip() for v in want[spec["name_col"]]]
        assert df["name"].tolist() == expected, key
        np.testing.assert_allclose(df["ra_deg"], np.asarray(want["_RA.icrs"]), atol=1e-9)
        np.testing.assert_allclose(df["dec_deg"], np.asarray(want["_DE.icrs"]), atol=1e-9)
    # The real tables: C11 table1 has 323 records, W23 table10 50 (their ReadMe file summaries).
    assert len(pd.read_parquet(tmp_path / "c11.parquet")) == 323
    assert pd.read_parquet(tmp_path / "w23.parquet")["name"].tolist()[:3] == ["1", "2", "3"]
