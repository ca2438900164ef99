"""URL rules whose ``url_for`` builders are compiled on first use, not when the route is added.

Why: Werkzeug compiles two Python functions per rule (through ``ast`` and ``compile``) the moment
a route is registered, to build that route's URLs later. The companion has about sixty routes and
builds URLs for a handful of them (redirects and links of the history pages); the compiling took
about 0.1 s of ``crumbs serve``'s start, before its first answer (issue 14, item 5). Matching
requests does not use these builders at all. The builder made on first use is Werkzeug's own.
"""
from __future__ import annotations

from typing import Any, Callable

from werkzeug.routing import Rule


class LazyBuildRule(Rule):
    """A :class:`~werkzeug.routing.Rule` that compiles each of its two URL builders when first called."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compile_now = super()._compile_builder
        compiled: list[Callable[..., tuple[str, str]]] = []

        # Positional-only: a URL variable may be called anything (``rule`` included).
        def build(rule: Rule, /, *args: Any, **kwargs: Any) -> tuple[str, str]:
            if not compiled:  # two threads may both compile: the same function, either one is kept
                compiled.append(compile_now(append_unknown))
            return compiled[0](rule, *args, **kwargs)

        build.compiled = compiled  # type: ignore[attr-defined]  # for tests: compiled yet?
        return build
