#!/usr/bin/env bash
# Fuzzes creo-core's decoders with libFuzzer (cargo fuzz): a WebSocket frame through a session
# and its document (frame), the Yjs update validator against yrs (update), presence
# (awareness), bus envelopes (envelope), uploaded images through cleaning and renditions (image)
# and brand font files (font). Starts from the committed seed corpus, keeps what
# it learns in target/fuzz-corpus/, and stops at the first crash (the input is saved under
# crates/creo-core/fuzz/artifacts/; make it a regression test).
#
#   scripts/fuzz.sh            30 s per target (what the test suite runs)
#   scripts/fuzz.sh 3600       an hour per target
#   scripts/fuzz.sh 600 frame  ten minutes of one target
#
# Runs on the stable toolchain: no sanitizer (-s none) needs no nightly flags.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-30}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(frame update awareness envelope image font)

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.2
ROOT=$PWD
cd crates/creo-core
cargo fuzz build -s none
for t in "${TARGETS[@]}"; do
  corpus="$ROOT/target/fuzz-corpus/$t"
  mkdir -p "$corpus"
  rm -rf "fuzz/artifacts/$t"
  echo "== fuzz $t for ${SECONDS_PER_TARGET}s"
  # The first corpus directory is written to; the committed seeds are only read.
  cargo fuzz run -s none "$t" "$corpus" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -print_final_stats=1 2>&1 \
    | grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|panicked|SUMMARY' || true
  # A crash makes cargo fuzz fail and leaves the input in fuzz/artifacts/.
  if ls "fuzz/artifacts/$t"/crash-* >/dev/null 2>&1; then
    echo "fuzz $t found a crash: $(ls fuzz/artifacts/$t/crash-*)" >&2
    exit 1
  fi
done
