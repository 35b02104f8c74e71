"""Sentence segmentation for clinical notes, with exact character offsets.

Prior-authorization notes are several documents pasted together: hard-wrapped paragraphs,
``Heading:`` lines, bullet and numbered lists, ALL-CAPS section titles and abbreviations such
as ``Dr.``, ``b.i.d.`` or ``y.o.``. ``split_sentences`` first cuts the note into *blocks*
(paragraphs, list items, headed lines) and then cuts each block at sentence-final punctuation.

A single newline inside a paragraph is a wrapped line and does not end a sentence. A newline
does end one when the next line starts a new block:

* a blank line, or a separator line of dashes, equals signs or asterisks;
* a heading: up to four words followed by a colon (``Exam:``, ``Assessment/Plan:``);
* a bullet (``- ``, ``* ``, ``• ``) or a numbered item (``1.``, ``1)``, ``(1)``);
* a line in ALL CAPS (at least four letters, no lower case), unless it is a long line of prose
  typed in capitals (a dictation), which wraps like any other line.

A line that is only a title (ALL CAPS, or a heading with nothing after the colon) also ends its
block, so the text under it starts a new sentence. Every sentence is ``note[start:end]`` with
surrounding whitespace excluded; sentences never overlap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Sentence", "split_sentences"]


@dataclass(frozen=True)
class Sentence:
    """One sentence: ``text == note[start:end]``, without surrounding whitespace."""

    start: int
    end: int
    text: str


# Abbreviations (lower case, without the final period) after which a period never ends a sentence.
_NEVER_SPLIT = frozenset(
    {
        "dr", "mr", "mrs", "ms", "prof", "st", "sr", "vs", "e.g", "i.e", "approx", "hx", "pt",
        "pts", "y.o", "yo", "cf", "appt", "esp", "incl", "fig",
    }
)  # fmt: skip
# Abbreviations that usually sit mid-sentence but may end one: split only before a capital.
_SPLIT_BEFORE_CAPITAL = frozenset({"b.i.d", "t.i.d", "q.i.d", "q.d", "q.h.s", "h.s", "p.r.n", "p.o", "a.m", "p.m", "etc"})
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "prof", "st"})

_LINE = re.compile(r"[^\n]*\n?")
_BULLET = re.compile(r"[-*•‣◦▪]\s")
_NUMBERED = re.compile(r"(?:\d{1,2}[.)]|\(\d{1,2}\))\s")
_HEADING = re.compile(r"[A-Za-z][\w/&().'#+-]*(?:[ \t]+[\w/&().'#+-]+){0,3}[ \t]*:(?=\s|$)")
_TERMINAL = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
_DOTTED = re.compile(r"(?:[a-z]\.)+[a-z]")
_NON_SPACE = re.compile(r"\S")
_RULE_CHARS = re.compile(r"[-=_*~#. ]")


def split_sentences(note: str) -> list[Sentence]:
    """Split ``note`` into sentences with exact offsets (see the module docstring for the rules)."""
    sentences: list[Sentence] = []
    for block_start, block_end in _blocks(note):
        for start, end in _split_block(note, block_start, block_end):
            start, end = _strip(note, start, end)
            if start < end:
                sentences.append(Sentence(start, end, note[start:end]))
    return sentences


# --- blocks -----------------------------------------------------------------------------------


def _lines(note: str) -> Iterator[tuple[int, int, str]]:
    """Yield ``(start, end, content)`` per line; ``end`` includes the newline."""
    for match in _LINE.finditer(note):
        if match.start() == match.end():
            return
        yield match.start(), match.end(), match.group().rstrip("\r\n")


def _blocks(note: str) -> list[tuple[int, int]]:
    """Cut the note into blocks: paragraphs, list items, headed lines and titles."""
    blocks: list[tuple[int, int]] = []
    open_start: int | None = None
    previous = ""
    for line_start, line_end, content in _lines(note):
        if not content.strip() or _is_rule(content):
            if open_start is not None:
                blocks.append((open_start, line_start))
                open_start = None
            previous = ""
            continue
        # A dictation typed in capitals wraps mid-sentence: the line after an unfinished ALL-CAPS line
        # of prose continues it, however short ("... HE DENIES\nNUMBNESS. PLAN").
        wrapped = (
            open_start is not None
            and _capitals_only(previous)
            and _caps_prose(previous)
            and not previous.rstrip().endswith((".", ":", "!", "?"))
        )
        if open_start is not None and not wrapped and _starts_block(content):
            blocks.append((open_start, line_start))
            open_start = None
        if open_start is None:
            open_start = line_start
        if (not wrapped and _is_title(content)) or _BOX_ANSWER_END.search(content):
            blocks.append((open_start, line_end))  # a title, or a form line ending in its boxes
            open_start = None
        previous = content
    if open_start is not None:
        blocks.append((open_start, len(note)))
    return blocks


# A form line that ends in its answer boxes ("Night sweats ...... [ ] yes  [X] no"): the next line is
# another item, so the line is a block of its own.
_BOX_ANSWER_END = re.compile(r"\[\s*[xX✓✔]?\s*\]\s*(?:yes|no|y|n)?\s*$", re.IGNORECASE)


def _is_rule(line: str) -> bool:
    """A separator line ("-----", "=====", "* * *"): like a blank line, it ends the block above."""
    text = line.strip()
    return len(text.replace(" ", "")) >= 3 and not _RULE_CHARS.sub("", text)


def _starts_block(line: str) -> bool:
    """True if ``line`` begins a new block (heading, bullet, numbered item or ALL CAPS)."""
    text = line.lstrip()
    return bool(_BULLET.match(text) or _NUMBERED.match(text) or _HEADING.match(text) or _is_all_caps(text))


def _is_all_caps(line: str) -> bool:
    """An ALL-CAPS title line. A long ALL-CAPS line of prose (a dictation typed in capitals: nine
    words or more, or five or more ending in a period or comma) is wrapped text, not a title."""
    return _capitals_only(line) and not _caps_prose(line)


def _capitals_only(line: str) -> bool:
    letters = [char for char in line if char.isalpha()]
    return len(letters) >= 4 and not any(char.islower() for char in letters)


def _caps_prose(line: str) -> bool:
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", line)
    text = line.rstrip()
    return len(words) >= 9 or (len(words) >= 5 and text.endswith((".", ",", ";")) and not text.endswith(":"))


def _is_title(line: str) -> bool:
    """True if ``line`` is only a title: ALL CAPS, or a heading with nothing after the colon."""
    text = line.strip()
    if _is_all_caps(text):
        return True
    heading = _HEADING.match(text)
    return heading is not None and heading.end() == len(text)


# --- sentences inside a block ----------------------------------------------------------------


def _split_block(note: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Yield raw ``(start, end)`` pieces of one block, cut after sentence-final punctuation."""
    piece_start = start
    for match in _TERMINAL.finditer(note, start, end):
        if _is_boundary(note, match, start):
            yield piece_start, match.end()
            piece_start = match.end()
    yield piece_start, end


def _is_boundary(note: str, match: re.Match[str], block_start: int) -> bool:
    """Decide whether the punctuation in ``match`` ends a sentence."""
    if "!" in match.group() or "?" in match.group():
        return True
    if match.group().count(".") >= 3 and note[match.end() : note.find("\n", match.end()) % (len(note) + 1)].strip():
        return False  # a dot leader: "Fever over 100.4 ........ [ ] yes  [X] no" (the line goes on)
    word_start = match.start()
    while word_start > block_start and not note[word_start - 1].isspace():
        word_start -= 1
    word = note[word_start : match.start()].lstrip("([\"'")
    previous = _previous_word(note, word_start, block_start)
    if len(word) == 1 and word.isupper() and previous[:1].isdigit():
        return True  # a unit after a number: "T 38.7 C. Takes ..."
    list_marker = word_start == block_start or previous[-1:] in (".", "!", "?")
    return not _is_abbreviation(word, _next_char(note, match.end()), list_marker)


def _previous_word(note: str, position: int, block_start: int) -> str:
    """The whitespace-delimited word ending before ``position`` within the block ('' if none)."""
    end = position
    while end > block_start and note[end - 1].isspace():
        end -= 1
    start = end
    while start > block_start and not note[start - 1].isspace():
        start -= 1
    return note[start:end]


def _is_abbreviation(word: str, next_char: str, may_be_list_marker: bool) -> bool:
    """True if a period after ``word`` is an abbreviation (or list-marker) period.

    ``may_be_list_marker``: ``word`` opens its block or follows the end of a sentence.
    """
    lower = word.lower()
    if len(word) == 1 and word.isupper():
        return True  # an initial: "J. Smith"
    tail = re.split(r"[/(-]", word)[-1]
    if len(tail) == 1 and tail.isupper() and next_char.islower():
        return True  # a genus initial after a slash: "Urosepsis/E. coli bacteremia" (not "140 mg/L. She")
    if word.isdigit() and len(word) <= 2 and may_be_list_marker:
        return True  # a list marker: "1. Lumbar strain. 2. Sciatica."
    if lower in _TITLES:
        return True
    if word.isupper() and len(word) >= 2:
        return False  # an acronym ending a sentence: "Referred to PT."
    if lower in _NEVER_SPLIT:
        return True
    if lower in _SPLIT_BEFORE_CAPITAL or _DOTTED.fullmatch(lower):
        return not next_char.isupper()
    return False


def _next_char(note: str, position: int) -> str:
    """The first non-whitespace character at or after ``position`` ('' at the end)."""
    match = _NON_SPACE.search(note, position)
    return match.group() if match else ""


def _strip(note: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` to exclude surrounding whitespace."""
    while start < end and note[start].isspace():
        start += 1
    while end > start and note[end - 1].isspace():
        end -= 1
    return start, end
