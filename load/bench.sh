#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md: builds creo and creo-load (release), installs the
# reference server (@y/websocket-server, pinned in load/reference), and runs each scenario
# against both servers in the same run, each on a freshly started server.
#
#   load/bench.sh            all scenarios against the reference server, then C1 and C2
#   load/bench.sh S1 S3      some of them
#   load/bench.sh F          the machine's floor (creo-floor): CPU of one loopback write to
#                            another process and of one fdatasync, to hold the CPU targets against
#   load/bench.sh S1T        S1 against creo alone with its data on tmpfs (no disk fsync)
#   load/bench.sh C1 C2      the cluster scenarios only (creo on one node vs two nodes and Redis)
#   load/bench.sh I1         the inference pool against raw ONNX Runtime, and search at 100k docs
#   load/bench.sh B1         the charge path (creo-charges: charges/s and p99 against an
#                            authenticated read of the account in the same run)
#   load/bench.sh W1         a write burst (creo-burst): one writer sends 20,000 small updates as
#                            fast as it can; the time until an observer has them all, against
#                            the reference server in the same run
#   load/bench.sh N1         notifications (creo-notify): a review request fanned out to 1,000
#                            admins' inboxes against one-recipient mentions, and mention -> live
#                            stream latency against the comment request's own round trip
#   load/bench.sh J1         the job path (creo-jobs): webhook delivery jobs/s through RabbitMQ
#                            and through the store queue against direct POSTs, and request ->
#                            socket latency of comments and of four-variation generations
#   load/bench.sh P1         publishing (creo-publish): posts/s to 100 channels and lateness
#                            against the scheduled instant, through RabbitMQ and the store queue
#   load/bench.sh M1         the media library (creo-media): a 500 MB upload in MB/s against a
#                            plain file copy, the server's RSS while it streams, and renditions
#                            jobs/s
#
# CREO_BIN=path runs that creo binary instead of the one just built (an A/B against an older
# commit's build, in the same hour on the same machine).
#
# Reports land in target/bench/: one creo-load JSON report per scenario and server, and
# summary.md, the table BENCHMARKS.md quotes (creo's figures as ratios to the reference's).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${BENCH_OUT:-$ROOT/target/bench} # BENCH_OUT: where the reports go
mkdir -p "$OUT"
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -eq 0 ] && SCENARIOS=(F T S1 S2 S3 S4 S5 W1 C1 C2 B1 N1 I1 J1)

cargo build --release -p creo -p creo-load
(cd load/reference && npm ci --no-audit --no-fund --loglevel=error)
ulimit -n "$(ulimit -Hn)" # node does not raise its own limit

export CREO_JWT_SECRET=bench-secret-0123456789abcdef
# Every simulated editor connects (and every benchmark account signs up) from the loopback: the
# per-address limits meant for the internet would stop the load tool, not measure creo.
export CREO_UPGRADES_PER_MINUTE=0 CREO_SIGNUPS_PER_HOUR=0 CREO_AUTH_REQUESTS_PER_MINUTE=0
LOAD=$ROOT/target/release/creo-load
CREO=${CREO_BIN:-$ROOT/target/release/creo}
CREO_PORT=18080
REF_PORT=11234
SERVER_PID=
SERVER_KIND=

start_creo() { # [keep]: reuse the data directory (BENCH_DATA, default target/bench/creo-data)
  local data=${BENCH_DATA:-$OUT/creo-data}
  [ "${1:-}" = keep ] || rm -rf "$data"
  CREO_ADDR=127.0.0.1:$CREO_PORT CREO_DATA=$data CREO_LOG=warn \
    "$CREO" serve >>"$OUT/creo.log" 2>&1 &
  SERVER_PID=$!
  SERVER_KIND=creo
  wait_port $CREO_PORT
}

start_ref() { # [keep]: reuse the persistence directory
  [ "${1:-}" = keep ] || rm -rf "$OUT/ref-data"
  # YPERSISTENCE (LevelDB through y-leveldb) only where a scenario needs documents to outlive
  # the process; an empty value would make the server fail to start.
  local persist=()
  [ -n "${REF_PERSIST:-}" ] && persist=("YPERSISTENCE=$REF_PERSIST")
  (cd load/reference &&
    exec env HOST=127.0.0.1 PORT=$REF_PORT "${persist[@]}" \
      node node_modules/@y/websocket-server/src/server.js >>"$OUT/ref.log" 2>&1) &
  SERVER_PID=$!
  SERVER_KIND=ref
  wait_port $REF_PORT
}

wait_port() {
  for _ in $(seq 100); do
    (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2
  exit 1
}

stop_server() {
  for pid in $SERVER_PID; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $SERVER_PID; do wait "$pid" 2>/dev/null || true; done
  [ -n "${REDIS_PID:-}" ] && { kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=; }
  return 0
}

# Two creo nodes sharing one data directory and a Redis of their own (ports 18080, 18081).
REDIS_PORT=16379
start_cluster() {
  rm -rf "$OUT/creo-data"
  redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no >>"$OUT/redis.log" 2>&1 &
  REDIS_PID=$!
  wait_port $REDIS_PORT
  SERVER_PID=
  for port in 18080 18081; do
    CREO_ADDR=127.0.0.1:$port CREO_DATA=$OUT/creo-data CREO_LOG=warn \
      CREO_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/ "$CREO" serve >>"$OUT/creo.log" 2>&1 &
    SERVER_PID="$SERVER_PID $!"
    wait_port $port
  done
  SERVER_KIND=cluster
}

# cluster_pair NAME ARGS...: the same run on one creo node, then with each document's editors
# split over two nodes (every delivery crosses nodes when --editors is 2).
cluster_pair() {
  local name=$1
  shift
  start_creo
  load "$name" "$@"
  stop_server
  start_cluster
  load "$name" "$@"
  stop_server
}

# load NAME ARGS...: one creo-load run against the running server (or both cluster nodes).
load() {
  local name=$1
  shift
  local args=() pid
  case $SERVER_KIND in
  creo) args=(--url "ws://127.0.0.1:$CREO_PORT/ws/{doc}?token={token}"
    --metrics-url "http://127.0.0.1:$CREO_PORT/metrics") ;;
  cluster) args=(--url "ws://127.0.0.1:18080/ws/{doc}?token={token}"
    --url "ws://127.0.0.1:18081/ws/{doc}?token={token}") ;;
  *) args=(--url "ws://127.0.0.1:$REF_PORT/{doc}") ;;
  esac
  for pid in $SERVER_PID; do args+=(--server-pid "$pid"); done
  "$LOAD" "${args[@]}" --label "$name-$SERVER_KIND" \
    --json "$OUT/$name-$SERVER_KIND.json" --quiet "$@" | tee -a "$OUT/runs.txt"
}

# Each scenario runs on a fresh server, first creo, then the reference.
both() {
  local name=$1
  shift
  for kind in creo ref; do
    "start_$kind"
    load "$name" "$@"
    stop_server
  done
}

for s in "${SCENARIOS[@]}"; do
  case $s in
  F) # The floor: what one delivery (a small write to a loopback socket read by another
    # process) and one group commit (4 KiB + fdatasync on the data's disk) cost this machine.
    "$ROOT/target/release/creo-floor" --dir "$OUT" --json "$OUT/F.json" | tee -a "$OUT/runs.txt" ;;
  T) # The load tool's own capacity: one thread driving 50 editors at 40 edits/s each
    # (98,000 deliveries/s asked for), against creo.
    start_creo
    load T --docs 1 --editors 50 --rate 40 --duration 15s --threads 1
    stop_server ;;
  S1) # 50 editors on one document, 2 edits/s each.
    both S1 --docs 1 --editors 50 --rate 2 --awareness-rate 1 --duration 30s --ramp-up 2s ;;
  S1T) # S1 with creo's data on tmpfs: the same commit path, without the disk's fsync, so the
    # disk's share of S1's latency shows (the reference keeps nothing on disk either way).
    BENCH_DATA=/dev/shm/creo-bench-data start_creo
    load S1T --docs 1 --editors 50 --rate 2 --awareness-rate 1 --duration 30s --ramp-up 2s
    stop_server
    rm -rf /dev/shm/creo-bench-data ;;
  S2) # 100 documents x 4 editors, 2 edits/s each.
    both S2 --docs 100 --editors 4 --rate 2 --awareness-rate 1 --duration 30s --ramp-up 4s ;;
  S3) # Idle memory: 10,000 connections on 10,000 documents.
    both S3 --docs 10000 --editors 1 --rate 0 --duration 10s --ramp-up 20s ;;
  S4) # Cold load of a document with 20,000 edits (4 editors x 5,000), against loading it warm.
    for kind in creo ref; do
      REF_PERSIST=$OUT/ref-data "start_$kind"
      load S4-fill --docs 1 --editors 4 --rate 250 --max-edits 5000 --duration 25s \
        --doc-prefix s4
      stop_server # creo flushes on SIGTERM; the reference writes to LevelDB as it goes
      REF_PERSIST=$OUT/ref-data "start_$kind" keep
      # Long enough for content that comes after the first sync to arrive within the run.
      load S4-cold --docs 1 --editors 1 --rate 0 --duration 3s --ramp-up 0s --doc-prefix s4
      load S4-warm --docs 1 --editors 1 --rate 0 --duration 3s --ramp-up 0s --doc-prefix s4
      stop_server
    done ;;
  W1) # A write burst: 20,000 single-character updates from one writer as fast as it sends,
    # three runs on each server; the intake time is until an observer has all of them.
    for kind in creo ref; do
      "start_$kind"
      case $kind in
      creo) url="ws://127.0.0.1:$CREO_PORT/ws/{doc}?token={token}" ;;
      *) url="ws://127.0.0.1:$REF_PORT/{doc}" ;;
      esac
      for i in 1 2 3; do
        "$ROOT/target/release/creo-burst" --url "$url" --doc "w1-$i" --updates 20000 \
          --label "W1-$kind" --json "$OUT/W1-$kind-$i.json" | tee -a "$OUT/runs.txt"
      done
      stop_server
    done ;;
  S5) # The most editors held with p99 <= 50 ms: documents of 4 editors, an edit every 5 s and
    # a cursor move every 2 s each. Steps up until p99 passes 50 ms or errors appear.
    for kind in creo ref; do
      for editors in 2000 5000 10000 12500 15000; do
        "start_$kind"
        load "S5-$editors" --docs $((editors / 4)) --editors 4 --rate 0.2 --awareness-rate 0.5 \
          --duration 30s --ramp-up 30s --connect-timeout 30s || true
        stop_server
        ok=$(python3 -c "import json,sys; r=json.load(open('$OUT/S5-$editors-$kind.json')); \
print(int(r['latency_ms']['p99'] <= 50 and not r['errors'] and r['convergence']['converged'] == r['convergence']['documents']))")
        [ "$ok" = 1 ] || break
      done
    done ;;
  C1) # Cross-node latency: 100 documents x 2 editors, 2 edits/s each, the editors of every
    # document on different nodes.
    cluster_pair C1 --docs 100 --editors 2 --rate 2 --awareness-rate 1 --duration 30s --ramp-up 4s ;;
  C2) # Cross-node throughput: 1 document, 50 editors at 10 edits/s, split over two nodes.
    cluster_pair C2 --docs 1 --editors 50 --rate 10 --duration 20s --ramp-up 2s ;;
  B1) # The charge path: 16 accounts, 64 charges in flight, 20 s, after 20 s of account reads
    # as the baseline. Tier request limits are lifted so the ledger is measured, not the limiter.
    export CREO_BILLING_WEBHOOK_SECRET=bench-webhook-secret
    CREO_TIERS__FREE__REQUESTS_PER_SECOND=0 CREO_TIERS__FREE__REQUESTS_PER_HOUR=0 \
      CREO_TIERS__FREE__MONTHLY_GENERATIONS=100000000 start_creo
    "$ROOT/target/release/creo-charges" --url "http://127.0.0.1:$CREO_PORT" \
      --accounts 16 --concurrency 64 --duration 20s | tee "$OUT/B1.txt"
    stop_server ;;
  N1) # Notifications: 1,000 admins of one account (cheap password hashing, no seat or request
    # limits), a review request to all of them against one-recipient mentions, and the time from
    # a mention to its event on the recipient's live stream.
    CREO_ARGON2_MEMORY_KIB=256 CREO_ARGON2_ITERATIONS=1 CREO_TIERS__FREE__SEATS=100000 \
      CREO_TIERS__FREE__REQUESTS_PER_SECOND=0 CREO_TIERS__FREE__REQUESTS_PER_HOUR=0 start_creo
    "$ROOT/target/release/creo-notify" --url "http://127.0.0.1:$CREO_PORT" | tee "$OUT/N1.txt"
    stop_server ;;
  J1) # The job path, once through RabbitMQ (127.0.0.1:5672) and once through the store
    # queue: 250 comments x 20 webhook endpoints = 5000 delivery jobs, then 30 latency samples.
    ./scripts/install-models.sh
    export CREO_BILLING_WEBHOOK_SECRET=bench-webhook-secret
    export CREO_MODELS=models CREO_TIERS__FREE__REQUESTS_PER_SECOND=0 \
      CREO_TIERS__FREE__REQUESTS_PER_HOUR=0 CREO_TIERS__FREE__MONTHLY_GENERATIONS=100000000 \
      CREO_USER_MESSAGES_PER_SECOND=100000 CREO_USER_MESSAGE_BURST=100000
    for queue in rabbitmq store; do
      if [ $queue = rabbitmq ]; then
        export CREO_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f CREO_AMQP_PREFIX=creo-bench
      else
        unset CREO_AMQP_URL CREO_AMQP_PREFIX
      fi
      start_creo
      echo "== $queue" | tee -a "$OUT/J1.txt"
      "$ROOT/target/release/creo-jobs" --url "http://127.0.0.1:$CREO_PORT" | tee -a "$OUT/J1.txt"
      stop_server
    done ;;
  P1) # Publishing to channels, once through RabbitMQ and once through the store queue: 500
    # approved posts on 100 webhook channels (two accounts of 50), all due at one instant.
    export CREO_OUTBOUND_ALLOW=127.0.0.0/8 CREO_TIERS__FREE__REQUESTS_PER_SECOND=0 \
      CREO_TIERS__FREE__REQUESTS_PER_HOUR=0
    for queue in rabbitmq store; do
      if [ $queue = rabbitmq ]; then
        export CREO_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f CREO_AMQP_PREFIX=creo-bench
      else
        unset CREO_AMQP_URL CREO_AMQP_PREFIX
      fi
      start_creo
      echo "== $queue" | tee -a "$OUT/P1.txt"
      "$ROOT/target/release/creo-publish" --url "http://127.0.0.1:$CREO_PORT" | tee -a "$OUT/P1.txt"
      stop_server
    done ;;
  M1) # The media library: one 500 MB upload (server RSS sampled while it streams) against a
    # plain copy of the file, then 40 distinct PNGs and their renditions.
    export CREO_TIERS__FREE__REQUESTS_PER_SECOND=0 CREO_TIERS__FREE__REQUESTS_PER_HOUR=0 \
      CREO_TIERS__FREE__MAX_UPLOAD_BYTES=600000000 CREO_TIERS__FREE__MEDIA_STORAGE_BYTES=20000000000
    start_creo
    "$ROOT/target/release/creo-media" --url "http://127.0.0.1:$CREO_PORT" --pid "$SERVER_PID" \
      --scratch "$OUT" | tee "$OUT/M1.txt"
    stop_server ;;
  I1) # The inference pool: in one process, raw ORT at batch 1-64, the pool under 64 concurrent
    # single-sentence callers, interleaved low-load latency, then exact search.
    ./scripts/install-models.sh
    "$ROOT/target/release/creo-infer-bench" --models models --duration 6s 2>/dev/null | tee "$OUT/I1.txt" ;;
  *) echo "unknown scenario $s" >&2; exit 1 ;;
  esac
done

python3 load/summarise.py "$OUT" | tee "$OUT/summary.md"
