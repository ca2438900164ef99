"""``crumbs check``: explain what Crumbs decides for one request, in words or as the API's VERDICT JSON."""
from __future__ import annotations

import json

import click

from ..dnr.compiler import browser_can_apply
from ..service import Companion
from .common import data_dir_option


def _from(source: str | None) -> str:
    """" - from Disconnect" after a fact a knowledge source gave; nothing after Crumbs' own."""
    return f" - from {source}" if source and source != "Crumbs" else ""


@click.command()
@click.argument("url")
@click.option("--page", "page_url", required=True, help="URL of the page the request was made from.")
@click.option("--type", "request_type", default="other", show_default=True,
              help="webRequest type: script, image, xmlhttprequest, sub_frame, ...")
@click.option("--json", "as_json", is_flag=True, help="Print the VERDICT object as JSON.")
@data_dir_option
def check(url: str, page_url: str, request_type: str, as_json: bool, data_dir: str | None) -> None:
    """Explain what Crumbs decides for a request to URL made from the page --page."""
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
        click.echo(f"  tracker: {'yes' if v.tracker else 'no'}; owner: {v.owner or 'unknown'}{_from(v.owner_source)}; "
                   f"category: {v.category_label or v.category or 'unknown'}{_from(v.category_source)}")
    if v.description:
        click.echo(f"  {v.description}")
    if v.learns:
        click.echo(f"  What it can learn: {v.learns}")
    if v.blocked and v.decided_by == "list-default" and v.filter and not browser_can_apply(v.filter):
        # The engine matches it, the browser's rules cannot say it: what happens is the browser's part.
        click.echo(f"  => the lists block it, but the browser's rules cannot express this filter: the browser "
                   f"lets it through (decided by {v.decided_by})")
    else:
        click.echo(f"  => {'BLOCKED' if v.blocked else 'allowed'} (decided by {v.decided_by})")
    if v.surrogate:
        click.echo(f"  replaced with a stand-in: {v.surrogate} (the page's calls keep working; nothing is sent)")
