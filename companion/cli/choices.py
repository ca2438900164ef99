"""``crumbs allow/block/reset``, ``trust/untrust`` and ``choices``: the person's choices from a terminal.

While ``crumbs serve`` runs they are made by it, through its API (cli/common.open_companion), and
reach the browser's rules at once; otherwise they are written here, holding the data folder's lock.
"""
from __future__ import annotations

import json

import click

from ..policy import TRUST_DURATIONS_MS
from .common import data_dir_option, domain, open_companion, when


def _choice_command(action: str | None):
    verb = {"allow": "Allow", "block": "Block", None: "Forget your choice for"}[action]

    @click.argument("tracker")
    @click.option("--on", "site", help="Only on this site (a host name or URL); default: everywhere.")
    @data_dir_option
    def command(tracker: str, site: str | None, data_dir: str | None) -> None:
        tracker_domain = domain(tracker, "tracker domain")
        companion = open_companion(data_dir)
        if site:
            site_domain = domain(site, "site")
            companion.set_site_tracker(site_domain, tracker_domain, action)
            where = f"on {site_domain}"
        else:
            companion.set_tracker(tracker_domain, action)
            where = "everywhere"
        if action is None:
            click.echo(f"{tracker_domain} {where}: back to the default")
        else:
            click.echo(f"{tracker_domain} {where}: {action}ed")

    command.__doc__ = f"{verb} TRACKER (a domain) on every site, or only --on SITE."
    return command


allow = click.command("allow")(_choice_command("allow"))
block = click.command("block")(_choice_command("block"))
reset = click.command("reset")(_choice_command(None))


@click.command()
@click.argument("site")
@click.option("--for", "duration", type=click.Choice(list(TRUST_DURATIONS_MS)), default="always", show_default=True,
              help="How long to trust the site.")
@data_dir_option
def trust(site: str, duration: str, data_dir: str | None) -> None:
    """Trust SITE: nothing is blocked there, for an hour, a day or until 'crumbs untrust'."""
    site_domain = domain(site, "site")
    until = open_companion(data_dir).set_trust(site_domain, duration)
    click.echo(f"{site_domain}: trusted {'until ' + when(until) if until else 'until you untrust it'}")


@click.command()
@click.argument("site")
@data_dir_option
def untrust(site: str, data_dir: str | None) -> None:
    """Stop trusting SITE: the usual blocking applies there again."""
    site_domain = domain(site, "site")
    open_companion(data_dir).set_trust(site_domain, None)
    click.echo(f"{site_domain}: no longer trusted")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@data_dir_option
def choices(as_json: bool, data_dir: str | None) -> None:
    """List every choice: per site, everywhere, and trusted sites."""
    listed = open_companion(data_dir).list_choices()
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
        state = "always" if c["until"] is None else ("until " + when(c["until"]) if c["active"] else "expired")
        click.echo(f"trust  {c['site']}  ({state})")
