"""``crumbs serve``, ``crumbs token`` and ``crumbs pair``: run the companion and let the extension in."""
from __future__ import annotations

import sys

import click

from .. import __version__
from ..auth import load_or_create_token, rotate_token
from ..config import DEFAULT_PORT, HOST, DataPaths
from .common import data_dir_option, open_companion


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@data_dir_option
@click.option("--threads", type=click.IntRange(1, 32), default=4, show_default=True, help="Worker threads.")
def serve(port: int, data_dir: str | None, threads: int) -> None:
    """Run the companion on 127.0.0.1 until interrupted (Ctrl+C)."""
    from ..web import create_app
    from ..web.server import make_server

    try:
        app = create_app({"DATA_DIR": data_dir, "PORT": port, "UPDATER": True})
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        server = make_server(app, HOST, port, threads)  # the limits and the early Host check: web/server.py
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None
    actual = server.effective_port
    companion = app.extensions["crumbs"]
    code = companion.new_pairing_code()
    click.echo(f"Crumbs companion {__version__} listening on http://{HOST}:{actual}")
    click.echo(f"Data folder: {companion.paths.root}")
    click.echo(f"Lists: {', '.join(p.name for p in companion.list_paths)}")
    click.echo(f"To pair the extension, open its popup, choose 'Pair now' and type the code {code[:4]} {code[4:]}")
    click.echo("  (valid 10 minutes; 'crumbs pair' makes a new one). Press Ctrl+C to stop.")
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        companion.close()


@click.command()
@click.option("--rotate", is_flag=True,
              help="Replace the token with a new one: every paired browser must pair again (a running companion "
                   "switches at once).")
@data_dir_option
def token(rotate: bool, data_dir: str | None) -> None:
    """Print the API token (the extension gets it by pairing; scripts can use this)."""

    path = DataPaths.at(data_dir).token
    if rotate:
        rotate_token(path)
        click.echo("New token made; pair the extension again ('crumbs pair').", err=True)
    click.echo(load_or_create_token(path))


@click.command()
@data_dir_option
def pair(data_dir: str | None) -> None:
    """Make a new 8-digit pairing code for the extension (valid 10 minutes, single use)."""
    code = open_companion(data_dir).new_pairing_code()
    click.echo(f"Pairing code: {code[:4]} {code[4:]}  (in the extension's popup choose 'Pair now' and type it "
               "within 10 minutes)")
