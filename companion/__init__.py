"""Crumbs companion: classifies, records and decides the third-party requests a browser reports.

The core (domains, engine, trackerdb, classify, policy, storage) knows nothing of Flask;
`companion.web` is a thin HTTP layer over it and `companion.cli` a thin command line.
"""

__version__ = "0.1.0"
