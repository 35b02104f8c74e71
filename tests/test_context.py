"""ConText: one phrase per row, the modifiers its target receives, and the rule data itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.mark import ParameterSet

from agent.facts.context import Mention, Modifier, ModifierRule, TargetRule, find_mentions, load_modifier_rules
from agent.facts.textspans import split_sentences

NEG = Modifier.NEGATED
FAM = Modifier.FAMILY
HYP = Modifier.HYPOTHETICAL
HIST = Modifier.HISTORICAL
RES = Modifier.RESOLVED

TARGETS = [
    TargetRule("fever", r"\bfevers?\b"),
    TargetRule("chills", r"\bchills\b"),
    TargetRule("weight_loss", r"\bweight loss\b"),
    TargetRule("incontinence", r"\bincontinence\b"),
    TargetRule("bowel", r"\bbowel\b"),
    TargetRule("bladder_control", r"\bloss of bladder control\b"),
    TargetRule("saddle", r"\bsaddle (?:anesthesia|numbness)\b"),
    TargetRule("retention", r"\burinary retention\b"),
    TargetRule("fracture", r"\bfracture\b"),
    TargetRule("cancer", r"\b(?:breast|colon) cancer\b"),
    TargetRule("osteoporosis", r"\bosteoporosis\b"),
    TargetRule("lupus", r"\blupus\b"),
    TargetRule("cauda_equina", r"\bcauda equina\b"),
    TargetRule("infection", r"\binfection\b"),
    TargetRule("pt", r"\bphysical therapy\b|\b(?-i:PT)\b"),
    TargetRule("numbness", r"(?<!saddle )\bnumbness\b"),
    TargetRule("weakness", r"\bweakness\b"),
    TargetRule("burning", r"\bburning pain\b"),
    TargetRule("fusion", r"\blumbar fusion\b"),
    TargetRule("trauma", r"\btrauma\b"),
    TargetRule("improvement", r"\bimprovement\b"),
    TargetRule("esi", r"\bepidural steroid injection\b"),
    TargetRule("worsening", r"\bsymptoms worsen\b"),
]


def mention(note: str, target: str) -> Mention:
    """The single mention whose text is ``target`` (case-insensitive)."""
    found = [m for m in find_mentions(note, TARGETS) if m.text.lower() == target.lower()]
    assert len(found) == 1, f"{target!r} found {len(found)} times in {note!r}"
    return found[0]


def row(note: str, target: str, *modifiers: Modifier, id: str) -> ParameterSet:
    """One table row: ``note``, the ``target`` text, and the modifiers it should receive."""
    return pytest.param(note, target, frozenset(modifiers), id=id)


@pytest.mark.parametrize(
    ("note", "target", "expected"),
    [
        # --- negation ---
        row("Denies saddle anesthesia.", "saddle anesthesia", NEG, id="denies"),
        row("Denies fever, chills, weight loss, bowel or bladder incontinence.", "fever", NEG, id="denies-list-first"),
        row("Denies fever, chills, weight loss, bowel or bladder incontinence.", "weight loss", NEG, id="denies-list-middle"),
        row("Denies fever, chills, weight loss, bowel or bladder incontinence.", "incontinence", NEG, id="denies-list-last"),
        row("No fever or chills.", "fever", NEG, id="no-first"),
        row("No fever or chills.", "chills", NEG, id="no-second"),
        row("Negative for incontinence.", "incontinence", NEG, id="negative-for"),
        row("Without bowel or bladder changes.", "bowel", NEG, id="without"),
        row("No evidence of fracture.", "fracture", NEG, id="no-evidence-of"),
        row("Fracture was ruled out.", "fracture", NEG, id="ruled-out-backward"),
        row("He was ruled out for infection.", "infection", NEG, id="ruled-out-for"),
        row("Fever: none.", "fever", NEG, id="heading-none"),
        row("Incontinence: denies", "incontinence", NEG, id="heading-denies"),
        row("saddle anesthesia - negative", "saddle anesthesia", NEG, id="trailing-negative"),
        row("Free of fever since surgery.", "fever", NEG, id="free-of"),
        row("Absence of saddle anesthesia.", "saddle anesthesia", NEG, id="absence-of"),
        row("Has not yet started physical therapy.", "physical therapy", NEG, id="not-yet"),
        row("Fracture not seen.", "fracture", NEG, id="not-seen-backward"),
        # --- asserted, and negation that must not leak ---
        row("Reports saddle numbness since yesterday.", "saddle numbness", id="reports"),
        row("Pt denies fever but reports new urinary retention.", "fever", NEG, id="but-before"),
        row("Pt denies fever but reports new urinary retention.", "urinary retention", id="but-after"),
        row("Strength 5/5. New urinary retention.", "urinary retention", id="next-sentence"),
        row("No trauma. Saddle anesthesia on exam.", "saddle anesthesia", id="no-leak-sentence"),
        row("Denies trauma; reports fever", "fever", id="semicolon"),
        row("Denies trauma; reports fever", "trauma", NEG, id="semicolon-before"),
        row("No fever, however reports saddle numbness.", "saddle numbness", id="however"),
        row("Denies symptoms except urinary retention.", "urinary retention", id="except"),
        row("8 weeks of physical therapy without improvement", "physical therapy", id="without-after-target"),
        row("8 weeks of physical therapy without improvement", "improvement", NEG, id="without-forward"),
        row("No change in numbness.", "numbness", id="pseudo-no-change"),
        row("No relief with physical therapy.", "physical therapy", id="pseudo-no-relief-with"),
        row("Did not improve with physical therapy.", "physical therapy", id="pseudo-did-not-improve"),
        row("Ambulates without difficulty, has urinary retention.", "urinary retention", id="pseudo-without-difficulty"),
        row("No red flags, will start physical therapy.", "physical therapy", HYP, id="negation-stops-at-hypothetical"),
        # --- family ---
        row("Mother had breast cancer.", "breast cancer", FAM, id="mother-before"),
        row("History of breast cancer in mother.", "breast cancer", FAM, HIST, id="mother-after"),
        row("FHx: father with colon cancer.", "colon cancer", FAM, id="fhx"),
        row("Family history of osteoporosis.", "osteoporosis", FAM, id="family-history"),
        row("sister - lupus", "lupus", FAM, id="sister-dash"),
        row("Lives with his mother, has fever.", "fever", id="pseudo-lives-with-mother"),
        # --- hypothetical ---
        row("Return to ED if you develop fever.", "fever", HYP, id="return-if"),
        row("Call if numbness in the groin or loss of bladder control.", "loss of bladder control", HYP, id="call-if"),
        row("Warning signs such as incontinence were reviewed.", "incontinence", HYP, id="warning-signs"),
        row("Should he develop weakness, return to clinic.", "weakness", HYP, id="should-he"),
        row("In case of fever, call the office.", "fever", HYP, id="in-case-of"),
        row("Call if symptoms worsen.", "symptoms worsen", HYP, id="if-symptoms-worsen"),
        row("Cauda equina precautions reviewed.", "cauda equina", HYP, id="precautions"),
        row("MRI to rule out cauda equina.", "cauda equina", HYP, id="rule-out"),
        row("X-ray r/o fracture.", "fracture", HYP, id="r-o"),
        row("MRI to evaluate for possible infection.", "infection", HYP, id="evaluate-for"),
        row("Infection cannot be ruled out.", "infection", HYP, id="cannot-be-ruled-out"),
        row("Will start PT.", "PT", HYP, id="will"),
        row("Plan to start physical therapy.", "physical therapy", HYP, id="plan-to"),
        row("PT has been ordered.", "PT", HYP, id="has-been-ordered"),
        row("Referred to PT.", "PT", HYP, id="referred-to"),
        row("Consider epidural steroid injection.", "epidural steroid injection", HYP, id="consider"),
        row("Recommend physical therapy.", "physical therapy", HYP, id="recommend"),
        row("Will continue PT.", "PT", id="pseudo-will-continue"),
        # --- resolved ---
        row("The burning pain he had before surgery has resolved.", "burning pain", RES, id="has-resolved"),
        row("Fever resolved.", "fever", RES, id="resolved"),
        row("No longer has numbness.", "numbness", RES, id="no-longer"),
        # --- historical (still asserted) ---
        row("History of breast cancer.", "breast cancer", HIST, id="history-of"),
        row("Hx of lumbar fusion.", "lumbar fusion", HIST, id="hx-of"),
        row("Prior lumbar fusion.", "lumbar fusion", HIST, id="prior"),
        row("Previous physical therapy.", "physical therapy", HIST, id="previous"),
        row("Lumbar fusion in 2019.", "lumbar fusion", HIST, id="in-year"),
        row("Denies history of breast cancer.", "breast cancer", NEG, HIST, id="negated-history"),
    ],
)
def test_modifiers(note: str, target: str, expected: frozenset[Modifier]) -> None:
    assert mention(note, target).modifiers == expected


@pytest.mark.parametrize(
    ("modifiers", "asserted"),
    [
        pytest.param(frozenset(), True, id="none"),
        pytest.param(frozenset({HIST}), True, id="historical"),
        pytest.param(frozenset({NEG}), False, id="negated"),
        pytest.param(frozenset({FAM}), False, id="family"),
        pytest.param(frozenset({HYP}), False, id="hypothetical"),
        pytest.param(frozenset({RES}), False, id="resolved"),
        pytest.param(frozenset({HIST, NEG}), False, id="historical-negated"),
    ],
)
def test_asserted(modifiers: frozenset[Modifier], asserted: bool) -> None:
    sentence = split_sentences("fever")[0]
    found = Mention("fever", 0, 5, "fever", sentence, modifiers, ())
    assert found.asserted is asserted


def test_mention_offsets_and_triggers() -> None:
    note = "ROS:\nPt denies fever but reports new urinary retention.\nMother: breast cancer"
    mentions = find_mentions(note, TARGETS)
    assert [m.concept for m in mentions] == ["fever", "retention", "cancer"]
    for found in mentions:
        assert note[found.start : found.end] == found.text
        assert found.sentence.start <= found.start < found.end <= found.sentence.end
    fever, retention, cancer = mentions
    assert fever.triggers == ((NEG, "denies"),)
    assert retention.asserted
    assert cancer.triggers == ((FAM, "Mother"),)


def test_several_modifiers_all_reported() -> None:
    found = mention("Return to ED if you develop fever.", "fever")
    assert found.modifiers == {HYP}
    assert [text for _, text in found.triggers] == ["Return to ED", "if"]


def test_given_sentences_are_used() -> None:
    note = "No trauma. Fever today."
    whole = split_sentences("No trauma Fever today")  # one sentence spanning both
    found = find_mentions(note, [TargetRule("fever", r"fever")], sentences=whole)
    assert found[0].modifiers == {NEG}


def test_target_overlapping_a_trigger_drops_the_trigger() -> None:
    found = find_mentions("No change noted.", [TargetRule("change", r"no change")])
    assert found[0].modifiers == frozenset()


def test_no_targets_no_mentions() -> None:
    assert find_mentions("Denies fever.", []) == []


# --- the rule data ----------------------------------------------------------------------------

RULES = load_modifier_rules()


@pytest.mark.parametrize("rule", [pytest.param(rule, id=f"{i}-{rule.category}") for i, rule in enumerate(RULES)])
def test_every_rule_matches_its_example(rule: ModifierRule) -> None:
    assert rule.example, "each rule needs an example"
    assert rule.regex.search(rule.example), f"{rule.regex.pattern!r} vs {rule.example!r}"


def test_rules_are_cached_copies() -> None:
    first = load_modifier_rules()
    first.clear()
    assert load_modifier_rules() == RULES


def test_custom_rule_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {literal: 'nope', category: NEGATED, direction: forward, example: 'nope fever'}\n")
    rules = load_modifier_rules(path)
    found = find_mentions("Nope fever. No chills.", TARGETS, rules=rules)
    assert [(m.concept, m.asserted) for m in found] == [("fever", False), ("chills", True)]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param("rules:\n  - {literal: x, category: MAYBE, direction: forward}\n", ValueError, id="bad-category"),
        pytest.param("rules:\n  - {literal: x, category: NEGATED, direction: sideways}\n", ValueError, id="bad-direction"),
        pytest.param("rules:\n  - {category: NEGATED, direction: forward}\n", ValueError, id="no-literal-or-pattern"),
        pytest.param("rules:\n  - {pattern: '(', category: NEGATED, direction: forward}\n", ValueError, id="bad-regex"),
        pytest.param("rules: nope\n", TypeError, id="rules-not-a-list"),
        pytest.param("rules:\n  - just text\n", TypeError, id="rule-not-a-mapping"),
    ],
)
def test_bad_rule_files(tmp_path: Path, text: str, error: type[Exception]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(error):
        load_modifier_rules(path)


def test_wrapped_multi_document_note() -> None:
    note = (
        "Postoperative follow-up after C5-C6 fusion.\n"
        "The burning pain he had before surgery has resolved,\n"
        "and the numbness in his toes is improved.\n"
        "ROS: Denies fever, chills, weight loss, bowel or bladder\n"
        "incontinence, saddle anesthesia.\n"
        "Family history:\n"
        "Mother: breast cancer\n"
        "Plan: Will start PT. Return to ED if you develop fever or loss of bladder control.\n"
    )
    statuses = [(m.text, m.asserted) for m in find_mentions(note, TARGETS)]
    assert statuses == [
        ("burning pain", False),
        ("numbness", True),
        ("fever", False),
        ("chills", False),
        ("weight loss", False),
        ("bowel", False),
        ("incontinence", False),
        ("saddle anesthesia", False),
        ("breast cancer", False),
        ("PT", False),
        ("fever", False),
        ("loss of bladder control", False),
    ]
