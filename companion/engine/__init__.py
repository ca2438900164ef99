"""Crumbs' own Adblock Plus filter engine: parser, index and matcher, no I/O beyond reading lists
and its cache. Public API: Engine, Match, ListStats (see engine.py); dnr.to_dnr_condition."""
from .engine import Engine, ListStats, Match

__all__ = ["Engine", "ListStats", "Match"]
