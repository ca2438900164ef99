"""``crumbs serve``, ``crumbs token`` and ``crumbs pair``: run the companion and let the extension in.

``serve`` owns its data folder while it runs (companion/instance.py: a lock, and the address file that
``pair``, ``open`` and the native messaging host read to find its port).
"""
from __future__ import annotations

import os
import signal
import sys

import click

from .. import __version__
from ..auth import load_or_create_token, rotate_token
from ..config import DEFAULT_PORT, HOST, DataPaths
from ..instance import AlreadyRunning, Instance, port_for_cli
from .common import data_dir_option, new_data_dir_option, open_companion

COMMAND_WAIT_S = 120.0  # a starting companion waits this long for a command holding the folder (a download)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@new_data_dir_option
@click.option("--threads", type=click.IntRange(1, 32), default=4, show_default=True, help="Worker threads.")
def serve(port: int, data_dir: str | None, threads: int) -> None:
    """Run the companion on 127.0.0.1 until interrupted (Ctrl+C or SIGTERM)."""
    # One owner per data folder (companion/instance.py): the lock is taken before the database is opened.
    instance = Instance(DataPaths.at(data_dir).root)
    try:
        # A command holding the folder while no companion ran (a list download, say) is waited for.
        instance.acquire(wait_for_commands=COMMAND_WAIT_S)
    except AlreadyRunning as exc:
        raise click.ClickException(str(exc)) from None
    # SIGTERM (service managers, the native messaging host, `kill`) stops as cleanly as Ctrl+C;
    # installed before anything is printed, so a TERM sent as soon as the banner appears is clean too.
    # While starting, either signal raises KeyboardInterrupt; once serving, _serve_locked asks the
    # server to stop instead (web/server.py: CrumbsServer.stop, then the drain).
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        try:
            _serve_locked(instance, port, data_dir, threads)
        except KeyboardInterrupt:  # stopped while starting
            pass
        finally:
            instance.release()  # address file removed, lock dropped: at any exit that runs Python code
    except BaseException:  # could not start (a ClickException): the signals as they were
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        raise
    # Stopped by a signal: TERM and INT stay ignored until the process ends. A manager repeating TERM
    # just after the folder was released would otherwise kill the process (-15) after a clean stop.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _raise_interrupt(signum, frame) -> None:  # noqa: ARG001
    raise KeyboardInterrupt


# glibc's mallopt parameter for the most malloc arenas (MALLOC_ARENA_MAX in the environment).
_M_ARENA_MAX = -8
SERVER_ARENAS = 2


def fewer_malloc_arenas() -> bool:
    """Two malloc arenas for the server's threads, as ``MALLOC_ARENA_MAX=2`` would; True if glibc took it.

    glibc gives a thread that allocates while another holds the arena one of its own (up to eight per
    core) and keeps what each arena freed: with waitress's workers building the history pages, that was
    15-30 MB more resident memory after the pages of a million-request history (issue 14, item 5).
    Called before any thread starts; nothing on other C libraries, nor when the person set MALLOC_ARENA_MAX."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return mallopt(_M_ARENA_MAX, SERVER_ARENAS) == 1


def _serve_locked(instance: Instance, port: int, data_dir: str | None, threads: int) -> None:
    """Build the app, listen, publish the address, print how to pair, serve until interrupted."""
    fewer_malloc_arenas()  # before the app's threads (updater, snapshots, checkpoints, waitress) exist
    from ..storage.integrity import START_CHECK_MAX_BYTES
    from ..web import create_app
    from ..web.server import DRAIN_DEADLINE_S, make_server

    try:
        # The integrity check before listening only for a small database; a big one's is run in the
        # background (below): its first answer must not wait for reading the whole history.
        app = create_app({"DATA_DIR": data_dir, "PORT": port, "UPDATER": True, "DEFER_CHECK_ABOVE": START_CHECK_MAX_BYTES})
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    companion = app.extensions["crumbs"]
    server = None
    # Every way out from here stops what was started: a signal may arrive while the banner is printed
    # (it raises KeyboardInterrupt until the server's own handlers are in place, below).
    try:
        try:
            server = make_server(app, HOST, port, threads)  # the limits and the early Host check: web/server.py
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None
        actual = server.effective_port
        app.config["PORT"] = actual
        companion.start_checkpointer()
        companion.start_background_check()  # a check deferred at start (a big database); damage found -> 503s
        instance.publish(HOST, actual)  # `crumbs open`, `crumbs pair` and the native host find it here
        click.echo(f"Crumbs companion {__version__} listening on http://{HOST}:{actual}")
        click.echo(f"Data folder: {companion.paths.root}")
        click.echo(f"Lists: {', '.join(p.name for p in companion.list_paths)}")
        # A code only when no browser has the token yet (auth.is_paired): a paired browser does not
        # need one, and a fresh code at every start would be noise.
        if companion.is_paired():
            click.echo("A browser is paired already; to pair another one, run 'crumbs pair' for a code.")
        else:
            code = companion.new_pairing_code()
            click.echo(f"To pair the extension, open its popup, choose 'Pair now' and type the code {code[:4]} {code[4:]}")
            click.echo("  (valid 10 minutes; 'crumbs pair' makes a new one).")
        click.echo("Press Ctrl+C to stop.")
        sys.stdout.flush()
        # From here a signal does not raise in the middle of waitress's loop: it asks the server to stop,
        # and the requests already received are answered before anything closes (issue 15). A second
        # signal during the drain changes nothing (stop() is done once): the drain is bounded by
        # DRAIN_DEADLINE_S anyway, and a manager that repeats TERM must not turn a clean stop into
        # batches stored but never acknowledged, which the extension would send and we would count again.
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda signum, frame: server.stop())
        server.run()  # until a signal
        unfinished = server.drain(DRAIN_DEADLINE_S)
        if unfinished:
            click.echo(f"Stopped after {DRAIN_DEADLINE_S:g} s with {unfinished} request(s) still unanswered.", err=True)
    except KeyboardInterrupt:  # a signal while starting (before the handlers above): nothing read yet
        pass
    finally:
        for sig in STOP_SIGNALS:  # nothing may cut the rest short: workers, threads, checkpoint, lock
            signal.signal(sig, signal.SIG_IGN)
        if server is not None:
            server.close()  # every connection, then waitress's workers
        _stop_app(app)  # the app's threads, then the database (checkpointed)


def _stop_app(app) -> None:
    """Stop the app's background threads, then close the database.

    The threads start with the app (create_app), so every way out after it, including failing to
    listen, stops them first: the updater's next round would otherwise meet a closed connection and
    print a traceback at exit.
    """
    for worker in ("crumbs_updater", "crumbs_snapshots", "crumbs_retention"):
        if worker in app.extensions:
            app.extensions[worker].stop()
    app.extensions["crumbs"].close()


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
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port to type with the code (default: the running companion's, found in the data folder).")
@data_dir_option
def pair(port: int | None, data_dir: str | None) -> None:
    """Make a new 8-digit pairing code for the extension (valid 10 minutes, single use)."""
    port, note = port_for_cli(DataPaths.at(data_dir).root, port, DEFAULT_PORT)
    code = open_companion(data_dir, "pair").new_pairing_code()
    click.echo(f"Pairing code: {code[:4]} {code[4:]}  (in the extension's popup choose 'Pair now' and type it "
               f"within 10 minutes, with the port {port})")
    if note:
        click.echo(f"Note: {note}", err=True)
