#!/usr/bin/env python
"""Screenshots of the lineage graphs of the sample entity page and run page.

Loads the samples that ship with provdb into a scratch archive (``provdb demo`` in a
temporary ``PROVDB_HOME``), serves it on a free port and photographs, with headless
Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by Selenium), the graph of

* the entity page of ``dl1_LST-1.Run01807.0002.h5`` (DEPTH=ALL, BACK), and
* the run page of run 01807 (all steps, subruns folded),

as they look after load (fitted to the box) and after zooming in twice (``+``), and the
entity page's graph of depth 1 after Alt+clicking its generating activity (the viewer
fetches that activity's inputs beyond the drawing: ``entity-graph-expanded.png``).
Written to ``bench/screenshots/`` (``--output``). Example::

    python bench/screenshots.py
    python bench/screenshots.py --base http://127.0.0.1:8080/ui   # a running provdb demo
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DL1B = "dl1_LST-1.Run01807.0002.h5"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, seconds: float = 180.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"screenshots: {url} did not answer within {seconds:.0f} s")


def _entity_url(driver, base: str) -> str:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/search?q={DL1B}")
    for a in driver.find_elements(By.CSS_SELECTOR, "a.entity"):
        if a.text.endswith(DL1B):
            return a.get_attribute("href")
    raise SystemExit(f"screenshots: no entity {DL1B} in {base}")


def shoot(base: str, output: Path) -> list[Path]:
    """Photograph the two graphs of the UI at ``base``; returns the files written."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(
        service=Service(executable_path="/usr/bin/chromedriver"), options=options
    )
    output.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        pages = {"entity": _entity_url(driver, base), "run": f"{base}/run/20200117/01807"}
        for name, url in pages.items():
            driver.get(url)
            box = driver.find_element(By.CSS_SELECTOR, ".graph")
            driver.execute_script(
                "arguments[0].previousElementSibling.scrollIntoView(); arguments[0].focus()", box
            )
            time.sleep(0.5)
            path = output / f"{name}-graph.png"
            driver.save_screenshot(str(path))
            written.append(path)
            box.send_keys("+")
            box.send_keys("+")
            time.sleep(0.3)
            path = output / f"{name}-graph-zoomed.png"
            driver.save_screenshot(str(path))
            written.append(path)
        written.append(_expanded(driver, pages["entity"] + "?depth=1", output))
    finally:
        driver.quit()
    return written


def _expanded(driver, url: str, output: Path) -> Path:
    """The depth-1 graph after the viewer fetched its border activity's neighbours."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    box = driver.find_element(By.CSS_SELECTOR, ".graph")
    driver.execute_script("arguments[0].previousElementSibling.scrollIntoView()", box)
    border = driver.find_element(By.CSS_SELECTOR, ".graph svg g.node.activity.more")
    ActionChains(driver).key_down(Keys.ALT).click(border).key_up(Keys.ALT).perform()
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return arguments[0].dataset.status === 'added'", box)
    )
    driver.execute_script(
        "arguments[0].previousElementSibling.previousElementSibling.scrollIntoView()", box
    )
    time.sleep(0.5)
    path = output / "entity-graph-expanded.png"
    driver.save_screenshot(str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Screenshots of the sample entity and run graphs (headless Chromium).",
        epilog="example: python bench/screenshots.py --base http://127.0.0.1:8080/ui",
    )
    parser.add_argument("--base", help="UI of a running archive with the samples loaded")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "screenshots")
    args = parser.parse_args(argv)
    if args.base:
        for path in shoot(args.base.rstrip("/"), args.output):
            print(path)
        return 0
    with tempfile.TemporaryDirectory(prefix="provdb-shots-") as home:
        port = _free_port()
        env = {**os.environ, "PROVDB_HOME": home}
        env.pop("PROVDB_DATABASE_URL", None)
        demo = subprocess.Popen(
            [sys.executable, "-m", "provdb", "demo", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}/ui"
            _wait(base + "/")
            for path in shoot(base, args.output):
                print(path)
        finally:
            demo.terminate()
            demo.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
