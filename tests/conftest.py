"""Shared fixtures: repository paths and the optional ../shared reference folder."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
SEEDS = SHARED / "seeds"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def reference() -> Path:
    """The folder of real reference files; tests using it skip when it is absent."""
    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference is absent")
    return REFERENCE


@pytest.fixture(scope="session")
def cfht_image(reference) -> Path:
    """The real CFHT MegaCam cutout of the reference folder (skips when absent)."""
    path = reference / "astroquery-cadc-testdata" / "query_images.fits"
    if not path.is_file():
        pytest.skip("shared/reference CFHT MegaCam image not available")
    return path


@pytest.fixture
def serve():
    """Start loopback servers (``socketserver`` instances) on daemon threads for one test.

    Yields ``start(server) -> port``; every started server is shut down after the test.
    """
    running = []

    def start(server) -> int:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        running.append((server, thread))
        return server.server_address[1]

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def seeds() -> Path:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is absent")
    return SEEDS


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    """Keep torch to one thread: the test machine has two cores."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mock_field_with_sources(tmp_path_factory):
    """One 1x1-CCD mock field of 600x600 px per band, its truth and its source list.

    Shared by the sources and stamps tests (rendered and detected once).
    """
    import dataclasses

    from pandas_clusters.acquire.mock import MockField, MockSettings, field_truth, write_field_image
    from pandas_clusters.detect.sources import SourceSettings, build_sources

    settings = dataclasses.replace(
        MockSettings.demo(),
        ccd_nx=600,
        ccd_ny=600,
        ccd_columns=1,
        ccd_rows=1,
        fields=(MockField(id=1, ra_deg=11.0, dec_deg=41.6),),
    )
    root = tmp_path_factory.mktemp("mock_field")
    images = {b: root / f"{b}.fits" for b in ("g", "i")}
    for band, path in images.items():
        write_field_image(settings, field_id=1, band=band, path=path)
    out = root / "sources.parquet"
    frame = build_sources(images, field=1, out=out, settings=SourceSettings.from_config())
    return {
        "images": images,
        "truth": field_truth(settings, field_id=1),
        "sources": frame,
        "path": out,
        "root": root,
    }
