"""``crumbs sources``: see and change the knowledge sources (public tracker databases that name owners and
categories where Crumbs' own knowledge base has none), from a terminal.

While ``crumbs serve`` runs, changes are made by it, through its API; otherwise here, holding the data folder's lock.
"""
from __future__ import annotations

import json
import sys

import click

from ..lists import ListError, Outcome, SourceInfo, Sources
from .common import data_dir_option, open_companion, report_outcomes, when

_FORMATS = {"disconnect": "Disconnect services.json", "tds": "DuckDuckGo tracker blocklist (TDS)"}


def _registry(data_dir: str | None) -> Sources:
    return open_companion(data_dir).sources


def _describe(info: SourceInfo) -> list[str]:
    state = "in force" if info.in_force else "not downloaded yet"
    lines = [f"{info.name}  ({info.label}; {state})", f"    source    {info.url}"]
    if info.format:
        lines.append(f"    format    {_FORMATS.get(info.format, info.format)}; {info.entries or 0:,} tracker entries")
    lines.append(
        f"    updated   {when(info.updated)}   checked {when(info.last_checked)}   next {when(info.next_update)}"
    )
    if info.last_error:
        kept = "  (the last good version stays in force)" if info.in_force else ""
        lines.append(f"    ERROR     {info.last_error}{kept}")
    return lines



def _report(outcomes: list[Outcome]) -> bool:
    return report_outcomes(outcomes, lambda o: f"{o.used or 0:,} tracker entries")


@click.group("sources", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the sources as JSON.")
@data_dir_option
@click.pass_context
def sources(ctx: click.Context, as_json: bool, data_dir: str | None) -> None:
    """Show the knowledge sources, or change them (add, update, remove).

    Known sources: disconnect (Disconnect's services.json) and duckduckgo (DuckDuckGo's tracker
    blocklist). They name owners and categories where Crumbs knows none; Crumbs' own entries win.
    Crumbs ships none of their data; nothing is downloaded until you ask.
    """
    if ctx.invoked_subcommand is not None:
        return
    infos = _registry(data_dir).all()
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    if not infos:
        click.echo("no knowledge source: owners and categories come from Crumbs' own knowledge base "
                   "('crumbs sources add disconnect' or 'duckduckgo' adds one)")
    for info in infos:
        click.echo("\n".join(_describe(info)))


@sources.command()
@click.argument("source")
@click.option("--name", help="Name for the source (default: the known name, or from the URL).")
@click.option("--allow-http", is_flag=True, help="Accept a plain http:// address (anyone on the path can change it).")
@data_dir_option
def add(source: str, name: str | None, allow_http: bool, data_dir: str | None) -> None:
    """Add SOURCE (disconnect, duckduckgo or an https URL of a file in either format) and download it now."""
    try:
        info, outcome = _registry(data_dir).add(source, name=name, allow_http=allow_http)
    except ListError as exc:
        raise click.ClickException(str(exc)) from None
    if outcome.status == "failed":
        raise click.ClickException(
            f"added {info.name!r}, but the download failed: {outcome.error}. Retry with "
            f"'crumbs sources update {info.name}', or 'crumbs sources remove {info.name}'."
        )
    click.echo(f"added {info.name}: {info.entries or 0:,} tracker entries ({_FORMATS.get(info.format or '', '?')})")


@sources.command()
@click.argument("name", required=False)
@click.option("--force", is_flag=True, help="Download in full, without a conditional request.")
@data_dir_option
def update(name: str | None, force: bool, data_dir: str | None) -> None:
    """Update source NAME, or every source, now."""
    try:
        outcomes = _registry(data_dir).update(name, force=force)
    except ListError as exc:
        raise click.ClickException(str(exc)) from None
    if not outcomes:
        click.echo("nothing to update: no knowledge source (see 'crumbs sources add')")
    if not _report(outcomes):
        sys.exit(1)


@sources.command()
@click.argument("name")
@data_dir_option
def remove(name: str, data_dir: str | None) -> None:
    """Remove source NAME and delete its copy."""
    try:
        _registry(data_dir).remove(name)
    except ListError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{name}: removed")
