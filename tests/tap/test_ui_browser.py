"""The browser UI in a real browser: headless Debian Chromium driven by Selenium.

The pages are served over real HTTP: by ``provdb serve`` (the ``tap_server`` fixture)
when it serves the UI, else by a werkzeug server on the same sample archive started
here. Chromium and chromedriver come from Debian (``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them); Selenium is given the driver's path, so
Selenium Manager never downloads anything. Without ``/usr/bin/chromium`` the tests are
skipped, except under CI (``$CI`` set), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = Path(tempfile.gettempdir()) / "provdb-ui-entity.png"
ROOT = "/tmp/lst-osa-run/test_osa/test_files0"
DL1B = f"{ROOT}/DL1/20200117/v0.1.0/tailcut84/dl1_LST-1.Run01807.0002.h5"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)) and not os.environ.get("CI"):
    pytest.skip(
        "no Debian chromium/chromium-driver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )


def _serves_ui(tap_base: str) -> bool:
    try:
        with urllib.request.urlopen(tap_base.removesuffix("/tap") + "/ui/", timeout=10) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def ui_base(tap_server: str, archive_url: URL, tmp_path_factory) -> Iterator[str]:
    """``http://127.0.0.1:PORT/ui`` on the sample archive."""
    if _serves_ui(tap_server):
        yield tap_server.removesuffix("/tap") + "/ui"
        return
    # tap/app.py does not register the UI (yet): serve it here
    from werkzeug.serving import make_server

    from provdb.config import Settings
    from tap.app import create_app
    from tap.provsap import bp as provsap_bp
    from tap.ui import bp as ui_bp

    app = create_app(
        Settings(
            database_url=archive_url.render_as_string(hide_password=False),
            home=tmp_path_factory.mktemp("ui-home"),
        ),
        start_workers=False,
    )
    if "ui" not in app.blueprints:
        app.register_blueprint(ui_bp, url_prefix="/ui")
    if "provsap" not in app.blueprints:
        app.register_blueprint(provsap_bp, url_prefix="/tap")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/ui"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["provdb_tap_db"].database.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="provdb-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _entity_id(archive_url: URL, location: str) -> str:
    engine = sa.create_engine(archive_url)
    try:
        with engine.connect() as c:
            return c.execute(
                sa.text("SELECT id FROM provenance.entity WHERE location = :l"), {"l": location}
            ).scalar_one()
    finally:
        engine.dispose()


def _wait_for_url_change(driver, old: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(lambda d: d.current_url != old)
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def _path_id(url: str, kind: str) -> str:
    path = urlsplit(url).path
    prefix = f"/ui/{kind}/"
    assert prefix in path, url
    return unquote(path.split(prefix, 1)[1])


def test_click_graph_nodes_from_an_entity_page(browser, ui_base: str, archive_url: URL) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    dl1b = _entity_id(archive_url, DL1B)
    driver.get(f"{ui_base}/entity/{dl1b}")
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith("DL1SubrunDataset")
    assert DL1B in driver.find_element(By.CSS_SELECTOR, "table.attrs").text
    driver.set_window_size(
        1400, min(driver.execute_script("return document.body.scrollHeight"), 4000)
    )
    driver.save_screenshot(str(SCREENSHOT))
    driver.set_window_size(1400, 1000)

    # its generating activity, a node of the SVG graph
    nodes = driver.find_elements(By.CSS_SELECTOR, ".graph svg g.node.activity > a")
    assert nodes, "no activity node in the graph"
    link = nodes[0]
    target = _path_id(link.get_dom_attribute("href"), "activity")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    before = driver.current_url
    link.click()
    _wait_for_url_change(driver, before)
    assert _path_id(driver.current_url, "activity") == target
    assert driver.find_element(By.CSS_SELECTOR, "p.kind").text.lower() == "activity"
    heading = driver.find_element(By.TAG_NAME, "h1").text
    assert target in heading and heading.split()[0] in ("dl1ab", "r0_to_dl1")
    assert target in driver.find_element(By.CSS_SELECTOR, "table.attrs").text

    # back to the entity page, then one of its inputs
    before = driver.current_url
    driver.back()
    _wait_for_url_change(driver, before)
    inputs = [
        a
        for a in driver.find_elements(By.CSS_SELECTOR, ".graph svg g.node.entity > a")
        if _path_id(a.get_dom_attribute("href"), "entity") != dl1b
    ]
    assert inputs, "no input entity in the graph"
    link = inputs[0]
    target = _path_id(link.get_dom_attribute("href"), "entity")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    before = driver.current_url
    link.click()
    _wait_for_url_change(driver, before)
    assert _path_id(driver.current_url, "entity") == target
    assert driver.find_element(By.CSS_SELECTOR, "p.kind").text.lower() == "entity"
    assert target in driver.find_element(By.CSS_SELECTOR, "table.attrs").text
    assert SCREENSHOT.stat().st_size > 10_000


def test_adql_page_runs_a_query(browser, ui_base: str) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(f"{ui_base}/adql")
    box = driver.find_element(By.ID, "query")
    box.clear()
    box.send_keys(
        "SELECT TOP 5 e.id, e.location, g.activity_id FROM provenance.entity AS e "
        "JOIN provenance.wasgeneratedby AS g ON g.entity_id = e.id "
        "WHERE e.name = 'DL1SubrunDataset' ORDER BY e.location"
    )
    before = driver.current_url
    driver.find_element(By.ID, "run").click()
    _wait_for_url_change(driver, before)
    rows = driver.find_elements(By.CSS_SELECTOR, "#result tbody tr")
    assert len(rows) == 5
    assert "5 rows" in driver.find_element(By.ID, "summary").text
    first = rows[0].find_elements(By.TAG_NAME, "td")
    assert len(first) == 3
    assert "/ui/entity/" in first[0].find_element(By.TAG_NAME, "a").get_attribute("href")
    assert "/ui/activity/" in first[2].find_element(By.TAG_NAME, "a").get_attribute("href")
    # an error is shown in the page
    box = driver.find_element(By.ID, "query")
    box.clear()
    box.send_keys("SELECT nme FROM provenance.entity")
    before = driver.current_url
    driver.find_element(By.ID, "run").click()
    _wait_for_url_change(driver, before)
    assert "line 1, column 8" in driver.find_element(By.ID, "error").text


def test_ui_script_runs_under_its_content_security_policy(browser, ui_base: str) -> None:
    """ui.js (no inline script is allowed) gives the ADQL box Ctrl+Enter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browser
    driver.get(f"{ui_base}/adql")
    box = driver.find_element(By.ID, "query")
    box.clear()
    box.send_keys("SELECT TOP 2 id FROM provenance.entity")
    before = driver.current_url
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    _wait_for_url_change(driver, before)
    assert len(driver.find_elements(By.CSS_SELECTOR, "#result tbody tr")) == 2
