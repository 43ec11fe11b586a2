"""An appeal letter as sentences, each with its sources, and the evidence it may state.

A sentence's `origin` says who wrote it: "template" (drafted by derm-rcm from a template and
the evidence), "clinician" (written or edited by a person: without sources it is shown as the
clinician's own words) or "polish" (reworded by the optional language model; its facts must be
those of the sentence it rewords). `evidence` is every fact the letter may state, each with its
source, as found when the letter was drafted: the pre-sign check (`integration.appeals.factcheck`)
refuses a number, date, drug or diagnosis that is not among them.

JSON (`to_json` / `from_json`, stored in appeal_version.letter_json, printed by
`dermrcm appeal draft`):

    {"denial_id": 1, "template": {"id": "medical-necessity-biologic", "version": 1},
     "level": 1, "generated": "2026-12-06",
     "sentences": [{"id": "s1", "paragraph": 0, "text": "...", "origin": "template",
                    "sources": [{"kind": "fhir", "ref": "Observation/x/_history/1",
                                 "label": "PASI 14.2 on 2026-09-10", "citation": null}]}],
     "evidence": [{"kind": "number", "value": "14.2", "label": "PASI", "date": "2026-09-10",
                   "source": {...}}],
     "attachments": [{"kind": "note", "ref": "DocumentReference/x", "title": "..."}],
     "missing": ["..."]}
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

#: kinds of source: a FHIR resource, an 835 segment, a payer rule (with its policy citation), a
#: claim of ours
SOURCE_KINDS: tuple[str, ...] = ("fhir", "x12", "rule", "claim")
ORIGINS: tuple[str, ...] = ("template", "clinician", "polish")
#: kinds of evidence fact the pre-sign check knows
FACT_KINDS: tuple[str, ...] = ("number", "date", "drug", "diagnosis", "code", "amount", "text")


@dataclass(frozen=True, slots=True)
class SourceRef:
    kind: str  # one of SOURCE_KINDS
    ref: str  # "Observation/x/_history/1", "835 file 3 · TRN ... · CAS CO-50", "rule id v2"
    label: str  # short, for the review screen: "PASI 14.2 on 2026-09-10"
    citation: str | None = None  # a rule's policy title and URL

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref, "label": self.label, "citation": self.citation}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceRef:
        return cls(str(data["kind"]), str(data["ref"]), str(data["label"]), data.get("citation"))


@dataclass(frozen=True, slots=True)
class EvidenceFact:
    """One thing the letter may state: a value (as text, e.g. "14.2", "2026-09-10",
    "methotrexate", "L40.0", "$1,250.00") with what it is and where it came from."""

    kind: str  # one of FACT_KINDS
    value: str
    label: str
    source: SourceRef
    date: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "label": self.label,
            "date": self.date,
            "source": self.source.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvidenceFact:
        return cls(
            kind=str(data["kind"]),
            value=str(data["value"]),
            label=str(data["label"]),
            source=SourceRef.from_json(data["source"]),
            date=data.get("date"),
        )


@dataclass(frozen=True, slots=True)
class Sentence:
    id: str
    paragraph: int
    text: str
    sources: tuple[SourceRef, ...]
    origin: str = "template"  # one of ORIGINS

    @property
    def own_words(self) -> bool:
        """A person's sentence with no source: shown as the clinician's own words."""
        return not self.sources

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "paragraph": self.paragraph,
            "text": self.text,
            "origin": self.origin,
            "sources": [s.to_json() for s in self.sources],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sentence:
        return cls(
            id=str(data["id"]),
            paragraph=int(data["paragraph"]),
            text=str(data["text"]),
            sources=tuple(SourceRef.from_json(s) for s in data.get("sources", [])),
            origin=str(data.get("origin", "template")),
        )


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    kind: str  # note | pathology | photo | therapy-table | remittance
    ref: str  # the FHIR resource (or "therapy-table")
    title: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref, "title": self.title}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttachmentRef:
        return cls(str(data["kind"]), str(data["ref"]), str(data["title"]))


@dataclass(frozen=True, slots=True)
class Letter:
    denial_id: int | None
    template_id: str
    template_version: int
    level: int
    generated: str  # YYYY-MM-DD
    sentences: tuple[Sentence, ...]
    evidence: tuple[EvidenceFact, ...] = ()
    attachments: tuple[AttachmentRef, ...] = ()
    missing: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # template-specific, e.g. addressee

    def sentence(self, sentence_id: str) -> Sentence | None:
        return next((s for s in self.sentences if s.id == sentence_id), None)

    def with_text(self, sentence_id: str, text: str) -> Letter:
        """A person's edit of one sentence: it keeps its sources (so the check compares the new
        wording with them) and becomes the clinician's."""
        out = []
        for s in self.sentences:
            if s.id == sentence_id and s.text != text:
                s = replace(s, text=text, origin="clinician")
            out.append(s)
        return replace(self, sentences=tuple(out))

    def paragraphs(self) -> list[list[Sentence]]:
        grouped: dict[int, list[Sentence]] = {}
        for s in self.sentences:
            grouped.setdefault(s.paragraph, []).append(s)
        return [grouped[k] for k in sorted(grouped)]

    def text(self) -> str:
        return "\n\n".join(" ".join(s.text for s in p) for p in self.paragraphs())

    def to_json(self) -> dict[str, Any]:
        return {
            "denial_id": self.denial_id,
            "template": {"id": self.template_id, "version": self.template_version},
            "level": self.level,
            "generated": self.generated,
            "sentences": [s.to_json() for s in self.sentences],
            "evidence": [f.to_json() for f in self.evidence],
            "attachments": [a.to_json() for a in self.attachments],
            "missing": list(self.missing),
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Letter:
        template = data["template"]
        return cls(
            denial_id=data.get("denial_id"),
            template_id=str(template["id"]),
            template_version=int(template["version"]),
            level=int(data.get("level", 1)),
            generated=str(data["generated"]),
            sentences=tuple(Sentence.from_json(s) for s in data["sentences"]),
            evidence=tuple(EvidenceFact.from_json(f) for f in data.get("evidence", [])),
            attachments=tuple(AttachmentRef.from_json(a) for a in data.get("attachments", [])),
            missing=tuple(str(m) for m in data.get("missing", [])),
            extra=dict(data.get("extra", {})),
        )
