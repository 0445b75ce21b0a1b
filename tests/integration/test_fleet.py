#!/usr/bin/python3
"""`iotconform fleet` end to end on the emulated endpoint: the smoke fleet over the four
X.509 rows, the door run over all nine rows (SigV4 and custom auth over WSS, MQTT with
ALPN mqtt and HTTPS) and its negative twin (wrong secret / refused token: those devices
never connect and the summary says so), the fault run (reset, blackhole, broker restart
under fast-timers) on the X.509 rows and on the door rows, its negative twin (reconnect
disabled: the counting must report the loss), Ctrl-C, and spec errors that name the file
and the JSON path."""
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

# ---- door: all nine rows, the five door rows without a client certificate ----
NINE = {"mqtt-x509-8883", "mqtt-x509-443", "https-x509-8443", "https-x509-443", "wss-sigv4-443",
        "wss-custom-443", "mqtt-custom-443", "https-sigv4-443", "https-custom-443"}
rc, s, _ = fleet(os.path.join(FLEETS, "door.json"))
check("door: exit 0", rc == 0, rc)
rows = {r["row"]: r for r in s.get("rows", [])}
check("door: the nine rows ran", set(rows) == NINE, list(rows))
for name, r in rows.items():
    check(f"door: {name}: every device connected", r["ever_connected"] == r["devices"] > 0, r)
    check(f"door: {name}: messages flowed, none lost", r["sent"] > 0 and r["delivered"] == r["sent"]
          and r["lost"] == 0, r)
m = s.get("messages", {})
check("door: nothing lost, nothing duplicated", m.get("lost") == 0 and m.get("duplicated") == 0
      and m.get("sent", 0) > 0, m)
check("door: every device connected at the end", s.get("disconnected_at_end") == 0
      and s.get("connect", {}).get("never_connected") == 0, s.get("connect"))
# what the endpoint saw: each door row really went through its door
events = [json.loads(l) for l in open(s["serve"]["journal"])] if s.get("serve") else []
auth = [e for e in events if e.get("event") == "auth" and e.get("result") == "allow"]
upg = [e for e in events if e.get("event") == "ws.upgrade"]
check("door: SigV4 and custom-auth WebSocket upgrades (4 devices each)",
      sum(e.get("auth") == "sigv4" for e in upg) == 4 and sum(e.get("auth") == "custom" for e in upg) == 4,
      [e.get("auth") for e in upg])
check("door: SigV4 HTTPS requests authenticated (libcurl CURLOPT_AWS_SIGV4)",
      sum(e.get("method") == "sigv4" for e in auth) > 4, len(auth))
check("door: custom auth on ALPN mqtt", any(e.get("event") == "tls.handshake" and e.get("alpn") == "mqtt"
                                              for e in events))
check("door: no refusals on the door", not [e for e in events if e.get("event") == "auth"
                                              and e.get("result") not in ("allow", None)], None)

# ---- negative twin: wrong secret / refused token on the five door rows ----
rc, s, p = fleet(os.path.join(FLEETS, "door-wrong-secret.json"))
rows = {r["row"]: r for r in s.get("rows", [])}
check("door twin: exit 1, summary not ok", rc == 1 and s.get("ok") is False, (rc, s.get("ok")))
want = {"wss-sigv4-443": "ws_upgrade_refused", "wss-custom-443": "ws_upgrade_refused",
        "mqtt-custom-443": "connack_refused", "https-sigv4-443": "http_status",
        "https-custom-443": "http_status"}
for name, cause in want.items():
    r = rows.get(name, {})
    check(f"door twin: {name}: no device ever connected ({cause})", r.get("ever_connected") == 0
          and r.get("never_connected") == r.get("devices", -1) > 0
          and r.get("never_connected_cause") == cause, r)
for name in ("https-sigv4-443", "https-custom-443"):
    check(f"door twin: {name}: its messages reported lost", rows.get(name, {}).get("lost", 0) > 0
          and rows[name]["delivered"] == 0, rows.get(name))
r = rows.get("mqtt-x509-8883", {})
check("door twin: the X.509 row beside them is unaffected", r.get("ever_connected") == r.get("devices")
      and r.get("lost") == 0 and r.get("sent", 0) > 0, r)
check("door twin: the summary says so", s.get("connect", {}).get("never_connected") == 10
      and "NEVER CONNECTED 2 (ws_upgrade_refused)" in p.stdout and "never connected        10" in p.stdout,
      s.get("connect"))

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

# ---- the same faults on the door rows (custom auth also ends at disconnectAfterInSeconds) ----
rc, s, _ = fleet(os.path.join(FLEETS, "door-faults.json"))
check("door faults: exit 0 (nothing lost, all reconnected)", rc == 0, rc)
m = s.get("messages", {})
check("door faults: every QoS 1 message delivered at least once",
      m.get("lost") == 0 and m.get("delivered") == m.get("sent") and m.get("sent", 0) > 0, m)
for f in s.get("faults", []):
    check(f"door faults: {f['kind']} happened", f["started"] and f["hit"] > 0, f)
by = s.get("reconnects", {}).get("by_cause", {})
check("door faults: reconnects after the reset", by.get("connection_reset", 0) > 0, by)
check("door faults: the blackhole noticed by keep-alive only", by.get("keepalive_timeout", 0) > 0, by)
check("door faults: reconnects after the broker restart and the authorizer's TTL",
      by.get("closed_by_endpoint", 0) > 0, by)
check("door faults: every device connected at the end", s.get("disconnected_at_end") == 0,
      s.get("disconnected_at_end"))

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
spec = json.load(open(os.path.join(FLEETS, "door.json")))
spec["rows"][5]["identities"] = ["unsigned-authorizer"]
json.dump(spec, open(bad, "w"))
p = subprocess.run([BIN, "fleet", bad], capture_output=True, text=True)
check("spec: a custom-auth identity must name authorizer and token", p.returncode == 2
      and "$.rows[5].identities[0]" in p.stderr, p.stderr)
spec = json.load(open(os.path.join(FLEETS, "door.json")))
spec["rows"][4]["identities"] = ["AKIDNOTINREGISTRY"]
json.dump(spec, open(bad, "w"))
p = subprocess.run([BIN, "fleet", "--serve", SERVE, "--pki", PKI, bad], capture_output=True, text=True)
check("spec: an access key outside the registry without a secret is refused", p.returncode == 2
      and "$.rows[4].identities[0]" in p.stderr and "AKIDNOTINREGISTRY" in p.stderr, p.stderr)

finish()
