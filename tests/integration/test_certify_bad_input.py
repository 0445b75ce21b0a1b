#!/usr/bin/python3
"""Bad device commands: one that does not exist, exits at once, hangs (ignoring SIGTERM,
with a background child), floods the endpoint, or sends garbage. Each case ends ERROR or
FAIL with a reason, the next case still runs, and no process of the device is left: the
runner kills the device's process group and reaps it (every command carries a marker the
test then looks for in /proc)."""
import json, os, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotclib import check, finish

BIN, PKI = sys.argv[1], sys.argv[2]
MARK = f"iotc-bad-{os.getpid()}"
SCRIPTS = {
    "missing": f"/nonexistent/{MARK}/device --host {{host}}",
    "exits": f": {MARK}; exit 3",
    "hangs": f"trap '' TERM; sleep 300 & exec sh -c 'trap \"\" TERM; while :; do sleep 1; done; : {MARK}'",
    # Many TCP connections that never speak TLS, then TLS connections that never send MQTT.
    "flood": ("/usr/bin/python3 -c 'import socket,sys,time\n"
              "socks=[]\n"
              "for i in range(300):\n"
              "    try: socks.append(socket.create_connection((\"localhost\", int(sys.argv[1])), timeout=1))\n"
              "    except OSError: pass\n"
              "time.sleep(60)' {port} " + MARK),
    "garbage": ("/usr/bin/python3 -c 'import socket,ssl,sys,os,time\n"
                "ctx=ssl.create_default_context(cafile=sys.argv[2]); ctx.load_cert_chain(sys.argv[3], sys.argv[4])\n"
                "for i in range(20):\n"
                "    try:\n"
                "        s=ctx.wrap_socket(socket.create_connection((\"localhost\", int(sys.argv[1]))), server_hostname=\"localhost\")\n"
                "        s.sendall(os.urandom(4096)); time.sleep(0.2); s.close()\n"
                "    except OSError: pass\n"
                "time.sleep(60)' {port} {ca} {cert} {key} " + MARK),
}


def leftovers():
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if MARK in cmd:
            found.append((pid, cmd[:120]))
    return found


docs = {}
for name, tpl in SCRIPTS.items():
    out = tempfile.mkdtemp(prefix=f"iotc-bad-{name}-")
    t0 = time.time()
    # Two cases: the first is judged on the bad device, the second proves the run goes on.
    p = subprocess.run([BIN, "certify", "--device", tpl, "--suite", "MQTT_Connect,TLS_Connect",
                        "--time-scale", "0.1", "--pki", PKI, "--out", out],
                       capture_output=True, text=True, timeout=180)
    took = time.time() - t0
    doc = docs[name] = json.load(open(f"{out}/results.json"))
    verdicts = [(c["case"], c["verdict"], c["reason"]) for c in doc["cases"]]
    check(f"{name}: MQTT_Connect ended ERROR or FAIL", len(verdicts) == 2 and verdicts[0][1] in ("ERROR", "FAIL"),
          verdicts)
    # The next case still ran to a verdict (garbage after a sound TLS handshake passes TLS_Connect).
    check(f"{name}: the next case ran too", len(verdicts) == 2 and verdicts[1][1] != "SKIPPED", verdicts)
    check(f"{name}: every case has a reason", all(len(r) > 20 for _, _, r in verdicts), verdicts)
    check(f"{name}: exit status 1", p.returncode == 1, p.returncode)
    check(f"{name}: bounded by the budget ({took:.1f} s)", took < 40)
    time.sleep(0.2)
    check(f"{name}: no device process left", leftovers() == [], leftovers())
    print(f"   {name}: " + "; ".join(f"{c} {v}: {r[:140]}" for c, v, r in verdicts))

reasons = {}
doc = json.load(open(sorted(tempfile.gettempdir() + "/" + d for d in os.listdir(tempfile.gettempdir())
                            if d.startswith("iotc-bad-missing-"))[-1] + "/results.json"))
check("missing command: the reason names the exit status 127 and the shell's message",
      "127" in doc["cases"][0]["reason"] and "not found" in doc["cases"][0]["reason"], doc["cases"][0]["reason"])

# How the device ended reaches the reason and the case's device object: its own exit status,
# or the budget (the runner's SIGTERM is never reported as the device's doing).
exits, hangs = docs["exits"]["cases"][0], docs["hangs"]["cases"][0]
check("exits: the reason names exit status 3", "exited with status 3" in exits["reason"], exits["reason"])
check("exits: device object has exit status 3, ended by the device, not the budget",
      exits["device"]["exit_status"] == 3 and exits["device"]["signal"] is None
      and exits["device"]["ended_by"] == "device" and exits["device"]["budget_ended"] is False, exits["device"])
check("hangs: the reason says the budget ended while it was still running, no signal",
      "budget ended while the device was still running" in hangs["reason"] and "signal" not in hangs["reason"]
      and "stopped" not in hangs["reason"], hangs["reason"])
check("hangs: device object says the budget ended it",
      hangs["device"]["ended_by"] == "budget" and hangs["device"]["budget_ended"] is True
      and hangs["device"]["exit_status"] is None and "budget ended" in hangs["device"]["exit"], hangs["device"])
check("device object: the command and an existing device.log",
      hangs["device"]["command"] == hangs["device_command"] and os.path.isfile(hangs["device"]["log"]), hangs["device"])
obs = hangs["observation"]
check("observation window: budget (scaled, >= min 3 s), series and the judge",
      obs["budget_ms"] >= 3000 and obs["series"] == 1 and obs["series_run"] == 1 and obs["judge"] == "mqtt_connect"
      and obs["ended_by"] == ["budget"], obs)

# A template the runner cannot fill is an ERROR before anything starts.
out = tempfile.mkdtemp(prefix="iotc-bad-tpl-")
p = subprocess.run([BIN, "certify", "--device", "x {bogus}", "--suite", "MQTT_Connect", "--pki", PKI, "--out", out],
                   capture_output=True, text=True, timeout=60)
doc = json.load(open(f"{out}/results.json"))
check("unknown placeholder: ERROR naming it", doc["cases"][0]["verdict"] == "ERROR" and "{bogus}" in doc["cases"][0]["reason"],
      doc["cases"][0]["reason"])
# Usage errors exit 2 before anything runs.
for args, what in ([["--suite", "qualification"], "no device"], [["--device", "x", "--suite", "Nope"], "unknown case"],
                   [["--device", "x", "--fail-on", "MAYBE"], "bad --fail-on"],
                   [["--adapter", "no-such-adapter"], "unknown adapter"]):
    p = subprocess.run([BIN, "certify", *args, "--pki", PKI, "--out", out], capture_output=True, text=True, timeout=30)
    check(f"usage error ({what}): exit 2 with a message", p.returncode == 2 and p.stderr.strip(), (p.returncode, p.stderr))
finish()
