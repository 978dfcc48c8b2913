#!/usr/bin/env bash
# moto (PyPI), an S3-compatible server the media storage tests start, into target/py-moto (no
# system Python packages are touched). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=5.1.18
[ -d target/py-moto/moto ] && exit 0
python3 -m pip install --quiet --disable-pip-version-check --target target/py-moto \
  "moto[server]==$VERSION"
