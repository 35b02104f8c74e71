"""The workbench in a real browser: Debian's chromium driven by playwright against a live server.

No browser is downloaded: the test uses /usr/bin/chromium (.ci/run installs it); without it the tests skip, or fail under CI.
Screenshots of the queue and the case view go to the test's tmp dir and to /tmp/ui-*.png.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import needs
import pytest
import uvicorn
from needs import unavailable
from web_support import EXAMPLE_YAML, RED_FLAG_CASE, Site, fake_kb, make_site

CHROMIUM = Path("/usr/bin/chromium")
LIT = re.compile(r"\blit\b")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.slow
sync_api = needs.module("playwright.sync_api", "the playwright package is in the dev extra", module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site]]:
    """The app served by uvicorn on a free loopback port, in a thread of this process."""
    site = make_site(fake_kb(tmp_path_factory.mktemp("ui-kb")), tmp_path_factory.mktemp("ui-data"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(site.app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    # Something already in the queue: an approval with a red flag, submitted over the API.
    httpx.post(f"{base}/v1/reviews", json=RED_FLAG_CASE, headers=site.auth("reviewer"), timeout=30).raise_for_status()
    yield base, site
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    if not CHROMIUM.exists():
        unavailable("needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def sign_in(page: sync_api.Page, base: str, token: str, then: str = "/") -> None:
    page.goto(f"{base}/login?next={then}")
    page.fill("input[name=token]", token)
    page.click("form[action='/login'] button")
    page.wait_for_url(f"{base}{then}")


def screenshot(page: sync_api.Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # the note column is sticky: scrolled, it would float mid-page
    page.screenshot(path=str(path), full_page=True)
    shutil.copyfile(path, Path("/tmp") / f"{name}.png")


def test_reviewer_and_physician_flow(live: tuple[str, Site], browser: sync_api.Browser, tmp_path: Path) -> None:
    base, site = live
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    expect = sync_api.expect

    # A reviewer signs in and submits the example case on /new.
    sign_in(page, base, site.tokens["reviewer"], then="/new")
    expect(page.locator("select[name=policy]")).to_have_value("acr-default")
    screenshot(page, tmp_path, "ui-new")
    page.fill("textarea[name=case_text]", EXAMPLE_YAML)
    page.click("form[action='/new'] button")
    page.wait_for_url(f"{base}/reviews/R-*")
    case_url = page.url
    expect(page.locator("h1")).to_contain_text("R-")
    expect(page.locator(".decision.big").first).to_contain_text("deny")

    # A highlighted evidence span lights up its criterion row.
    mark = page.locator("mark.ev:not(.inj)").first
    keys = (mark.get_attribute("data-keys") or "").split()
    mark.click()
    row = page.locator(f"#crit-{keys[0].replace(':', '-')}")
    expect(row).to_have_class(LIT)

    # A "quote" link in the checklist lights up its span in the note.
    link = page.locator("a.evlink").first
    target = link.get_attribute("data-target")
    link.click()
    expect(page.locator(f"mark#{target}")).to_have_class(LIT)
    expect(page.locator("tr.lit")).to_have_count(1)

    # The follow-up chat.
    page.fill("#ask-form input[name=question]", "What would make the lumbar MRI approvable?")
    page.click("#ask-form button")
    answer = page.locator("#qa-log .qa").last
    expect(answer.locator(".q")).to_have_text("What would make the lumbar MRI approvable?")
    expect(answer.locator(".a")).to_contain_text("72158")
    expect(answer.locator("p.cite a").first).to_be_visible()
    screenshot(page, tmp_path, "ui-case")

    # A guideline citation opens its chunk with the quote highlighted.
    cite = page.locator("table.checklist a.cite").first
    quote = (cite.inner_text()).strip("“”")
    with context.expect_page() as opened:
        cite.click()
    chunk = opened.value
    chunk.wait_for_load_state()
    expect(chunk.locator("mark.cited")).to_have_text(quote)
    chunk.close()

    # The denial letter as PDF.
    with page.expect_download() as download:
        page.click("#letter-pdf")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")

    # Sign out; a physician signs in and signs the review.
    page.click("header form[action='/logout'] button")
    page.wait_for_url(f"{base}/login")
    sign_in(page, base, site.tokens["physician"])
    expect(page.locator("table.queue tbody tr")).to_have_count(2)
    page.goto(case_url)
    expect(page.locator("#signer")).to_have_text("dr.lee")  # signs as the signed-in physician, not a typed name
    page.fill("input[name=credentials]", "MD, board-certified in radiology")
    page.select_option("select[name=decision]", "uphold")
    page.locator("#signoff").scroll_into_view_if_needed()
    screenshot(page, tmp_path, "ui-signoff")
    page.click("#sign-button")
    expect(page.locator("#signoff")).to_contain_text("uphold by dr.lee")
    expect(page.locator(".pagehead .pill.s-final")).to_have_text("final")
    expect(page.locator(".decision.big").first).to_have_text("deny")

    page.goto(f"{base}/")
    expect(page.locator("table.queue .pill.s-final")).to_have_count(1)
    screenshot(page, tmp_path, "ui-queue")
    context.close()


def test_a_scanned_packet_uploaded_on_new_is_ocrd_and_reviewed(
    live: tuple[str, Site], browser: sync_api.Browser, tmp_path: Path
) -> None:
    """A reviewer uploads a faxed (image-only) PDF as the documentation and types the request in the fields."""
    import yaml
    from scans import scanned_pdf

    base, site = live
    case = yaml.safe_load(
        (Path(__file__).parent.parent / "evals" / "cases" / "lbp-acute-axial-2wk-no-red-flags.yaml").read_text()
    )
    fax = scanned_pdf(case["request"]["clinical_notes"], tmp_path / "faxed-packet.pdf")
    blank = scanned_pdf("", tmp_path / "blank-fax.pdf")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    expect = sync_api.expect
    sign_in(page, base, site.tokens["reviewer"], then="/new")

    page.fill("input[name=codes]", ", ".join(p["code"] for p in case["request"]["procedures"]))
    page.fill("input[name=age]", str(case["request"]["patient"]["age"]))
    page.select_option("select[name=sex]", case["request"]["patient"]["sex"])
    page.set_input_files("input[name=packet]", str(fax))
    screenshot(page, tmp_path, "ui-new-packet")
    page.click("form[action='/new'] button")
    page.wait_for_url(f"{base}/reviews/R-*", timeout=60_000)
    expect(page.locator(".decision.big").first).to_contain_text(next(iter(case["expected"]["decisions"].values())))
    expect(page.locator("body")).to_contain_text("faxed-packet.pdf")
    screenshot(page, tmp_path, "ui-packet-case")

    # An unreadable scan: the request is pended (referred), naming the file, not decided on the rest.
    page.goto(f"{base}/new")
    page.fill("input[name=codes]", "72148")
    page.fill("input[name=age]", "50")
    page.set_input_files("input[name=packet]", str(blank))
    page.click("form[action='/new'] button")
    page.wait_for_url(f"{base}/reviews/R-*", timeout=60_000)
    expect(page.locator(".decision.big").first).to_contain_text("refer")
    expect(page.locator("body")).to_contain_text("Documentation unreadable")
    expect(page.locator("body")).to_contain_text("blank-fax.pdf")
    screenshot(page, tmp_path, "ui-packet-unreadable")

    # A file that cannot hold documentation is refused by name, on the form.
    page.goto(f"{base}/new")
    page.fill("input[name=codes]", "72148")
    docx = tmp_path / "notes.docx"
    docx.write_bytes(b"PK\x03\x04")
    page.set_input_files("input[name=packet]", str(docx))
    page.click("form[action='/new'] button")
    expect(page.locator("#new-error")).to_contain_text("notes.docx")
    context.close()
