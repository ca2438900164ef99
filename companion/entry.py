"""The ``crumbs`` executable: the click command line, with one last guard against tracebacks.

Why a separate entry: a broken install (shipped rules missing or damaged) or an unreadable data
folder surfaces as ValueError/OSError from deep inside start-up, in whichever command runs first.
The person needs one line saying what is wrong, not a Python traceback; the commands themselves
stay free of that boilerplate.
"""

from __future__ import annotations

import sys


def main() -> None:
    from .cli import main as cli
    from .resources import require_rules

    try:
        # Before any command: without its shipped rules every command would misbehave in its own way
        # (and the list registry would drop the shipped lists it no longer sees).
        require_rules()
        cli(prog_name="crumbs")
    except (ValueError, OSError) as exc:
        detail = str(exc) or exc.__class__.__name__
        print(f"Error: {detail.splitlines()[0]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
