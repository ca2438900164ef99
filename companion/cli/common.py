"""What every ``crumbs`` command shares: the one ``--data-dir`` option, a companion opened for the
command line's writes, site names read from arguments, times printed in local time."""
from __future__ import annotations

import os
import shlex
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import click
from click.core import ParameterSource

from ..config import DataPaths
from ..instance import AlreadyRunning, Instance
from ..remote import Remote, RemoteCompanion
from ..service import Companion
from ..sites import NotANetworkURL, site_of

# A --data-dir given before the command's name (`crumbs --data-dir X choices`), kept in the context's meta,
# which every nested context shares, for the command's own option to take up.
_GIVEN_BEFORE = "crumbs.data_dir"


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[_GIVEN_BEFORE] = value


def _same_folder(a: str, b: str) -> bool:
    return os.path.abspath(os.path.expanduser(a)) == os.path.abspath(os.path.expanduser(b))


# The `crumbs` group's: not checked here, since whether a missing folder is refused depends on the command.
group_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    callback=_remember,
    expose_value=False,
    help="Folder holding the database, token and lists, for the command that follows (it may also come after it).",
)


def _data_dir_option(makes_one: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--data-dir`` (or ``CRUMBS_HOME``). A folder named that does not exist is refused, by every
    command but those that make a data folder (``makes_one``): a mistyped name would otherwise get a
    new empty folder, database and token, and the command would answer from it as if all were well
    ("No choices yet"). The default folder (platformdirs) is still made by whichever command comes first."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        source = ctx.get_parameter_source(param.name or "data_dir")
        outer = ctx.meta.get(_GIVEN_BEFORE)
        if source is ParameterSource.COMMANDLINE:
            if outer is not None and not _same_folder(outer, value):
                raise click.ClickException(f"--data-dir names two folders, {outer} and {value}; give it once")
            ctx.meta[_GIVEN_BEFORE] = value  # `crumbs lists --data-dir X add ...`: for the subcommand too
        elif outer is not None:  # given before the command's name: it beats CRUMBS_HOME, as it would after it
            value, source = outer, ParameterSource.COMMANDLINE
        named = source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
        if value and named and not makes_one and not Path(value).expanduser().is_dir():
            given = "--data-dir" if source is ParameterSource.COMMANDLINE else "CRUMBS_HOME"
            raise click.ClickException(
                f"there is no data folder {value} (named by {given}); 'crumbs serve --data-dir {shlex.quote(value)}' "
                "makes one (nothing was created)")
        return value

    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        envvar="CRUMBS_HOME",
        callback=check,
        help="Folder holding the database, token and lists (default: CRUMBS_HOME or the user data folder); "
             + ("made if missing." if makes_one else "must exist ('crumbs serve --data-dir DIR' makes one)."),
    )


data_dir_option = _data_dir_option(makes_one=False)
# For the commands that make a data folder: serve (how a person starts one) and setup (which binds the
# native messaging host to the folder before any companion ran there; the host then serves it).
new_data_dir_option = _data_dir_option(makes_one=True)


def open_companion(data_dir: str | None, command: str | None = None) -> "Companion | RemoteCompanion":
    """Where a command's reads and writes go: the data folder has one owner at a time (issue 15).

    While a companion runs, the running one, through its API (companion/remote.py): its caches,
    browser rules and list downloads stay the truth. Otherwise a companion of this process (no
    filter engine is built), holding the data folder's lock until the command ends, so a companion
    starting meanwhile waits for it. ``command`` names the command in the lock ("lists update").
    """
    ctx = click.get_current_context(silent=True)
    paths = DataPaths.at(data_dir)
    remote = Remote.of(paths.root, paths.token)
    if remote is not None:
        return RemoteCompanion(remote)
    instance = Instance(paths.root)
    try:
        instance.acquire(command=command or (ctx.command_path.partition(" ")[2] if ctx else "command"))
    except AlreadyRunning as exc:
        raise click.ClickException(f"{exc} (nothing was changed)") from None
    try:
        companion = Companion(data_dir, with_engine=False)
    except BaseException:
        instance.release()
        raise
    if ctx is not None:
        ctx.call_on_close(instance.release)
        ctx.call_on_close(companion.close)  # closed first: callbacks run last-in, first-out
    return companion


def domain(value: str, what: str) -> str:
    """The site (registrable domain) named by a host name or URL argument."""
    try:
        return site_of(value)
    except NotANetworkURL as exc:
        raise click.BadParameter(f"{value!r} is not a {what}: {exc}") from None


def when(ms: int | None) -> str:
    """Epoch milliseconds as local time, '-' for none."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")


def report_outcomes(outcomes, used: "Callable[[Any], str]") -> bool:
    """Print what each download (a list or a knowledge source) did, one line each; True if all went well.

    ``used`` says what an updated download now gives ("1,234 filters in use", "56 tracker entries").
    """
    ok = True
    for o in outcomes:
        if o.status == "updated":
            click.echo(f"{o.name}: updated ({used(o)})")
        elif o.status == "not-modified":
            click.echo(f"{o.name}: not modified since the last download")
        elif o.status == "unchanged":
            click.echo(f"{o.name}: unchanged")
        elif o.status == "skipped":
            click.echo(f"{o.name}: skipped ({o.error})")
        else:
            ok = False
            click.echo(f"{o.name}: FAILED: {o.error}; the last good version stays in force", err=True)
    return ok
