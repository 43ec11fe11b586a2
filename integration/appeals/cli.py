"""`dermrcm appeal`: draft an appeal letter for a denial, package it (PDF, X12 275), send it,
record its outcome, show its versions and the denials dashboard."""

from __future__ import annotations

import click

from integration.appeals.draft_cli import draft_command
from integration.appeals.package_cli import package_command
from integration.appeals.submit_cli import submit_command
from integration.appeals.tracking_cli import dashboard_command, outcome_command, show_command


@click.group("appeal")
def appeal_command() -> None:
    """Appeals of denials: drafted with every fact sourced, signed by a clinician, tracked."""


appeal_command.add_command(draft_command)
appeal_command.add_command(package_command)
appeal_command.add_command(submit_command)
appeal_command.add_command(outcome_command)
appeal_command.add_command(show_command)
appeal_command.add_command(dashboard_command)
