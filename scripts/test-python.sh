#!/usr/bin/env bash
# Prints a directory to put on PYTHONPATH that holds the Python packages the tests use, fetching
# them from PyPI once into the cache (~/.cache/surge, or SURGE_CACHE_DIR) for this Python version:
#   prometheus-client    the Prometheus project's OpenMetrics parser, reading surge's live view
#   kubernetes-validate  the Kubernetes API schemas, checking deploy/k8s (with PyYAML)
#   xmlschema            an XML Schema validator, checking junit.xml against the JUnit schema
#   kafka-python         a pure-Python Kafka client: traffic surge did not write, for `surge profile`
# Nothing is installed into the system's Python.
set -euo pipefail
packages=(prometheus-client==0.26.0 kubernetes-validate==1.37.0 xmlschema==4.3.2 kafka-python==3.0.12)
cache="${SURGE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/surge}"
command -v python3 >/dev/null || { echo "test-python: python3 is needed" >&2; exit 2; }
python3 -m pip --version >/dev/null 2>&1 || { echo "test-python: pip is needed for python3 (apt-get install python3-pip)" >&2; exit 2; }
version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
key="$(printf '%s\n' "$version" "${packages[@]}" | sha256sum | cut -c 1-12)"
dir="$cache/python-$key"
if [[ ! -f "$dir/.complete" ]]; then
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/python-$key.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "test-python: fetching ${packages[*]} into $dir" >&2
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-input --target "$work" "${packages[@]}" >&2
  touch "$work/.complete"
  # Another test binary may have finished the same install first: either copy will do.
  mv -T "$work" "$dir" 2>/dev/null || true
fi
echo "$dir"
