# Shared helpers for integration tests: start `iotconform serve` on ephemeral ports,
# read the ports back, count checks, and stop everything on exit.
# Usage: source lib.sh; iotc_start_serve BIN PKI [extra serve args...]

IOTC_PASS=0
IOTC_FAIL=0
IOTC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/iotc-it-XXXXXX")
IOTC_SERVE_PID=""

iotc_cleanup() {
  if [ -n "$IOTC_SERVE_PID" ] && kill -0 "$IOTC_SERVE_PID" 2>/dev/null; then
    kill -TERM "$IOTC_SERVE_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$IOTC_SERVE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$IOTC_SERVE_PID" 2>/dev/null || true
  fi
  jobs -p | xargs -r kill 2>/dev/null || true
  rm -rf "$IOTC_TMP"
}
trap iotc_cleanup EXIT

ok() { IOTC_PASS=$((IOTC_PASS + 1)); echo "ok   - $*"; }
not_ok() { IOTC_FAIL=$((IOTC_FAIL + 1)); echo "FAIL - $*"; }
check() { # check "description" command...
  local what="$1"; shift
  if "$@" >"$IOTC_TMP/last.out" 2>&1; then ok "$what"; else not_ok "$what"; sed 's/^/    /' "$IOTC_TMP/last.out" | tail -20; fi
}
check_fails() { # the command must fail
  local what="$1"; shift
  if "$@" >"$IOTC_TMP/last.out" 2>&1; then not_ok "$what (unexpectedly succeeded)"; sed 's/^/    /' "$IOTC_TMP/last.out" | tail -20; else ok "$what"; fi
}
iotc_finish() {
  echo "$IOTC_PASS passed, $IOTC_FAIL failed"
  [ "$IOTC_FAIL" -eq 0 ]
}

# Starts serve; sets P8883 P8443 P443 JOURNAL. Waits for the READY line (event, not sleep:
# the fifo read blocks until serve writes it), 30 s at most.
iotc_start_serve() {
  local bin="$1" pki="$2"; shift 2
  mkfifo "$IOTC_TMP/ready"
  "$bin" serve --pki "$pki" --ports 0 --run-dir "$IOTC_TMP/run" --journal "$IOTC_TMP/journal.jsonl" "$@" \
    >"$IOTC_TMP/ready" 2>"$IOTC_TMP/serve.err" &
  IOTC_SERVE_PID=$!
  local line=""
  if ! read -r -t 30 line <"$IOTC_TMP/ready"; then
    echo "serve did not become ready:"; cat "$IOTC_TMP/serve.err"; exit 1
  fi
  case "$line" in IOTCONFORM_READY*) ;; *) echo "unexpected first line: $line"; cat "$IOTC_TMP/serve.err"; exit 1;; esac
  local json="${line#IOTCONFORM_READY }"
  P8883=$(echo "$json" | sed -E 's/.*"8883":([0-9]+).*/\1/')
  P8443=$(echo "$json" | sed -E 's/.*"8443":([0-9]+).*/\1/')
  P443=$(echo "$json" | sed -E 's/.*"443":([0-9]+).*/\1/')
  JOURNAL="$IOTC_TMP/journal.jsonl"
  # keep draining stdout so serve never blocks on a full pipe
  cat "$IOTC_TMP/ready" >/dev/null &
}

journal_has() { grep -q -- "$1" "$JOURNAL"; }
