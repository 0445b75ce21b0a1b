#!/usr/bin/env bash
# Issue 13's scale run on one machine: DEVICES (default 19000) concurrent mTLS devices,
# QoS 1 every 10 s for 120 s after the ramp, fleet + front doors + mosquitto all here.
#
#   ci/scale.sh [DEVICES] [OUT_DIR]
#   IOTC_SCALE_QOS1_DURABLE=0 ci/scale.sh     # the default profile with limits.qos1_durable 0
#
# The default profile acknowledges a QoS 1 message once mosquitto has saved it
# (qos1_durable, README): mosquitto saves its whole database, every session included, in
# each loop turn that changed it, so with many persistent sessions the broker's saves set
# the latency. IOTC_SCALE_QOS1_DURABLE=0 measures the same run without that.
#
# Descriptors decide the split (every process may raise its soft limit to the hard one,
# `ulimit -Hn`): a fleet process holds 1 per device, a front-door worker 2 (the device's
# TLS socket and its broker link), mosquitto 1 (it is one process: DEVICES + ~50 must fit
# the hard limit, which is what bounds a single-machine run). The fleet and serve are
# split into as many processes as keep each at most SHARE of the hard limit.
# Prints the merged summary (connect rate, latency p50/p99 after the ramp, lost, RSS of
# every process and per device) and writes OUT_DIR/scale.json. Exit 0: nothing lost.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES="${1:-19000}"
OUT="${2:-/tmp/iotc-scale}"
BIN="${IOTCONFORM:-build/iotconform}"
SHARE="${IOTC_SCALE_FD_SHARE:-70}" # percent of the hard limit one process may use

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
ulimit -n "$hard"
broker_need=$((DEVICES + 64))
if [ "$broker_need" -gt "$hard" ]; then
    echo "scale: mosquitto holds one descriptor per device: $DEVICES devices need about" \
        "$broker_need, the hard limit is $hard (largest count here: $((hard - 64)))" >&2
    exit 2
fi
budget=$((hard * SHARE / 100))
fleet_workers=$(((DEVICES + budget - 1) / budget))
[ "$fleet_workers" -lt 2 ] && fleet_workers=2 # two loops for two cores
serve_workers=$(((2 * DEVICES + budget - 1) / budget))
[ "$serve_workers" -lt 1 ] && serve_workers=1

mkdir -p "$OUT"
spec="$OUT/scale-$DEVICES.json"
durable="${IOTC_SCALE_QOS1_DURABLE:-1}"
python3 - "$DEVICES" fixtures/fleets/scale-19k.json "$spec" "$durable" fixtures/profiles/default.json \
    "$OUT/profile-qos1-durable-0.json" <<'PY'
import json, sys
n, src, dst, durable, prof_src, prof_dst = int(sys.argv[1]), *sys.argv[2:4], sys.argv[4], *sys.argv[5:7]
s = json.load(open(src))
s["name"] = f"scale-{n}" + ("" if durable == "1" else "-qos1-durable-0")
s["rows"][0]["devices"] = n
if durable != "1":
    p = json.load(open(prof_src))
    p["name"] = "default-qos1-durable-0"
    p.setdefault("limits", {})["qos1_durable"] = 0
    json.dump(p, open(prof_dst, "w"), indent=2)
    s["target"]["profile"] = prof_dst
json.dump(s, open(dst, "w"), indent=2)
PY
echo "scale: $DEVICES devices, hard RLIMIT_NOFILE $hard: fleet --workers $fleet_workers," \
    "serve --workers $serve_workers, qos1_durable $durable" >&2
set +e
"$BIN" fleet --workers "$fleet_workers" --serve-workers "$serve_workers" --quiet \
    --json "$OUT/scale.json" "$spec"
rc=$?
set -e
python3 - "$OUT/scale.json" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
m, lat, ramp, mem = r["messages"], r["latency"], r["ramp"], r["memory"]
print(f"devices {r['devices']}, ok {r['ok']}, lost {m['lost']}, sent {m['sent']}, "
      f"delivered {m['delivered']}, disconnected at end {r['disconnected_at_end']}")
print(f"ramp {ramp['seconds']:.1f} s = {ramp['devices_per_s']:.0f} connects/s; after the ramp "
      f"p50 {lat['deliver_after_ramp']['p50_ms']:.1f} ms, p99 {lat['deliver_after_ramp']['p99_ms']:.1f} ms")
for p in mem["processes"]:
    print(f"  {p['process']:<16} {p['rss_kb'] / 1024:8.1f} MB, cpu {p['cpu_s']:.0f} s")
door = [p for p in mem["processes"] if p["process"].startswith(("serve", "mosquitto"))]
idle = sum(p["rss_kb"] - p["rss_before_kb"] for p in door) / r["devices"]
print(f"per device: fleet {mem['fleet_kb_per_device']:.1f} KB, serve {mem['serve_kb_per_device']:.1f} KB, "
      f"broker {mem['broker_kb_per_device']:.1f} KB; front door + broker {idle:.1f} KB")
PY
exit "$rc"
