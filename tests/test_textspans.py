"""Sentence splitting: boundaries, abbreviations, blocks and exact offsets."""

from __future__ import annotations

import pytest

from agent.facts.textspans import Sentence, split_sentences


def texts(note: str) -> list[str]:
    return [sentence.text for sentence in split_sentences(note)]


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        pytest.param("Pain is worse. No fever.", ["Pain is worse.", "No fever."], id="period"),
        pytest.param("Any fever? No.", ["Any fever?", "No."], id="question"),
        pytest.param("Severe pain! Cannot walk.", ["Severe pain!", "Cannot walk."], id="exclaim"),
        pytest.param("Seen by Dr. Smith today.", ["Seen by Dr. Smith today."], id="dr"),
        pytest.param("Mr. Jones is here.", ["Mr. Jones is here."], id="mr"),
        pytest.param("MRI vs. CT was discussed.", ["MRI vs. CT was discussed."], id="vs"),
        pytest.param("Urosepsis/E. coli bacteremia.", ["Urosepsis/E. coli bacteremia."], id="genus-after-slash"),
        pytest.param("CRP 140 mg/L. She had surgery.", ["CRP 140 mg/L.", "She had surgery."], id="unit-ends-sentence"),
        pytest.param("NSAIDs, e.g. ibuprofen, helped.", ["NSAIDs, e.g. ibuprofen, helped."], id="eg"),
        pytest.param("Same side, i.e. left.", ["Same side, i.e. left."], id="ie"),
        pytest.param("Takes ibuprofen b.i.d. with food.", ["Takes ibuprofen b.i.d. with food."], id="bid-mid"),
        pytest.param(
            "Takes ibuprofen t.i.d. Pain improved.", ["Takes ibuprofen t.i.d.", "Pain improved."], id="tid-before-capital"
        ),
        pytest.param("Meloxicam 15 mg p.o. daily.", ["Meloxicam 15 mg p.o. daily."], id="po"),
        pytest.param("Pain for approx. 3 weeks.", ["Pain for approx. 3 weeks."], id="approx"),
        pytest.param("Pt has a hx. of fusion.", ["Pt has a hx. of fusion."], id="hx"),
        pytest.param("A 58 y.o. male with back pain.", ["A 58 y.o. male with back pain."], id="yo"),
        pytest.param("Pt. reports pain.", ["Pt. reports pain."], id="pt-abbrev"),
        pytest.param("Referred to PT. Started HEP.", ["Referred to PT.", "Started HEP."], id="acronym-ends-sentence"),
        pytest.param("T 38.7 C today.", ["T 38.7 C today."], id="decimal"),
        pytest.param("T 38.7 C. Pain 4.5/10.", ["T 38.7 C.", "Pain 4.5/10."], id="unit-after-number"),
        pytest.param("Seen by J. Smith today.", ["Seen by J. Smith today."], id="initial"),
        pytest.param("Strength 5/5. New urinary retention.", ["Strength 5/5.", "New urinary retention."], id="fraction"),
        pytest.param("Stenosis at L4-5. Disc bulge at C5-C6.", ["Stenosis at L4-5.", "Disc bulge at C5-C6."], id="levels"),
        pytest.param("Denies trauma; reports fever.", ["Denies trauma; reports fever."], id="semicolon-no-split"),
        pytest.param('He said "no more pain." Then left.', ['He said "no more pain."', "Then left."], id="closing-quote"),
    ],
)
def test_sentence_boundaries(note: str, expected: list[str]) -> None:
    assert texts(note) == expected


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        pytest.param(
            "The pain he had before surgery\nhas resolved.", ["The pain he had before surgery\nhas resolved."], id="wrapped-line"
        ),
        pytest.param("Pain is worse\n\nNo fever", ["Pain is worse", "No fever"], id="blank-line"),
        pytest.param(
            "Letter from the clinic (faxed)\n-------------\nshe had a scan in May",
            ["Letter from the clinic (faxed)", "she had a scan in May"],
            id="separator-line",
        ),
        pytest.param("Plan as above\n= = = = =\nfollow up", ["Plan as above", "follow up"], id="spaced-separator-line"),
        pytest.param("Range of motion -- limited\nno fever", ["Range of motion -- limited\nno fever"], id="dashes-inside-a-line"),
        pytest.param("Back pain for years\nExam: strength 5/5", ["Back pain for years", "Exam: strength 5/5"], id="heading"),
        pytest.param(
            "Doing well\nAssessment/Plan: lumbar strain", ["Doing well", "Assessment/Plan: lumbar strain"], id="slash-heading"
        ),
        pytest.param("ROS:\nDenies fever", ["ROS:", "Denies fever"], id="heading-only-line"),
        pytest.param("Fever: none.\nIncontinence: denies", ["Fever: none.", "Incontinence: denies"], id="heading-per-line"),
        pytest.param(
            "Medications\n- meloxicam 15 mg\n- gabapentin 300 mg",
            ["Medications", "- meloxicam 15 mg", "- gabapentin 300 mg"],
            id="dash-bullets",
        ),
        pytest.param("* PT\n• HEP", ["* PT", "• HEP"], id="star-and-dot-bullets"),
        pytest.param(
            "Plan\n1. MRI lumbar spine\n2) PT referral", ["Plan", "1. MRI lumbar spine", "2) PT referral"], id="numbered"
        ),
        pytest.param("1. Lumbar strain. 2. Sciatica.", ["1. Lumbar strain.", "2. Sciatica."], id="list-marker-not-a-sentence"),
        pytest.param(
            "HISTORY OF PRESENT ILLNESS\n58 y.o. male with back pain",
            ["HISTORY OF PRESENT ILLNESS", "58 y.o. male with back pain"],
            id="all-caps-title",
        ),
        pytest.param("Pain worse\nIMPRESSION: disc bulge", ["Pain worse", "IMPRESSION: disc bulge"], id="all-caps-heading"),
        pytest.param(
            "Chills ....... [ ] yes  [X] no\nWeakness ....... [X] yes  [ ] no\nShe was tired... then better.",
            ["Chills ....... [ ] yes  [X] no", "Weakness ....... [X] yes  [ ] no", "She was tired... then better."],
            id="dot-leader-form-lines",
        ),
        pytest.param(
            "PAIN STARTED TWO WEEKS AGO WHILE LIFTING A BOX AT WORK. HE DENIES\nNUMBNESS. PLAN\nIBUPROFEN.",
            ["PAIN STARTED TWO WEEKS AGO WHILE LIFTING A BOX AT WORK.", "HE DENIES\nNUMBNESS.", "PLAN", "IBUPROFEN."],
            id="all-caps-dictation-wraps",
        ),
        pytest.param("Stenosis at\nL4-5 is moderate.", ["Stenosis at\nL4-5 is moderate."], id="wrapped-level-not-caps"),
        pytest.param(
            "Will order an MRI of the\nlumbar spine at 10:30 today.",
            ["Will order an MRI of the\nlumbar spine at 10:30 today."],
            id="time-not-heading",
        ),
        pytest.param("Pain score: 7. Fever: none.", ["Pain score: 7.", "Fever: none."], id="number-ends-sentence"),
        pytest.param(
            "Completed PT x 2. Next visit Monday.", ["Completed PT x 2.", "Next visit Monday."], id="count-ends-sentence"
        ),
        pytest.param("Line one\r\n\r\nLine two", ["Line one", "Line two"], id="crlf"),
    ],
)
def test_blocks(note: str, expected: list[str]) -> None:
    assert texts(note) == expected


@pytest.mark.parametrize(
    "note",
    [
        pytest.param("", id="empty"),
        pytest.param("   \n\n  ", id="whitespace"),
    ],
)
def test_no_sentences(note: str) -> None:
    assert split_sentences(note) == []


NOTE = """PCP NOTE
  58 y/o male seen by Dr. Lee.  Low back pain x 10 weeks,
worse with sitting. Denies fever, chills, weight loss, bowel or bladder incontinence.

Exam: SLR positive on the left. Strength 5/5.
Assessment/Plan:
- PT referral; HEP reviewed.
- Return to ED if you develop fever or loss of bladder control.
1) Meloxicam 15 mg p.o. daily
"""


def test_offsets_are_exact_and_disjoint() -> None:
    sentences = split_sentences(NOTE)
    assert sentences
    previous_end = 0
    for sentence in sentences:
        assert NOTE[sentence.start : sentence.end] == sentence.text
        assert sentence.text == sentence.text.strip()
        assert sentence.start >= previous_end
        previous_end = sentence.end


def test_example_note() -> None:
    assert texts(NOTE) == [
        "PCP NOTE",
        "58 y/o male seen by Dr. Lee.",
        "Low back pain x 10 weeks,\nworse with sitting.",
        "Denies fever, chills, weight loss, bowel or bladder incontinence.",
        "Exam: SLR positive on the left.",
        "Strength 5/5.",
        "Assessment/Plan:",
        "- PT referral; HEP reviewed.",
        "- Return to ED if you develop fever or loss of bladder control.",
        "1) Meloxicam 15 mg p.o. daily",
    ]


def test_sentence_is_frozen() -> None:
    sentence = Sentence(0, 3, "abc")
    with pytest.raises(AttributeError):
        sentence.start = 1  # type: ignore[misc]
