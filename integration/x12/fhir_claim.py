"""An 837P (005010X222A1) claim from a FHIR R4 `Claim` (use = claim) and the resources it names.

`claim_837_from_fhir(bundle_or_claim, resolve=..., submitter=..., receiver=...)` validates the
Claim with fhir.resources (R4B, the R4 structure) and maps it onto `Claim837Transaction`:

- Claim.provider (Organization or Practitioner with an NPI, identifier system
  http://hl7.org/fhir/sid/us-npi, an address and a TIN) -> 2010AA NM1*85, N3, N4, REF*EI;
- Claim.insurance (focal, else the first): sequence -> SBR01, Coverage.subscriber / beneficiary
  -> 2010BA (and 2000C/2010CA when Coverage.relationship is not `self`), Coverage.subscriberId
  -> NM109, Coverage.type (claim filing indicator) -> SBR09, Coverage.payor Organization with a
  NIIP identifier -> 2010BB NM1*PR, preAuthRef -> REF*G1;
- Claim.identifier -> CLM01 (and BHT03), Claim.created -> BHT04/05, Claim.total -> CLM02
  (checked against the lines), the items' place of service -> CLM05-1 (SV105 where a line
  differs), the frequency extension or Claim.subType -> CLM05-3, Claim.related (relationship
  `prior`) -> REF*F8;
- Claim.diagnosis (ICD-10-CM, ordered by sequence) -> HI; Claim.careTeam (role `primary`,
  a Practitioner with an NPI) -> 2310B NM1*82 (PRV*PE from a NUCC taxonomy qualification);
- Claim.supportingInfo (category `attachment`) -> PWK;
- Claim.item -> 2400: productOrService CPT/HCPCS and modifiers -> SV101, net (or unitPrice x
  quantity) -> SV102, quantity -> SV104, servicedDate/servicedPeriod -> DTP*472,
  diagnosisSequence -> SV107, item.detail with an NDC productOrService -> 2410 LIN/CTP.

Nothing the 837P requires is invented: each missing or unusable piece is a `ClaimProblem`
naming the FHIR path and the X12 element it would fill, all collected and raised together as
`FhirClaimError` (``Claim.provider: expected a reference to an Organization with an NPI (2010AA
NM109), got none``). `FhirClaimError.operation_outcome()` renders them as an OperationOutcome.
The submitter (1000A) and receiver (1000B) are not in a FHIR Claim and are passed in.

The small code maps below (FHIR code -> X12 code) cite their sources; they are the only tables
this module branches on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from pydantic import ValidationError

from integration.x12 import x222_codes as codes
from integration.x12.t837_005010x222a1 import (
    Address,
    Attachment,
    BillingProvider,
    Claim,
    Claim837Transaction,
    DatePeriod,
    Demographics,
    Diagnosis,
    DrugIdentification,
    Header837,
    Party,
    PatientLoop,
    Procedure,
    ProviderInfo,
    Reference,
    ServiceLine,
    SubscriberInfo,
    SubscriberLoop,
)

log = logging.getLogger(__name__)

Resource = Mapping[str, Any]
Resolve = Callable[[str], Resource | None]

# -- code systems and maps -----------------------------------------------------------------------

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
TIN_SYSTEM = "urn:oid:2.16.840.1.113883.4.4"  # US IRS employer identification number
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
HCPCS_SYSTEM = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
PROCEDURE_SYSTEMS = (
    CPT_SYSTEM,
    HCPCS_SYSTEM,
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
)
NDC_SYSTEM = "http://hl7.org/fhir/sid/ndc"
POS_SYSTEM = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
NUCC_TAXONOMY_SYSTEM = "http://nucc.org/provider-taxonomy"
V2_0203_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CARE_TEAM_ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
INFO_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/claiminformationcategory"
RELATED_CLAIM_SYSTEM = "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship"
CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"
COVERAGE_CLASS_SYSTEM = "http://terminology.hl7.org/CodeSystem/coverage-class"
SUBSCRIBER_RELATIONSHIP_SYSTEM = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
# X12 external code lists published as FHIR code systems (codesystem.x12.org/<version>/<element>):
# 1032 claim filing indicator (SBR09), 1325 claim frequency type (CLM05-3), 755 report type (PWK01)
X12_CLAIM_FILING_SYSTEM = "https://codesystem.x12.org/005010/1032"
X12_FREQUENCY_SYSTEM = "https://codesystem.x12.org/005010/1325"
X12_REPORT_TYPE_SYSTEM = "https://codesystem.x12.org/005010/755"
#: our extension on Claim carrying the claim frequency code (valueCode or valueCoding)
FREQUENCY_EXTENSION = "https://dermrcm.example/fhir/StructureDefinition/claim-frequency-code"


@dataclass(frozen=True, slots=True)
class FhirClaimCodes:
    """FHIR code -> 837P element value tables (mappings/x12/fhir-claim-codes.yaml): v3-ActCode
    -> SBR09, subscriber-relationship -> PAT01, AdministrativeGender -> DMG03, insurance
    sequence -> SBR01, UCUM -> CTP05-1. A code not in a table is a located error."""

    claim_filing_from_act_code: Mapping[str, str]
    patient_relationship: Mapping[str, str]
    gender: Mapping[str, str]
    responsibility: Mapping[str, str]
    ndc_units: Mapping[str, str]

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> FhirClaimCodes:
        return cls(
            **{
                name: {str(k): str(v) for k, v in data[name].items()}
                for name in (
                    "claim_filing_from_act_code",
                    "patient_relationship",
                    "gender",
                    "responsibility",
                    "ndc_units",
                )
            }
        )


@cache
def default_codes() -> FhirClaimCodes:
    """The project's tables, read (and schema-checked) once from mappings/."""
    from integration.mapping.loader import load_document
    from integration.paths import mappings_dir

    path = mappings_dir() / "x12" / "fhir-claim-codes.yaml"
    return FhirClaimCodes.from_document(load_document(path).data)


ATTACHMENT_TRANSMISSION = "EL"  # PWK02: the document is referenced electronically


# -- problems -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimProblem:
    """One located problem: the FHIR path (`Claim.item[1].quantity`) and what is wrong."""

    path: str
    message: str

    def render(self) -> str:
        return f"{self.path}: {self.message}"

    def __str__(self) -> str:
        return self.render()


class FhirClaimError(ValueError):
    """Every problem that keeps the FHIR Claim from becoming an 837P."""

    def __init__(self, problems: Sequence[ClaimProblem]) -> None:
        self.problems: tuple[ClaimProblem, ...] = tuple(problems)
        super().__init__("; ".join(p.render() for p in self.problems))

    def operation_outcome(self) -> dict[str, Any]:
        return {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "invalid",
                    "diagnostics": p.message,
                    "expression": [p.path],
                }
                for p in self.problems
            ],
        }


class _Problems:
    def __init__(self) -> None:
        self.items: list[ClaimProblem] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(ClaimProblem(path, message))


# -- FHIR helpers -------------------------------------------------------------------------------


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


#: what the 837P needs from a Claim element FHIR R4 itself requires, said when it is missing
REQUIRED_FOR_837P = {
    "Claim.provider": "expected a reference to an Organization with an NPI (2010AA NM109), got none",
    "Claim.patient": "expected a reference to the Patient (2010BA or 2010CA NM1), got none",
    "Claim.insurance": "expected the insurance the claim is sent to (2000B SBR, 2010BB), got none",
    "Claim.created": "expected the date and time the claim was created (BHT04/BHT05), got none",
    "Claim.type": "expected the claim type 'professional' (837P), got none",
}


def _loc_path(resource_type: str, loc: Sequence[int | str]) -> str:
    out = resource_type
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("__root__",):
            out += f".{part}"
    return out


def _validate(resource: Resource, path: str, problems: _Problems) -> bool:
    """Validate against the fhir.resources R4B model of its resourceType; False if invalid."""
    from fhir.resources.R4B import get_fhir_model_class

    kind = str(resource.get("resourceType") or "")
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError):
        problems.add(path, f"expected a FHIR R4 resource, got resourceType {kind!r}")
        return False
    try:
        model.model_validate(dict(resource))
    except ValidationError as exc:
        for err in exc.errors():
            where = _loc_path(path, [p for p in err["loc"] if p != kind])
            # fhir.resources reports a missing required primitive as a value error
            if err["type"] == "missing" or str(err["msg"]).endswith("is required."):
                problems.add(
                    where,
                    REQUIRED_FOR_837P.get(
                        where, "expected a value (required by FHIR R4), got none"
                    ),
                )
            else:
                problems.add(where, f"expected a valid value, got {err['msg']!r}")
        return False
    return True


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    if not isinstance(concept, Mapping):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, Mapping)]


def _code_in(concept: Any, *systems: str) -> str | None:
    for c in _codings(concept):
        if c.get("system") in systems and c.get("code"):
            return str(c["code"])
    return None


def _identifier(resource: Resource, system: str) -> str | None:
    for ident in resource.get("identifier") or []:
        if ident.get("system") == system and ident.get("value"):
            return str(ident["value"])
    return None


def _typed_identifier(resource: Resource, type_code: str) -> str | None:
    for ident in resource.get("identifier") or []:
        if _code_in(ident.get("type"), V2_0203_SYSTEM) == type_code and ident.get("value"):
            return str(ident["value"])
    return None


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _money(value: Any) -> Decimal | None:
    amount = _decimal(value.get("value")) if isinstance(value, Mapping) else None
    return None if amount is None or not amount.is_finite() else amount.quantize(Decimal("0.01"))


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", value):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


class _Index:
    """Resolves references: a Bundle's entries (by fullUrl and Type/id), the Claim's contained
    resources (#id), then the caller's `resolve`."""

    def __init__(
        self, claim: Resource, entries: Sequence[Mapping[str, Any]], resolve: Resolve | None
    ):
        self._by_ref: dict[str, Resource] = {}
        self._resolve = resolve
        for entry in entries:
            resource = entry.get("resource")
            if not isinstance(resource, Mapping):
                continue
            if entry.get("fullUrl"):
                self._by_ref[str(entry["fullUrl"])] = resource
            if resource.get("id"):
                self._by_ref[f"{resource.get('resourceType')}/{resource['id']}"] = resource
        for contained in claim.get("contained") or []:
            if isinstance(contained, Mapping) and contained.get("id"):
                self._by_ref[f"#{contained['id']}"] = contained

    def get(self, reference: Any) -> Resource | None:
        if not isinstance(reference, Mapping) or not reference.get("reference"):
            return None
        ref = str(reference["reference"])
        found = self._by_ref.get(ref)
        if found is None and "/" in ref and not ref.startswith("urn:"):
            found = self._by_ref.get("/".join(ref.rstrip("/").split("/")[-2:]))
        if found is None and self._resolve is not None:
            found = self._resolve(ref)
        return found


# -- the mapping ---------------------------------------------------------------------------------


class _Builder:
    def __init__(
        self, claim: Resource, index: _Index, problems: _Problems, tables: FhirClaimCodes
    ) -> None:
        self.codes = tables
        self.claim = claim
        self.index = index
        self.problems = problems
        self._validated: set[int] = set()
        self.unusable_sequences: set[int] = set()
        self.no_diagnoses = False

    def fail(self, path: str, message: str) -> None:
        self.problems.add(path, message)

    def follow(self, path: str, reference: Any, kinds: Sequence[str], what: str) -> Resource | None:
        """The resource `reference` names, of one of `kinds`; a located problem otherwise."""
        expected = " or ".join(kinds)
        if not isinstance(reference, Mapping) or not reference.get("reference"):
            self.fail(path, f"expected a reference to a {expected} ({what}), got none")
            return None
        found = self.index.get(reference)
        ref = reference["reference"]
        if found is None:
            self.fail(
                path,
                f"expected the {expected} {ref!r} refers to ({what}), got nothing it resolves to",
            )
            return None
        if found.get("resourceType") not in kinds:
            self.fail(path, f"expected a {expected} ({what}), got {found.get('resourceType')!r}")
            return None
        if id(found) not in self._validated:
            self._validated.add(id(found))
            if not _validate(found, f"{path}->{found.get('resourceType')}", self.problems):
                return None
        return found

    # -- parties

    def _name(self, resource: Resource, path: str, element: str) -> tuple[str, str, str, str]:
        """(entity type, last or organization, first, middle) of a person or organization."""
        if resource.get("resourceType") == "Organization":
            if not resource.get("name"):
                self.fail(f"{path}.name", f"expected the organization's name ({element}), got none")
                return "2", "", "", ""
            return "2", str(resource["name"]).upper(), "", ""
        names = resource.get("name") or []
        official = next(
            (n for n in names if n.get("use") == "official"), names[0] if names else None
        )
        if not official or not official.get("family"):
            self.fail(f"{path}.name", f"expected a family name ({element}), got none")
            return "1", "", "", ""
        given = list(official.get("given") or [])
        first = given[0] if given else ""
        middle = given[1] if len(given) > 1 else ""
        return "1", str(official["family"]).upper(), first.upper(), middle.upper()

    def _address(self, resource: Resource, path: str, loop: str, required: bool) -> Address | None:
        addresses = resource.get("address") or []
        a = next((x for x in addresses if x.get("use") in (None, "work", "home", "billing")), None)
        if (
            a is None
            or not a.get("line")
            or not a.get("city")
            or not a.get("state")
            or not a.get("postalCode")
        ):
            if required:
                got = (
                    "none" if a is None else "an address without line, city, state and postal code"
                )
                self.fail(
                    f"{path}.address",
                    f"expected a postal address with line, city, state and postal code ({loop} N3/N4), got {got}",
                )
            return None
        return Address(
            tuple(str(x).upper() for x in a["line"][:2]),
            str(a["city"]).upper(),
            str(a["state"]).upper(),
            str(a["postalCode"]).replace("-", ""),
        )

    def billing_provider(self) -> Party | None:
        path = "Claim.provider"
        ref = self.claim.get("provider")
        provider = self.index.get(ref) if isinstance(ref, Mapping) else None
        npi = _identifier(provider, NPI_SYSTEM) if provider is not None else None
        kind = provider.get("resourceType") if provider is not None else None
        if provider is None or kind not in ("Organization", "Practitioner") or npi is None:
            if provider is None:
                got = (
                    "none"
                    if not isinstance(ref, Mapping) or not ref.get("reference")
                    else (f"{ref['reference']!r}, which does not resolve")
                )
            elif kind not in ("Organization", "Practitioner"):
                got = _a(str(kind))
            else:
                got = f"{_a(str(kind))} without one"
            self.fail(
                path,
                f"expected a reference to an Organization with an NPI (2010AA NM109), got {got}",
            )
            return None
        if id(provider) not in self._validated:
            self._validated.add(id(provider))
            if not _validate(provider, f"{path}->{provider['resourceType']}", self.problems):
                return None
        where = f"{path}->{provider['resourceType']}"
        entity_type, last, first, middle = self._name(provider, where, "2010AA NM103")
        address = self._address(provider, where, "2010AA", required=True)
        tin = _identifier(provider, TIN_SYSTEM)
        if tin is None:
            self.fail(
                f"{where}.identifier",
                f"expected a TIN (system {TIN_SYSTEM}) (2010AA REF*EI), got none",
            )
        return Party(
            entity_code="85",
            entity_type=entity_type,
            last_or_organization=last,
            first=first,
            middle=middle,
            id_qualifier="XX",
            id=npi,
            address=address,
            references=(Reference("EI", tin.replace("-", "")),) if tin else (),
        )

    def rendering(self, billing_npi: str | None) -> Party | None:
        for n, member in enumerate(self.claim.get("careTeam") or []):
            if _code_in(member.get("role"), CARE_TEAM_ROLE_SYSTEM) != "primary":
                continue
            path = f"Claim.careTeam[{n}].provider"
            who = self.follow(path, member.get("provider"), ("Practitioner",), "2310B NM1*82")
            if who is None:
                return None
            npi = _identifier(who, NPI_SYSTEM)
            if npi is None:
                self.fail(
                    f"{path}->Practitioner.identifier", "expected an NPI (2310B NM109), got none"
                )
                return None
            if npi == billing_npi:
                return None  # the billing provider rendered the service: no 2310B
            _, last, first, middle = self._name(who, f"{path}->Practitioner", "2310B NM103")
            taxonomy = _code_in(member.get("qualification"), NUCC_TAXONOMY_SYSTEM)
            return Party(
                entity_code="82",
                entity_type="1",
                last_or_organization=last,
                first=first,
                middle=middle,
                id_qualifier="XX",
                id=npi,
                provider=ProviderInfo("PE", taxonomy) if taxonomy else None,
            )
        return None

    def person(
        self,
        resource: Resource,
        path: str,
        entity: str,
        loop: str,
        member_id: str | None,
        is_patient: bool,
    ) -> Party:
        _, last, first, middle = self._name(resource, path, f"{loop} NM103")
        demographics = None
        if is_patient:
            born = _day(resource.get("birthDate"))
            gender = self.codes.gender.get(str(resource.get("gender") or ""))
            if born is None:
                self.fail(
                    f"{path}.birthDate",
                    f"expected the patient's birth date ({loop} DMG02), got none",
                )
            if gender is None:
                self.fail(
                    f"{path}.gender",
                    f"expected the patient's gender ({loop} DMG03), got {resource.get('gender')!r}",
                )
            demographics = Demographics(born, gender or "")
        return Party(
            entity_code=entity,
            entity_type="1",
            last_or_organization=last,
            first=first,
            middle=middle,
            id_qualifier="MI" if member_id else "",
            id=member_id or "",
            address=self._address(resource, path, loop, required=is_patient),
            demographics=demographics,
        )

    def payer(self, coverage: Resource, path: str) -> Party | None:
        payors = coverage.get("payor") or []
        org = self.follow(
            f"{path}.payor[0]", payors[0] if payors else None, ("Organization",), "2010BB NM1*PR"
        )
        if org is None:
            return None
        payer_id = _typed_identifier(org, "NIIP")
        if payer_id is None:
            self.fail(
                f"{path}.payor[0]->Organization.identifier",
                "expected a payer identifier of type NIIP (2010BB NM109), got none",
            )
        _, name, _, _ = self._name(org, f"{path}.payor[0]->Organization", "2010BB NM103")
        return Party(
            entity_code="PR",
            entity_type="2",
            last_or_organization=name,
            id_qualifier="PI",
            id=payer_id or "",
        )

    # -- claim pieces

    def diagnoses(self) -> tuple[tuple[Diagnosis, ...], dict[int, int]]:
        """The HI diagnoses in sequence order and Claim.diagnosis.sequence -> 1-based position."""
        entries = list(enumerate(self.claim.get("diagnosis") or []))
        if not entries:
            self.fail(
                "Claim.diagnosis", "expected at least one ICD-10-CM diagnosis (2300 HI01), got none"
            )
            self.no_diagnoses = True
            return (), {}
        entries.sort(key=lambda e: int(e[1].get("sequence") or 0))
        if len(entries) > codes.MAX_DIAGNOSES:
            self.fail(
                "Claim.diagnosis",
                f"expected at most {codes.MAX_DIAGNOSES} diagnoses (2300 HI), got {len(entries)}",
            )
        out: list[Diagnosis] = []
        positions: dict[int, int] = {}
        for n, entry in entries:
            path = f"Claim.diagnosis[{n}]"
            self.unusable_sequences.add(int(entry.get("sequence") or 0))
            concept = entry.get("diagnosisCodeableConcept")
            if concept is None and entry.get("diagnosisReference") is not None:
                condition = self.follow(
                    f"{path}.diagnosisReference",
                    entry["diagnosisReference"],
                    ("Condition",),
                    "2300 HI",
                )
                concept = condition.get("code") if condition else None
                if condition is None:
                    continue
            code = _code_in(concept, ICD10CM_SYSTEM)
            if code is None:
                self.fail(
                    f"{path}.diagnosisCodeableConcept",
                    f"expected an ICD-10-CM coding (system {ICD10CM_SYSTEM}) (2300 HI), got none",
                )
                continue
            self.unusable_sequences.discard(int(entry.get("sequence") or 0))
            positions[int(entry.get("sequence") or 0)] = len(out) + 1
            out.append(Diagnosis.principal(code) if not out else Diagnosis.other(code))
        return tuple(out), positions

    def frequency(self) -> str:
        found: list[tuple[str, str]] = []
        for n, ext in enumerate(self.claim.get("extension") or []):
            if ext.get("url") == FREQUENCY_EXTENSION:
                value = ext.get("valueCode") or (ext.get("valueCoding") or {}).get("code")
                found.append((f"Claim.extension[{n}]", str(value or "")))
        sub = _code_in(self.claim.get("subType"), X12_FREQUENCY_SYSTEM)
        if sub is not None:
            found.append(("Claim.subType", sub))
        if not found:
            return "1"
        values = {v for _, v in found}
        if len(values) > 1:
            self.fail(
                found[1][0],
                f"expected one claim frequency code (2300 CLM05-3), got {', '.join(sorted(values))}",
            )
        path, value = found[0]
        if value not in codes.CLAIM_FREQUENCY:
            self.fail(
                path,
                f"expected a claim frequency code {', '.join(codes.CLAIM_FREQUENCY)} (2300 CLM05-3), got {value!r}",
            )
        return value

    def prior_claim(self) -> str | None:
        for n, related in enumerate(self.claim.get("related") or []):
            if _code_in(related.get("relationship"), RELATED_CLAIM_SYSTEM) != "prior":
                continue
            number = ((related.get("claim") or {}).get("identifier") or {}).get("value") or (
                related.get("reference") or {}
            ).get("value")
            if not number:
                self.fail(
                    f"Claim.related[{n}]",
                    "expected the prior claim's payer claim control number in claim.identifier or reference (2300 REF*F8), got none",
                )
                return None
            return str(number)
        return None

    def attachments(self) -> tuple[Attachment, ...]:
        out: list[Attachment] = []
        for n, info in enumerate(self.claim.get("supportingInfo") or []):
            if _code_in(info.get("category"), INFO_CATEGORY_SYSTEM) != "attachment":
                continue
            path = f"Claim.supportingInfo[{n}]"
            report = _code_in(info.get("code"), X12_REPORT_TYPE_SYSTEM)
            if report is None:
                self.fail(
                    f"{path}.code",
                    f"expected a report type code (system {X12_REPORT_TYPE_SYSTEM}) (2300 PWK01), got none",
                )
            control = ((info.get("valueReference") or {}).get("identifier") or {}).get("value") or (
                info.get("valueAttachment") or {}
            ).get("url")
            if not control:
                self.fail(
                    f"{path}.valueReference",
                    "expected the attachment's identifier (2300 PWK06), got none",
                )
            if report and control:
                out.append(Attachment(report, ATTACHMENT_TRANSMISSION, str(control)))
        return tuple(out)

    def place_of_service(self, item: Mapping[str, Any], path: str) -> str | None:
        pos = _code_in(item.get("locationCodeableConcept"), POS_SYSTEM)
        if pos is None:
            self.fail(
                f"{path}.locationCodeableConcept",
                f"expected a place of service code (system {POS_SYSTEM}) (2300 CLM05-1 / 2400 SV105), got none",
            )
        return pos

    def drug(self, item: Mapping[str, Any], path: str) -> DrugIdentification | None:
        for d, detail in enumerate(item.get("detail") or []):
            where = f"{path}.detail[{d}]"
            ndc = _code_in(detail.get("productOrService"), NDC_SYSTEM)
            if ndc is None:
                continue
            digits = ndc.replace("-", "")
            parts = ndc.split("-")
            if not (
                digits.isdigit()
                and len(digits) == 11
                and (len(parts) == 1 or [len(p) for p in parts] == [5, 4, 2])
            ):
                self.fail(
                    f"{where}.productOrService",
                    f"expected an 11-digit NDC in 5-4-2 form (2410 LIN03), got {ndc!r}",
                )
                return None
            quantity = detail.get("quantity") or {}
            amount = _decimal(quantity.get("value"))
            unit = self.codes.ndc_units.get(str(quantity.get("code") or quantity.get("unit") or ""))
            if amount is None:
                self.fail(
                    f"{where}.quantity.value", "expected the drug quantity (2410 CTP04), got none"
                )
            if unit is None:
                self.fail(
                    f"{where}.quantity.code",
                    f"expected a UCUM unit of {', '.join(self.codes.ndc_units)} (2410 CTP05-1), got {quantity.get('code') or quantity.get('unit')!r}",
                )
            if amount is None or unit is None:
                return None
            return DrugIdentification(ndc=digits, quantity=amount, unit=unit)
        return None

    def service(
        self, n: int, item: Mapping[str, Any], positions: Mapping[int, int], facility: str | None
    ) -> ServiceLine | None:
        path = f"Claim.item[{n}]"
        problems_before = len(self.problems.items)
        code = _code_in(item.get("productOrService"), *PROCEDURE_SYSTEMS)
        if code is None:
            self.fail(
                f"{path}.productOrService",
                "expected a CPT or HCPCS coding (2400 SV101-2), got none",
            )
        modifiers = tuple(
            str(c["code"])
            for m in item.get("modifier") or []
            for c in _codings(m)[:1]
            if c.get("code")
        )
        if len(modifiers) > codes.MAX_MODIFIERS:
            self.fail(
                f"{path}.modifier",
                f"expected at most {codes.MAX_MODIFIERS} modifiers (2400 SV101-3..6), got {len(modifiers)}",
            )
        quantity = _decimal((item.get("quantity") or {}).get("value"))
        if quantity is None:
            self.fail(f"{path}.quantity", "expected the units of service (2400 SV104), got none")
        charge = _money(item.get("net"))
        if charge is None:
            price = _money(item.get("unitPrice"))
            if price is not None and quantity is not None:
                factor = _decimal(item.get("factor")) or Decimal(1)
                charge = (price * quantity * factor).quantize(Decimal("0.01"))
        if charge is None and _money(item.get("unitPrice")) is None:
            self.fail(
                f"{path}.net", "expected the line charge as net or unitPrice (2400 SV102), got none"
            )
        served = _day(item.get("servicedDate"))
        period = item.get("servicedPeriod") or {}
        start, end = _day(period.get("start")), _day(period.get("end"))
        if served is not None:
            dates: tuple[DatePeriod, ...] = (DatePeriod(codes.DATE_SERVICE, served),)
        elif start is not None:
            dates = (DatePeriod(codes.DATE_SERVICE, start, end if end and end != start else None),)
        else:
            dates = ()
            self.fail(
                f"{path}.servicedDate", "expected the date of service (2400 DTP*472), got none"
            )
        sequences = list(item.get("diagnosisSequence") or [])
        if not sequences:
            self.fail(
                f"{path}.diagnosisSequence",
                "expected at least one diagnosis sequence (2400 SV107), got none",
            )
        elif self.no_diagnoses:
            sequences = []
        elif len(sequences) > codes.MAX_POINTERS:
            self.fail(
                f"{path}.diagnosisSequence",
                f"expected at most {codes.MAX_POINTERS} diagnosis sequences (2400 SV107), got {len(sequences)}",
            )
        pointers: list[int] = []
        for s in sequences:
            if s in self.unusable_sequences:
                continue  # its diagnosis has been reported
            if s not in positions:
                self.fail(
                    f"{path}.diagnosisSequence",
                    f"expected a Claim.diagnosis.sequence (2400 SV107), got {s!r}",
                )
            else:
                pointers.append(positions[s])
        pos = self.place_of_service(item, path)
        drug = self.drug(item, path)
        if (
            len(self.problems.items) > problems_before
            or code is None
            or quantity is None
            or charge is None
        ):
            return None
        return ServiceLine(
            line_number=int(item.get("sequence") or n + 1),
            procedure=Procedure.hcpcs(code, *modifiers),
            charge=charge,
            quantity=quantity,
            place_of_service="" if pos == facility else pos or "",
            pointers=tuple(pointers),
            dates=dates,
            drug=drug,
        )


def _split(
    bundle_or_claim: Resource, problems: _Problems
) -> tuple[Resource | None, list[Mapping[str, Any]]]:
    kind = bundle_or_claim.get("resourceType")
    if kind == "Claim":
        return bundle_or_claim, []
    if kind != "Bundle":
        problems.add("resourceType", f"expected a Claim or a Bundle holding one, got {kind!r}")
        return None, []
    entries = [e for e in bundle_or_claim.get("entry") or [] if isinstance(e, Mapping)]
    claims = [
        (n, e["resource"])
        for n, e in enumerate(entries)
        if isinstance(e.get("resource"), Mapping) and e["resource"].get("resourceType") == "Claim"
    ]
    if len(claims) != 1:
        problems.add("Bundle.entry", f"expected one Claim, got {len(claims)}")
        return None, entries
    return claims[0][1], entries


def _created(claim: Resource, problems: _Problems) -> datetime | None:
    value = claim.get("created")
    if not isinstance(value, str):
        return None  # the FHIR validation has said so
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        problems.add("Claim.created", f"expected a date and time (BHT04/BHT05), got {value!r}")
        return None
    return moment.replace(tzinfo=None, microsecond=0)


def claim_837_from_fhir(
    bundle_or_claim: Resource,
    *,
    resolve: Resolve | None = None,
    submitter: Party,
    receiver: Party,
    tables: FhirClaimCodes | None = None,
) -> Claim837Transaction:
    """The 837P for a FHIR R4 Claim (alone, with `resolve` for its references, or in a Bundle
    with them); FhirClaimError with every located problem when it cannot be made."""
    problems = _Problems()
    claim, entries = _split(bundle_or_claim, problems)
    if claim is None:
        raise FhirClaimError(problems.items)
    if not _validate(claim, "Claim", problems):
        raise FhirClaimError(problems.items)
    b = _Builder(claim, _Index(claim, entries, resolve), problems, tables or default_codes())

    if claim.get("use") != "claim":
        b.fail("Claim.use", f"expected 'claim' (an 837P is a claim), got {claim.get('use')!r}")
    claim_type = _code_in(claim.get("type"), CLAIM_TYPE_SYSTEM)
    if claim_type != "professional":
        b.fail("Claim.type", f"expected 'professional' (837P), got {claim_type!r}")
    identifiers = [i for i in claim.get("identifier") or [] if i.get("value")]
    control = str(identifiers[0]["value"]) if identifiers else None
    if control is None:
        b.fail("Claim.identifier", "expected the claim's identifier (2300 CLM01), got none")
    created = _created(claim, problems)

    billing = b.billing_provider()
    rendering = b.rendering(billing.id if billing else None)

    insurances = list(enumerate(claim.get("insurance") or []))
    chosen = next(
        ((n, i) for n, i in insurances if i.get("focal")), insurances[0] if insurances else None
    )
    info = subscriber = payer = patient_party = None
    relationship = ""
    prior_auth: str | None = None
    if chosen is not None:
        n, insurance = chosen
        ipath = f"Claim.insurance[{n}]"
        responsibility = b.codes.responsibility.get(str(insurance.get("sequence") or ""))
        if responsibility is None:
            b.fail(
                f"{ipath}.sequence",
                f"expected 1, 2 or 3 (2000B SBR01), got {insurance.get('sequence')!r}",
            )
        auths = [str(a) for a in insurance.get("preAuthRef") or [] if a]
        if len(auths) > 1:
            b.fail(
                f"{ipath}.preAuthRef",
                f"expected one prior authorization number (2300 REF*G1), got {len(auths)}",
            )
        prior_auth = auths[0] if auths else None
        cpath = f"{ipath}.coverage"
        coverage = b.follow(
            cpath, insurance.get("coverage"), ("Coverage",), "2000B SBR, 2010BA, 2010BB"
        )
        patient = b.follow(
            "Claim.patient", claim.get("patient"), ("Patient",), "2010BA or 2010CA NM1"
        )
        if coverage is not None:
            where = f"{cpath}->Coverage"
            filing = _code_in(
                coverage.get("type"), X12_CLAIM_FILING_SYSTEM
            ) or b.codes.claim_filing_from_act_code.get(
                _code_in(coverage.get("type"), ACT_CODE_SYSTEM) or ""
            )
            if filing is None:
                b.fail(
                    f"{where}.type",
                    f"expected a claim filing indicator (system {X12_CLAIM_FILING_SYSTEM}, or v3-ActCode HMO, PPO, POS) (2000B SBR09), got none",
                )
            relation = _code_in(coverage.get("relationship"), SUBSCRIBER_RELATIONSHIP_SYSTEM)
            if relation is None:
                b.fail(
                    f"{where}.relationship",
                    "expected the patient's relationship to the subscriber (2000B SBR02 / 2000C PAT01), got none",
                )
            elif relation != "self" and relation not in b.codes.patient_relationship:
                b.fail(
                    f"{where}.relationship",
                    f"expected one of self, {', '.join(b.codes.patient_relationship)} (2000C PAT01), got {relation!r}",
                )
            member_id = coverage.get("subscriberId") or _typed_identifier(coverage, "MB")
            if not member_id:
                b.fail(
                    f"{where}.subscriberId",
                    "expected the subscriber's member id (2010BA NM109), got none",
                )
            beneficiary = coverage.get("beneficiary") or {}
            if patient is not None and b.index.get(beneficiary) is not patient:
                b.fail(
                    f"{where}.beneficiary",
                    f"expected the Claim's patient {claim['patient'].get('reference')!r}, got {beneficiary.get('reference')!r}",
                )
            payer = b.payer(coverage, where)
            info = SubscriberInfo(
                payer_responsibility=responsibility or "",
                relationship="18" if relation == "self" else "",
                group_number=next(
                    (
                        str(c.get("value"))
                        for c in coverage.get("class") or []
                        if _code_in(c.get("type"), COVERAGE_CLASS_SYSTEM) == "group"
                    ),
                    "",
                ),
                claim_filing=filing or "",
            )
            if relation == "self" and patient is not None:
                subscriber = b.person(
                    patient, "Claim.patient->Patient", "IL", "2010BA", str(member_id or ""), True
                )
            elif relation in b.codes.patient_relationship and patient is not None:
                holder = b.follow(
                    f"{where}.subscriber",
                    coverage.get("subscriber"),
                    ("Patient", "RelatedPerson"),
                    "2010BA NM1*IL",
                )
                if holder is not None:
                    subscriber = b.person(
                        holder,
                        f"{where}.subscriber->{holder['resourceType']}",
                        "IL",
                        "2010BA",
                        str(member_id or ""),
                        False,
                    )
                patient_party = b.person(
                    patient, "Claim.patient->Patient", "QC", "2010CA", None, True
                )
                relationship = b.codes.patient_relationship[str(relation)]

    diagnoses, positions = b.diagnoses()
    items = list(enumerate(claim.get("item") or []))
    if not items:
        b.fail("Claim.item", "expected at least one service line (2400 SV1), got none")
    # CLM05-1 is the first line's place of service (a missing one is reported for that line)
    first_pos = _code_in(items[0][1].get("locationCodeableConcept"), POS_SYSTEM) if items else None
    lines = [
        line for n, item in items if (line := b.service(n, item, positions, first_pos)) is not None
    ]
    total = sum((s.charge for s in lines), Decimal(0))
    stated = _money(claim.get("total"))
    if stated is not None and lines and len(lines) == len(items) and stated != total:
        b.fail(
            "Claim.total",
            f"expected the sum of the item charges {total} (2300 CLM02), got {stated}",
        )
    frequency = b.frequency()
    prior = b.prior_claim()
    if (
        frequency in codes.FREQUENCIES_NEEDING_ORIGINAL
        and prior is None
        and not any(p.path.startswith("Claim.related") for p in problems.items)
    ):
        b.fail(
            "Claim.related",
            f"expected a prior claim (relationship 'prior') with its payer claim control number for frequency {frequency} (2300 REF*F8), got none",
        )
    if prior is not None and frequency not in (*codes.FREQUENCIES_NEEDING_ORIGINAL, "6"):
        b.fail(
            "Claim.extension",
            f"expected a claim frequency code 6, 7 or 8 for a claim with a prior claim (2300 CLM05-3), got {frequency!r}",
        )
    attachments = b.attachments()

    if problems.items:
        raise FhirClaimError(problems.items)
    if not (billing and info and subscriber and payer and control and created and first_pos):
        raise FhirClaimError(  # unreachable while every gap above is reported
            [ClaimProblem("Claim", "expected a claim the 837P can carry, got an incomplete one")]
        )
    references: list[Reference] = []
    if prior_auth:
        references.append(Reference(codes.REF_PRIOR_AUTHORIZATION, prior_auth))
    if prior:
        references.append(Reference(codes.REF_PAYER_CLAIM_CONTROL, prior))
    model_claim = Claim(
        patient_control_number=control,
        total_charge=total,
        facility_code=first_pos,
        frequency=frequency,
        attachments=attachments,
        references=tuple(references),
        diagnoses=diagnoses,
        providers=(rendering,) if rendering else (),
        services=tuple(lines),
    )
    if patient_party is not None:
        loop = SubscriberLoop(
            info=info,
            subscriber=subscriber,
            payer=payer,
            patients=(
                PatientLoop(
                    relationship=relationship, patient=patient_party, claims=(model_claim,)
                ),
            ),
        )
    else:
        loop = SubscriberLoop(info=info, subscriber=subscriber, payer=payer, claims=(model_claim,))
    log.info(
        "837P built from FHIR Claim %s (CLM01 %s, %d lines)", claim.get("id"), control, len(lines)
    )
    return Claim837Transaction(
        header=Header837(reference_id=control, created=created),
        submitter=submitter,
        receiver=receiver,
        billing_providers=(BillingProvider(provider=billing, subscribers=(loop,)),),
    )


__all__ = [
    "ClaimProblem",
    "FhirClaimError",
    "claim_837_from_fhir",
]
