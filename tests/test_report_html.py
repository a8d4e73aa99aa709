"""report.html opens in headless Chromium with no page error, no console error and no failed
request (every plot is embedded), shows its plots at their size, and can be screenshotted.

Chromium is Debian's (`make test` installs it); Playwright drives it without a browser
download. Without Chromium the test skips and says so.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis.report import write_report
from tests.test_report_analysis import write_golden

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Flags that keep Chromium off the network it cannot reach here (see the machine notes).
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (make test installs it)")


def test_the_html_report_renders_in_headless_chromium_without_errors(tmp_path: Path):
    playwright = pytest.importorskip("playwright.sync_api")
    out = write_golden(tmp_path / "sweep")
    page_path = write_report(out).with_suffix(".html")
    # The page is opened from elsewhere: it must not need the PNG files beside it.
    alone = tmp_path / "mailed" / "report.html"
    alone.parent.mkdir()
    shutil.copy(page_path, alone)

    errors, failed = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(alone.as_uri(), wait_until="load")
            heading = page.inner_text("h1")
            images = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.alt])"
            )
            tables = page.locator("table").count()
            shot = page.screenshot(full_page=True, path=str(tmp_path / "report.png"))
        finally:
            browser.close()

    assert errors == [] and failed == []
    assert heading == "X-STILTs report: golden"
    assert len(images) >= 3
    assert all(complete and width > 100 for complete, width, _ in images), images
    assert tables >= 5
    assert shot.startswith(PNG_SIGNATURE) and len(shot) > 20_000
