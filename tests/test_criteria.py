"""Criteria files: the default policy loads, the topics are consistent, and typos fail loudly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.cases.model import RED_FLAG_IDS
from agent.criteria.model import Condition, CriteriaSet, load_criteria_set
from agent.errors import CriteriaFileError
from agent.facts.model import FACT_NAMES, Region
from agent.knowledge.base import KnowledgeBase
from agent.settings import Settings

CODES = """\
version: "t1"
codes:
  "72148": {region: lumbar, procedure: mri_wo, label: "MRI of the lumbar spine without contrast"}
"""

TOPIC = """\
document: tiny-doc
topics:
  - id: tiny-lbp
    title: Tiny low back topic
    version: "1"
    regions: [lumbar]
    red_flags: [cauda_equina]
    approval_pathway: t-v1
    criteria:
      - id: conservative_care
        label: Six weeks of care
        role: required
        when: {conservative_care_weeks: 6}
        missing: Six weeks of dated conservative care
    variants:
      - id: t-v1
        number: 1
        title: After six weeks of care
        kind: pathway
        when: {criterion: conservative_care}
        ratings: {mri_wo: UA}
        cite: {quote: "Imaging after six weeks of care."}
      - id: t-v0
        title: Before care
        kind: default
        ratings: {mri_wo: UNA}
        cite: {quote: "No imaging before six weeks of care."}
"""

POLICY = """\
id: tiny
title: Tiny policy
version: "1"
effective: 2026-01-01
topics: [tiny-lbp]
rating_decisions: {UA: approve, MBA: refer, UNA: deny}
"""

FILES = {"codes.yaml": CODES, "tiny.criteria.yaml": TOPIC, "tiny.policy.yaml": POLICY}


def tiny_dir(tmp_path: Path, file: str = "", old: str = "", new: str = "") -> Path:
    """A guideline directory with one code, one topic and one policy; optionally one edit."""
    for name, text in FILES.items():
        if name == file:
            assert old in text, f"{old!r} not in {name}"
            text = text.replace(old, new)
        (tmp_path / name).write_text(text)
    return tmp_path


# --- the shipped criteria ----------------------------------------------------------------------


def test_default_policy_loads(criteria: CriteriaSet) -> None:
    assert criteria.policy.id == "acr-default"
    assert [t.id for t in criteria.topics] == ["acr-lbp", "acr-thoracic", "acr-cervical", "acr-myelopathy"]
    assert {r.value: d.value for r, d in criteria.policy.rating_decisions.items()} == {
        "UA": "approve",
        "MBA": "refer",
        "UNA": "deny",
    }


def test_kb_lists_the_default_policy(kb_offline: KnowledgeBase) -> None:
    assert "acr-default" in kb_offline.policies()


def test_every_code_region_has_a_region_topic_first(criteria: CriteriaSet) -> None:
    for code, info in criteria.codes.codes.items():
        topics = criteria.topics_for(info.region)
        assert topics, f"no topic covers {code} ({info.region})"
        gate = topics[0].only_when
        parts = [gate] if gate is None or gate.all_ is None else gate.all_
        # the first topic is gated by age, and at most by a question it does not rate (a lesion to
        # characterise) that a red flag overrides; later topics apply only with a red flag, so a request
        # outside the first topic is referred, never judged by another topic
        assert gate is None or any(p.age_min is not None for p in parts), f"{code}: the first topic must be gated by age"
        others = [p for p in parts if p is not None and p.age_min is None]
        assert all(p.any_ and any(q.red_flag == "any" for q in p.any_) for p in others), f"{code}: a gate a red flag cannot lift"


def test_every_topic_is_consistent(criteria: CriteriaSet) -> None:
    for topic in criteria.topics:
        assert topic.regions and set(topic.regions) <= set(Region)
        assert set(topic.red_flags) <= set(RED_FLAG_IDS)
        assert topic.document, topic.id
        assert sum(v.kind == "default" for v in topic.variants) <= 1
        assert len({v.id for v in topic.variants}) == len(topic.variants)
        assert len({c.id for c in topic.criteria}) == len(topic.criteria)
        assert topic.variant(topic.approval_pathway).kind == "pathway" or topic.only_when is not None


def test_cord_signs_do_not_bear_on_the_lumbar_spine(criteria: CriteriaSet) -> None:
    (lumbar,) = criteria.topics_for(Region.lumbar)
    assert "myelopathy" not in lumbar.red_flags
    for region in (Region.cervical, Region.thoracic):
        assert any("myelopathy" in t.red_flags for t in criteria.topics_for(region))


def test_every_cite_resolves_to_a_chunk_containing_the_quote(kb_offline: KnowledgeBase, criteria: CriteriaSet) -> None:
    # kb.criteria() already refuses unresolvable quotes; this checks the chunk the citation names.
    for topic in criteria.topics:
        cites = [c.cite for c in topic.criteria if c.cite] + [v.cite for v in topic.variants]
        for cite in cites:
            citation = kb_offline.resolve(cite, topic.document)
            assert citation is not None, f"{topic.id}: {cite.quote!r}"
            chunk = kb_offline.corpus.chunk(citation.chunk_id)
            assert chunk is not None and cite.quote in chunk.text
            assert chunk.document_id == (cite.document or topic.document)


# --- a tiny criteria set: typos fail with file and field ---------------------------------------


def test_tiny_criteria_set_loads(tmp_path: Path) -> None:
    loaded = load_criteria_set([tiny_dir(tmp_path)], "tiny")
    assert [t.id for t in loaded.topics] == ["tiny-lbp"]
    assert loaded.topics[0].document == "tiny-doc"
    assert loaded.codes.code_for(Region.lumbar, "mri_wo") == "72148"


@pytest.mark.parametrize(
    ("file", "old", "new", "field"),
    [
        pytest.param("tiny.criteria.yaml", "role: required", "rol: required", "topics.0.criteria.0.rol", id="criterion-key-typo"),
        pytest.param("tiny.criteria.yaml", "number: 1", "numbr: 1", "topics.0.variants.0.numbr", id="variant-key-typo"),
        pytest.param(
            "tiny.criteria.yaml",
            "{conservative_care_weeks: 6}",
            "{conservative_care_week: 6}",
            "topics.0.criteria.0.when.conservative_care_week",
            id="condition-key-typo",
        ),
        pytest.param(
            "tiny.criteria.yaml",
            "{conservative_care_weeks: 6}",
            "{conservative_care_weeks: 6, fact: progression}",
            "topics.0.criteria.0.when",
            id="condition-with-two-keys",
        ),
        pytest.param(
            "tiny.criteria.yaml", "{conservative_care_weeks: 6}", "{fact: pain}", "topics.0.criteria.0.when", id="unknown-fact"
        ),
        pytest.param("tiny.criteria.yaml", "[cauda_equina]", "[saddle_anesthesia]", "topics.0", id="unknown-red-flag"),
        pytest.param("tiny.criteria.yaml", "[lumbar]", "[sacral]", "topics.0.regions.0", id="unknown-region"),
        pytest.param(
            "tiny.criteria.yaml", "{criterion: conservative_care}", "{criterion: care}", "topics.0", id="unknown-criterion-ref"
        ),
        pytest.param("tiny.criteria.yaml", "approval_pathway: t-v1", "approval_pathway: t-v9", "topics.0", id="unknown-pathway"),
        pytest.param(
            "tiny.criteria.yaml",
            "        missing: Six weeks of dated conservative care\n",
            "",
            "topics.0.criteria.0",
            id="required-criterion-without-missing-text",
        ),
        pytest.param(
            "tiny.criteria.yaml",
            "kind: default\n",
            "kind: default\n        when: {fact: progression}\n",
            "topics.0.variants.1",
            id="default-variant-with-condition",
        ),
        pytest.param("tiny.policy.yaml", "UA: approve", "UA: accept", "rating_decisions.UA", id="policy-bad-decision"),
        pytest.param("tiny.policy.yaml", "version", "versoin", "versoin", id="policy-key-typo"),
        pytest.param("codes.yaml", "procedure: mri_wo", "procedure: mri", "codes.72148.procedure", id="codes-bad-procedure"),
    ],
)
def test_bad_criteria_file_names_file_and_field(tmp_path: Path, file: str, old: str, new: str, field: str) -> None:
    directory = tiny_dir(tmp_path, file, old, new)
    with pytest.raises(CriteriaFileError) as info:
        load_criteria_set([directory], "tiny")
    assert Path(info.value.path).name == file
    assert info.value.field == field
    assert file in str(info.value) and field in str(info.value)
    assert info.value.exit_code == 2


def test_policy_naming_an_unknown_topic_fails(tmp_path: Path) -> None:
    directory = tiny_dir(tmp_path, "tiny.policy.yaml", "[tiny-lbp]", "[tiny-lbp, nope]")
    with pytest.raises(CriteriaFileError, match=r"unknown topic\(s\) \['nope'\]") as info:
        load_criteria_set([directory], "tiny")
    assert info.value.field == "tiny.topics"


def test_unknown_policy_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(CriteriaFileError, match=r"unknown criteria set 'strict'; known: \['tiny'\]"):
        load_criteria_set([tiny_dir(tmp_path)], "strict")


def test_duplicate_topic_id_in_one_directory_fails(tmp_path: Path) -> None:
    directory = tiny_dir(tmp_path)
    (directory / "again.criteria.yaml").write_text(TOPIC)
    with pytest.raises(CriteriaFileError, match="duplicate topic id 'tiny-lbp'"):
        load_criteria_set([directory], "tiny")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    directory = tiny_dir(tmp_path, "tiny.criteria.yaml", "regions: [lumbar]", "regions: [lumbar")
    with pytest.raises(CriteriaFileError, match="invalid YAML at line"):
        load_criteria_set([directory], "tiny")


# --- Condition: exactly one key ----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"fact": "progression", "red_flag": "fracture"}, id="two-keys"),
        pytest.param({}, id="no-key"),
        pytest.param({"red_flag": "saddle"}, id="unknown-red-flag"),
        pytest.param({"fact": "pain"}, id="unknown-fact"),
        pytest.param({"prior_surgery": "any_region"}, id="bad-prior-surgery"),
        pytest.param({"conservative_care_weeks": -1}, id="negative-weeks"),
    ],
)
def test_bad_condition_is_rejected(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Condition.model_validate(data)


@pytest.mark.parametrize("fact", FACT_NAMES)
def test_every_fact_name_is_a_valid_condition(fact: str) -> None:
    assert Condition.model_validate({"fact": fact}).fact == fact


def test_nested_condition_uses_yaml_keys() -> None:
    cond = Condition.model_validate({"all": [{"red_flag": "any"}, {"not": {"fact": "candidacy"}}]})
    assert cond.all_ is not None and cond.all_[1].not_ is not None and cond.all_[1].not_.fact == "candidacy"


# --- cite quotes must be verbatim in the knowledge base ----------------------------------------

BROKEN_TOPIC = """\
document: acr-low-back-pain
topics:
  - id: broken-topic
    title: Broken
    version: "1"
    regions: [lumbar]
    red_flags: []
    approval_pathway: b-v1
    criteria: []
    variants:
      - id: b-v1
        title: Anything
        kind: pathway
        when: {symptom_weeks_min: 0}
        ratings: {mri_wo: UA}
        cite: {quote: "QUOTE"}
"""


def user_kb(tmp_path: Path, quote: str) -> KnowledgeBase:
    guidelines = tmp_path / "guidelines"
    guidelines.mkdir()
    (guidelines / "broken.criteria.yaml").write_text(BROKEN_TOPIC.replace("QUOTE", quote))
    (guidelines / "broken.policy.yaml").write_text(POLICY.replace("tiny-lbp", "broken-topic").replace("id: tiny", "id: broken"))
    return KnowledgeBase(settings=Settings(data_dir=tmp_path))


def test_user_topic_with_a_verbatim_quote_loads(tmp_path: Path) -> None:
    kb = user_kb(tmp_path, "Imaging is not indicated for acute low back pain without red flags.")
    assert [t.id for t in kb.criteria("broken").topics] == ["broken-topic"]


def test_broken_quote_fails_naming_topic_and_field(tmp_path: Path) -> None:
    kb = user_kb(tmp_path, "Imaging is always indicated for low back pain.")
    with pytest.raises(CriteriaFileError, match="quote not found verbatim in document 'acr-low-back-pain'") as info:
        kb.criteria("broken")
    assert info.value.field == "broken-topic.variants.b-v1.cite"


def test_broken_quote_names_the_file_it_is_in(tmp_path: Path) -> None:
    kb = user_kb(tmp_path, "Imaging is always indicated for low back pain.")
    with pytest.raises(CriteriaFileError) as info:
        kb.criteria("broken")
    assert Path(info.value.path) == tmp_path / "guidelines" / "broken.criteria.yaml"
