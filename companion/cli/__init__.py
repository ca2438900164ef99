"""The ``crumbs`` command: serve the companion, and see or change choices from a terminal.

One owner per data folder: while ``crumbs serve`` runs, a command's changes (choices, lists,
sources, pairing codes, sign-in links) are made by the running companion through its API
(companion/remote.py); otherwise the command holds the data folder's lock while it writes. Every command takes ``--data-dir`` (default:
``CRUMBS_HOME`` or the platform's user data folder), after its name or before it (``crumbs --data-dir X choices``).

One file per group of commands: :mod:`.serve` (serve, token, pair), :mod:`.check`,
:mod:`.choices` (allow, block, reset, trust, untrust, choices), :mod:`.lists`, :mod:`.sources`
(knowledge sources) and
:mod:`.history` (open), :mod:`.setup` (native messaging), :mod:`.recovery` (repair, restore); :mod:`.common`
holds the one ``--data-dir`` option. The installed ``crumbs`` executable is :mod:`companion.entry`, which wraps
:func:`main`.
"""

from __future__ import annotations

import sqlite3

import click

from .. import __version__
from ..remote import RemoteError
from ..sites import PublicSuffix
from ..storage.integrity import DatabaseDamaged, is_damage
from .check import check
from .choices import allow, block, choices, reset, trust, untrust
from .common import group_data_dir_option
from .history import open_history
from .lists import lists
from .recovery import repair, restore
from .serve import pair, serve, token
from .setup import setup
from .sources import sources


class _Main(click.Group):
    """The ``crumbs`` group: a damaged database is one line with the way out, from every command."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DatabaseDamaged as exc:
            raise click.ClickException(str(exc)) from None
        except RemoteError as exc:
            raise click.ClickException(f"the running companion refused: {exc.reason}") from None
        except PublicSuffix as exc:  # refused by the store when no companion runs (it made the choice here)
            raise click.ClickException(f"{exc} (nothing was changed)") from None
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            raise click.ClickException(
                f"the database is damaged ({str(exc)[:80]}); nothing was changed. Run 'crumbs repair' to salvage "
                "what can be read, or 'crumbs restore' to put back the latest snapshot."
            ) from None


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crumbs")
@group_data_dir_option
def main() -> None:
    """Crumbs: see, understand and control who tracks you on the web.

    This is the local companion of the Crumbs browser extension. It classifies the
    third-party requests your browser reports, remembers them on this machine only,
    and turns your choices into the browser's blocking rules.
    """


for _command in (serve, token, pair, check, allow, block, reset, trust, untrust, choices, lists, sources,
                 open_history, setup, repair, restore):
    main.add_command(_command)
