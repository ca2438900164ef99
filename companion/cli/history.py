"""``crumbs open``: sign this person in to the history page through a one-time link.

The running companion makes a fresh one-time code (``POST /api/v1/history-link``, asked with the
token) and accepts it once, within two minutes; with no companion running, the command stores the
code's hash in the database itself, for the companion that will start. The link is
opened in the default browser, or printed with ``--print`` (for another browser or profile).
"""

from __future__ import annotations

import webbrowser

import click

from ..auth import SIGNIN_CODE_TTL_MS
from ..config import DEFAULT_PORT, HOST, DataPaths
from ..instance import port_for_cli
from .common import data_dir_option, open_companion


def signin_link(data_dir: str | None, port: int) -> str:
    """A fresh one-time sign-in link for the companion serving ``data_dir`` on ``port``."""
    code = open_companion(data_dir, "open").new_signin_code()
    return f"http://{HOST}:{port}/signin/{code}"


@click.command("open")
@click.option("--print", "print_only", is_flag=True, help="Print the link instead of opening a browser.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port the companion listens on (default: the running companion's, found in the data folder).")
@data_dir_option
def open_history(print_only: bool, port: int | None, data_dir: str | None) -> None:
    """Open your Crumbs history in the browser, signed in (the companion must be running)."""
    port, note = port_for_cli(DataPaths.at(data_dir).root, port, DEFAULT_PORT)
    if note:
        click.echo(f"Note: {note}", err=True)
    link = signin_link(data_dir, port)
    minutes = SIGNIN_CODE_TTL_MS // 60_000
    if print_only or not webbrowser.open(link):
        click.echo(link)
        click.echo(f"(this link signs in one browser, once, within {minutes} minutes; keep it to yourself)", err=True)
    else:
        click.echo("Opened your history in the browser.")
