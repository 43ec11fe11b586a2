"""The PA packet: the PDF a payer reviewer reads and the FHIR Bundle a payer system reads, built
from fixture charts assessed in-process (no HTTP): every printed fact with its source, missing
items with owners, nothing cited that the evidence doesn't hold."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claim import Claim
from pypdf import PdfReader

from integration.domain.evidence import ClinicalEvidence
from integration.domain.priorauth import Assessment, Status
from integration.evidence.assemble import assemble_evidence
from integration.evidence.chart import ChartData
from integration.evidence.fhir_json import parse_resources
from integration.mapping.evidence_maps import load_evidence_maps
from integration.paths import fixtures_dir, profiles_dir
from integration.priorauth.assess import assess
from integration.priorauth.order import order_from_fhir
from integration.priorauth.packet import (
    SUPPORTING_INFO_CODES,
    Attestation,
    ClinicianReview,
    PacketError,
    PacketPhoto,
    build_packet_bundle,
    cited_references,
    packet_photos,
    plain_reference,
    render_packet_html,
    render_packet_pdf,
)
from integration.priorauth.references import load_pa_references

DAY = date(2026, 11, 15)
CREATED = datetime(2026, 11, 15, 14, 30, tzinfo=UTC)
AD = "atopic-dermatitis-dupixent"
GAPS = "psoriasis-gaps"


@dataclasses.dataclass(frozen=True)
class Case:
    slug: str
    evidence: ClinicalEvidence
    assessment: Assessment
    photos: tuple[PacketPhoto, ...]

    @property
    def patient_ref(self) -> str:
        return f"Patient/{self.slug}-patient"


@cache
def case(slug: str, payer_id: str, order_id: str) -> Case:
    bundle = json.loads((fixtures_dir() / "patients" / f"{slug}.json").read_text("utf-8"))
    raws = [e["resource"] for e in bundle["entry"]]
    models, problems = parse_resources(raws)
    chart = ChartData(f"{slug}-patient", models, problems)
    evidence = assemble_evidence(chart, load_evidence_maps(), DAY)
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in raws}
    order = order_from_fhir(by_ref[order_id])
    refs = load_pa_references()
    assessment = assess(evidence, order, refs.library, refs.lookups, DAY, payer_id=payer_id)
    return Case(slug, evidence, assessment, packet_photos(evidence, by_ref))


@pytest.fixture(scope="module")
def ad() -> Case:
    return case(AD, "cigna", f"MedicationRequest/{AD}-medreq-dupixent")


@pytest.fixture(scope="module")
def gaps() -> Case:
    return case(GAPS, "unitedhealthcare", f"MedicationRequest/{GAPS}-medreq-cosentyx")


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def squash(text: str) -> str:
    """Text without whitespace: table cells wrap long references and sentences anywhere."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def ad_pdf(ad: Case) -> bytes:
    return render_packet_pdf(
        ad.assessment,
        ad.evidence,
        photos=ad.photos,
        attestation=None,
        created=CREATED,
        packet_id="PA-AD-1",
    )


# --- the PDF -----------------------------------------------------------------------------------


def test_pdf_is_a_letter_size_pdf_with_the_photos_embedded(ad: Case, ad_pdf: bytes) -> None:
    assert ad_pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(ad_pdf))
    assert len(reader.pages) >= 2
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)  # US letter
    images = {image.data for page in reader.pages for image in page.images}  # pages share them
    assert len(ad.photos) == 2
    assert len(images) == len(ad.photos)


def test_pdf_prints_the_facts_a_reviewer_needs_each_with_its_source(
    ad: Case, ad_pdf: bytes
) -> None:
    text = pdf_text(ad_pdf)
    flat = squash(text)
    latest_easi = ad.evidence.measures["EASI"][0]
    assert str(latest_easi.value) == "26.8"
    assert "26.8" in text
    assert squash(latest_easi.source) in flat
    # the rule, its source and that it is not verified
    rule = ad.assessment.rule
    assert rule is not None
    assert squash(rule.title) in flat
    assert squash(rule.id) in flat
    assert "Secondary source, not verified" in text
    # patient and member id from the current coverage, with their sources
    coverage = next(c for c in ad.evidence.coverage if c.current)
    assert coverage.member_id == "U8841203605"
    assert coverage.member_id in text
    assert squash(coverage.source) in flat
    assert ad.evidence.patient is not None and ad.evidence.patient.name
    assert ad.evidence.patient.name in text
    # the order, PA required and the channel
    assert squash(ad.assessment.order.text) in flat
    assert "ncpdp-epa" in text
    # every prior therapy and the TB screening with its source (the ordered drug is not a prior trial)
    for therapy in ad.evidence.therapies:
        if therapy.source == ad.assessment.order.source:
            continue
        assert squash(therapy.source) in flat, therapy.name
    screening = ad.evidence.screenings[0]
    assert squash(screening.source) in flat
    assert "L20.89" in text


def test_pdf_lists_every_criterion_with_its_status(ad: Case, ad_pdf: bytes) -> None:
    flat = squash(pdf_text(ad_pdf))
    labels = {Status.MET: "Met", Status.UNMET: "Notmet", Status.MISSING: "Missing"}
    assert ad.assessment.criteria
    for c in ad.assessment.criteria:
        text = squash(c.text)
        assert text in flat, c.id
        after = flat[flat.index(text) + len(text) :]
        assert after.lstrip("✔✘?").startswith(labels[c.status]), (c.id, after[:30])
        for ref in c.evidence:
            assert squash(ref) in flat


def test_unsigned_packet_has_an_empty_signature_line(ad_pdf: bytes) -> None:
    text = pdf_text(ad_pdf)
    assert "not yet signed" in text
    assert "I attest that the information in this request is accurate" in text


def test_signed_attestation_prints_the_clinician_and_date(ad: Case) -> None:
    html = render_packet_html(
        ad.assessment,
        ad.evidence,
        photos=(),
        attestation=Attestation("Dr. Ines Okafor, MD", signed=date(2026, 11, 16)),
        created=CREATED,
    )
    assert "Signed electronically by Dr. Ines Okafor, MD" in html
    assert "2026-11-16" in html
    assert "not yet signed" not in html
    # photos not supplied are listed as not attached, with their source
    for photo in ad.evidence.photos:
        assert f"Not attached: {photo.title}" in html
        assert photo.source in html


def test_chart_text_is_escaped_not_run(ad: Case) -> None:
    assert ad.evidence.patient is not None
    hostile = "<script>alert('x')</script>"
    patient = dataclasses.replace(ad.evidence.patient, name=f"{hostile} Wrenfield")
    diagnosis = dataclasses.replace(
        ad.evidence.diagnoses[0], text=f'AD <img src=x onerror="{hostile}">'
    )
    evidence = dataclasses.replace(ad.evidence, patient=patient, diagnoses=(diagnosis,))
    html = render_packet_html(ad.assessment, evidence, attestation=None, created=CREATED)
    assert "<script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Wrenfield" in html
    pdf = render_packet_pdf(ad.assessment, evidence, attestation=None, created=CREATED)
    assert "<script>alert('x')</script> Wrenfield" in pdf_text(pdf)  # shown as text


def test_packet_is_deterministic_given_created(ad: Case, ad_pdf: bytes) -> None:
    def html() -> str:
        return render_packet_html(
            ad.assessment, ad.evidence, photos=ad.photos, attestation=None, created=CREATED
        )

    assert html() == html()
    # Same pages and text; not byte for byte: without libharfbuzz-subset, WeasyPrint subsets
    # fonts with fontTools, which stamps each subset's `head.modified` with the current time.
    again = render_packet_pdf(
        ad.assessment,
        ad.evidence,
        photos=ad.photos,
        attestation=None,
        created=CREATED,
        packet_id="PA-AD-1",
    )
    assert pdf_text(again) == pdf_text(ad_pdf)
    assert len(PdfReader(io.BytesIO(again)).pages) == len(PdfReader(io.BytesIO(ad_pdf)).pages)
    first = build_packet_bundle(
        ad.assessment, ad.evidence, packet_id="PA-AD-1", created=CREATED, patient_ref=ad.patient_ref
    )
    second = build_packet_bundle(
        ad.assessment, ad.evidence, packet_id="PA-AD-1", created=CREATED, patient_ref=ad.patient_ref
    )
    assert first == second


def test_another_payers_coverage_is_never_printed(ad: Case) -> None:
    """A payer chosen by hand (not matched from the chart's Coverage) gets the current coverage
    only if it names that payer: Cigna's member id must not go to Aetna."""
    library = load_pa_references().library
    aetna = dataclasses.replace(ad.assessment, payer=library.payer("aetna", ad.evidence.coverage))
    html = render_packet_html(aetna, ad.evidence, attestation=None, created=CREATED)
    assert "U8841203605" not in html
    assert "no current coverage for this payer in the chart" in html
    bundle = build_packet_bundle(
        aetna, ad.evidence, packet_id="x", created=CREATED, patient_ref=ad.patient_ref
    )
    claim = bundle["entry"][0]["resource"]
    assert "reference" not in claim["insurance"][0]["coverage"]
    assert claim["insurer"] == {"display": "Aetna"}
    cigna = dataclasses.replace(ad.assessment, payer=library.payer("cigna", ad.evidence.coverage))
    assert "U8841203605" in render_packet_html(cigna, ad.evidence, created=CREATED)


def test_a_photo_the_evidence_does_not_hold_is_refused(ad: Case) -> None:
    stranger = PacketPhoto("Media/not-in-chart", "image/jpeg", b"\xff\xd8\xff", None, None)
    with pytest.raises(PacketError, match="Media/not-in-chart"):
        render_packet_html(
            ad.assessment, ad.evidence, photos=(stranger,), attestation=None, created=CREATED
        )
    odd = dataclasses.replace(ad.photos[0], content_type="text/html")
    with pytest.raises(PacketError, match="content_type"):
        render_packet_html(
            ad.assessment, ad.evidence, photos=(odd,), attestation=None, created=CREATED
        )


def test_missing_items_are_listed_with_their_owners(gaps: Case) -> None:
    assessment = gaps.assessment
    assert assessment.payer is not None and assessment.payer.id == "unitedhealthcare"
    missing = [c for c in assessment.criteria if c.status is Status.MISSING]
    assert missing, "the gaps chart should leave criteria undecided"
    assert gaps.evidence.missing
    pdf = render_packet_pdf(assessment, gaps.evidence, attestation=None, created=CREATED)
    text = pdf_text(pdf)
    flat = squash(text)
    section = flat[flat.index("Missingfromthechart") :]
    for c in missing:
        assert squash(c.text) in section, c.id
        assert c.owner is not None
    for item in gaps.evidence.missing:
        assert squash(item.what) in section, item.id
        assert squash(item.detail) in section, item.id
    owners = {c.owner.value for c in missing if c.owner} | {
        m.owner.value for m in gaps.evidence.missing
    }
    assert "front desk" in owners  # no Coverage in this chart
    for owner in owners:
        assert squash(owner) in section
    assert "missing: no current coverage for this payer in the chart" in text
    assert "No clinical photo is in the chart." in text


# --- the Bundle --------------------------------------------------------------------------------


def evidence_sources(c: Case) -> set[str]:
    """Every FHIR reference the evidence holds (facts' sources, notes it cites), unversioned."""
    text = json.dumps(c.evidence.to_json())
    found = re.findall(r'"([A-Z][A-Za-z]+/[A-Za-z0-9\-.]+(?:/_history/[A-Za-z0-9\-.]+)?)"', text)
    return {plain_reference(s) for s in found}


def allowed_references(c: Case) -> set[str]:
    """Everything the packet may cite: the evidence's sources, the order and who ordered it."""
    order = c.assessment.order
    extra = {c.patient_ref, order.source, *([order.requester] if order.requester else [])}
    return evidence_sources(c) | {plain_reference(s) for s in extra}


@pytest.mark.parametrize(("which", "with_pdf"), [("ad", True), ("gaps", False)])
def test_bundle_is_valid_fhir_and_cites_only_the_evidence(
    which: str, with_pdf: bool, request: pytest.FixtureRequest
) -> None:
    c: Case = request.getfixturevalue(which)
    pdf = request.getfixturevalue("ad_pdf") if with_pdf else None
    bundle = build_packet_bundle(
        c.assessment,
        c.evidence,
        packet_id=f"PA-{which}",
        created=CREATED,
        patient_ref=c.patient_ref,
        practitioner_ref=None,
        pdf=pdf,
    )
    Bundle.model_validate(bundle)
    schema = json.loads((profiles_dir() / "pa-packet-bundle.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator(schema).validate(bundle)
    categories = schema["$defs"]["supportingInfo"]["properties"]["category"]["properties"]
    assert (
        tuple(categories["coding"]["items"]["properties"]["code"]["enum"]) == SUPPORTING_INFO_CODES
    )
    assert bundle["type"] == "collection"
    assert bundle["identifier"]["value"] == f"PA-{which}"
    assert bundle["timestamp"] == "2026-11-15T14:30:00+00:00"

    claim_json = bundle["entry"][0]["resource"]
    claim = Claim.model_validate(claim_json)
    assert claim.use == "preauthorization"
    assert claim.meta is not None and claim.meta.profile == [
        "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claim"
    ]
    assert claim_json["type"]["coding"][0]["code"] == "pharmacy"  # both orders are drugs
    assert claim_json["patient"]["reference"] == c.patient_ref

    allowed = allowed_references(c)
    in_evidence = evidence_sources(c)
    infos = claim_json.get("supportingInfo", [])
    for info in infos:
        code = info["category"]["coding"][0]["code"]
        assert code in SUPPORTING_INFO_CODES
        if "valueReference" in info:
            assert plain_reference(info["valueReference"]["reference"]) in in_evidence
    cited = set(cited_references(bundle))
    assert {plain_reference(r) for r in cited} <= allowed, (
        "the bundle cites a resource not in the evidence"
    )

    # every severity score, and every fact a decided criterion used, is a supportingInfo
    referenced = {
        plain_reference(i["valueReference"]["reference"]) for i in infos if "valueReference" in i
    }
    for measures in c.evidence.measures.values():
        for m in measures:
            assert plain_reference(m.source) in referenced
    for criterion in c.assessment.criteria:
        if criterion.status is not Status.MISSING:
            for ref in criterion.evidence:
                if plain_reference(ref) != plain_reference(c.assessment.order.source):
                    assert plain_reference(ref) in referenced, (criterion.id, ref)
    checklist = [i for i in infos if i["category"]["coding"][0]["code"] == "checklist"]
    assert [i["code"]["text"] for i in checklist] == [k.text for k in c.assessment.criteria]
    assert [i["code"]["coding"][0]["code"] for i in checklist] == [
        k.status.value for k in c.assessment.criteria
    ]
    assert claim_json["item"][0]["informationSequence"] == [i["sequence"] for i in infos]
    requested = claim_json["item"][0]["extension"][0]["valueReference"]["reference"]
    assert requested == c.assessment.order.source

    if which == "ad":
        coverage = next(cv for cv in c.evidence.coverage if cv.current)
        assert claim_json["insurance"] == [
            {"sequence": 1, "focal": True, "coverage": {"reference": coverage.source}}
        ]
        assert claim_json["insurer"]["display"] == "Cigna"
        assert [
            d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim_json["diagnosis"]
        ] == ["L20.89"]
        document = bundle["entry"][1]["resource"]
        assert document["content"][0]["attachment"]["contentType"] == "application/pdf"
        assert document["context"]["related"][0]["reference"] == bundle["entry"][0]["fullUrl"]
    else:
        # no Coverage and no ICD-10 code in the chart: said, not invented
        assert "reference" not in claim_json["insurance"][0]["coverage"]
        assert "diagnosis" not in claim_json
        assert len(bundle["entry"]) == 1


def test_bundle_needs_an_aware_timestamp(ad: Case) -> None:
    with pytest.raises(PacketError, match="created"):
        build_packet_bundle(
            ad.assessment,
            ad.evidence,
            packet_id="x",
            created=datetime(2026, 11, 15, 14, 30),  # naive: the case under test
            patient_ref=ad.patient_ref,
        )


def test_practitioner_ref_is_the_provider(ad: Case) -> None:
    bundle = build_packet_bundle(
        ad.assessment,
        ad.evidence,
        packet_id="x",
        created=CREATED,
        patient_ref=ad.patient_ref,
        practitioner_ref="PractitionerRole/derm-1",
    )
    assert bundle["entry"][0]["resource"]["provider"] == {"reference": "PractitionerRole/derm-1"}


def test_packet_template_mapping_is_valid() -> None:
    from integration.mapping.loader import iter_documents

    docs = list(iter_documents(kind="packet-template"))
    assert [d.id for d in docs] == ["pa-packet"]
    folder: Path = docs[0].path.parent
    data: dict[str, Any] = docs[0].data
    assert (folder / data["template"]).is_file()
    assert (folder / data["stylesheet"]).is_file()


# --- the clinician's review ----------------------------------------------------------------------


def test_review_prints_the_narrative_and_the_attestation_notes(ad: Case) -> None:
    review = ClinicianReview(
        narrative="Dupixent is medically necessary.\n\nEASI remains <high> after 8 weeks.",
        attestations={"extent": "Hands: fissured, EASI hands 9"},
        version=3,
    )
    html = render_packet_html(
        ad.assessment,
        ad.evidence,
        attestation=Attestation("Practitioner/derm-1", signed=date(2026, 11, 16)),
        created=CREATED,
        review=review,
    )
    assert "Statement of medical necessity" in html
    assert "Dupixent is medically necessary." in html
    assert "EASI remains &lt;high&gt; after 8 weeks." in html  # text, never markup
    assert "review version 3" in html
    assert "Hands: fissured, EASI hands 9" in html
    assert "Signed electronically by Practitioner/derm-1" in html
    pdf = render_packet_pdf(ad.assessment, ad.evidence, created=CREATED, review=review)
    text = pdf_text(pdf)
    assert "Dupixent is medically necessary." in text
    assert "Hands: fissured, EASI hands 9" in text
    assert "not yet signed" in text


def test_without_a_review_no_statement_is_printed(ad: Case) -> None:
    html = render_packet_html(ad.assessment, ad.evidence, created=CREATED)
    assert "Statement of medical necessity" not in html


def test_a_note_for_a_criterion_not_on_the_checklist_is_refused(ad: Case) -> None:
    with pytest.raises(PacketError, match="expected criteria of the checklist, got nope"):
        render_packet_html(
            ad.assessment,
            ad.evidence,
            created=CREATED,
            review=ClinicianReview("x", {"nope": "note"}),
        )
