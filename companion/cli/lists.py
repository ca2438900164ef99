"""``crumbs lists``: see and change the filter lists, from a terminal.

``crumbs lists`` alone shows every list. While ``crumbs serve`` runs, changes are made by it (its API;
downloads run in the server and the command waits for them), so it swaps in the new engine at once;
a local file can only be added while it is stopped (the API never reads files). With no companion
running, the command does the work itself, holding the data folder's lock.
"""

from __future__ import annotations

import json
import sys

import click

from ..lists import ListError, ListInfo, Lists, Outcome
from .common import data_dir_option, open_companion, report_outcomes, when


def _registry(data_dir: str | None) -> Lists:
    """The list registry of ``data_dir``, through the companion (the running server swaps the engine in)."""
    return open_companion(data_dir).lists


class _ProgressLine:
    """A one-line download progress display on stderr (redrawn in place on a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.shown: set[str] = set()
        self._last = ""

    def __call__(self, name: str, received: int, total: int | None) -> None:
        if total:
            text = f"  {name}: {received / 1e6:.1f} of {total / 1e6:.1f} MB ({100 * received // total}%)"
        else:
            text = f"  {name}: {received / 1e6:.1f} MB"
        if self.tty:
            click.echo("\r" + text.ljust(len(self._last)), nl=False, err=True)
            self._last = text
        elif name not in self.shown:
            click.echo(f"  {name}: downloading…", err=True)
        self.shown.add(name)

    def done(self) -> None:
        if self.tty and self._last:
            click.echo("", err=True)
            self._last = ""


def _duration(ms: int | None) -> str:
    if not ms:
        return "-"
    hours = ms // 3_600_000
    return f"{hours // 24} d" if hours % 24 == 0 and hours >= 24 else f"{hours} h"


def _count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _describe(info: ListInfo) -> list[str]:
    state = "enabled" if info.enabled else "disabled"
    if info.enabled and not info.in_force:
        state = "enabled, no version yet"
    source = {"shipped": "shipped with Crumbs", "url": info.source, "file": f"file {info.source}"}[info.kind]
    lines = [f"{info.name}  ({state})", f"    source    {source}"]
    lines.append(
        f"    filters   {_count(info.used)} used, {_count(info.skipped)} skipped, {_count(info.rejected)} rejected"
    )
    if info.kind != "shipped":
        lines.append(f"    updated   {when(info.updated)}   checked {when(info.last_checked)}")
    if info.kind == "url":
        lines.append(f"    expires   every {_duration(info.expires_ms)}; next update {when(info.next_update)}")
    if info.downloading:
        got, total = info.downloading.get("received") or 0, info.downloading.get("total")
        lines.append(f"    DOWNLOADING {got:,} bytes" + (f" of {total:,}" if total else "") + " (running now)")
    if info.last_error:
        lines.append(f"    ERROR     {info.last_error}  (the last good version stays in force)")
    return lines



def _report(outcomes: list[Outcome]) -> bool:
    return report_outcomes(outcomes, lambda o: f"{_count(o.used)} filters in use")


@click.group("lists", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the lists as JSON.")
@data_dir_option
@click.pass_context
def lists(ctx: click.Context, as_json: bool, data_dir: str | None) -> None:
    """Show every filter list, or change them (add, enable, disable, remove, update).

    Known lists: easylist, easyprivacy (add them by name). Nothing is downloaded until you ask.
    """
    if ctx.invoked_subcommand is not None:
        return
    infos = _registry(data_dir).all()
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    for info in infos:
        click.echo("\n".join(_describe(info)))


@lists.command()
@click.argument("source")
@click.option("--name", help="Name for the list (default: from the known name, URL or file name).")
@click.option("--allow-http", is_flag=True,
              help="Accept a plain http:// address (anyone on the network path could change the list).")
@data_dir_option
def add(source: str, name: str | None, allow_http: bool, data_dir: str | None) -> None:
    """Subscribe to SOURCE (easylist, easyprivacy, an https URL or a local file) and fetch it now.

    Only https addresses of public servers are fetched; plain http needs --allow-http."""
    registry = _registry(data_dir)
    progress = _ProgressLine()
    try:
        info, outcome = registry.add(source, name=name, progress=progress, allow_http=allow_http)
    except ListError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.done()
    if outcome.status == "failed":
        raise click.ClickException(
            f"added {info.name!r}, but {'the download' if info.kind == 'url' else 'reading it'} failed: "
            f"{outcome.error}. Retry with 'crumbs lists update {info.name}', or 'crumbs lists remove {info.name}'."
        )
    click.echo(f"added {info.name}: {_count(info.used)} filters in use")


@lists.command()
@click.argument("name")
@data_dir_option
def enable(name: str, data_dir: str | None) -> None:
    """Use list NAME again (fetching it if it never was)."""
    progress = _ProgressLine()
    try:
        info, outcome = _registry(data_dir).set_enabled(name, True, progress=progress)
    except ListError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.done()
    if outcome is not None and not _report([outcome]):
        raise click.ClickException(f"{name} is enabled but has no version yet")
    click.echo(f"{info.name}: enabled")


@lists.command()
@click.argument("name")
@data_dir_option
def disable(name: str, data_dir: str | None) -> None:
    """Stop using list NAME (it stays known; 'enable' brings it back)."""
    try:
        info, _ = _registry(data_dir).set_enabled(name, False)
    except ListError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{info.name}: disabled")


@lists.command()
@click.argument("name")
@data_dir_option
def remove(name: str, data_dir: str | None) -> None:
    """Unsubscribe from list NAME and delete its copy."""
    try:
        _registry(data_dir).remove(name)
    except ListError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{name}: removed")


@lists.command()
@click.argument("name", required=False)
@click.option("--force", is_flag=True, help="Download in full and accept a much smaller new version.")
@data_dir_option
def update(name: str | None, force: bool, data_dir: str | None) -> None:
    """Update list NAME, or every enabled subscribed list, now."""
    progress = _ProgressLine()
    try:
        outcomes = _registry(data_dir).update(name, progress=progress, force=force)
    except ListError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.done()
    if not outcomes:
        click.echo("nothing to update: no enabled subscribed list (see 'crumbs lists add')")
    if not _report(outcomes):
        sys.exit(1)
