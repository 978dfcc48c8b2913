#!/usr/bin/env bash
# Builds the browser editor (frontend/, Vite + React + Tiptap) into frontend/dist, which
# `creo serve` serves at /. Installs Node and npm from Debian's packages if they are missing.
# Without them the server still runs, serving the API and the socket only.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null; then
  echo "== installing nodejs npm"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nodejs npm
fi
echo "== npm ci + build (the browser editor, served by creo at /)"
npm ci --prefix frontend --no-audit --no-fund --loglevel=error
npm run build --prefix frontend --silent
