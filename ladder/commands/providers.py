"""``ladder providers check``: which providers are configured and what their credentials may do.

Every registered provider is reported, configured or not. A provider that offers
``check()`` (:class:`providers.base.Checkable`) probes its credentials and each
permission Ladder uses without changing anything; one without it (the bundled
sample) is reported as configured when it loads. Nothing secret is printed:
providers report identities (account, subscription, project), never keys.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from providers.base import Checkable, CheckResult, get_provider, provider_names

console = Console()


@dataclass(frozen=True, slots=True)
class ProviderReport:
    """One provider's lines: ``configured`` when it loaded and its credentials were found."""

    provider: str
    configured: bool
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """Whether every probe passed."""
        return self.configured and all(r.ok for r in self.results)


def check_provider(name: str) -> ProviderReport:
    """Load one provider and run its checks; never raises for a provider that fails."""
    try:
        provider = get_provider(name)
    except Exception as exc:  # a provider that cannot load is reported, not fatal
        return ProviderReport(name, False, (CheckResult(
            "load", False, f"cannot load: {type(exc).__name__}: {exc}"),))
    if not isinstance(provider, Checkable):
        return ProviderReport(name, True, (CheckResult(
            "load", True, "loaded; nothing to probe (no cloud account needed)"),))
    try:
        results = tuple(provider.check())
    except Exception as exc:  # check() should not raise; say so if it does
        return ProviderReport(name, False, (CheckResult(
            "check", False, f"check failed: {type(exc).__name__}: {exc}"),))
    configured = not any(r.name == "credentials" and not r.ok for r in results)
    return ProviderReport(name, configured, results)


def _table(reports: list[ProviderReport]) -> Table:
    table = Table(title="Providers", show_lines=False)
    table.add_column("provider")
    table.add_column("status")
    table.add_column("check")
    table.add_column("ok")
    table.add_column("detail", overflow="fold")
    for report in reports:
        status = ("[green]ready[/]" if report.ok else
                  "[yellow]incomplete[/]" if report.configured else "[dim]not configured[/]")
        for index, result in enumerate(report.results):
            table.add_row(report.provider if index == 0 else "", status if index == 0 else "",
                          result.name, "[green]yes[/]" if result.ok else "[red]no[/]",
                          result.detail)
    return table


def check(
    names: Annotated[list[str] | None, typer.Argument(
        help="Providers to check (default: every registered provider).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    strict: Annotated[bool, typer.Option(
        help="Exit 1 when a configured provider has a failing check.")] = False,
) -> None:
    """Say which providers are configured and reachable and which permissions are missing."""
    known = provider_names()
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise typer.BadParameter(f"unknown provider {', '.join(unknown)}; known: "
                                 f"{', '.join(known)}")
    reports = [check_provider(name) for name in (names or known)]
    if as_json:
        typer.echo(json.dumps([
            {"provider": r.provider, "configured": r.configured, "ok": r.ok,
             "checks": [asdict(c) for c in r.results]} for r in reports
        ], indent=2))
    else:
        console.print(_table(reports))
    if strict and any(r.configured and not r.ok for r in reports):
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add the ``providers`` sub-command group (``ladder providers check``) to ``app``."""
    providers_app = typer.Typer(help="Cloud providers: configuration and permissions.",
                                no_args_is_help=True)
    providers_app.command("check")(check)
    app.add_typer(providers_app, name="providers")
