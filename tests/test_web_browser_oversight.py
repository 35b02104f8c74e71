"""The /oversight page in a real browser (Debian's chromium via playwright), with a screenshot.

The screenshot goes to the test's tmp dir and to /tmp/ui-oversight.png, like the other workbench screenshots.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import needs
import pytest
import uvicorn
from sqlalchemy import text
from test_oversight import REVIEWS, fill
from test_web_browser import browser, free_port, screenshot, sign_in
from web_support import Site, fake_kb, make_site

from agent.settings import Settings

pytestmark = pytest.mark.slow
sync_api = needs.module("playwright.sync_api", "the playwright package is in the dev extra", module_level=True)
__all__ = ["browser"]  # the fixture, shared with test_web_browser


def spread_sign_offs(site: Site, ids: dict[str, str]) -> None:
    """Move each sign-off to its day in the data set, counted back from today, so the trend has points to
    draw. This edits the log behind the store's back (``audit verify`` would report it): test data only."""
    last = max(r.signed for r in REVIEWS if r.signed)
    today = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    with site.service.store.engine.begin() as conn:
        for review in REVIEWS:
            if review.signed is None:
                continue
            moved = (today - (last - review.signed)).replace(tzinfo=None)  # stored as naive UTC
            conn.execute(
                text("UPDATE review_events SET at = :at WHERE review_id = :id AND kind IN ('signed', 'overridden')"),
                {"at": moved, "id": ids[review.id]},
            )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site, dict[str, str]]]:
    """The app on a free loopback port, its store holding test_oversight's hand-computed data set."""
    site = make_site(fake_kb(tmp_path_factory.mktemp("ov-ui-kb")), tmp_path_factory.mktemp("ov-ui-data"))
    site.service.settings = Settings(data_dir=site.data_dir, oversight_overturn_alert=0.3, oversight_min_codes=5)
    ids = fill(site.service.store)
    spread_sign_offs(site, ids)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(site.app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", site, ids
    server.should_exit = True
    thread.join(timeout=10)


def test_oversight_page_in_the_browser(live: tuple[str, Site, dict[str, str]], browser: sync_api.Browser, tmp_path: Path) -> None:
    base, site, ids = live
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    problems: list[str] = []  # CSP violations are console errors; failed loads are listed by URL instead
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "Failed to load" not in m.text else None)
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 and not r.url.endswith("/favicon.ico") else None,
    )

    sign_in(page, base, site.tokens["physician"])
    page.click("nav a[href='/oversight']")
    page.wait_for_url(f"{base}/oversight")
    expect(page.locator("h1")).to_have_text("Oversight")
    expect(page.locator("#overturn-alert")).to_contain_text("ALERT: 3 of 8 signed codes overturned")
    expect(page.locator("#stat-agreement b")).to_have_text("62.5%")
    expect(page.locator("#stat-kappa b")).to_have_text("0.455")
    expect(page.locator("#stat-overturn b")).to_have_text("37.5%")
    expect(page.locator("#stat-unsafe b")).to_have_text("2")
    expect(page.locator("#unsafe tbody tr")).to_have_count(2)
    expect(page.locator("svg.chart")).to_have_count(7)
    for chart in page.locator("svg.chart").all():  # drawn, not collapsed to nothing
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 20
    weeks = page.locator("#timeline tbody tr").count()
    with site.service.store.engine.begin() as conn:  # the days the fixture moved the sign-offs to
        moved = [row[0] for row in conn.execute(text("SELECT at FROM review_events WHERE kind IN ('signed', 'overridden')"))]
    days = {(at if isinstance(at, datetime) else datetime.fromisoformat(str(at))).date() for at in moved}
    assert weeks == len({day - timedelta(days=day.weekday()) for day in days})  # ISO weeks spanned (2 or 3)
    expect(page.locator("svg.timeline circle.point-overturn_rate")).to_have_count(weeks)
    expect(page.locator("#by-region svg rect.unsafe")).to_have_count(2)
    expect(page.locator("#reasons tbody tr").first).to_contain_text("PT notes show 8 weeks")
    screenshot(page, tmp_path, "ui-oversight")
    assert (tmp_path / "ui-oversight.png").stat().st_size > 10_000

    # The filters: days since the day of the last sign-off.
    last_day = page.locator("#timeline tbody tr td").first.inner_text()  # a week's first day
    page.fill("input[name=since]", last_day)
    page.select_option("select[name=bucket]", "day")
    page.click("form[action='/oversight'] button")
    page.wait_for_url(f"{base}/oversight?since={last_day}&bucket=day")
    expect(page.locator("#timeline thead")).to_contain_text("day from")

    # An unsafe overturn links to its review.
    page.goto(f"{base}/oversight")
    page.click(f"#unsafe a[href='/reviews/{ids['R2']}']")
    page.wait_for_url(f"{base}/reviews/{ids['R2']}")
    expect(page.locator("h1")).to_contain_text(ids["R2"])
    assert not problems, problems
    context.close()

    # A reviewer sees no link and is refused the page.
    other = browser.new_context()
    page = other.new_page()
    sign_in(page, base, site.tokens["reviewer"])
    expect(page.locator("nav a[href='/oversight']")).to_have_count(0)
    response = page.goto(f"{base}/oversight")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("physician or admin")
    other.close()
