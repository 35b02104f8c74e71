"""The /oversight workbench page in-process: who may see it, what it shows, and what it never shows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_oversight import fill
from web_support import Site, fake_kb, make_site

from agent.settings import Settings


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    built = make_site(fake_kb(tmp_path_factory.mktemp("ov-kb")), tmp_path_factory.mktemp("ov-data"))
    # The hand-computed data set of test_oversight, signed through the store; the alert at 30% of 5 codes.
    settings = Settings(data_dir=built.data_dir, oversight_overturn_alert=0.3, oversight_min_codes=5)
    built.service.settings = settings
    fill(built.service.store)
    return built


@pytest.fixture(scope="module")
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(("role", "status"), [("physician", 200), ("admin", 200), ("reviewer", 403)])
def test_physicians_and_admins_only(client: TestClient, site: Site, role: str, status: int) -> None:
    page = client.get("/oversight", headers=site.auth(role))
    assert page.status_code == status
    if status == 403:
        assert "physician or admin" in page.text
    nav = client.get("/", headers=site.auth(role)).text
    assert ('href="/oversight"' in nav) is (status == 200)  # the link shows only to those who may follow it


def test_signed_out_goes_to_sign_in(client: TestClient) -> None:
    page = client.get("/oversight", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/oversight"


def test_page_shows_the_figures_charts_and_alert(client: TestClient, site: Site) -> None:
    html = client.get("/oversight", headers=site.auth("physician")).text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "62.5%" in text and "0.455" in text and "37.5%" in text  # agreement, kappa, overturn rate (test_oversight TABLE)
    assert 'class="banner alert"' in html and "ALERT: 3 of 8 signed codes overturned" in text
    assert 'id="unsafe"' in html and text.count("PT notes show 8 weeks") >= 2  # unsafe list and the reasons table
    assert html.count("<svg") == 1 + 6  # the timeline and one bar chart per breakdown
    assert 'class="threshold"' in html and 'class="unsafe"' in html
    for heading in ("Region", "Code", "Backend / model", "Prompt version", "Criteria set and version", "Criterion not met"):
        assert heading in text
    assert "Sensitive note text" not in html  # the note never reaches this page
    assert "style=" not in html  # the CSP allows no inline styles
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html


def test_filters(client: TestClient, site: Site) -> None:
    later = client.get("/oversight?since=2999-01-01&bucket=month", headers=site.auth("admin"))
    assert later.status_code == 200 and "no signed reviews" in later.text
    assert 'value="2999-01-01"' in later.text
    assert client.get("/oversight?bucket=year", headers=site.auth("admin")).status_code == 422
    assert client.get("/oversight?since=yesterday", headers=site.auth("admin")).status_code == 422
    assert client.get("/oversight?since=", headers=site.auth("admin")).status_code == 200  # the empty form field


def test_no_alert_below_the_threshold(tmp_path: Path) -> None:
    calm = make_site(fake_kb(tmp_path / "kb"), tmp_path / "data")
    calm.service.settings = Settings(data_dir=calm.data_dir, oversight_overturn_alert=0.5, oversight_min_codes=1)
    fill(calm.service.store)
    with TestClient(calm.app) as c:
        html = c.get("/oversight", headers=calm.auth("physician")).text
    assert 'class="banner calm"' in html and "below the 50% threshold" in html
