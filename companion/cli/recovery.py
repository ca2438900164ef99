"""``crumbs repair`` and ``crumbs restore [SNAPSHOT]``: the ways out of a damaged database.

Every command refuses a damaged database with one line naming these two; they are the only ones
that open it anyway. Both keep the damaged file aside and never delete what it holds. Both take the
data folder's lock (:mod:`companion.instance`), so neither runs under a live companion that would go on
writing to the file being replaced.
"""
from __future__ import annotations

import os
from pathlib import Path

import click

from ..config import DataPaths
from ..instance import AlreadyRunning, Instance
from ..storage import Store
from ..storage.recovery import repair as salvage
from ..storage.recovery import restore as put_back
from ..storage.snapshots import list_snapshots, snapshot_dir
from .common import data_dir_option


@click.command()
@data_dir_option
def repair(data_dir: str | None) -> None:
    """Salvage what the damaged database still holds into a new one (the damaged file is kept aside)."""
    paths = DataPaths.at(data_dir)
    if not paths.database.exists():
        raise click.ClickException(f"there is no database at {paths.database} to repair; 'crumbs restore' puts back a snapshot")
    try:
        with _owning(paths.root, "repair"):
            result = salvage(paths.database, Store)
    except (OSError, RuntimeError) as exc:
        raise click.ClickException(f"repair failed, nothing was changed: {exc}") from None
    if not result.readable:
        click.echo("Nothing could be read from the damaged file; the database starts empty.")
        snapshots = list_snapshots(paths.root)
        if snapshots:
            click.echo(f"A snapshot is available: 'crumbs restore' puts back {snapshots[0].name}.")
    total = sum(result.rows.values())
    click.echo(f"Repaired: {total:,} rows salvaged ({result.rows.get('requests', 0):,} recorded requests), "
               f"{result.skipped_regions} unreadable stretch(es) skipped.")
    if result.aside:
        click.echo(f"The damaged file is kept as {result.aside}")


@click.command()
@click.argument("snapshot", required=False)
@click.option("--list", "show", is_flag=True, help="Show the snapshots instead of restoring one.")
@data_dir_option
def restore(snapshot: str | None, show: bool, data_dir: str | None) -> None:
    """Put back a snapshot of the database (default: the newest); the current file is kept aside.

    SNAPSHOT is a name as 'crumbs restore --list' prints it, or the path (from the current folder) of a
    copy of a Crumbs database; never the live database or its -wal/-shm.
    """
    paths = DataPaths.at(data_dir)
    if show:
        found = list_snapshots(paths.root)
        if not found:
            click.echo("no snapshots yet (the running companion takes one a day)")
        for path in found:
            click.echo(f"{path.name}  {path.stat().st_size:,} bytes")
        return
    chosen = _chosen(snapshot, paths.root) if snapshot is not None else None
    try:
        with _owning(paths.root, "restore"):
            used, aside = put_back(paths.database, paths.root, chosen)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored {used.name}.")
    if aside:
        click.echo(f"The previous database is kept as {aside}")


def _chosen(argument: str, root: Path) -> Path:
    """The file 'crumbs restore ARGUMENT' names: a snapshot's bare name as '--list' prints it, otherwise a
    path from the current folder, which is what a person typing a path means (the checks that it is a
    Crumbs database and not the live one are the restore's own, made under the folder's lock)."""
    typed = Path(argument).expanduser()
    # The string, not the Path: pathlib drops a leading './', with which a person says "this file here".
    if os.sep not in argument and (os.altsep is None or os.altsep not in argument):
        named = snapshot_dir(root) / argument
        if named in list_snapshots(root):
            return named
        if not typed.exists():
            raise click.ClickException(f"there is no snapshot named {argument} ('crumbs restore --list' shows "
                                       f"them) and no file {typed.resolve()}")
    return typed.resolve()


class _owning:
    """Hold the data folder's lock for the command, or refuse in one line naming the running companion."""

    def __init__(self, root: Path, command: str) -> None:
        self.instance = Instance(root)
        self.command = command

    def __enter__(self) -> None:
        try:
            self.instance.acquire(command=self.command)
        except AlreadyRunning as exc:
            if exc.command:  # a command's few seconds: its own advice (try again when it has finished) fits
                raise click.ClickException(f"{exc} (nothing was changed)") from None
            # A companion: "use it" is no way out of a damaged database, so only the advice that is.
            raise click.ClickException(f"{exc.owner}; stop it, then run this again (nothing was changed)") from None

    def __exit__(self, *exc: object) -> None:
        self.instance.release()
