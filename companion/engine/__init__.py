"""Crumbs' own Adblock Plus filter engine: parser, index and matcher, no I/O beyond reading lists
and its cache. Public API: Engine, Match, ListStats (see engine.py); ParsedFilter and parse_filter
(see parser.py) for the DNR compiler, which is given filters already parsed and never parses text."""
from .engine import Engine, ListStats, Match
from .parser import ParsedFilter, parse_filter

__all__ = ["Engine", "ListStats", "Match", "ParsedFilter", "parse_filter"]
