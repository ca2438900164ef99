"""Build the store packages of the extension: dist/crumbs-chromium.zip and dist/crumbs-firefox.zip.

One source tree (extension/) serves both browsers when loaded unpacked; each store wants its own
manifest:
- Chromium: the public ``key`` (it fixes the extension id the companion and the native messaging host
  allow), ``background.service_worker`` only, and no ``browser_specific_settings`` (Chrome warns on it).
- Firefox: no ``key`` (AMO refuses it), ``background.scripts`` (Firefox runs an event page, not a
  service worker), and the gecko id ``crumbs@crumbs.local`` that the native host manifest allows.

Only what the extension runs goes in: no tests, no READMEs, no EXTENSION_ID note. Entries are sorted
and dated 1980-01-01 so the same tree always gives the same bytes.

    python tools/extension_zips.py [--out dist]
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "extension"
SKIP_DIRS = {"test", "node_modules"}
SKIP_FILES = {"EXTENSION_ID"}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def chromium_manifest(manifest: dict) -> dict:
    out = dict(manifest)
    background = dict(out["background"])
    background.pop("scripts", None)
    out["background"] = background
    out.pop("browser_specific_settings", None)
    if "key" not in out:
        raise ValueError("extension/manifest.json has no 'key': the Chromium id would change")
    return out


def firefox_manifest(manifest: dict) -> dict:
    out = dict(manifest)
    out.pop("key", None)
    background = dict(out["background"])
    background.pop("service_worker", None)
    background.setdefault("scripts", ["src/background.js"])
    out["background"] = background
    if out.get("browser_specific_settings", {}).get("gecko", {}).get("id") != "crumbs@crumbs.local":
        raise ValueError("extension/manifest.json lacks the gecko id crumbs@crumbs.local")
    return out


def files(source: Path) -> list[Path]:
    found = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_dir() or rel.parts[0] in SKIP_DIRS or path.name in SKIP_FILES or path.suffix == ".md":
            continue
        if rel.as_posix() == "manifest.json":
            continue
        found.append(path)
    return found


def write_zip(target: Path, manifest: dict, source: Path = SOURCE) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_suffix(".zip.new")
    with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as z:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)

        add("manifest.json", (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
        for path in files(source):
            add(path.relative_to(source).as_posix(), path.read_bytes())
    staging.replace(target)
    return target


def build(out: Path, source: Path = SOURCE) -> tuple[Path, Path]:
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    return (write_zip(out / "crumbs-chromium.zip", chromium_manifest(manifest), source),
            write_zip(out / "crumbs-firefox.zip", firefox_manifest(manifest), source))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    try:
        for built in build(args.out):
            print(f"built {built}")
    except (OSError, ValueError, KeyError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
