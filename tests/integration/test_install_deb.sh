#!/usr/bin/env bash
# test_install_deb.sh SOURCE_DIR BUILD_DIR
#
# Builds the .deb with cpack (into a temporary directory), unpacks it with dpkg -x
# into a temporary root, and from an unrelated directory with a fresh HOME runs the
# installed `iotconform serve` (until READY) and `iotconform run` on a few x509 cases,
# both under strace. Passes only if the per-user PKI was generated on first use, the
# installed data was used, the cases passed, and no traced file access named the
# source or the build tree.
set -uo pipefail

SRC=$(cd "${1:?usage: test_install_deb.sh SOURCE_DIR BUILD_DIR}" && pwd -P)
BUILD=$(cd "${2:?usage: test_install_deb.sh SOURCE_DIR BUILD_DIR}" && pwd -P)
PASS=0
FAIL=0
ok() {
    PASS=$((PASS + 1))
    echo "ok   - $*"
}
not_ok() {
    FAIL=$((FAIL + 1))
    echo "FAIL - $*"
}
finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit $?
}

for tool in cpack dpkg strace; do
    command -v "$tool" >/dev/null 2>&1 || {
        not_ok "$tool is not installed (ci/install-deps.sh installs it)"
        finish
    }
done

# The work area must be outside both trees, or every access to it would look like a leak.
WORK=$(mktemp -d /tmp/iotc-install-XXXXXX)
SERVE_PID=""  # serve itself (from its READY line): strace ignores SIGTERM while tracing
STRACE_PID=""
stop() { # stop PID: TERM, up to 5 s, then KILL
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
    stop "$SERVE_PID"
    stop "$STRACE_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT
case "$WORK/" in
"$SRC"/* | "$BUILD"/*)
    not_ok "temporary directory $WORK is inside the source or build tree"
    finish
    ;;
esac

# ---------------------------------------------------------------- package and unpack
if (cd "$WORK" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$WORK/pkg") \
    >"$WORK/cpack.log" 2>&1; then
    ok "cpack builds a .deb"
else
    not_ok "cpack failed"
    tail -30 "$WORK/cpack.log"
    finish
fi
DEB=$(find "$WORK/pkg" -maxdepth 1 -name 'iotconform_*.deb' | head -1)
[ -n "$DEB" ] || {
    not_ok "no iotconform_*.deb in $WORK/pkg"
    finish
}
dpkg-deb -f "$DEB" Package Depends >"$WORK/control" 2>&1
grep -q '^Package: iotconform$' "$WORK/control" && grep -q 'mosquitto' "$WORK/control" &&
    grep -q 'libjansson4' "$WORK/control" && ok "control: package iotconform, runtime Depends" ||
    {
        not_ok "control fields"
        cat "$WORK/control"
    }

ROOT=$WORK/root
dpkg -x "$DEB" "$ROOT" || {
    not_ok "dpkg -x"
    finish
}
for f in usr/bin/iotconform usr/lib/iotconform/iotc_plugin.so usr/lib/iotconform/iotc_refdevice \
    usr/share/iotconform/suites/x509.json usr/share/iotconform/suites/certification.json \
    usr/share/iotconform/fixtures/registry.json usr/share/iotconform/fixtures/profiles/default.json \
    usr/share/iotconform/fixtures/adapters/refdevice.json usr/share/iotconform/certs/mkpki.sh; do
    [ -e "$ROOT/$f" ] && ok "installed $f" || not_ok "missing $f"
done
[ -x "$ROOT/usr/share/iotconform/fixtures/authorizers/allow-by-token.sh" ] &&
    ok "authorizer scripts stay executable" || not_ok "authorizer scripts lost their mode"
if grep -rqF -- "$SRC" "$ROOT/usr/share" 2>/dev/null; then
    not_ok "installed data names the source tree"
else
    ok "installed data does not name the source tree"
fi

# ---------------------------------------------------------------- run from elsewhere
# A clean environment: no IOTCONFORM_* variables, a fresh HOME, a PATH of system
# directories only (a PATH entry inside a tree would be probed by exec).
HOME_DIR=$WORK/home
CWD=$WORK/elsewhere
mkdir -p "$HOME_DIR" "$CWD" "$WORK/tmp"
ENV=(env -i "HOME=$HOME_DIR" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "TMPDIR=$WORK/tmp" "LANG=C.UTF-8"
    # LeakSanitizer cannot run under ptrace; the asan preset checks leaks everywhere else.
    "ASAN_OPTIONS=detect_leaks=0")
BIN=$ROOT/usr/bin/iotconform
USER_PKI=$HOME_DIR/.local/share/iotconform/pki

cd "$CWD" || finish
mkfifo "$WORK/ready"
"${ENV[@]}" strace -f -qq -e trace=%file -o "$WORK/strace.serve" \
    "$BIN" serve --ports 0 --run-dir "$WORK/run" >"$WORK/ready" 2>"$WORK/serve.err" &
STRACE_PID=$!
line=""
# First use generates the PKI (about a hundred openssl runs under strace): allow time.
if read -r -t 240 line <"$WORK/ready" && [[ "$line" == IOTCONFORM_READY* ]]; then
    ok "installed serve prints READY"
else
    not_ok "installed serve did not become ready (first line: '$line')"
    tail -30 "$WORK/serve.err"
fi
cat "$WORK/ready" >/dev/null &
SERVE_PID=$(echo "$line" | sed -nE 's/.*"pid":([0-9]+).*/\1/p')
[[ "$line" == *"\"pki\":\"$USER_PKI\""* ]] && ok "serve uses the per-user PKI" ||
    not_ok "serve's READY names another PKI: $line"
[ -f "$USER_PKI/ca-bundle.crt" ] && [ -f "$USER_PKI/device-01.key" ] &&
    ok "PKI generated on first use in $USER_PKI" || not_ok "no PKI in $USER_PKI"
grep -q "generating the test PKI in $USER_PKI" "$WORK/serve.err" &&
    ok "first use says where the PKI goes" || not_ok "no first-use message"
stop "$SERVE_PID"
SERVE_PID=""
# strace exits once serve and mosquitto have; its log is complete after that.
for _ in $(seq 100); do
    kill -0 "$STRACE_PID" 2>/dev/null || break
    sleep 0.1
done
stop "$STRACE_PID"
wait "$STRACE_PID" 2>/dev/null
STRACE_PID=""

if "${ENV[@]}" strace -f -qq -e trace=%file -o "$WORK/strace.run" \
    "$BIN" run --suite x509 --jobs 1 --out "$CWD/report" \
    --filter 'x509.sni-missing.mqtt-x509-8883.ipv4.*' \
    --filter 'x509.connect.mqtt-x509-8883.ipv4.tls13' >"$WORK/run.out" 2>"$WORK/run.err"; then
    ok "installed run passes its cases"
else
    not_ok "installed run failed"
    tail -30 "$WORK/run.err"
fi
n=$(grep -o '"status": *"passed"' "$CWD/report/results.json" 2>/dev/null | wc -l)
[ "$n" -eq 3 ] && ok "results.json: 3 cases passed" || not_ok "results.json: $n passed, want 3"
grep -q "generating the test PKI" "$WORK/run.err" && not_ok "run regenerated the PKI" ||
    ok "run reuses the per-user PKI"

# ---------------------------------------------------------------- what was touched
for log in "$WORK/strace.serve" "$WORK/strace.run"; do
    name=${log##*.}
    grep -qF "$ROOT/usr/share/iotconform" "$log" && grep -qF "$ROOT/usr/lib/iotconform/iotc_plugin.so" "$log" &&
        ok "$name read the installed data and plugin" ||
        not_ok "$name never opened the installed data or plugin"
    leaks=$(grep -F -e "\"$SRC/" -e "\"$SRC\"" -e "\"$BUILD/" -e "\"$BUILD\"" "$log" | head -5)
    if [ -z "$leaks" ]; then
        ok "$name touched nothing in $SRC or $BUILD"
    else
        not_ok "$name touched the source or build tree:"
        echo "$leaks" | sed 's/^/    /'
    fi
done
finish
