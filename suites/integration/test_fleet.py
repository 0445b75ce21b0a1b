#!/usr/bin/python3
"""`iotconform fleet` end to end on the emulated endpoint: the smoke fleet over the four
X.509 rows, the fault run (reset, blackhole, broker restart under fast-timers), its
negative twin (reconnect disabled: the counting must report the loss), Ctrl-C, and
spec errors that name the file and the JSON path."""
import json, os, signal, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotclib import check, finish

BIN, PKI = sys.argv[1], sys.argv[2]
SERVE = sys.argv[3] if len(sys.argv) > 3 else BIN
HERE = os.path.dirname(os.path.abspath(__file__))
FLEETS = os.path.join(HERE, "../../fixtures/fleets")
TMP = tempfile.mkdtemp(prefix="iotc-fleet-")


def fleet(spec, *extra, timeout=120):
    out = os.path.join(TMP, os.path.basename(spec) + ".summary.json")
    cmd = [BIN, "fleet", "--serve", SERVE, "--pki", PKI, "--progress-interval", "2",
           "--json", out, *extra, spec]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    print(p.stdout[-3000:])
    if p.stderr:
        print(p.stderr[-2000:], file=sys.stderr)
    summary = json.load(open(out)) if os.path.exists(out) else {}
    return p.returncode, summary, p


# ---- smoke: ~40 devices over the four X.509 rows for ~5 s ----
rc, s, _ = fleet(os.path.join(FLEETS, "smoke.json"))
check("smoke: exit 0", rc == 0, rc)
rows = {r["row"]: r for r in s.get("rows", [])}
check("smoke: the four X.509 rows ran",
      set(rows) == {"mqtt-x509-8883", "mqtt-x509-443", "https-x509-8443", "https-x509-443"}, list(rows))
for name, r in rows.items():
    check(f"smoke: {name}: every device connected", r["ever_connected"] == r["devices"], r)
    check(f"smoke: {name}: messages flowed", r["sent"] > 0 and r["delivered"] == r["sent"], r)
m = s.get("messages", {})
check("smoke: nothing lost", m.get("lost") == 0 and m.get("sent", 0) > 0, m)
check("smoke: nothing duplicated on a healthy path", m.get("duplicated") == 0, m)
check("smoke: every device connected at the end", s.get("disconnected_at_end") == 0, s.get("disconnected_at_end"))
check("smoke: latencies measured", s["connect"]["latency"]["samples"] > 0
      and s["messages"]["latency"]["p99_ms"] > 0, s.get("connect"))

# ---- faults: reset + blackhole + broker restart, fast-timers ----
rc, s, _ = fleet(os.path.join(FLEETS, "faults.json"))
check("faults: exit 0 (nothing lost, all reconnected)", rc == 0, rc)
m = s.get("messages", {})
check("faults: every QoS 1 message delivered at least once",
      m.get("lost") == 0 and m.get("delivered") == m.get("sent") and m.get("sent", 0) > 0, m)
for f in s.get("faults", []):
    check(f"faults: {f['kind']} happened", f["started"] and f["hit"] > 0, f)
by = s.get("reconnects", {}).get("by_cause", {})
check("faults: reconnects after the reset", by.get("connection_reset", 0) > 0, by)
check("faults: the blackhole noticed by keep-alive only", by.get("keepalive_timeout", 0) > 0, by)
check("faults: reconnects after the broker restart", by.get("closed_by_endpoint", 0) > 0, by)
check("faults: every device connected at the end", s.get("disconnected_at_end") == 0, s.get("disconnected_at_end"))

# ---- negative twin: reconnect disabled under a reset ----
rc, s, _ = fleet(os.path.join(FLEETS, "faults-noreconnect.json"))
m = s.get("messages", {})
check("twin: exit 1", rc == 1, rc)
check("twin: lost messages reported", m.get("lost", 0) > 0, m)
check("twin: disconnected devices reported", s.get("disconnected_at_end", 0) > 0, s.get("disconnected_at_end"))
check("twin: summary not ok", s.get("ok") is False, s.get("ok"))

# ---- Ctrl-C stops cleanly with the summary ----
out = os.path.join(TMP, "sigint.json")
p = subprocess.Popen([BIN, "fleet", "--serve", SERVE, "--pki", PKI, "--duration", "300", "--json", out,
                      "--progress-interval", "1", os.path.join(FLEETS, "smoke.json")],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(4)
t0 = time.time()
p.send_signal(signal.SIGINT)
try:
    so, se = p.communicate(timeout=20)
except subprocess.TimeoutExpired:
    p.kill()
    so, se = p.communicate()
check("sigint: stops within 10 s", time.time() - t0 < 10, time.time() - t0)
check("sigint: summary printed", "fleet smoke" in so and "messages" in so, so[-500:])
s = json.load(open(out)) if os.path.exists(out) else {}
check("sigint: JSON says interrupted", s.get("interrupted") is True, s.get("interrupted"))
check("sigint: no serve child left", subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True).stdout == b"")

# ---- spec errors name the file and the JSON path ----
bad = os.path.join(TMP, "bad.json")
spec = json.load(open(os.path.join(FLEETS, "smoke.json")))
spec["rows"][1]["qos"] = 2
json.dump(spec, open(bad, "w"))
p = subprocess.run([BIN, "fleet", bad], capture_output=True, text=True)
check("spec: QoS 2 refused with exit 2", p.returncode == 2, p.returncode)
check("spec: error names file and path", "bad.json: $.rows[1]" in p.stderr and "qos" in p.stderr, p.stderr)
spec = json.load(open(os.path.join(FLEETS, "smoke.json")))
spec["defaults"]["reconnect"]["jitter"] = True
json.dump(spec, open(bad, "w"))
p = subprocess.run([BIN, "fleet", bad], capture_output=True, text=True)
check("spec: unknown key refused", p.returncode == 2 and "$.defaults.reconnect" in p.stderr
      and "unknown key 'jitter'" in p.stderr, p.stderr)

finish()
