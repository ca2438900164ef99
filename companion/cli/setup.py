"""``crumbs setup``: let the browser start the companion and pair the extension (native messaging).

See companion/hostsetup.py for what is written where, and companion/native_host.py for what the
host does when the extension asks.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..config import DataPaths
from ..hostsetup import BROWSERS, SetupError, install, remove
from .common import new_data_dir_option


@click.command("setup")
@click.option("--browser", "browser", type=click.Choice([*BROWSERS, "all"]), default="all", show_default=True,
              help="Which browser to register with ('all': each one whose settings folder exists).")
@click.option("--profile-dir", type=click.Path(file_okay=False), default=None,
              help="A Chromium --user-data-dir to register in, instead of the user's default folder.")
@click.option("--remove", "undo", is_flag=True, help="Undo: delete the host manifests and launcher setup wrote.")
@new_data_dir_option
def setup(browser: str, profile_dir: str | None, undo: bool, data_dir: str | None) -> None:
    """Let the browser start the companion and pair Crumbs by itself (no code to type)."""
    browsers = list(BROWSERS) if browser == "all" else [browser]
    if profile_dir and browser == "firefox":
        raise click.ClickException("--profile-dir is a Chromium --user-data-dir; Firefox reads its hosts from "
                                   "~/.mozilla/native-messaging-hosts")
    if profile_dir and browser == "all":
        browsers = ["chromium"]
    if undo and data_dir:
        # Removing reads nothing in the folder: one mistyped, or deleted since, is not made just to undo setup.
        root = Path(data_dir).expanduser().resolve()
    else:
        root = DataPaths.at(data_dir).root
    profile = Path(profile_dir) if profile_dir else None
    try:
        if undo:
            report = remove(browsers, root, profile)
            for path in report.removed:
                click.echo(f"removed {path}")
            if not report.removed:
                click.echo("Nothing to remove: the native messaging host was not set up here.")
            return
        report = install(browsers, root, profile, explicit=browser != "all")
    except (SetupError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for path in report.written:
        click.echo(f"wrote {path}")
    if report.skipped:
        click.echo(f"skipped {', '.join(report.skipped)} (not set up for this user; name it with --browser to force)")
    if not report.written:
        raise click.ClickException("no browser found to set up; name one with --browser chromium|chrome|firefox")
    click.echo("Done: the Crumbs extension now starts the companion and pairs by itself "
               "(reload the extension or restart the browser if it is already running).")
