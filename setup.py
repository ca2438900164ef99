"""Build step the declarative pyproject.toml cannot say: ship the top-level ``rules/`` as package data.

``rules/`` stays at the repository's top (people edit and review it there); the wheel carries a
copy in ``companion/_rules``, which companion/resources.py finds with importlib.resources. An
editable install skips the copy and reads ``rules/`` from the checkout instead.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py

RULES = Path(__file__).resolve().parent / "rules"
SHIPPED = ("*.txt", "*.json")


class build_py(_build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "companion" / "_rules"
        target.mkdir(parents=True, exist_ok=True)
        files = sorted(f for pattern in SHIPPED for f in RULES.glob(pattern))
        if not any(f.name == "trackers.json" for f in files):
            raise SystemExit(f"rules/trackers.json is missing from {RULES}: cannot build Crumbs without its rules")
        for source in files:
            self.copy_file(str(source), str(target / source.name))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        target = Path(self.build_lib) / "companion" / "_rules"
        return outputs + [str(target / f.name) for pattern in SHIPPED for f in sorted(RULES.glob(pattern))]


setup(cmdclass={"build_py": build_py})
