"""The ``crumbs`` command: serve the companion, and see or change choices from a terminal.

Choices made here are written to the same database the server reads, and the server picks
them up with the next event (no restart). Every command takes ``--data-dir`` (default:
``CRUMBS_HOME`` or the platform's user data folder).
"""

from __future__ import annotations

import json
import signal
import sys
from datetime import datetime, timezone

import click

from . import __version__
from .config import DEFAULT_PORT, HOST, DataPaths
from .domains import NotANetworkURL, site_of
from .policy import TRUST_DURATIONS_MS
from .storage import Store

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar="CRUMBS_HOME",
    help="Folder holding the database and token (default: CRUMBS_HOME or the user data folder).",
)


def _store(data_dir: str | None) -> Store:
    return Store(DataPaths.at(data_dir).database)


def _domain(value: str, what: str) -> str:
    try:
        return site_of(value)
    except NotANetworkURL as exc:
        raise click.BadParameter(f"{value!r} is not a {what}: {exc}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crumbs")
def main() -> None:
    """Crumbs: see, understand and control who tracks you on the web.

    This is the local companion of the Crumbs browser extension. It classifies the
    third-party requests your browser reports, remembers them on this machine only,
    and turns your choices into the browser's blocking rules.
    """


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@data_dir_option
@click.option("--threads", type=click.IntRange(1, 32), default=4, show_default=True, help="Worker threads.")
def serve(port: int, data_dir: str | None, threads: int) -> None:
    """Run the companion on 127.0.0.1 until interrupted (Ctrl+C or SIGTERM)."""
    import waitress

    from .web import create_app

    # -- one owner per data folder (companion/instance.py): lock first, before the database is opened
    from .instance import AlreadyRunning, Instance
    from .pairing_state import is_paired

    instance = Instance(DataPaths.at(data_dir).root)
    try:
        instance.acquire()
    except AlreadyRunning as exc:
        raise click.ClickException(str(exc)) from None
    # SIGTERM (service managers, the native messaging host, `kill`) stops as cleanly as Ctrl+C;
    # installed before anything is printed, so a TERM sent as soon as the banner appears is clean too.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        _serve_locked(instance, port, data_dir, threads, create_app, waitress, is_paired)
    except KeyboardInterrupt:  # stopped while starting
        pass
    finally:
        instance.release()  # address file removed, lock dropped: at any exit that runs Python code
        signal.signal(signal.SIGTERM, previous)
    # -- end one owner


def _raise_interrupt(signum, frame) -> None:  # noqa: ARG001
    raise KeyboardInterrupt


def _serve_locked(instance, port, data_dir, threads, create_app, waitress, is_paired) -> None:
    try:
        app = create_app({"DATA_DIR": data_dir, "PORT": port, "UPDATER": True})
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    companion = app.extensions["crumbs"]
    try:
        server = waitress.create_server(app, host=HOST, port=port, threads=threads, clear_untrusted_proxy_headers=True)
    except OSError as exc:
        companion.close()
        raise click.ClickException(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None
    actual = server.effective_port
    app.config["PORT"] = actual
    instance.publish(HOST, actual)  # `crumbs open`, `crumbs pair` and the native host find it here
    click.echo(f"Crumbs companion {__version__} listening on http://{HOST}:{actual}")
    click.echo(f"Data folder: {companion.paths.root}")
    click.echo(f"Lists: {', '.join(p.name for p in companion.list_paths)}")
    # A code only when no browser has the token yet (see companion/pairing_state.py): a paired
    # browser does not need one, and a fresh code at every start would be noise.
    if is_paired(companion.store, companion.token):
        click.echo("A browser is paired already; to pair another one, run 'crumbs pair' for a code.")
    else:
        code = companion.new_pairing_code()
        click.echo(f"To pair the extension, open its popup, choose 'Pair now' and type the code {code[:4]} {code[4:]}")
        click.echo("  (valid 10 minutes; 'crumbs pair' makes a new one).")
    click.echo("Press Ctrl+C to stop.")
    sys.stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second TERM must not cut the clean shutdown short
        server.close()
        companion.close()


@main.command()
@click.option("--rotate", is_flag=True,
              help="Replace the token with a new one: every paired browser must pair again (a running companion "
                   "switches at once).")
@data_dir_option
def token(rotate: bool, data_dir: str | None) -> None:
    """Print the API token (the extension gets it by pairing; scripts can use this)."""
    from .auth import load_or_create_token, rotate_token

    path = DataPaths.at(data_dir).token
    if rotate:
        rotate_token(path)
        click.echo("New token made; pair the extension again ('crumbs pair').", err=True)
    click.echo(load_or_create_token(path))


@main.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port to type with the code (default: the running companion's, found in the data folder).")
@data_dir_option
def pair(port: int | None, data_dir: str | None) -> None:
    """Make a new 8-digit pairing code for the extension (valid 10 minutes, single use)."""
    from .auth import issue_pairing_code
    from .instance import port_for_cli

    port, note = port_for_cli(DataPaths.at(data_dir).root, port, DEFAULT_PORT)
    code = issue_pairing_code(_store(data_dir))
    click.echo(f"Pairing code: {code[:4]} {code[4:]}  (type it on the extension's pairing page within 10 minutes, "
               f"with the port {port})")
    if note:
        click.echo(f"Note: {note}", err=True)


@main.command()
@click.argument("url")
@click.option("--page", "page_url", required=True, help="URL of the page the request was made from.")
@click.option("--type", "request_type", default="other", show_default=True,
              help="webRequest type: script, image, xmlhttprequest, sub_frame, ...")
@click.option("--json", "as_json", is_flag=True, help="Print the VERDICT object as JSON.")
@data_dir_option
def check(url: str, page_url: str, request_type: str, as_json: bool, data_dir: str | None) -> None:
    """Explain what Crumbs decides for a request to URL made from the page --page."""
    from .service import Companion

    companion = Companion(data_dir)
    try:
        verdict = companion.check(url, page_url, request_type)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(verdict.to_dict(), indent=2))
        return
    v = verdict
    click.echo(f"{v.url}\n  host {v.host} (site {v.domain}), requested by {v.page_domain or 'an unknown page'} "
               f"as {v.type}")
    if not v.third_party:
        click.echo("  first party: the page's own site")
    elif v.same_owner:
        click.echo(f"  third party owned by the page's own company ({v.owner})")
    else:
        click.echo("  third party")
    if v.filter:
        kind = "exception" if v.exception else "filter"
        click.echo(f"  list {v.list}, {kind}: {v.filter}")
        if v.overridden_filter:
            click.echo(f"    (it overrode: {v.overridden_filter})")
    if v.tracker or v.owner:
        click.echo(f"  tracker: {'yes' if v.tracker else 'no'}; owner: {v.owner or 'unknown'}; "
                   f"category: {v.category_label or v.category or 'unknown'}")
    if v.description:
        click.echo(f"  {v.description}")
    if v.learns:
        click.echo(f"  What it can learn: {v.learns}")
    click.echo(f"  => {'BLOCKED' if v.blocked else 'allowed'} (decided by {v.decided_by})")


def _choice_command(action: str | None):
    verb = {"allow": "Allow", "block": "Block", None: "Forget your choice for"}[action]

    @click.argument("tracker")
    @click.option("--on", "site", help="Only on this site (a host name or URL); default: everywhere.")
    @data_dir_option
    def command(tracker: str, site: str | None, data_dir: str | None) -> None:
        tracker_domain = _domain(tracker, "tracker domain")
        store = _store(data_dir)
        if site:
            site_domain = _domain(site, "site")
            store.set_site_tracker(site_domain, tracker_domain, action)
            where = f"on {site_domain}"
        else:
            store.set_tracker(tracker_domain, action)
            where = "everywhere"
        if action is None:
            click.echo(f"{tracker_domain} {where}: back to the default")
        else:
            click.echo(f"{tracker_domain} {where}: {action}ed")

    command.__doc__ = f"{verb} TRACKER (a domain) on every site, or only --on SITE."
    return command


main.command("allow")(_choice_command("allow"))
main.command("block")(_choice_command("block"))
main.command("reset")(_choice_command(None))


@main.command()
@click.argument("site")
@click.option("--for", "duration", type=click.Choice(list(TRUST_DURATIONS_MS)), default="always", show_default=True,
              help="How long to trust the site.")
@data_dir_option
def trust(site: str, duration: str, data_dir: str | None) -> None:
    """Trust SITE: nothing is blocked there, for an hour, a day or until 'crumbs untrust'."""
    site_domain = _domain(site, "site")
    until = _store(data_dir).set_trust(site_domain, duration)
    click.echo(f"{site_domain}: trusted {'until ' + _when(until) if until else 'until you untrust it'}")


@main.command()
@click.argument("site")
@data_dir_option
def untrust(site: str, data_dir: str | None) -> None:
    """Stop trusting SITE: the usual blocking applies there again."""
    site_domain = _domain(site, "site")
    _store(data_dir).set_trust(site_domain, None)
    click.echo(f"{site_domain}: no longer trusted")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@data_dir_option
def choices(as_json: bool, data_dir: str | None) -> None:
    """List every choice: per site, everywhere, and trusted sites."""
    listed = _store(data_dir).list_choices()
    if as_json:
        click.echo(json.dumps(listed, indent=2))
        return
    if not any(listed.values()):
        click.echo("No choices yet: classified trackers are blocked by default.")
        return
    for c in listed["site_tracker"]:
        click.echo(f"{c['action']:5}  {c['tracker']}  on {c['site']}")
    for c in listed["everywhere"]:
        click.echo(f"{c['action']:5}  {c['tracker']}  everywhere")
    for c in listed["trusted"]:
        state = "always" if c["until"] is None else ("until " + _when(c["until"]) if c["active"] else "expired")
        click.echo(f"trust  {c['site']}  ({state})")


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")


from .cli_lists import lists  # noqa: E402  (the `crumbs lists` group)

main.add_command(lists)

from .cli_history import open_history  # noqa: E402

main.add_command(open_history)

from .cli_setup import setup  # noqa: E402  (native messaging: companion/cli_setup.py)

main.add_command(setup)


if __name__ == "__main__":
    main()
