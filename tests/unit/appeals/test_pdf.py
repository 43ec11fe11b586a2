"""The letter PDF: the sentences, their sources as footnotes, and the attachments."""

from __future__ import annotations

import io
import json

from pypdf import PdfReader

from integration.appeals.draft import draft_letter
from integration.appeals.pdf import render_letter_html, render_letter_pdf
from integration.paths import fixtures_dir
from integration.priorauth.references import PaReferences
from tests.unit.appeals.support import TODAY, assessment_for, load_evidence, make_denial


def chart_resources(slug: str) -> dict[str, dict[str, object]]:
    bundle = json.loads((fixtures_dir() / "patients" / f"{slug}.json").read_text())
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
        for e in bundle["entry"]
    }


def test_pdf_holds_the_letter_its_footnotes_and_attachments(refs: PaReferences) -> None:
    evidence = load_evidence("psoriasis-skyrizi")
    letter = draft_letter(
        make_denial(),
        evidence,
        rule_assessment=assessment_for(refs, evidence, "skyrizi.json"),
        today=TODAY,
    )
    pdf = render_letter_pdf(letter, evidence, chart_resources("psoriasis-skyrizi"))
    assert pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    compact = "".join(text.split())  # references wrap at "/" and "-"
    assert "PASI) was 15.6 on 2026-09-10" in text
    assert "Observation/psoriasis-skyrizi-obs-pasi-7/_history/1" in compact  # a footnote
    assert "coverage.pharmacistwrite.com" in compact  # the rule's citation
    assert "Attachment: prior therapies" in text
    assert "MedicationStatement/psoriasis-skyrizi-medstmt-methotrexate/_history/1" in compact
    assert "Attachment: clinical photographs" in text
    assert len(reader.pages[-1].images) == 3  # the photographs page
    assert "not yet signed" in text


def test_notes_and_pathology_are_attached(refs: PaReferences) -> None:
    evidence = load_evidence("atopic-dermatitis-dupixent")
    resources = chart_resources("atopic-dermatitis-dupixent")
    note = "DocumentReference/atopic-dermatitis-dupixent-docref-note-2026-10-27"
    letter = draft_letter(
        make_denial(payer_id="cigna", payer_name="Cigna", patient_ref="Patient/x"),
        evidence,
        today=TODAY,
        note_refs={note: "Dermatology progress note 2026-10-27"},
    )
    html = render_letter_html(letter, evidence, resources, signed_by="Practitioner/dr-1")
    assert "Attachment: Dermatology progress note 2026-10-27" in html
    assert "Electronically signed by Practitioner/dr-1" in html
    mohs = draft_letter(
        make_denial(payer_id="aetna", procedure="17311", patient_ref="Patient/y"),
        load_evidence("melanoma-in-situ-mohs"),
        today=TODAY,
    )
    html = render_letter_html(
        mohs, load_evidence("melanoma-in-situ-mohs"), chart_resources("melanoma-in-situ-mohs")
    )
    assert "Attachment: pathology of 2026-09-15" in html and "lentigo maligna" in html
