"""The app relies on nothing sandbox-specific: FHIR at the root, opaque launch tokens, absolute
`next` links on another host name, no `_include`, small pages. The evidence must not change."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.servers import AppServer, Sandbox, start_fixture_sandbox
from tests.support.smart_flow import ehr_launch


def evidence_via(
    app_server: AppServer, sandbox: Sandbox, database: str, patient: str
) -> dict[str, object]:
    with requests.Session() as browser, app_server.using(database, [sandbox.fhir]):
        page = ehr_launch(browser, sandbox.url, patient)
        assert page.status_code == 200, page.text[:300]
        body: dict[str, object] = browser.get(f"{app_server.url}/api/evidence", timeout=60).json()
        return body


@pytest.mark.parametrize("patient", ["psoriasis-skyrizi-patient", "psoriasis-large-chart-patient"])
def test_evidence_is_the_same_from_an_unusual_but_conformant_ehr(
    app_server: AppServer, sandbox: Sandbox, tmp_path: Path, patient: str
) -> None:
    odd = start_fixture_sandbox(
        app_server.url,
        fhir_path="",
        next_link_base=lambda base: base.replace("127.0.0.1", "localhost"),
        support_include=False,
        default_page_size=20,
        max_page_size=100,
        opaque_launch_tokens=True,
    )
    with odd.server:
        assert odd.fhir == odd.url  # FHIR base at the root, no /fhir
        expected = evidence_via(app_server, sandbox, f"sqlite:///{tmp_path / 'a.db'}", patient)
        got = evidence_via(app_server, odd, f"sqlite:///{tmp_path / 'b.db'}", patient)
    assert expected["measures"]["PASI"]  # type: ignore[index]
    assert expected["therapies"]  # not two empty answers
    assert got == expected
