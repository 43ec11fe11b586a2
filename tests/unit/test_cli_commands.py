"""`dermrcm` imports a command group only when it is used: `dermrcm hl7 stats` must not pay for
the PA submitter, PDF rendering and every claim model. Every listed command still resolves to
the command of that name, with its help."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from integration.cli import main

HEAVY = ("integration.appeals.cli", "integration.priorauth.submit", "integration.x12.cli")


def test_every_listed_command_resolves_to_the_command_of_that_name() -> None:
    context = click.Context(main)
    names = main.list_commands(context)
    assert {"hl7", "x12", "pa", "appeal", "claims", "era", "denials", "scrub"} <= set(names)
    for name in names:
        command = main.get_command(context, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(), name
        if isinstance(command, click.Group):
            sub = click.Context(command, parent=context)
            for sub_name in command.list_commands(sub):
                found = command.get_command(sub, sub_name)
                assert found is not None and found.name == sub_name


def test_top_level_help_lists_every_group() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name in ("hl7", "x12", "pa", "appeal", "coding", "refdata", "run"):
        assert f"  {name} " in result.output


def test_an_hl7_command_does_not_import_the_other_groups() -> None:
    code = (
        "import sys\n"
        "from integration.cli import main\n"
        "try:\n"
        "    main(['hl7', '--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert "listen" in result.stdout  # the hl7 group's own help, with its commands
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout[-500:]
