#!/usr/bin/env bash
# Checks the Helm chart helm/weft offline: no Kubernetes cluster and no `helm` binary needed. The
# tools are pinned and installed from PyPI into a virtualenv cached in .cache/chart-venv:
# helm-python-sdk (Helm v4's Go library: lint, schema validation, render), kubernetes-validate
# (the Kubernetes OpenAPI schemas) and yamllint. See scripts/check_chart.py for what is checked.
#
#   scripts/check-chart.sh [path/to/weft]   # with the binary, env names are checked against it
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/chart-venv
pins="helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 yamllint==1.38.0 PyYAML==6.0.3"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/pins" 2>/dev/null)" != "$pins" ]; then
  echo "check-chart: installing $pins into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check $pins
  echo "$pins" > "$venv/pins"
fi
export PATH="$PWD/$venv/bin:$PATH"
if [ -n "${1:-}" ]; then export WEFT_BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); fi
# Helm logs every `fail` it renders; those messages are in the report already.
"$venv/bin/python" scripts/check_chart.py 2> >(grep -v "funcMap fail" >&2)
