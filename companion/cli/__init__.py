"""The ``crumbs`` command: serve the companion, and see or change choices from a terminal.

Choices made here are written to the same database the server reads, and the server picks
them up with the next event (no restart). Every command takes ``--data-dir`` (default:
``CRUMBS_HOME`` or the platform's user data folder).

One file per group of commands: :mod:`.serve` (serve, token, pair), :mod:`.check`,
:mod:`.choices` (allow, block, reset, trust, untrust, choices), :mod:`.lists` and
:mod:`.history` (open), :mod:`.setup` (native messaging); :mod:`.common` holds the one ``--data-dir``
option. The installed ``crumbs`` executable is :mod:`companion.entry`, which wraps :func:`main`.
"""

from __future__ import annotations

import click

from .. import __version__
from .check import check
from .choices import allow, block, choices, reset, trust, untrust
from .history import open_history
from .lists import lists
from .serve import pair, serve, token
from .setup import setup


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crumbs")
def main() -> None:
    """Crumbs: see, understand and control who tracks you on the web.

    This is the local companion of the Crumbs browser extension. It classifies the
    third-party requests your browser reports, remembers them on this machine only,
    and turns your choices into the browser's blocking rules.
    """


for _command in (serve, token, pair, check, allow, block, reset, trust, untrust, choices, lists, open_history,
                 setup):
    main.add_command(_command)
