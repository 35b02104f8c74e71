"""Case files: YAML, JSON and JSON Lines loaders, and errors that name file and field, never note text."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.cases.load import load_case, load_cases
from agent.cases.model import RED_FLAG_IDS, Case, Decision
from agent.errors import CaseFileError
from agent.facts.model import RED_FLAG_LABELS

REPO = Path(__file__).resolve().parents[1]
CASE_FORMAT = REPO / "docs" / "case-format.md"  # the repository's copy of the case-format spec (source noted in it)
SECRET = "SECRETNOTE 52 yo F with 10 weeks of left leg pain radiating below the knee."


def good() -> dict[str, Any]:
    """A valid labeled case as parsed data; each test changes one thing."""
    return {
        "id": "lbp-radic-014",
        "request": {
            "patient": {"age": 52, "sex": "female"},
            "procedures": [{"code": "72148"}],
            "diagnoses": ["M54.16"],
            "note_date": "2026-10-01",
            "clinical_notes": SECRET,
        },
        "expected": {"decisions": {"72148": "approve"}, "red_flags": []},
    }


def patched(path: str, value: Any) -> dict[str, Any]:
    """``good()`` with the value at a dotted path (``request.procedures.0.code``) replaced."""
    data = good()
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target: Any = data
    for part in parents:
        target = target[part]
    target[last] = value
    return data


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in data) + "\n")
    elif name.endswith(".json"):
        path.write_text(json.dumps(data))
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --- loading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["case.yaml", "case.yml", "case.json"], ids=["yaml", "yml", "json"])
def test_single_case_file_loads(tmp_path: Path, name: str) -> None:
    case = load_case(write(tmp_path, name, good()))
    assert case.id == "lbp-radic-014"
    assert case.request.codes == ["72148"]
    assert case.request.clinical_notes == SECRET
    assert case.expected is not None and case.expected.decisions == {"72148": Decision.approve}


def test_jsonl_file_loads_every_line(tmp_path: Path) -> None:
    second = good() | {"id": "lbp-radic-015"}
    result = load_cases([write(tmp_path, "batch.jsonl", [good(), second])])
    assert [c.id for c in result.cases] == ["lbp-radic-014", "lbp-radic-015"]
    assert result.sources["lbp-radic-015"].endswith("batch.jsonl:2")
    assert result.errors == []


def test_example_file_loads() -> None:
    case = load_case(REPO / "examples" / "cervical-fusion-mid-low-back-burning.yaml")
    assert case.id == "cervical-fusion-mid-low-back-burning"
    assert case.request.codes == ["72157", "72158"]
    assert case.expected is not None and set(case.expected.decisions) == {"72157", "72158"}


def test_directory_expands_to_case_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, "a.yaml", good())
    write(tmp_path / "sub", "b.json", good() | {"id": "b"})
    (tmp_path / "notes.txt").write_text("not a case")
    result = load_cases([tmp_path])
    assert sorted(c.id for c in result.cases) == ["b", "lbp-radic-014"]
    assert result.errors == []


def test_request_without_expected_is_a_plain_review_request(tmp_path: Path) -> None:
    data = good()
    del data["expected"]
    case = load_case(write(tmp_path, "req.yaml", data))
    assert case.expected is None
    assert case.request.urgency == "standard"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param("code: 72148", "72148", id="unquoted-int"),
        pytest.param("code: '72148'", "72148", id="quoted"),
        pytest.param("code: G0154", "G0154", id="hcpcs-letters"),
    ],
)
def test_procedure_code_is_always_a_string(tmp_path: Path, text: str, code: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "id: c1\nrequest:\n  patient: {age: 40}\n  procedures:\n    - " + text + "\n  clinical_notes: back pain\n"
        "expected:\n  decisions: {" + code + ": deny}\n"
    )
    case = load_case(path)
    assert case.request.codes == [code]
    assert case.expected is not None and list(case.expected.decisions) == [code]


def test_requested_codes_keep_order_without_duplicates() -> None:
    data = patched("request.procedures", [{"code": "72158"}, {"code": "72148"}, {"code": "72158"}])
    assert Case.model_validate(data).request.codes == ["72158", "72148"]


# --- errors ------------------------------------------------------------------------------------

BAD_ROWS = [
    pytest.param(patched("request.procedures.0.code", "72-148"), "request.procedures[0].code", id="bad-code"),
    pytest.param(patched("request.procedures", []), "request.procedures", id="no-procedures"),
    pytest.param(patched("request.patient.sex", "f"), "request.patient.sex", id="bad-sex"),
    pytest.param(patched("request.patient.age", -1), "request.patient.age", id="negative-age"),
    pytest.param(patched("request.urgency", "stat"), "request.urgency", id="bad-urgency"),
    pytest.param(patched("request.note_date", "yesterday"), "request.note_date", id="bad-note-date"),
    pytest.param(patched("request.clinical_notes", [SECRET]), "request.clinical_notes", id="note-not-text"),
    pytest.param(patched("expected.red_flags", ["saddle_anesthesia"]), "expected.red_flags", id="unknown-red-flag"),
    pytest.param(patched("expected.decisions", {"72148": "maybe"}), "expected.decisions.72148", id="bad-decision"),
    pytest.param(patched("id", "lbp 014"), "id", id="bad-id"),
    pytest.param(patched("request.patient", {"age": 52, "gender": "female"}), "request.patient.gender", id="extra-key"),
    pytest.param(good() | {"label": "approve"}, "label", id="extra-top-level-key"),
]


@pytest.mark.parametrize(("data", "field"), BAD_ROWS)
def test_bad_case_names_file_and_field(tmp_path: Path, data: dict[str, Any], field: str) -> None:
    path = write(tmp_path, "bad.yaml", data)
    with pytest.raises(CaseFileError) as info:
        load_case(path)
    assert info.value.path == str(path)
    assert info.value.field == field
    assert str(path) in str(info.value) and field in str(info.value)


@pytest.mark.parametrize(("data", "field"), BAD_ROWS)
def test_error_message_never_contains_note_text(tmp_path: Path, data: dict[str, Any], field: str) -> None:
    with pytest.raises(CaseFileError) as info:
        load_case(write(tmp_path, "bad.yaml", data))
    assert "SECRETNOTE" not in str(info.value)


def test_note_under_mistyped_key_is_not_echoed(tmp_path: Path) -> None:
    data = good()
    data["request"]["clinical_note"] = "SECRETNOTE LBP x 10 wk, failed PT"
    with pytest.raises(CaseFileError) as info:
        load_case(write(tmp_path, "typo.yaml", data))
    assert info.value.field == "request.clinical_note"
    assert "SECRETNOTE" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        pytest.param("broken.yaml", "id: [unclosed\n", "invalid YAML at line", id="yaml-syntax"),
        pytest.param("broken.json", '{"id": ', "invalid JSON at line", id="json-syntax"),
        pytest.param("list.yaml", "- a\n- b\n", "expected a mapping", id="not-a-mapping"),
    ],
)
def test_unparseable_file_is_a_case_file_error(tmp_path: Path, name: str, text: str, problem: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(CaseFileError, match=re.escape(problem)) as info:
        load_case(path)
    assert info.value.path == str(path)
    assert info.value.exit_code == 2


def test_missing_file_is_reported(tmp_path: Path) -> None:
    result = load_cases([tmp_path / "nope.yaml"])
    assert result.cases == [] and "no such file" in result.errors[0].problem


def test_bad_jsonl_lines_do_not_lose_good_lines(tmp_path: Path) -> None:
    lines = [good(), "{not json", patched("request.patient.sex", "f") | {"id": "bad"}, good() | {"id": "last"}]
    path = write(tmp_path, "batch.jsonl", lines)
    result = load_cases([path])
    assert [c.id for c in result.cases] == ["lbp-radic-014", "last"]
    assert [(e.path, e.field) for e in result.errors] == [(f"{path}:2", ""), (f"{path}:3", "request.patient.sex")]
    assert all("SECRETNOTE" not in str(e) for e in result.errors)


def test_duplicate_ids_are_reported_and_the_first_kept(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", good())
    second = write(tmp_path, "b.json", good())
    result = load_cases([first, second])
    assert [result.sources[c.id] for c in result.cases] == [str(first)]
    (error,) = result.errors
    assert (error.path, error.field) == (str(second), "id")
    assert "duplicate case id 'lbp-radic-014'" in error.problem and str(first) in error.problem


def test_load_case_refuses_a_file_with_several_cases(tmp_path: Path) -> None:
    path = write(tmp_path, "two.jsonl", [good(), good() | {"id": "other"}])
    with pytest.raises(CaseFileError, match="expected one case, found 2"):
        load_case(path)


# --- red-flag ids: the spec and the code agree -------------------------------------------------


def spec_red_flag_ids() -> list[str]:
    section = CASE_FORMAT.read_text().split("## Red-flag ids", 1)[1]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


def test_every_red_flag_id_of_the_case_format_is_known() -> None:
    ids = spec_red_flag_ids()
    assert len(ids) == 6
    assert set(ids) <= set(RED_FLAG_IDS)


def test_every_known_red_flag_id_is_in_the_case_format() -> None:
    assert set(RED_FLAG_IDS) <= set(spec_red_flag_ids())


def test_every_red_flag_id_has_a_label() -> None:
    assert set(RED_FLAG_LABELS) == set(RED_FLAG_IDS)
