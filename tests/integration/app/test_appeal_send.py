"""The appeal screen sends a PA denial's signed appeal to the payer (SQLite, the sandbox payer
over real HTTP): "Send to the payer (ePA)" is offered only for a PA denial, the letter goes by
the PA case's own channel with the signed PDF, and the page shows it sent and the payer's
decision. Fixtures are synthetic (fixtures/patients/seborrheic-keratosis-cosmetic, a Mohs
order the sandbox payer denies, then approves on appeal with records)."""

from __future__ import annotations

from pathlib import Path

import requests

from integration.appeals.letter import Letter, Sentence
from integration.domain.priorauth import Channel
from integration.priorauth.references import load_pa_references
from integration.store.appeals import AppealStore
from integration.store.database import session_factory
from integration.store.denials import DenialStore
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_submissions import PaSubmissionStore
from tests.integration.priorauth.test_submission import NOW, _order, _ready_case, _submitter
from tests.support.servers import AppServer, Sandbox


def test_a_pa_denials_appeal_is_sent_to_the_payer_from_the_appeal_screen(
    app_server: AppServer, sandbox: Sandbox, browser: requests.Session, tmp_path: Path
) -> None:
    payer_url = sandbox.url + "/payer"
    with app_server.using(
        f"sqlite:///{tmp_path / 'app.db'}", [sandbox.fhir], payer_url=payer_url
    ) as flask_app:
        sessions = session_factory(flask_app.extensions["dermrcm.engine"])
        subs = PaSubmissionStore(sessions)
        case_id = _ready_case(
            (PaCaseStore(sessions), subs, sessions),
            load_pa_references(),
            "seborrheic-keratosis-cosmetic",
            _order("mohs"),
            "aetna",
        )
        _submitter(subs, payer_url).submit(case_id, actor="c", now=NOW, channel=Channel.PAS)
        # the payer's answer put the denial on the worklist in the same transaction
        (item,) = [i for i in DenialStore(sessions).list(status=None) if i.pa_case_id == case_id]
        assert item.id is not None
        denial_id = item.id
        appeals = AppealStore(sessions)
        letter = Letter(
            denial_id=denial_id,
            template_id="test-appeal",
            template_version=1,
            level=1,
            generated=NOW.date().isoformat(),
            sentences=(Sentence("s1", 0, "Please review the denial of this request again.", ()),),
        )
        appeal_id = appeals.open(denial_id, letter, "biller", NOW)
        appeals.sign(appeal_id, "Practitioner/derm-1")
        url = app_server.url

        page = browser.get(f"{url}/appeals/{appeal_id}", timeout=30)
        assert page.status_code == 200, page.text[:300]
        assert 'id="send-to-payer"' in page.text and "Send to the payer (ePA)" in page.text

        sent = browser.post(
            f"{url}/appeals/{appeal_id}/submit",
            data={"channel": "payer"},
            headers={"Origin": url},
            timeout=60,
        )

        assert sent.status_code == 200, sent.text[:500]
        assert 'id="sent"' in sent.text and "Sent by pas" in sent.text
        assert 'data-outcome="overturned"' in sent.text  # the payer approved on appeal
        assert 'id="send-to-payer"' not in sent.text
        assert subs.messages(case_id)[-2].kind == "Claim/$submit appeal"
        assert [d.kind for d in appeals.documents(appeal_id)] == ["pdf"]
