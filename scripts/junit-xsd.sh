#!/usr/bin/env bash
# Prints the path of a published JUnit XML schema, fetching it once: the Jenkins xUnit plugin's
# junit-10.xsd (MIT), as pytest ships it in its source distribution on PyPI for its own tests.
# Used by tests/reports.rs to check junit.xml with xmllint (Debian's libxml2-utils).
set -euo pipefail
version=8.3.4
cache="${XDG_CACHE_HOME:-$HOME/.cache}/surge"
xsd="$cache/junit-10.xsd"
if [[ ! -s "$xsd" ]]; then
  mkdir -p "$cache"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --no-binary :all: "pytest==$version" -d "$work" >&2
  tar -xzf "$work/pytest-$version.tar.gz" -C "$work" "pytest-$version/testing/example_scripts/junit-10.xsd"
  mv "$work/pytest-$version/testing/example_scripts/junit-10.xsd" "$xsd.tmp"
  mv "$xsd.tmp" "$xsd"
fi
echo "$xsd"
