"""The LCD family with an imported billing article list (the synthetic A57044 excerpts of
fixtures/coding/cms/, as `dermrcm refdata import-lcd` would load them): the article's list, for
the version in force on the date of service, decides and is cited without the "unverified"
caveat; a policy with no imported article (Mohs) keeps the yaml groups and their caveat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from integration.coding.engine import Scrubber
from integration.coding.lcd_import import article_lists, parse_lcd_file
from integration.coding.model import Finding, request_from_json
from tests.support.coding import reference_for_tests, scrubber_for_tests
from tests.unit.test_lcd_import import ARTICLES, COVERED, NONCOVERED

IMPORTED_AT = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
UNVERIFIED = "not yet checked"


@pytest.fixture(scope="module")
def with_articles() -> Scrubber:
    table = article_lists([parse_lcd_file(p) for p in (ARTICLES, COVERED, NONCOVERED)], IMPORTED_AT)
    return Scrubber.load(reference={**reference_for_tests(), "lcd-articles": table})


def _request(code: str, dx: str, day: str, claim_filing: str = "MB") -> dict[str, Any]:
    return {
        "claim": {
            "patient_control_number": "LCD-IMPORTED",
            "total_charge": "130",
            "facility_code": "11",
            "diagnoses": [{"qualifier": "ABK", "code": dx}],
            "services": [
                {
                    "line_number": 1,
                    "procedure": {"qualifier": "HC", "code": code, "modifiers": []},
                    "charge": "130",
                    "quantity": "1",
                    "pointers": [1],
                    "dates": [{"qualifier": "472", "start": day}],
                }
            ],
        },
        "payer": {"id": "MCR01", "name": "Medicare Part B", "claim_filing": claim_filing},
        "facts": {
            "lines": {"1": {"lesion_count": 1, "indications": ["bleeding"]}},
            "encounter": {},
        },
    }


def _lcd(scrubber: Scrubber, request: dict[str, Any]) -> list[Finding]:
    result = scrubber.scrub(request_from_json(request))
    return [f for f in result.findings if f.rule.startswith("lcd.")]


def test_a_diagnosis_on_the_imported_covered_list_passes(with_articles: Scrubber) -> None:
    assert _lcd(with_articles, _request("11300", "L821", "2026-06-10")) == []


def test_a_diagnosis_the_article_lists_as_not_covered(with_articles: Scrubber) -> None:
    # L91.8 is covered by the yaml groups; the (synthetic) imported article lists it as not covered
    assert _lcd(scrubber_for_tests(), _request("11200", "L918", "2026-06-10")) == []
    [finding] = _lcd(with_articles, _request("11200", "L918", "2026-06-10"))
    assert (finding.rule, finding.severity, finding.lines) == (
        "lcd.diagnosis-not-covered",
        "error",
        (1,),
    )
    assert "L91.8 is listed as not covered by A57044 (group 1)" in finding.message
    assert "A57044 version 901 (imported 2026-12-06)" in finding.message
    assert UNVERIFIED not in finding.message and "unverified" not in finding.message.lower()
    source = finding.source
    assert source.document_id == "A57044"
    assert "A57044 version 901 (imported 2026-12-06)" in source.title
    assert "UNVERIFIED" not in source.title
    assert source.url.endswith("articleId=57044&ver=901")
    assert "article_x_icd10_noncovered-synthetic-excerpt.csv" in source.note


def test_the_version_in_force_on_the_date_of_service_decides(with_articles: Scrubber) -> None:
    [june] = _lcd(with_articles, _request("11300", "D485", "2026-06-10", "CI"))
    assert june.severity == "warning"
    assert "none of them is on the covered list of A57044 version 901" in june.message
    assert _lcd(with_articles, _request("11300", "D485", "2026-08-03")) == []  # version 902


def test_no_version_in_force_falls_back_to_the_yaml_groups(with_articles: Scrubber) -> None:
    [finding] = _lcd(with_articles, _request("11200", "L988", "2025-11-03"))
    assert UNVERIFIED in finding.message
    assert "UNVERIFIED" in finding.source.title


def test_a_policy_without_an_imported_article_keeps_the_yaml_groups(
    with_articles: Scrubber,
) -> None:
    [finding] = _lcd(with_articles, _request("17311", "L570", "2026-06-10"))
    assert "Actinic keratosis" in finding.message and UNVERIFIED in finding.message
    assert _lcd(with_articles, _request("17311", "C44311", "2026-06-10")) == []


def test_malignant_diagnoses_still_go_to_the_malignant_rules(with_articles: Scrubber) -> None:
    assert _lcd(with_articles, _request("11300", "C44311", "2026-06-10")) == []


def test_without_an_import_the_finding_says_unverified() -> None:
    [finding] = _lcd(scrubber_for_tests(), _request("11200", "L988", "2026-06-10"))
    assert UNVERIFIED in finding.message


RELATED = COVERED.with_name("article_related_documents-synthetic-excerpt.csv")
MOHS_COVERED = COVERED.with_name("article_x_icd10_covered-mohs-synthetic-excerpt.csv")


def test_a_policy_finds_its_article_through_its_lcd_id() -> None:
    """lcd-mohs.yaml names no billing article; article_related_documents.csv relates the
    (synthetic) A99901 to the Mohs LCD L35494, so its imported list decides, cited by id."""
    files = (ARTICLES, COVERED, NONCOVERED, RELATED, MOHS_COVERED)
    table = article_lists([parse_lcd_file(p) for p in files], IMPORTED_AT)
    assert table.related_to(["L35494"]) == ("A99901",)
    assert table.related_to(["L35498"]) == ("A57044",)
    scrubber = Scrubber.load(reference={**reference_for_tests(), "lcd-articles": table})
    [finding] = _lcd(scrubber, _request("17311", "L570", "2026-06-10"))
    assert "A99901 version 1" in finding.message and UNVERIFIED not in finding.message
    assert finding.source is not None and finding.source.document_id == "A99901"
    assert _lcd(scrubber, _request("17311", "C44311", "2026-06-10")) == []


def test_a_row_relating_two_articles_links_no_lcd() -> None:
    links = parse_lcd_file(RELATED).links
    assert [(k.article_id, k.version, k.lcd_id) for k in links] == [
        ("A57044", 901, "L35498"),
        ("A57044", 902, "L35498"),
        ("A99901", 1, "L35494"),
    ]
