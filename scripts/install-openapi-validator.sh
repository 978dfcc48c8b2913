#!/usr/bin/env bash
# openapi-spec-validator (PyPI), which the integration suite runs on creo's OpenAPI document,
# installed into target/py-openapi (no system Python packages are touched). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.9.0
[ -d target/py-openapi/openapi_spec_validator ] && exit 0
python3 -m pip install --quiet --disable-pip-version-check --target target/py-openapi \
  "openapi-spec-validator==$VERSION"
