"""The Reading over HTTP: ``GET /v1/reviews/{id}/reading``, the Reading panel of the case view (quotes
linked to their words in the note, every text escaped), and reviews stored before readings were kept."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from web_support import PHI, Site, fake_kb, make_site

from agent.cases.determination import Determination
from agent.cases.load import load_case
from agent.cases.reading import Reading
from agent.web.deps import TOKEN_COOKIE

PACKET = Path(__file__).parent / "fixtures" / "reading" / "packet.yaml"
PACKET_CASE: dict[str, Any] = json.loads(json.dumps(yaml.safe_load(PACKET.read_text()), default=str))
PACKET_PHI = ["breast cancer", "saddle anesthesia", "Completed physical therapy", "not bold"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(fake_kb(tmp_path_factory.mktemp("reading-kb")), tmp_path_factory.mktemp("reading-data"))


@pytest.fixture(scope="module")
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def review_id(client: TestClient, site: Site) -> str:
    response = client.post("/v1/reviews", json=PACKET_CASE, headers=site.auth("reviewer"))
    assert response.status_code == 201, response.text
    return response.json()["review"]["id"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def page(client: TestClient, site: Site, review_id: str) -> str:
    client.cookies.set(TOKEN_COOKIE, site.tokens["reviewer"])
    try:
        response = client.get(f"/reviews/{review_id}")
    finally:
        client.cookies.delete(TOKEN_COOKIE)
    assert response.status_code == 200, response.text
    return response.text


class Elements(HTMLParser):
    """Every start tag's attributes, and the text inside each <a class="qlink">."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.link_texts: list[str] = []
        self._in_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.tags.append((tag, found))
        if tag == "a" and "qlink" in found.get("class", ""):
            self._in_link = True
            self.link_texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = False

    def handle_data(self, data: str) -> None:
        if self._in_link:
            self.link_texts[-1] += data


def parsed(html: str) -> Elements:
    p = Elements()
    p.feed(html)
    return p


def test_the_api_returns_the_typed_reading(client: TestClient, site: Site, review_id: str) -> None:
    response = client.get(f"/v1/reviews/{review_id}/reading", headers=site.auth("reviewer"))
    assert response.status_code == 200
    reading = Reading.model_validate(response.json())
    assert [(d.title, d.kind) for d in reading.documents] == [
        ("PCP OFFICE NOTE", "primary care note"),
        ("PT DISCHARGE SUMMARY", "physical therapy note"),
    ]
    stored = client.get(f"/v1/reviews/{review_id}", headers=site.auth("reviewer")).json()
    assert Reading.model_validate(stored["determination"]["reading"]) == reading
    assert "/v1/reviews/{review_id}/reading" in client.get("/openapi.json", headers=site.auth("reviewer")).json()["paths"]


@pytest.mark.parametrize(("headers", "status"), [(None, 401), ("reviewer", 404)], ids=["no-token", "unknown-id"])
def test_the_reading_route_errors(client: TestClient, site: Site, headers: str | None, status: int) -> None:
    response = client.get("/v1/reviews/R-000000000000/reading", headers=site.auth(headers) if headers else {})
    assert response.status_code == status and response.json()["error"]["status"] == status


def test_the_case_view_has_the_reading_panel(page: str) -> None:
    panel = page[page.index('id="reading"') :]
    for heading in ("Documents", "Evidence by criterion", "Conservative care timeline", "Red flags"):
        assert f"<h3>{heading}</h3>" in panel
    assert "PCP OFFICE NOTE" in panel and "physical therapy note" in panel and "2026-09-14" in panel
    assert 'href="#doc-2"' in panel and re.search(r'href="#sec-\d+"[^>]*>FHx<', panel)
    assert re.search(r'<h4 class="region">Lumbar', panel)
    assert "cs-completed" in panel and "cs-ongoing" in panel and "cs-planned" in panel
    assert "about someone else (family history)" in panel and "absent (negated)" in panel


def test_every_quote_link_points_at_its_words_in_the_note(page: str) -> None:
    tags = parsed(page).tags
    ids = {a["id"] for _, a in tags if "id" in a}
    marks = {a["id"]: a.get("data-quotes", "").split() for t, a in tags if t == "mark" and "id" in a}
    links = [a for t, a in tags if t == "a" and "qlink" in a.get("class", "")]
    assert len([a for a in links if "crit-quote" in a["class"]]) >= 5  # each criterion's evidence
    assert len(links) >= 10  # and the courses and red flags
    for a in links:
        target = a["href"].removeprefix("#")
        assert target == a["data-target"] and target in marks
        assert a["data-quote"] in marks[target]  # the first piece of that very quote
    for number in (1, 2):
        assert f"doc-{number}" in ids
    sections = {a["href"].removeprefix("#") for t, a in tags if t == "a" and a.get("class") == "secref"}
    assert sections and sections <= ids


def test_the_pieces_of_a_quote_spell_it(page: str, client: TestClient, site: Site, review_id: str) -> None:
    """Joining the note pieces that belong to a quote gives back the quote's words, verbatim."""
    reading = Reading.model_validate(client.get(f"/v1/reviews/{review_id}/reading", headers=site.auth("reviewer")).json())
    family = next(f for f in reading.red_flags if f.flag == "malignancy")
    qid = f"q{family.quote.start}-{family.quote.end}"
    pieces = re.findall(rf'<mark id="ev-\d+" [^>]*data-quotes="[^"]*\b{qid}\b[^"]*"[^>]*>(.*?)</mark>', page, re.S)
    assert "".join(pieces) == family.quote.text


def test_note_text_and_instructions_are_data_on_the_page(page: str) -> None:
    assert "<script>alert" not in page and "<b>not bold</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page or "&lt;script&gt;alert(&quot;x&quot;)" in page
    texts = parsed(page).link_texts
    assert texts and not any("approve all requests" in t for t in texts)  # never quoted as a finding
    assert "instruction(s) addressed to the reviewer" in page  # flagged, as before


def test_a_review_stored_before_readings_shows_its_reading(client: TestClient, site: Site) -> None:
    """An old row (determination JSON without ``reading``) loads, still verifies, and is read again for display."""
    store = site.service.store
    case = load_case(PACKET).model_copy(update={"expected": None})
    det = site.service.reviewer().review(case)

    class Legacy(Determination):
        def model_dump_json(self, **kwargs: Any) -> str:  # type: ignore[override]  # as the store wrote it before
            return super().model_dump_json(exclude={"reading"}, **kwargs)

    record = store.save_review(case, Legacy.model_validate(det.model_dump(exclude={"reading"})), actor="nurse.kim")
    assert '"reading"' not in store.get_review(record.id).determination_json
    assert store.get_review(record.id).determination.reading is None
    assert store.verify() == []
    response = client.get(f"/v1/reviews/{record.id}/reading", headers=site.auth("reviewer"))
    assert response.status_code == 200 and Reading.model_validate(response.json()) == det.reading
    client.cookies.set(TOKEN_COOKIE, site.tokens["reviewer"])
    try:
        html = client.get(f"/reviews/{record.id}").text
    finally:
        client.cookies.delete(TOKEN_COOKIE)
    assert 'id="reading"' in html and "PT DISCHARGE SUMMARY" in html


def test_reading_routes_log_no_note_text(
    client: TestClient, site: Site, review_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client.get(f"/v1/reviews/{review_id}/reading", headers=site.auth("reviewer"))
        client.cookies.set(TOKEN_COOKIE, site.tokens["reviewer"])
        try:
            client.get(f"/reviews/{review_id}")
        finally:
            client.cookies.delete(TOKEN_COOKIE)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))  # the test's client
    assert "GET /v1/reviews/{review_id}/reading 200" in logged
    assert review_id not in logged and not any(p in logged for p in [*PHI, *PACKET_PHI])
