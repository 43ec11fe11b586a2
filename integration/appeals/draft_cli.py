"""`dermrcm appeal draft --denial ID --fhir-base URL`: draft the appeal letter of one denial from
the chart and print it as JSON (sentences with their sources, the evidence, what is missing,
and the pre-sign check); `--pdf OUT` also writes the letter with its attachments."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click


def _day(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else date.today()
    except ValueError:
        raise click.BadParameter(
            f"expected YYYY-MM-DD, got {value!r}", param_hint="--date"
        ) from None


def _load_denial(denial_id: int) -> tuple[Any, Any]:
    """The denial item from the database and, for a PA denial, the facts of its PA case (the
    denied drug or procedure, the rule it was decided on, the payer's reference and reason)."""
    from integration.appeals.draft import pa_case_facts
    from integration.settings import Settings
    from integration.store.database import make_engine, session_factory, upgrade
    from integration.store.denials import DenialStore
    from integration.store.pa_cases import PaCaseStore

    engine = make_engine(Settings().database_url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        item = DenialStore(sessions).get(denial_id)
        case = None
        if item is not None and item.source == "pa" and item.pa_case_id:
            case = PaCaseStore(sessions).case(item.pa_case_id)
        return item, (pa_case_facts(case) if case is not None else None)
    finally:
        engine.dispose()


@click.command("draft")
@click.option(
    "--denial", "denial_id", required=True, type=int, help="Denial item id (dermrcm denials list)"
)
@click.option("--fhir-base", required=True, help="FHIR base URL, e.g. http://127.0.0.1:8081/fhir")
@click.option("--patient", default=None, help="Patient id (default: the denial's patient)")
@click.option(
    "--pdf",
    "pdf_out",
    default=None,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the letter with its attachments as a PDF",
)
@click.option(
    "--date", "day", default=None, help="Letter date and chart 'as of' (YYYY-MM-DD; default today)"
)
@click.option(
    "--level", default=1, show_default=True, type=click.IntRange(1, 5), help="Appeal level"
)
@click.option(
    "--template",
    "template_id",
    default=None,
    help="Letter template id (default: chosen by the denial)",
)
@click.option(
    "--polish",
    is_flag=True,
    help="Reword through the language model endpoint of the settings (off unless set and PHI allowed)",
)
@click.option("--token", default=None, envvar="DERMRCM_TOKEN", help="Bearer access token")
def draft_command(
    denial_id: int,
    fhir_base: str,
    patient: str | None,
    pdf_out: Path | None,
    day: str | None,
    level: int,
    template_id: str | None,
    polish: bool,
    token: str | None,
) -> None:
    """Draft the appeal letter for a denial and print it as JSON."""
    from integration.appeals.draft import DraftError, draft_for_denial, draft_letter
    from integration.appeals.factcheck import check_letter
    from integration.fhir.errors import FhirError
    from integration.mapping.evidence_maps import load_evidence_maps
    from integration.priorauth.cli import fhir_client

    when = _day(day)
    denial, pa_case = _load_denial(denial_id)
    if denial is None:
        click.echo(
            f"error: --denial: expected a denial item id, got {denial_id} (not found)", err=True
        )
        sys.exit(2)
    client = fhir_client(fhir_base, token)
    try:
        result = draft_for_denial(
            denial,
            client,
            load_evidence_maps(),
            when,
            level=level,
            patient_id=patient,
            today=when,
            pa_case=pa_case,
        )
        letter = result.letter
        if template_id is not None and template_id != letter.template_id:
            letter = draft_letter(
                denial,
                result.evidence,
                rule_assessment=result.assessment,
                level=level,
                today=when,
                template_id=template_id,
                pa_case=pa_case,
            )
    except DraftError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except FhirError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        client.close()
    polished: dict[str, Any] | None = None
    if polish:
        from integration.appeals.polish import PolishSettings, polish_letter
        from integration.settings import Settings

        result_polish = polish_letter(letter, PolishSettings.from_settings(Settings()))
        letter = result_polish.letter
        polished = result_polish.to_json()
    out = letter.to_json()
    out["check"] = check_letter(letter).to_json()
    if polished is not None:
        out["polish"] = polished
    if pdf_out is not None:
        from integration.appeals.pdf import render_letter_pdf

        pdf_out.write_bytes(render_letter_pdf(letter, result.evidence, result.resources))
        out["pdf"] = str(pdf_out)
    click.echo(json.dumps(out, indent=2))
