#!/usr/bin/env bash
# `make run`: the simulators (seeded with a demo tenant) and every Syncline service as local
# processes against the local Kafka and PostgreSQL, until Ctrl-C; then stops what it started.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
bin="$repo/.venv/bin"
logs="$repo/.local/run"
mkdir -p "$logs"
pids=()

have() { "$bin/python" -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('$1') else 1)" 2>/dev/null; }

start() { # name module cmd...
  local name=$1 module=$2; shift 2
  if ! have "$module"; then
    echo "  - $name: not built yet (module $module missing), skipped"
    return
  fi
  "$@" >"$logs/$name.log" 2>&1 &
  pids+=("$!")
  echo "  - $name: pid $! (log: .local/run/$name.log)"
}

stop_all() {
  echo; echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped."
}
trap stop_all EXIT
trap 'exit 0' INT TERM

export SYNCLINE_SIM_STATE_DIR="$repo/.local/sim"
echo "starting Syncline (logs in .local/run):"
start sim-graph simulators.graph "$bin/syncline" sim graph --port 8443
start sim-salesforce simulators.salesforce "$bin/syncline" sim salesforce --port 8444
start reconciler reconciler.main "$bin/syncline" reconciler
start exchange-connector exchange_connector.main "$bin/syncline" exchange-connector
start salesforce-connector salesforce_connector.main "$bin/syncline" salesforce-connector
start status-api status_api.main "$bin/syncline" status-api --port 8080

if [ -x "$repo/deploy/local/demo.sh" ]; then bash "$repo/deploy/local/demo.sh" || echo "demo seeding failed; see logs"; fi
echo
echo "status API: http://127.0.0.1:8080/v1  (OpenAPI docs: http://127.0.0.1:8080/docs)"
echo "Ctrl-C to stop."
while true; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "a process (pid $pid) exited; see .local/run/*.log"; fi
  done
  sleep 5
done
