"""ConText: negation, family, hypothetical, historical and resolved status of clinical mentions.

An implementation of the ConText algorithm (Harkema et al., J Biomed Inform 2009) in the form
medspaCy uses, without spaCy. Targets (the concepts to find) are regexes given by the caller;
modifier rules (trigger phrases) are data in ``agent/facts/data/context_rules.yaml``.

Per sentence:

1. find target matches and modifier-trigger matches (both case-insensitive);
2. drop triggers that overlap a target, then resolve overlapping triggers: the longest match
   wins (PSEUDO triggers such as "no change" exist only to beat "no"); identical spans are kept;
3. give each trigger a scope: *forward* from its end to the sentence end, *backward* from the
   sentence start to its start, *bidirectional* both. A scope stops at the nearest TERMINATE
   trigger ("but", ";", "reports", ...), at triggers of the categories in ``terminated_by``, and
   after ``max_scope`` tokens;
4. a target overlapping a trigger's scope receives that trigger's category.

Unlike medspaCy's defaults, family triggers are bidirectional, so "breast cancer in mother" is
FAMILY. Uncertainty ("possible", "rule out") is folded into HYPOTHETICAL.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from agent.facts.textspans import Sentence, split_sentences

__all__ = [
    "Mention",
    "Modifier",
    "ModifierRule",
    "TargetRule",
    "find_mentions",
    "load_modifier_rules",
]


class Modifier(StrEnum):
    """The status a trigger gives to the targets in its scope."""

    NEGATED = "negated"
    FAMILY = "family"
    HYPOTHETICAL = "hypothetical"
    HISTORICAL = "historical"
    RESOLVED = "resolved"


NOT_ASSERTED = frozenset({Modifier.NEGATED, Modifier.FAMILY, Modifier.HYPOTHETICAL, Modifier.RESOLVED})
TERMINATE = "TERMINATE"
PSEUDO = "PSEUDO"
_CATEGORIES = frozenset({*(m.name for m in Modifier), TERMINATE, PSEUDO})
_DIRECTIONS = frozenset({"forward", "backward", "bidirectional", "terminate", "pseudo"})
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class TargetRule:
    """A concept to find; ``pattern`` is a regex matched case-insensitively.

    The pattern's author handles word boundaries; use ``(?-i:...)`` for a case-sensitive part
    (``(?-i:PT)`` for physical therapy, not "pt" for patient).
    """

    concept: str
    pattern: str


@dataclass(frozen=True)
class ModifierRule:
    """One trigger rule: a compiled regex, its category, direction and optional token limit."""

    category: str
    direction: str
    regex: re.Pattern[str]
    max_scope: int | None = None
    terminated_by: frozenset[str] = field(default_factory=frozenset)
    example: str = ""


@dataclass(frozen=True)
class Mention:
    """A target found in the note, with the modifiers that apply to it."""

    concept: str
    start: int
    end: int
    text: str
    sentence: Sentence
    modifiers: frozenset[Modifier]
    triggers: tuple[tuple[Modifier, str], ...]

    @property
    def asserted(self) -> bool:
        """True unless negated, family, hypothetical or resolved (historical stays asserted)."""
        return not (self.modifiers & NOT_ASSERTED)


@dataclass(frozen=True)
class _Trigger:
    rule: ModifierRule
    start: int
    end: int
    text: str


# --- rules ------------------------------------------------------------------------------------


def load_modifier_rules(path: str | Path | None = None) -> list[ModifierRule]:
    """Load modifier rules from YAML; the default is the packaged ``data/context_rules.yaml``.

    Raises ``ValueError`` naming the rule for an unknown category or direction, a rule with
    both or neither of ``literal``/``pattern``, or a regex that does not compile; ``TypeError``
    when the document or a rule is not a mapping.
    """
    if path is None:
        return list(_default_rules())
    return list(_parse_rules(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _default_rules() -> tuple[ModifierRule, ...]:
    text = resources.files("agent.facts").joinpath("data/context_rules.yaml").read_text(encoding="utf-8")
    return _parse_rules(text)


def _parse_rules(text: str) -> tuple[ModifierRule, ...]:
    document = yaml.safe_load(text) or {}
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise TypeError("context rules: expected a mapping with a 'rules' list")
    terminated_by = {
        str(category).upper(): frozenset(str(other).upper() for other in others)
        for category, others in (document.get("terminated_by") or {}).items()
    }
    return tuple(_parse_rule(index, raw, terminated_by) for index, raw in enumerate(document["rules"]))


def _parse_rule(index: int, raw: Any, terminated_by: dict[str, frozenset[str]]) -> ModifierRule:
    if not isinstance(raw, dict):
        raise TypeError(f"context rule {index}: expected a mapping")
    category = str(raw.get("category", "")).upper()
    direction = str(raw.get("direction", "")).lower()
    if category not in _CATEGORIES:
        raise ValueError(f"context rule {index}: unknown category {category!r}")
    if direction not in _DIRECTIONS:
        raise ValueError(f"context rule {index}: unknown direction {direction!r}")
    if ("literal" in raw) == ("pattern" in raw):
        raise ValueError(f"context rule {index}: give exactly one of 'literal' and 'pattern'")
    source = _literal_regex(str(raw["literal"])) if "literal" in raw else str(raw["pattern"])
    try:
        regex = re.compile(source, re.IGNORECASE)
    except re.error as error:
        raise ValueError(f"context rule {index}: bad pattern: {error}") from error
    max_scope = raw.get("max_scope")
    return ModifierRule(
        category=category,
        direction=direction,
        regex=regex,
        max_scope=int(max_scope) if max_scope is not None else None,
        terminated_by=terminated_by.get(category, frozenset()),
        example=str(raw.get("example", "")),
    )


def _literal_regex(literal: str) -> str:
    """Escape ``literal``, adding word boundaries where it starts/ends with a word character."""
    words = r"\s+".join(re.escape(word) for word in literal.split())
    before = r"(?<!\w)" if re.match(r"\w", literal) else ""
    after = r"(?!\w)" if re.search(r"\w$", literal) else ""
    return before + words + after


# --- matching ---------------------------------------------------------------------------------


def find_mentions(
    note: str,
    targets: Sequence[TargetRule],
    *,
    sentences: list[Sentence] | None = None,
    rules: Sequence[ModifierRule] | None = None,
    trigger_cache: dict[tuple[int, int, int], list[_Trigger]] | None = None,
) -> list[Mention]:
    """Find every target match in ``note`` and the ConText modifiers that apply to it.

    ``sentences`` defaults to ``split_sentences(note)``; ``rules`` to ``load_modifier_rules()``.
    ``trigger_cache`` (one dict per note, kept by the caller) saves matching the modifier rules
    again in a sentence an earlier call already scanned. Mentions are returned in note order; a
    target never spans two sentences.
    """
    compiled = [(target.concept, re.compile(target.pattern, re.IGNORECASE)) for target in targets]
    if sentences is None:
        sentences = split_sentences(note)
    if rules is None:
        rules = _default_rules()
    mentions: list[Mention] = []
    candidates = _candidate_sentences(note, sentences, [target.pattern for target in targets])
    for index, sentence in enumerate(sentences):
        if candidates is None or index in candidates:
            mentions.extend(_sentence_mentions(note, sentence, compiled, rules, trigger_cache))
    mentions.sort(key=lambda mention: (mention.start, mention.end, mention.concept))
    return mentions


def _sentence_mentions(
    note: str,
    sentence: Sentence,
    targets: Sequence[tuple[str, re.Pattern[str]]],
    rules: Sequence[ModifierRule],
    trigger_cache: dict[tuple[int, int, int], list[_Trigger]] | None = None,
) -> list[Mention]:
    found = [
        (concept, sentence.start + match.start(), sentence.start + match.end())
        for concept, regex in targets
        for match in regex.finditer(sentence.text)
        if match.end() > match.start()
    ]
    if not found:
        return []
    triggers = [
        trigger
        for trigger in _cached_triggers(sentence, rules, trigger_cache)
        if not any(_overlaps(trigger.start, trigger.end, start, end) for _, start, end in found)
    ]
    triggers = _resolve_overlaps(triggers)
    tokens = [(sentence.start + match.start(), sentence.start + match.end()) for match in _TOKEN.finditer(sentence.text)]
    scoped = [
        (trigger, _scope(trigger, triggers, sentence, tokens))
        for trigger in triggers
        if trigger.rule.category in Modifier.__members__
    ]
    return [_mention(note, sentence, concept, start, end, scoped) for concept, start, end in found]


def _mention(
    note: str,
    sentence: Sentence,
    concept: str,
    start: int,
    end: int,
    scoped: Sequence[tuple[_Trigger, tuple[int, int]]],
) -> Mention:
    applied: list[tuple[Modifier, str]] = []
    for trigger, (scope_start, scope_end) in scoped:
        if _overlaps(start, end, scope_start, scope_end):
            item = (Modifier[trigger.rule.category], trigger.text)
            if item not in applied:
                applied.append(item)
    return Mention(
        concept=concept,
        start=start,
        end=end,
        text=note[start:end],
        sentence=sentence,
        modifiers=frozenset(category for category, _ in applied),
        triggers=tuple(applied),
    )


def _candidate_sentences(note: str, sentences: Sequence[Sentence], patterns: Sequence[str]) -> set[int] | None:
    """The indexes of the sentences any pattern might match in (None: every sentence).

    A sound prefilter: each pattern with its zero-width assertions removed (``_relaxed``) matches
    wherever the pattern itself does, and without assertions a search from any offset of the whole
    note behaves as on a slice, so every start offset it finds is enumerated once over the note.
    A sentence holding none of those offsets holds no match of the pattern. An ASCII note is
    searched lower-cased with lower-cased patterns (case-insensitive matching is several times slower).
    """
    starts = [sentence.start for sentence in sentences]
    if any(b.start < a.end for a, b in pairwise(sentences)):
        return None  # overlapping or unordered sentences: scan them all
    folded = note.isascii()
    text = note.lower() if folded else note
    found: set[int] = set()
    for pattern in patterns:
        relaxed = _relaxed(pattern, folded)
        if relaxed is None:
            return None
        match = relaxed.search(text)
        while match is not None:
            index = bisect_right(starts, match.start()) - 1
            after = match.start() + 1
            if index >= 0 and match.start() < sentences[index].end:
                found.add(index)
                after = max(after, sentences[index].end)  # one offset per sentence is enough
            match = relaxed.search(text, after)
    return found


_ASSERTIONS = ("(?=", "(?!", "(?<=", "(?<!")
_UNSAFE = re.compile(r"\\(?:[1-9]|[xuUN0])|\(\?P=|\(\?\(")


@lru_cache(maxsize=4096)
def _relaxed(pattern: str, folded: bool) -> re.Pattern[str] | None:
    """``pattern`` without its zero-width assertions (lookarounds, ``\\b``, anchors): it matches at
    least wherever ``pattern`` does (case-insensitively; ``folded``: lower-cased, to be run without
    IGNORECASE over lower-cased ASCII text). None where that cannot be done safely (back-references,
    conditionals, character escapes by code, a pattern that can match the empty string, or one that
    will not parse)."""
    if _UNSAFE.search(pattern):
        return None
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if pattern[i + 1 : i + 2] not in ("b", "B", "A", "Z"):
                out.append(pattern[i : i + 2])
            i += 2
        elif char == "[":
            end = _class_end(pattern, i)
            out.append(_fold_class(pattern[i:end]) if folded else pattern[i:end])
            i = end
        elif pattern.startswith(_ASSERTIONS, i):
            i = _group_end(pattern, i)
        elif char in "^$":
            i += 1
        elif pattern.startswith(("(?P<", "(?-i:", "(?i:"), i):
            head = pattern[i : pattern.index("<" if pattern[i + 2] == "P" else ":", i) + 1]
            out.append("(?:" if head.endswith(":") and folded else head)
            i += len(head)
        else:
            out.append(char.lower() if folded else char)
            i += 1
    try:
        relaxed = re.compile("".join(out), 0 if folded else re.IGNORECASE)
    except re.error:
        return None
    return None if relaxed.match("") is not None else relaxed


def _fold_class(text: str) -> str:
    """A character class with its literal letters lower-cased (escapes kept: ``\\S`` is not ``\\s``)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\":
            out.append(text[i : i + 2])
            i += 2
        else:
            out.append(text[i].lower())
            i += 1
    return "".join(out)


def _class_end(pattern: str, i: int) -> int:
    """The offset just past the character class opening at ``pattern[i] == '['``."""
    j = i + 1
    if pattern[j : j + 1] == "^":
        j += 1
    if pattern[j : j + 1] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def _group_end(pattern: str, i: int) -> int:
    """The offset just past the group opening at ``pattern[i] == '('``."""
    depth = 0
    j = i
    while j < len(pattern):
        char = pattern[j]
        if char == "\\":
            j += 2
            continue
        if char == "[":
            j = _class_end(pattern, j)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return j


@lru_cache(maxsize=1)
def _anaphora() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The ``anaphora`` entry of ``data/context_rules.yaml``: the pronouns that point back, and the
    words that make a sentence about a relative a medical history the pronoun can point to."""
    text = resources.files("agent.facts").joinpath("data/context_rules.yaml").read_text(encoding="utf-8")
    spec = (yaml.safe_load(text) or {}).get("anaphora") or {}
    return (
        re.compile(r"\s*[\"'“(*_]*(?:" + str(spec["pronouns"]) + r")\b", re.IGNORECASE),
        re.compile(str(spec["relative_history"]), re.IGNORECASE),
    )


def continues_about_relative(
    sentence: Sentence,
    previous: Sentence | None,
    note: str,
    *,
    rules: Sequence[ModifierRule] | None = None,
    cache: dict[tuple[int, int, int], list[_Trigger]] | None = None,
) -> bool:
    """True when ``sentence`` opens with a pronoun that points back ("It turned out to be ...") and
    ``previous``, on the same line, tells a relative's medical history: a FAMILY trigger among its
    first words and a history word ("About my dad: he had a lump in his neck."). The relative stays
    the experiencer of the pronoun's sentence. He and she are left alone: in a clinician's note
    they usually mean the patient; a sentence about a relative that is not a history ("Her mother
    drove her here.") passes nothing on."""
    pronoun, history = _anaphora()
    if previous is None or not pronoun.match(sentence.text) or "\n" in note[previous.end : sentence.start]:
        return False
    if not history.search(previous.text):
        return False
    if rules is None:
        rules = _default_rules()
    opening = [m.end() for m in _TOKEN.finditer(previous.text)][:6]
    window_end = previous.start + (opening[-1] if opening else 0)
    return any(
        trigger.rule.category == Modifier.FAMILY.name and trigger.start < window_end
        for trigger in _resolve_overlaps(_cached_triggers(previous, rules, cache))
    )


def _cached_triggers(
    sentence: Sentence,
    rules: Sequence[ModifierRule],
    cache: dict[tuple[int, int, int], list[_Trigger]] | None,
) -> list[_Trigger]:
    if cache is None:
        return _match_triggers(sentence, rules)
    key = (sentence.start, sentence.end, id(rules))
    if key not in cache:
        cache[key] = _match_triggers(sentence, rules)
    return cache[key]


def _match_triggers(sentence: Sentence, rules: Sequence[ModifierRule]) -> list[_Trigger]:
    triggers = []
    for rule in rules:
        for match in rule.regex.finditer(sentence.text):
            if match.end() > match.start():
                start, end = sentence.start + match.start(), sentence.start + match.end()
                triggers.append(_Trigger(rule, start, end, match.group().strip()))
    return triggers


def _resolve_overlaps(triggers: list[_Trigger]) -> list[_Trigger]:
    """Keep the longest of overlapping triggers; identical spans are all kept."""
    kept: list[_Trigger] = []
    for trigger in sorted(triggers, key=lambda t: (t.start - t.end, t.start)):
        if all(
            (trigger.start, trigger.end) == (other.start, other.end)
            or not _overlaps(trigger.start, trigger.end, other.start, other.end)
            for other in kept
        ):
            kept.append(trigger)
    kept.sort(key=lambda t: (t.start, t.end))
    return kept


def _scope(
    trigger: _Trigger,
    triggers: Sequence[_Trigger],
    sentence: Sentence,
    tokens: Sequence[tuple[int, int]],
) -> tuple[int, int]:
    """The ``[start, end)`` character range a trigger modifies (empty if it modifies nothing)."""
    rule = trigger.rule
    limits = [other for other in triggers if other.rule.category == TERMINATE or other.rule.category in rule.terminated_by]
    start, end = trigger.start, trigger.end
    if rule.direction in ("forward", "bidirectional"):
        end = min([sentence.end, *(o.start for o in limits if o.start >= trigger.end)])
        end = _limit_forward(trigger.end, end, tokens, rule.max_scope)
    if rule.direction in ("backward", "bidirectional"):
        start = max([sentence.start, *(o.end for o in limits if o.end <= trigger.start)])
        start = _limit_backward(trigger.start, start, tokens, rule.max_scope)
    return start, end


def _limit_forward(origin: int, end: int, tokens: Sequence[tuple[int, int]], max_scope: int | None) -> int:
    if max_scope is None:
        return end
    after = [token for token in tokens if token[0] >= origin]
    if len(after) > max_scope:
        end = min(end, after[max_scope - 1][1])
    return end


def _limit_backward(origin: int, start: int, tokens: Sequence[tuple[int, int]], max_scope: int | None) -> int:
    if max_scope is None:
        return start
    before = [token for token in tokens if token[1] <= origin]
    if len(before) > max_scope:
        start = max(start, before[-max_scope][0])
    return start


def _overlaps(start: int, end: int, other_start: int, other_end: int) -> bool:
    return start < other_end and other_start < end
