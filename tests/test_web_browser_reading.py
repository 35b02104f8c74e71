"""The Reading panel of the case view in a real browser (Debian's chromium via playwright), with screenshots.

A criterion's evidence quote, a course and a red flag are followed to their words in the note: every piece of
the quote lights up and the first is scrolled into the note's view. Screenshots go to the test's tmp dir and
to /tmp/ui-reading.png and /tmp/ui-reading-linked.png, like the other workbench screenshots.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import needs
import pytest
import uvicorn
from test_web_browser import LIT, browser, free_port, screenshot, sign_in
from test_web_reading import PACKET, PACKET_CASE
from web_support import Site, fake_kb, make_site

from agent.cases.load import load_case

pytestmark = pytest.mark.slow
sync_api = needs.module("playwright.sync_api", "the playwright package is in the dev extra", module_level=True)
__all__ = ["browser"]  # the fixture, shared with test_web_browser
DOCUMENTATION = load_case(PACKET).request.documentation


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site, str]]:
    """The app on a free loopback port, with the reading packet reviewed over the API."""
    site = make_site(fake_kb(tmp_path_factory.mktemp("rd-ui-kb")), tmp_path_factory.mktemp("rd-ui-data"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(site.app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    response = httpx.post(f"{base}/v1/reviews", json=PACKET_CASE, headers=site.auth("reviewer"), timeout=30)
    response.raise_for_status()
    yield base, site, response.json()["review"]["id"]
    server.should_exit = True
    thread.join(timeout=10)


def in_note_view(page: Any, selector: str) -> bool:
    """The element is inside the visible part of the note's scrolling column."""
    return bool(
        page.evaluate(
            """(sel) => {
              const el = document.querySelector(sel), box = document.querySelector('.note').getBoundingClientRect();
              const r = el.getBoundingClientRect();
              return r.top >= box.top - 1 && r.bottom <= box.bottom + 1 && r.top >= 0 && r.bottom <= window.innerHeight;
            }""",
            selector,
        )
    )


def lit_text(page: Any, quote: str) -> str:
    """The words of the lit pieces of quote ``quote``, in order."""
    return str(
        page.evaluate(
            """(id) => Array.from(document.querySelectorAll('mark.lit'))
                 .filter((m) => m.dataset.quotes.split(' ').includes(id)).map((m) => m.textContent).join('')""",
            quote,
        )
    )


def test_following_the_reading_to_the_words(live: tuple[str, Site, str], browser: Any, tmp_path: Path) -> None:
    base, site, review_id = live
    reading = httpx.get(f"{base}/v1/reviews/{review_id}/reading", headers=site.auth("reviewer"), timeout=30).json()
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    expect = sync_api.expect
    sign_in(page, base, site.tokens["reviewer"], then=f"/reviews/{review_id}")

    panel = page.locator("#reading")
    expect(panel).to_be_visible()
    expect(panel.locator("table.reading-docs tbody tr")).to_have_count(2)
    expect(panel.locator("table.reading-docs tbody tr").nth(1)).to_contain_text("PT DISCHARGE SUMMARY")
    expect(panel.locator("table.reading-docs tbody tr").nth(1)).to_contain_text("physical therapy note")
    expect(panel.locator("table.reading-care[data-region=lumbar] tbody tr")).to_have_count(4)
    expect(panel.locator("table.reading-flags tbody tr")).to_have_count(3)
    expect(page.locator(".doclabel")).to_have_count(2)
    # The note's markup is shown as text, and never runs.
    expect(page.locator(".notetext")).to_contain_text('<script>alert("x")</script> <b>not bold</b>')
    screenshot(page, tmp_path, "ui-reading")

    # A criterion's evidence: the quote lights up in the note and is scrolled into view.
    link = panel.locator("a.qlink.crit-quote").last
    quote_id = link.get_attribute("data-quote") or ""
    target = link.get_attribute("data-target") or ""
    link.click()
    expect(page.locator(f"mark#{target}")).to_have_class(LIT)
    expect(link).to_have_class(LIT)
    assert page.url.endswith(f"#{target}")
    page.wait_for_timeout(800)  # smooth scrolling
    assert in_note_view(page, f"mark#{target}")
    start, end = (int(x) for x in quote_id.removeprefix("q").split("-"))
    assert lit_text(page, quote_id) == DOCUMENTATION[start:end]  # every piece of the quote, verbatim
    page.screenshot(path=str(tmp_path / "ui-reading-linked.png"))
    (Path("/tmp") / "ui-reading-linked.png").write_bytes((tmp_path / "ui-reading-linked.png").read_bytes())

    # A red flag ruled out (family history): every piece of its quote lights up, and only those.
    family = next(f for f in reading["red_flags"] if f["flag"] == "malignancy")["quote"]
    fid = f"q{family['start']}-{family['end']}"
    panel.locator(f"table.reading-flags a.qlink[data-quote='{fid}']").click()
    expect(page.locator("mark.lit").first).to_be_visible()
    assert lit_text(page, fid) == family["text"]
    only = "(id) => Array.from(document.querySelectorAll('mark.lit')).every((m) => m.dataset.quotes.split(' ').includes(id))"
    assert page.evaluate(only, fid)

    # A course on the care timeline, in the PT document further down the note.
    course = panel.locator("table.reading-care a.qlink").first
    course.click()
    expect(page.locator(f"mark#{course.get_attribute('data-target')}")).to_have_class(LIT)

    # Document and section links jump to the document's label and the section's heading.
    panel.locator("table.reading-docs a[href='#doc-2']").click()
    assert page.url.endswith("#doc-2")
    page.wait_for_timeout(300)
    assert in_note_view(page, "#doc-2")
    assert dialogs == []
    context.close()
