# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Debian's Chromium: the real binary, not the /usr/bin shell wrapper (see tests/browser).
CHROMIUM := /usr/lib/chromium/chromium
FIREFOX  := /usr/bin/firefox-esr
# web-ext (npm, pinned in package-lock.json) lints the Firefox package: `make dist` and the tests use it.
WEB_EXT  := node_modules/.bin/web-ext
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-python test-js bench bench-quick bench-scale install chromium firefox xvfb clean dist lint-firefox

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## Start the companion in the foreground with the shipped rules and the user's data folder.
run: $(STAMP)
	$(VENV)/bin/crumbs serve

## Browser tests need Debian's Chromium; install it when it is missing.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "Installing Debian's chromium (browser tests need it)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi
	@test -x $(CHROMIUM)

## The Firefox browser test needs Debian's firefox-esr (driven over WebDriver BiDi, no geckodriver).
firefox:
	@if [ ! -x $(FIREFOX) ]; then \
	  echo "Installing Debian's firefox-esr (the Firefox browser test needs it)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq firefox-esr >/dev/null; \
	fi
	@test -x $(FIREFOX)

## The toolbar's popup opens only in a browser window: Debian's xvfb gives Chromium a virtual screen for one.
xvfb:
	@if ! command -v Xvfb >/dev/null; then \
	  echo "Installing Debian's xvfb (the toolbar popup's test and bench open a Chromium window on it)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq xvfb >/dev/null; \
	fi
	@command -v Xvfb >/dev/null

test: $(STAMP) $(WEB_EXT) chromium firefox xvfb test-js test-python

test-python: $(STAMP)
	$(PY) -m pytest

test-js:
	@command -v node >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs >/dev/null; }
	node --test extension/test/

## Speed lives here, not in timed tests. Ratios are against peers measured in the same run.
bench: $(STAMP) chromium xvfb
	$(PY) bench/run.py

bench-quick: $(STAMP) chromium xvfb
	$(PY) bench/run.py --quick

## Ten million requests (issue 14): size, every history page, start, retention, export. Takes many minutes.
bench-scale: $(STAMP)
	$(PY) bench/run.py bench_scale

## web-ext (npm) lints the Firefox package; installed locally from package-lock.json, never globally.
$(WEB_EXT): package.json package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm >/dev/null; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The wheel and sdist (python -m build) and the two store packages of the extension, all in dist/.
dist: $(STAMP) $(WEB_EXT)
	rm -rf dist build
	$(PY) -m build --outdir dist .
	$(PY) tools/extension_zips.py --out dist
	$(MAKE) lint-firefox

## web-ext lint on the Firefox zip as AMO would see it: errors fail the build, warnings are printed.
lint-firefox: $(WEB_EXT)
	rm -rf build/firefox-lint
	$(PY) -m zipfile -e dist/crumbs-firefox.zip build/firefox-lint
	$(WEB_EXT) lint --source-dir build/firefox-lint

clean:
	rm -rf $(VENV) .pytest_cache dist build node_modules
