"""A click group whose subcommands are imported when first used.

`dermrcm` has a dozen command groups, and importing all of them (the PA submitter, PDF
rendering, FHIR models for every claim type) took 1.2 s before any command ran: `dermrcm hl7
stats --json`, run by a monitoring script every minute, needs 0.15 s of it. Listing the commands
(`dermrcm --help`) still imports them all, for their short help."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import click


class LazyGroup(click.Group):
    """`lazy`: command name -> "module:attribute" of the click command to import for it."""

    def __init__(self, *args: object, lazy: Mapping[str, str] | None = None, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command) or command.name != cmd_name:
                raise RuntimeError(f"{self.lazy[cmd_name]} is not the {cmd_name!r} command")
            self.add_command(command)
        return super().get_command(ctx, cmd_name)
