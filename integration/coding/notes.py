"""Read a dermatology procedure note: procedure mentions with their facts, and diagnoses.

A note is split into lesion blocks (numbered items, "Lesion A:", "#2"; or the whole note when it
has none). Every procedure trigger phrase of mappings/coding/note-terms.yaml that medspaCy's
ConText does not mark negated, hypothetical or historical becomes a `NoteMention` of one kind
(the destruction kind follows the diagnosis beside it), with the `LineFacts` the note documents:
site and laterality (site terms of anatomic-sites.yaml), lesion type and pathology, lesion count,
biopsy technique, sizes (lesion, margins, excised diameter, repair length, defect area, each told
apart by its nearest cue word), repair type, Mohs stage and blocks, and indications. A fact the
note does not give stays None: the code chooser reports the gap, nothing is guessed.

Every fact keeps the character span of the sentence it was read from, so each code can quote the
exact words of the note it rests on. Diagnosis phrases become ICD-10-CM codes, refined by the
ICD-10-CM body region and laterality of the site documented with them.

spaCy and medspaCy are imported lazily (the pipeline is built once): importing spaCy emits a
DeprecationWarning from its click-based CLI module, which is suppressed around the import only.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from integration.coding.model import LineFacts
from integration.coding.sites import site_table
from integration.mapping.loader import load_document
from integration.paths import mappings_dir

TERMS_FILE = "note-terms.yaml"
COSMETIC_REQUEST = "cosmetic-request"  # the indication key that sets LineFacts.cosmetic_request


# -- what comes out ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Characters [start, end) of the note text."""

    start: int
    end: int

    def text(self, note: str) -> str:
        return note[self.start : self.end]


@dataclass(frozen=True, slots=True)
class NoteMention:
    """One procedure the note says was done: the `kind` the code chooser takes, the facts, the
    trigger phrase and the sentences every fact comes from."""

    kind: str
    facts: LineFacts
    trigger: Span
    evidence: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class NoteDiagnosis:
    icd10: str  # with the dot, e.g. C44.311
    diagnosis: str  # the note-terms id, e.g. basal-cell-carcinoma
    evidence: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class NoteGap:
    """Something a code needs that the note does not document (for the provider)."""

    needs: str
    message: str
    evidence: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class NoteEvaluation:
    """An evaluation and management service the note documents beside its procedures: whether
    it is significant and separately identifiable (the words that say so), and the E/M code when
    the note states one (never chosen here: the level is the provider's)."""

    separate: tuple[Span, ...]  # the sentences documenting a separate E/M (not negated)
    code: str | None  # 99202-99215 when the note states it
    code_span: Span | None  # the sentence that states the code


@dataclass(frozen=True, slots=True)
class NoteReading:
    text: str
    mentions: tuple[NoteMention, ...]
    diagnoses: tuple[NoteDiagnosis, ...]
    gaps: tuple[NoteGap, ...]
    evaluation: NoteEvaluation | None = None

    def quotes(self, spans: Iterable[Span]) -> list[str]:
        """The exact words of the note at these spans, in note order, each once."""
        return [s.text(self.text) for s in sorted(set(spans))]


# -- the vocabulary ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refinement:
    icd10: str
    region: str | None
    laterality: str | None
    indication: str | None


@dataclass(frozen=True, slots=True)
class DiagnosisTerm:
    id: str
    lesion_type: str
    pathology: str
    icd10: str
    refine: tuple[Refinement, ...]
    lateral_regions: frozenset[str]


@dataclass(frozen=True, slots=True)
class NoteTerms:
    procedures: Mapping[str, str]  # phrase (lower) -> kind
    not_procedures: tuple[str, ...]  # phrases that name a procedure not done today
    techniques: tuple[tuple[re.Pattern[str], str], ...]
    repair_types: tuple[tuple[re.Pattern[str], str], ...]
    indications: Mapping[str, str]  # phrase (lower) -> indication key
    separate_evaluation: tuple[str, ...]  # phrases for a separately identifiable E/M (lower)
    measure_cues: tuple[tuple[re.Pattern[str], str], ...]  # cue -> LineFacts field
    context_rules: tuple[tuple[str, str, str], ...]
    diagnoses: Mapping[str, DiagnosisTerm]  # by id
    diagnosis_phrases: Mapping[str, str]  # phrase (lower) -> diagnosis id
    site_terms: re.Pattern[str]  # every site term, longest first
    site_of_term: Mapping[str, str]  # term (lower) -> site key
    region_of_site: Mapping[str, str]
    lesion_nouns: re.Pattern[str]


def _words(phrases: Iterable[str]) -> re.Pattern[str]:
    alts = sorted({re.escape(p.lower()) for p in phrases}, key=len, reverse=True)
    return re.compile(r"(?<![\w&])(?:" + "|".join(alts) + r")(?![\w&])", re.IGNORECASE)


def _vocabulary(data: Mapping[str, Sequence[str]]) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((_words(phrases), key) for key, phrases in data.items())


def note_terms_from_json(data: Mapping[str, Any], sites: Mapping[str, Sequence[str]]) -> NoteTerms:
    procedures: dict[str, str] = {}
    for item in data["procedures"]:
        for phrase in item["phrases"]:
            if phrase.lower() in procedures:
                raise ValueError(f"procedures: {phrase!r} is listed twice")
            procedures[phrase.lower()] = item["kind"]
    indications: dict[str, str] = {}
    for key, phrases in data["indications"].items():
        for phrase in phrases:
            indications[phrase.lower()] = key
    regions: dict[str, str] = {}
    for region, keys in data["icd_regions"].items():
        for key in keys:
            if key not in sites:
                raise ValueError(f"icd_regions/{region}: {key!r} is not a site of anatomic-sites")
            if key in regions:
                raise ValueError(f"icd_regions/{region}: {key!r} is already in {regions[key]!r}")
            regions[key] = region
    diagnoses: dict[str, DiagnosisTerm] = {}
    dx_phrases: dict[str, str] = {}
    nouns: set[str] = {"lesion", "lesions", "sites", "areas"}
    for item in data["diagnoses"]:
        refine = tuple(
            Refinement(r["icd10"], r.get("region"), r.get("laterality"), r.get("indication"))
            for r in item.get("refine", ())
        )
        for r in refine:
            if r.region is not None and r.region not in data["icd_regions"]:
                raise ValueError(f"diagnoses/{item['id']}: unknown region {r.region!r}")
        diagnoses[item["id"]] = DiagnosisTerm(
            id=item["id"],
            lesion_type=item["lesion_type"],
            pathology=item["pathology"],
            icd10=item["icd10"],
            refine=refine,
            lateral_regions=frozenset(item.get("lateral_regions", ())),
        )
        for phrase in item["phrases"]:
            if phrase.lower() in dx_phrases:
                raise ValueError(f"diagnoses/{item['id']}: {phrase!r} is listed twice")
            dx_phrases[phrase.lower()] = item["id"]
            nouns.add(phrase.lower())
    site_terms: list[tuple[str, str]] = []
    for key, terms in sites.items():
        for term in {key.replace("-", " "), *terms}:
            site_terms.append((term.lower(), key))
    site_terms.sort(key=lambda item: (-len(item[0]), item[0]))
    return NoteTerms(
        procedures=procedures,
        not_procedures=tuple(p.lower() for p in data["not_procedures"]),
        techniques=_vocabulary(data["techniques"]),
        repair_types=_vocabulary(data["repair_types"]),
        indications=indications,
        separate_evaluation=tuple(p.lower() for p in data.get("separate_evaluation", ())),
        measure_cues=_vocabulary(data["measure_cues"]),
        context_rules=tuple(
            (r["literal"], r["category"], r["direction"]) for r in data["context_rules"]
        ),
        diagnoses=diagnoses,
        diagnosis_phrases=dx_phrases,
        site_terms=_words(t for t, _ in site_terms),
        site_of_term=dict(site_terms),
        region_of_site=regions,
        lesion_nouns=_words(nouns),
    )


@cache
def _terms(root: Path) -> NoteTerms:
    data = load_document(root / "coding" / TERMS_FILE, root).data
    sites = {key: site.terms for key, site in site_table(root).sites.items()}
    return note_terms_from_json(data, sites)


def note_terms(root: Path | None = None) -> NoteTerms:
    return _terms(root or mappings_dir())


# -- the medspaCy pipeline -----------------------------------------------------------------------


_SENTENCE_ENDS = frozenset({".", "!", "?"})


def _split_sentences(doc: Any) -> Any:
    """Sentences end at a full stop, ! or ? and at every line end (a note's lines are often
    unpunctuated headings and list items). PyRuSH, medspaCy's default, spends about 85% of the
    time of a note in pure-Python rule matching for the same result on procedure notes."""
    for i, token in enumerate(doc):
        if i == 0:
            token.is_sent_start = True
            continue
        previous = doc[i - 1]
        start = previous.text in _SENTENCE_ENDS or "\n" in previous.text
        if start and previous.text == "." and i >= 2 and _list_number(doc, i - 2):
            start = False  # "1. Left cheek: ..." is one sentence
        token.is_sent_start = start
    return doc


def _list_number(doc: Any, i: int) -> bool:
    """Token i is a list item number ("1" of "1.") at the start of a line."""
    token = doc[i]
    if not (token.text.isdigit() and len(token.text) <= 2):
        return False
    return i == 0 or "\n" in doc[i - 1].text or doc[i - 1].text_with_ws.endswith("\n")


@cache
def _pipeline(root: Path) -> Any:
    """medspaCy's TargetMatcher and ConText on a blank English model (no model download), after
    a line-aware sentence splitter, with target rules from note-terms.yaml. Built once."""
    terms = _terms(root)
    with warnings.catch_warnings():
        # spaCy's CLI module imports click.parser.split_arg_string (deprecated in click 8.2)
        warnings.simplefilter("ignore", DeprecationWarning)
        import medspacy
        from medspacy.context import ConTextRule
        from medspacy.ner import TargetRule
        from spacy.language import Language

        if "dermrcm_note_sentences" not in Language.factories:
            Language.component("dermrcm_note_sentences", func=_split_sentences)
        nlp = medspacy.load(medspacy_enable=["medspacy_target_matcher", "medspacy_context"])
        nlp.add_pipe("dermrcm_note_sentences", first=True)
    rules = [TargetRule(p, f"PROC|{k}") for p, k in terms.procedures.items()]
    rules += [TargetRule(p, f"DX|{d}") for p, d in terms.diagnosis_phrases.items()]
    rules += [TargetRule(p, f"IND|{k}") for p, k in terms.indications.items()]
    rules += [TargetRule(p, "NOT|-") for p in terms.not_procedures]
    rules += [TargetRule(p, "EM|separate") for p in terms.separate_evaluation]
    nlp.get_pipe("medspacy_target_matcher").add(rules)
    nlp.get_pipe("medspacy_context").add(
        [
            ConTextRule(literal, category, direction=direction)
            for literal, category, direction in terms.context_rules
        ]
    )
    return nlp


# -- reading -------------------------------------------------------------------------------------

_BLOCK_START = re.compile(
    r"^[ \t]*(?:\d{1,2}[.)]|#\d{1,2}[:.)]?|\(?[A-H]\)|[A-H][.:]|(?:lesion|site|specimen|procedure)\s+(?:#?\d{1,2}|[A-H])\b[:.)]?)[ \t]+\S",
    re.IGNORECASE | re.MULTILINE,
)
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "single": 1,
    "a": 1,
    "an": 1,
}
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6}
_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}
_NUM = r"\d+(?:\.\d+)?"
_MEASURE = re.compile(
    rf"(?<![\w.])(?P<a>{_NUM})(?:\s*(?:cm|mm))?(?:\s*(?:x|\u00d7|by)\s*(?P<b>{_NUM}))?\s*(?P<unit>sq\.?\s*cm|cm2|cm\u00b2|square centimeters?|cm|mm)\b",
    re.IGNORECASE,
)
_STAGE = re.compile(
    r"\b(?:stage\s+(?P<n>\d+|i{1,3}|iv|vi?|one|two|three|four)\b|(?P<ord>first|second|third|fourth|fifth)\s+stage\b)",
    re.IGNORECASE,
)
_BLOCKS = re.compile(
    r"\b(?P<n>\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a single)\s+(?:tissue\s+|frozen\s+)?(?:blocks?|sections? blocks?)\b",
    re.IGNORECASE,
)
_COUNT_TIMES = re.compile(
    r"(?<![\d.]\s)(?<![\d.])(?:\bx\s*|\btimes\s+|\u00d7\s*)(?P<n>\d{1,3})(?!\.?\d)", re.IGNORECASE
)
_COUNT_TOTAL = re.compile(r"\btotal of\s+(?P<n>\d{1,3}|\w+)\b", re.IGNORECASE)
_LATERALITY = re.compile(r"\b(left|right|bilateral|bilaterally|both)\b", re.IGNORECASE)


def _number(word: str) -> int | None:
    w = word.lower()
    if w.isdigit():
        return int(w)
    if w.startswith("a single"):
        return 1
    return _NUMBER_WORDS.get(w, _ROMAN.get(w))


@dataclass(slots=True)
class _Sentence:
    span: Span
    text: str
    ents: list[tuple[str, str, Span]] = field(default_factory=list)  # (type, key, span)
    site: tuple[str, str | None] | None = None  # the site key it names, and the laterality


@dataclass(slots=True)
class _Block:
    span: Span
    sentences: list[_Sentence]
    lesion: bool  # a numbered lesion item (not the note's preamble)


@dataclass(slots=True)
class _Found:
    """Facts found for one mention, with the sentences they come from."""

    values: dict[str, Any] = field(default_factory=dict)
    spans: set[Span] = field(default_factory=set)

    def put(self, name: str, value: Any, where: _Sentence) -> None:
        if name not in self.values and value is not None:
            self.values[name] = value
            self.spans.add(where.span)


def _blocks(text: str, sentences: list[_Sentence]) -> list[_Block]:
    starts = [m.start() for m in _BLOCK_START.finditer(text)]
    if not starts:
        return [_Block(Span(0, len(text)), sentences, lesion=False)]
    bounds = [0, *starts, len(text)] if starts[0] > 0 else [*starts, len(text)]
    out: list[_Block] = []
    for i, (a, b) in enumerate(pairwise(bounds)):
        inside = [s for s in sentences if a <= s.span.start < b]
        if inside:
            out.append(_Block(Span(a, b), inside, lesion=not (i == 0 and starts[0] > 0)))
    return out


def _sentences(text: str, doc: Any) -> list[_Sentence]:
    out: list[_Sentence] = []
    for sent in doc.sents:
        raw = sent.text
        lead = len(raw) - len(raw.lstrip())
        body = raw.strip()
        if not body:
            continue
        start = sent.start_char + lead
        # PyRuSH keeps lines together when no full stop ends them: split on line ends too
        offset = 0
        for line in body.split("\n"):
            stripped = line.strip()
            if stripped:
                s = start + offset + (len(line) - len(line.lstrip()))
                out.append(_Sentence(Span(s, s + len(stripped)), stripped))
            offset += len(line) + 1
    for ent in doc.ents:
        if (
            ent._.is_negated
            or ent._.is_hypothetical
            or ent._.is_historical
            or ent._.is_family
            or (ent.label_.startswith("DX|") and ent._.is_uncertain)
        ):
            continue
        kind, key = ent.label_.split("|", 1)
        if kind == "NOT":
            continue
        where = Span(ent.start_char, ent.end_char)
        for s in out:
            if s.span.start <= where.start < s.span.end:
                s.ents.append((kind, key, where))
                break
    return out


def _find_site(terms: NoteTerms, sentence: _Sentence) -> tuple[str, str | None] | None:
    """The site key a sentence names (the longest term first) and the laterality next to it."""
    best: tuple[int, int, str] | None = None
    for m in terms.site_terms.finditer(sentence.text):
        if best is None or m.end() - m.start() > best[1] - best[0]:
            best = (m.start(), m.end(), terms.site_of_term[m.group(0).lower()])
    if best is None:
        return None
    side: str | None = None
    sides = {m.group(1).lower() for m in _LATERALITY.finditer(sentence.text)}
    if sides & {"bilateral", "bilaterally", "both"} or {"left", "right"} <= sides:
        side = "bilateral"
    elif sides:
        side = sides.pop()
    return best[2], side


def _measures(terms: NoteTerms, sentence: _Sentence) -> list[tuple[str, Decimal]]:
    """(LineFacts field, value in cm or sq cm) for each size in a sentence, each named by the
    nearest cue word (lesion diameter when none)."""
    out: list[tuple[str, Decimal]] = []
    text = sentence.text
    cues: list[tuple[int, int, str]] = []
    for pattern, name in terms.measure_cues:
        cues.extend((m.start(), m.end(), name) for m in pattern.finditer(text))
    for m in _MEASURE.finditer(text):
        unit = m.group("unit").lower().replace(" ", "")
        a = Decimal(m.group("a"))
        b = Decimal(m.group("b")) if m.group("b") else None
        if unit.startswith(("sq", "cm2", "cm\u00b2", "square")):
            area = a * b if b is not None else a
            out.append(("defect_area_sq_cm", area))
            continue
        scale = Decimal("0.1") if unit == "mm" else Decimal(1)
        value = (max(a, b) if b is not None else a) * scale
        if cues:
            nearest = min(
                cues,
                key=lambda c: (
                    max(c[0] - m.end(), m.start() - c[1], 0),
                    c[0] < m.start(),  # a cue after the number wins a tie ("4 mm margins")
                    c[0] - c[1],  # then the longer cue ("excised diameter", not "diameter")
                ),
            )
            name = nearest[2]
        else:
            name = "lesion_diameter_cm"
        if name == "defect_area_sq_cm":
            if b is None:
                continue  # a defect diameter alone is not an area
            out.append((name, a * b * scale * scale))
        else:
            out.append((name, value.normalize() if value == value.to_integral() else value))
    return out


def _count(terms: NoteTerms, sentence: _Sentence) -> int | None:
    text = sentence.text
    for m in terms.lesion_nouns.finditer(text):
        before = text[: m.start()].rstrip().split()
        if before:
            word = before[-1].strip("(").lower()
            if word in {"a", "an", "single"} and not m.group(0).lower().endswith("s"):
                return 1
            n = _number(word)
            if n is not None and word not in {"a", "an"}:
                return n
    for pattern in (_COUNT_TIMES, _COUNT_TOTAL):
        hit = pattern.search(text)
        if hit:
            n = _number(hit.group("n"))
            if n is not None:
                return n
    return None


def _first(items: Iterable[tuple[re.Pattern[str], str]], text: str) -> str | None:
    best: tuple[int, str] | None = None
    for pattern, key in items:
        m = pattern.search(text)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), key)
    return None if best is None else best[1]


_PLURAL_TRIGGER = re.compile(r"(ies|ions|als)$")


def _mention_facts(
    terms: NoteTerms,
    kind: str,
    trigger: tuple[_Sentence, Span, str],
    block: _Block,
    preamble: Sequence[_Sentence],
) -> _Found:
    sentence, _span, trigger_text = trigger
    found = _Found()
    found.spans.add(sentence.span)
    related = {kind}
    if kind in ("excision", "repair", "adjacent-tissue-transfer"):
        related |= {"excision", "repair", "adjacent-tissue-transfer"}
    # the trigger's own sentence first, then the rest of the block that speaks of no other kind
    # of procedure, then the preamble
    own_block = [
        s
        for s in block.sentences
        if s is not sentence and all(t != "PROC" or k in related for t, k, _ in s.ents)
    ]
    order = [sentence, *own_block, *preamble]
    local = len(own_block) + 1
    # the site: the trigger's sentence, else the one site its block (then the preamble) names;
    # a block naming several sites gives none (the chooser reports the gap if a code needs it)
    for group in ([sentence], own_block, list(preamble)):
        named = _one_site(group)
        if named is not None:
            site, where = named
            found.put("site", site[0], where[0])
            for w in where:
                if w.site and w.site[1]:
                    found.put("laterality", w.site[1], w)
                    break
            break
    # the lesion: named in the trigger's sentence, else the one kind of lesion its block (then
    # the preamble) names
    for group in ([sentence], own_block, list(preamble)):
        lesions: list[tuple[DiagnosisTerm, _Sentence]] = [
            (terms.diagnoses[k], s) for s in group for t, k, _span in s.ents if t == "DX"
        ]
        if len({dx.lesion_type for dx, _s in lesions}) > 1 and "site" in found.values:
            # several kinds of lesion: the one named with this mention's site
            lesions = [(dx, s) for dx, s in lesions if s.site and s.site[0] == found.values["site"]]
        if len({dx.lesion_type for dx, _s in lesions}) == 1:
            term, named_in = lesions[0]
            found.put("lesion_type", term.lesion_type, named_in)
            found.put("pathology", term.pathology, named_in)
            break
    for s in order[:local]:
        inds = [key for typ, key, _ in s.ents if typ == "IND"]
        if inds:
            have = found.values.setdefault("indications", [])
            for key in inds:
                if key not in have:
                    have.append(key)
            found.spans.add(s.span)
    if kind == "biopsy":
        for s in order[:local]:
            found.put("technique", _first(terms.techniques, s.text), s)
    if kind in ("repair", "adjacent-tissue-transfer"):
        for s in order[:local]:
            found.put("repair_type", _first(terms.repair_types, s.text), s)
    wanted = {
        "excision": {"lesion_diameter_cm", "margin_cm", "excised_diameter_cm"},
        "repair": {"repair_length_cm"},
        "adjacent-tissue-transfer": {"defect_area_sq_cm"},
        "destruction": {"lesion_diameter_cm"},
        "shave-removal": {"lesion_diameter_cm"},
        "biopsy": set(),
        "mohs": {"lesion_diameter_cm"},
    }[kind]
    sized = order[:local]
    if kind == "destruction":
        # a destruction note often sizes other lesions too: only the trigger's sentence and the
        # sentences naming the same kind of lesion size it
        lesion = found.values.get("lesion_type")
        sized = [sentence] + [
            s
            for s in own_block
            if any(t == "DX" and terms.diagnoses[k].lesion_type == lesion for t, k, _ in s.ents)
        ]
    for s in sized:
        for name, value in _measures(terms, s):
            if name in wanted:
                found.put(name, value, s)
    if kind in ("biopsy", "destruction", "excision", "shave-removal"):
        for s in order[:local]:
            found.put("lesion_count", _count(terms, s), s)
        # one lesion block, or a singular trigger ("biopsy", not "biopsies"), is one lesion
        if (
            "lesion_count" not in found.values
            and kind != "destruction"
            and (block.lesion or not _PLURAL_TRIGGER.search(trigger_text.lower()))
        ):
            found.values["lesion_count"] = 1
    return found


def _to_facts(found: _Found, note: str, extra: Mapping[str, Any] | None = None) -> LineFacts:
    values = dict(found.values)
    values.update(extra or {})
    if "indications" in values:
        indications = [i for i in values["indications"] if i != COSMETIC_REQUEST]
        if len(indications) < len(values["indications"]):
            values["cosmetic_request"] = True
        values["indications"] = tuple(indications)
    evidence = tuple(s.text(note) for s in sorted(found.spans))
    return LineFacts(**values, evidence=evidence)


def _mohs_stages(block: _Block) -> list[tuple[int, int | None, list[_Sentence]]]:
    """(stage, blocks, sentences) for each Mohs stage the block documents."""
    stages: dict[int, tuple[int | None, list[_Sentence]]] = {}
    current: int | None = None
    for s in block.sentences:
        m = _STAGE.search(s.text)
        if m:
            word = m.group("n") or ""
            n = _ORDINAL[m.group("ord").lower()] if m.group("ord") else _number(word)
            if n is not None:
                current = n
                stages.setdefault(n, (None, []))[1].append(s)
        b = _BLOCKS.search(s.text)
        if b and current is not None:
            count, spans = stages[current]
            if s not in spans:
                spans.append(s)
            if count is None:
                stages[current] = (_number(b.group("n")), spans)
    return [(n, count, spans) for n, (count, spans) in sorted(stages.items())]


def _one_site(
    sentences: Sequence[_Sentence],
) -> tuple[tuple[str, str | None], list[_Sentence]] | None:
    """The single site key these sentences name (with the sentences naming it), or None when
    they name none or several."""
    named = [s for s in sentences if s.site]
    keys = {s.site[0] for s in named if s.site}
    if len(keys) != 1:
        return None
    first = named[0].site
    assert first is not None
    return first, named


def _destruction_kind(pathology: str | None) -> str:
    return {
        "premalignant": "destruction-premalignant",
        "benign": "destruction-benign",
        "malignant": "destruction-malignant",
    }.get(pathology or "", "destruction")


def read_note(text: str, root: Path | None = None) -> NoteReading:
    """Procedure mentions, diagnoses and documentation gaps of one procedure note."""
    base = root or mappings_dir()
    terms = _terms(base)
    with warnings.catch_warnings():
        # medspaCy's token matcher warns (spaCy W036) that it has no patterns: ours are phrases
        warnings.filterwarnings("ignore", message=r"\[W036\]", category=UserWarning)
        doc = _pipeline(base)(text)
    sentences = _sentences(text, doc)
    for s in sentences:
        s.site = _find_site(terms, s)
    blocks = _blocks(text, sentences)
    preamble = [s for b in blocks if not b.lesion for s in b.sentences] if len(blocks) > 1 else []
    lesion_kinds = {
        key
        for b in blocks
        if b.lesion
        for s in b.sentences
        for typ, key, _ in s.ents
        if typ == "PROC"
    }
    mentions: list[NoteMention] = []
    for block in blocks:
        if not block.lesion and len(blocks) > 1:
            # the preamble's "Procedure:" line summarises the lesion items below it
            triggers = [
                (s, key, span)
                for s in block.sentences
                for typ, key, span in s.ents
                if typ == "PROC" and key not in lesion_kinds
            ]
        else:
            triggers = [
                (s, key, span)
                for s in block.sentences
                for typ, key, span in s.ents
                if typ == "PROC"
            ]
        mentions.extend(_block_mentions(terms, text, block, triggers, preamble))
    diagnoses, gaps = _diagnoses(terms, text, blocks, preamble)
    coded: list[NoteMention] = []
    for m in mentions:
        missing = _uncodable(m)
        if missing is None:
            coded.append(m)
        else:
            gaps.append(NoteGap(missing[0], missing[1], m.evidence))
    return NoteReading(text, tuple(coded), tuple(diagnoses), tuple(gaps), _evaluation(sentences))


_EM_CODE = re.compile(r"\b(99202|99203|99204|99205|99211|99212|99213|99214|99215)\b")


def _evaluation(sentences: Sequence[_Sentence]) -> NoteEvaluation | None:
    """The separate E/M the note documents, if it documents one or states an E/M code."""
    # the evidence is each sentence documenting the separate service, once
    separate = tuple(s.span for s in sentences if any(typ == "EM" for typ, _k, _ in s.ents))
    code = code_span = None
    for s in sentences:
        m = _EM_CODE.search(s.text)
        if m is not None:
            code, code_span = m.group(1), s.span  # the evidence is the sentence stating it
            break
    if not separate and code is None:
        return None
    return NoteEvaluation(separate, code, code_span)


def _uncodable(m: NoteMention) -> tuple[str, str] | None:
    """What keeps a mention from being handed to the code chooser, if anything."""
    if m.kind == "destruction":
        return (
            "lesion_type",
            "Destruction: the note does not say what was destroyed (actinic keratosis, wart, "
            "seborrheic keratosis, carcinoma...); the destruction code depends on it",
        )
    if m.facts.lesion_count is None and m.kind in ("biopsy", "excision", "shave-removal"):
        return (
            "lesion_count",
            f"{m.kind.capitalize()}: the note speaks of several lesions without saying how many; "
            "each lesion is coded, document the number of lesions",
        )
    return None


def _block_mentions(
    terms: NoteTerms,
    text: str,
    block: _Block,
    triggers: Sequence[tuple[_Sentence, str, Span]],
    preamble: Sequence[_Sentence],
) -> list[NoteMention]:
    out: list[NoteMention] = []
    merged: dict[tuple[str, Any, Any], int] = {}
    mohs_done = False
    if any(kind == "mohs" for _s, kind, _span in triggers):
        # each Mohs stage excises tissue: "excised" in a Mohs note is the stage, not an excision
        triggers = [t for t in triggers if t[1] != "excision"]
    for sentence, kind, span in triggers:
        if kind == "mohs":
            if mohs_done:
                continue
            mohs_done = True
            base = _mention_facts(terms, "mohs", (sentence, span, span.text(text)), block, preamble)
            stages = _mohs_stages(block)
            if not stages:
                out.append(NoteMention("mohs", _to_facts(base, text), span, tuple(base.spans)))
            for stage, count, where in stages:
                found = _Found(dict(base.values), {sentence.span, *(s.span for s in where)})
                if "site" in base.values:
                    found.spans |= base.spans
                found.values["mohs_stage"] = stage
                if count is not None:
                    found.values["mohs_blocks"] = count
                out.append(NoteMention("mohs", _to_facts(found, text), span, tuple(found.spans)))
            continue
        found = _mention_facts(terms, kind, (sentence, span, span.text(text)), block, preamble)
        if kind == "destruction":
            kind = _destruction_kind(found.values.get("pathology"))
        own = sentence.site[0] if sentence.site else None
        same = [
            i
            for (k, tech, site), i in merged.items()
            if (k, tech) == (kind, found.values.get("technique"))
            and (site == own or site is None or own is None)
        ]
        if same:
            i = same[0]
            prior = out[i]
            spans = set(prior.evidence) | found.spans
            facts = prior.facts
            extra = {
                k: v
                for k, v in found.values.items()
                if getattr(facts, k) in (None, ()) and k != "indications"
            }
            new = replace(facts, **extra) if extra else facts
            new = replace(new, evidence=tuple(s.text(text) for s in sorted(spans)))
            out[i] = NoteMention(prior.kind, new, prior.trigger, tuple(sorted(spans)))
            continue
        merged[(kind, found.values.get("technique"), own)] = len(out)
        out.append(NoteMention(kind, _to_facts(found, text), span, tuple(sorted(found.spans))))
    return out


def _diagnoses(
    terms: NoteTerms, text: str, blocks: Sequence[_Block], preamble: Sequence[_Sentence]
) -> tuple[list[NoteDiagnosis], list[NoteGap]]:
    codes: dict[str, NoteDiagnosis] = {}
    sited: set[str] = set()  # codes read with a documented site
    gaps: dict[tuple[str, str], NoteGap] = {}
    for block in blocks:
        block_site = _one_site(block.sentences)
        block_inds = {k for s in block.sentences for typ, k, _ in s.ents if typ == "IND"}
        for s in block.sentences:
            for typ, key, _span in s.ents:
                if typ != "DX":
                    continue
                dx = terms.diagnoses[key]
                needs_site = any(r.region for r in dx.refine)
                # a diagnosis without a site of its own takes the block's, when it names one
                site = s.site or (block_site[0] if block_site and needs_site else None)
                region = terms.region_of_site.get(site[0]) if site else None
                side = site[1] if site else None
                code = dx.icd10
                for r in dx.refine:
                    if r.region is not None and r.region != region:
                        continue
                    if r.laterality is not None and r.laterality != side:
                        continue
                    if r.indication is not None and r.indication not in block_inds:
                        continue
                    code = r.icd10
                    break
                where = {s.span}
                if site and s.site is None and block_site:
                    where |= {t.span for t in block_site[1]}
                prior = codes.get(code)
                if site is not None:
                    sited.add(code)
                codes[code] = NoteDiagnosis(
                    code, dx.id, tuple(sorted(where | set(prior.evidence if prior else ())))
                )
                if needs_site and site is None:
                    gaps.setdefault(
                        (code, "site"),
                        NoteGap(
                            "site",
                            f"{code}: the note names no site for the {dx.id.replace('-', ' ')}; "
                            "ICD-10-CM has site-specific codes, document the site",
                            tuple(sorted(where)),
                        ),
                    )
                elif region in dx.lateral_regions and side not in ("left", "right"):
                    gaps.setdefault(
                        (code, "laterality"),
                        NoteGap(
                            "laterality",
                            f"{code}: the note does not say left or right for the "
                            f"{dx.id.replace('-', ' ')} of the {site[0] if site else 'site'}; "
                            "ICD-10-CM codes it by side, document the laterality",
                            tuple(sorted(where)),
                        ),
                    )
    # an unspecified-site code is dropped when the same diagnosis is coded to a site
    by_dx: dict[str, list[NoteDiagnosis]] = {}
    for d in codes.values():
        by_dx.setdefault(d.diagnosis, []).append(d)
    out: list[NoteDiagnosis] = []
    for group in by_dx.values():
        with_site = [d for d in group if d.icd10 in sited]
        out.extend(with_site if with_site else group)
    kept = {d.icd10 for d in out}
    return (
        sorted(out, key=lambda d: d.evidence[0]),
        [g for (code, _), g in gaps.items() if code in kept],
    )
