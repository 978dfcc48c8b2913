#!/usr/bin/env bash
# aiosmtpd (PyPI), the real SMTP server the notification and password-reset tests start, into
# target/py-smtp (no system Python packages are touched). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.4.6
[ -d target/py-smtp/aiosmtpd ] && exit 0
python3 -m pip install --quiet --disable-pip-version-check --target target/py-smtp \
  "aiosmtpd==$VERSION"
