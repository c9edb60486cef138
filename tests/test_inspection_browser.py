"""The inspection app in a real browser: two inspectors score from the keyboard.

Drives Debian's ``chromium`` through ``chromedriver`` with Selenium (the
browser is never downloaded: both paths are given, Selenium Manager is
kept offline). ``make test`` installs them (``make browser``); where they
cannot be installed the test skips and says so. With
``PANDAS_CLUSTERS_SCREENSHOTS=<folder>`` the screenshots are also saved
there (the README's ``docs/inspection.png`` comes from this test).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import ascii

from inspection_support import N_CANDIDATES, build_layout, open_inspection
from pandas_clusters.catalogue.publish import PublishSettings, publish_catalogue
from pandas_clusters.inspection import weighted_kappa
from pandas_clusters.inspection.server import make_server

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def inspection_layout(tmp_path_factory, mock_field_with_sources):
    return build_layout(tmp_path_factory.mktemp("inspection"), mock_field_with_sources)


@pytest.fixture
def browser(monkeypatch):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "Chromium and chromedriver are not installed (Debian: apt-get install chromium "
            "chromium-driver, which `make test` runs as root): browser test skipped"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    monkeypatch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager fetch a browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,860",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    yield driver
    driver.quit()


def _wait(driver, predicate, what):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30, poll_frequency=0.05).until(lambda d: predicate(d), message=what)


def _shown(driver) -> int | None:
    value = driver.execute_script("return document.body.dataset.shown")
    return None if value is None else int(value)


def _count(driver) -> str:
    return driver.find_element("id", "count").text


def _login(driver, port, name):
    driver.get(f"http://127.0.0.1:{port}/")
    field = driver.find_element("id", "name")
    field.clear()
    field.send_keys(name + "\n")
    _wait(driver, lambda d: _shown(d) is not None, f"{name}: first candidate shown")


def _score_all(driver, want: dict[int, int], shots: Path | None = None) -> None:
    """Score every candidate from the keyboard, in the order the app shows them."""
    from selenium.webdriver.common.keys import Keys

    body = driver.find_element("tag name", "body")
    for k in range(N_CANDIDATES):
        sid = _shown(driver)
        if k == 1:  # a wrong key, undone with u
            body.send_keys("0" if want[sid] else "2")
            _wait(driver, lambda d: _count(d).startswith("2 /"), "wrong score recorded")
            body.send_keys("u")
            _wait(driver, lambda d, s=sid: _count(d).startswith("1 /") and _shown(d) == s, "undo")
        if k == 2:  # zoom, stretch, a step forth and back
            body.send_keys("+", "s", Keys.ARROW_RIGHT)
            _wait(driver, lambda d, s=sid: _shown(d) != s, "moved right")
            body.send_keys("k")
            _wait(driver, lambda d, s=sid: _shown(d) == s, "moved back")
            if shots is not None:
                driver.save_screenshot(str(shots / "inspection.png"))
        body.send_keys(str(want[sid]))
        _wait(driver, lambda d, n=k + 1: _count(d).startswith(f"{n} /"), f"score {k + 1}")
        if k < N_CANDIDATES - 1:
            _wait(driver, lambda d, s=sid: _shown(d) not in (None, s), "next candidate")


def test_two_inspectors_score_in_the_browser(browser, inspection_layout, tmp_path, serve):
    app = open_inspection(inspection_layout, tmp_path)
    port = serve(make_server(app, "127.0.0.1", 0))
    rng = np.random.default_rng(151)
    ids = app.ids.tolist()
    want = {"alice": dict(zip(ids, rng.integers(0, 3, len(ids)).tolist(), strict=True))}
    want["bob"] = {
        s: v if rng.random() < 0.6 else int(rng.integers(0, 3)) for s, v in want["alice"].items()
    }
    want["bob"][ids[0]] = 2 - want["alice"][ids[0]] if want["alice"][ids[0]] != 1 else 1
    want["alice"][ids[1]], want["bob"][ids[1]] = 0, 2  # one disagreement at least
    shots = tmp_path / "shots"
    shots.mkdir()

    _login(browser, port, "alice")
    order = browser.execute_script("return S.order")
    assert sorted(order) == ids and len(set(order)) == N_CANDIDATES
    _score_all(browser, want["alice"], shots)
    _wait(browser, lambda d: d.find_element("id", "done").is_displayed(), "alice done")
    # blind: bob has not finished, so alice sees no one's scores
    assert "No other inspector has finished yet" in browser.find_element("id", "done").text
    # the mosaic: one page of stamps
    body = browser.find_element("tag name", "body")
    body.send_keys("m")
    _wait(
        browser,
        lambda d: len(d.find_elements("css selector", "#tiles .tile")) == N_CANDIDATES,
        "mosaic",
    )
    body.send_keys("m")

    _login(browser, port, "bob")
    assert browser.execute_script("return S.order") != order  # his own order
    _score_all(browser, want["bob"])
    _wait(browser, lambda d: d.find_elements("css selector", "#done .kappa"), "agreement shown")
    shown_kappa = browser.find_element("css selector", "#done .kappa").text
    review = [int(a.text) for a in browser.find_elements("css selector", "#done a.review")]
    truth = browser.find_element("css selector", "#done .truth").text
    browser.save_screenshot(str(shots / "inspection-agreement.png"))

    # the database holds exactly what was typed (the undone key included as undone)
    assert app.store.all_scores() == want
    a = [want["alice"][s] for s in ids]
    b = [want["bob"][s] for s in ids]
    assert shown_kappa == f"{weighted_kappa(a, b):.3f}"
    assert review == [s for s in ids if abs(want["alice"][s] - want["bob"][s]) == 2]
    assert ids[1] in review and "Mock truth" in truth

    # publish the exported scores: Score = alice + bob, only 3 and 4 kept
    app.export()
    out = tmp_path / "results" / "publish"
    publish_catalogue(
        app.settings.candidates,
        dat_path=out / "table7.dat",
        readme_path=out / "ReadMe",
        fits_path=out / "table7.fits",
        parquet_path=out / "table7.parquet",
        settings=PublishSettings.from_config(min_score=3),
        inspection_dir=app.export_dir,
    )
    cds = ascii.read(out / "table7.dat", readme=str(out / "ReadMe"), format="cds")
    total = {s: want["alice"][s] + want["bob"][s] for s in ids}
    assert sorted(cds["Score"].tolist()) == sorted(t for t in total.values() if t >= 3)
    assert len(cds) == sum(t >= 3 for t in total.values()) > 0
    for png in shots.iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("PANDAS_CLUSTERS_SCREENSHOTS")
    if target:
        for png in shots.iterdir():
            shutil.copy(png, Path(target) / png.name)
