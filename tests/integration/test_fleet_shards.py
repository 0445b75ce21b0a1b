#!/usr/bin/python3
"""Sharded fleets: fixtures/fleets/shards.json run whole, then as 3 shards, each a local
process with the environment the Kubernetes Indexed Job in ci/k8s/ gives its pods
(JOB_COMPLETION_INDEX, IOTC_FLEET_SHARDS, IOTC_FLEET_RUN) against one `serve` (an
external target, as the pods see the endpoint), the last one started late (after shard 1
announced itself ready), so the start barrier has to hold the others. `iotconform fleet-merge` of the shards
must give the whole run's totals per row (sent, delivered, duplicated, lost), with the
deliveries made on another shard counted exactly (peer_offset receivers and the HTTPS
monitor on shard 1). Negative twins: a missing shard, a duplicated shard and a shard of
another run are refused with a clear error; a shard that drops its receivers' ledger
(edited file) makes the merge report the loss."""
import copy, json, os, shlex, subprocess, sys, tempfile, uuid
import yaml
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotclib import Serve, check, finish

BIN, PKI = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "../../fixtures/fleets/shards.json")
TMP = tempfile.mkdtemp(prefix="iotc-fleet-shards-")
# The Job's pod command and environment, read from the manifest, run here as processes.
JOB = next(d for d in yaml.safe_load_all(open(os.path.join(HERE, "../../ci/k8s/fleet-shards.yaml")))
           if d["kind"] == "Job")
POD = JOB["spec"]["template"]["spec"]["containers"][0]
POD_ENV = {e["name"]: e for e in POD["env"]}
check("manifest: an Indexed Job, all shards at once, IOTC_FLEET_SHARDS = completions",
      JOB["spec"]["completionMode"] == "Indexed"
      and JOB["spec"]["parallelism"] == JOB["spec"]["completions"] == int(POD_ENV["IOTC_FLEET_SHARDS"]["value"])
      and "controller-uid" in POD_ENV["IOTC_FLEET_RUN"]["valueFrom"]["fieldRef"]["fieldPath"], JOB["spec"])
N = 3


def pod_command(env, target, results):
    """The pod's shell command with the container's paths mapped to this machine's."""
    line = POD["args"][0].replace("/etc/iotconform/target-emulated.json", target) \
        .replace("/etc/iotconform/fleet.json", SPEC).replace("/results", results)
    argv = shlex.split(line)
    assert argv[:2] == ["exec", "iotconform"], argv
    return [BIN] + [os.path.expandvars(a) if "$" in a else a for a in argv[2:]]


def merge(*files, out=None):
    out = out or os.path.join(TMP, f"merged-{uuid.uuid4().hex[:6]}.json")
    p = subprocess.run([BIN, "fleet-merge", "--json", out, *files], capture_output=True,
                       text=True, timeout=60)
    print(p.stdout[-2000:], p.stderr[-1000:])
    return p.returncode, (json.load(open(out)) if os.path.exists(out) else {}), p.stderr


def expected_cross(spec, n):
    """Deliveries made on another shard than the publisher's, from the spec alone: the
    shard of device i of a row of D devices is the k with D(k-1)/N <= i < Dk/N."""
    def shard(i, d):
        return next(k for k in range(1, n + 1) if d * (k - 1) // n <= i < d * k // n)
    per = {}
    msgs = spec["defaults"]["max_messages"]
    for r in spec["rows"]:
        d, off = r["devices"], r.get("peer_offset", 0)
        if r["row"].startswith("https"):  # the row's monitor runs on shard 1
            per[r["row"]] = sum(msgs for i in range(d) if shard(i, d) != 1)
        else:  # device j receives the messages of device (j + off) % d
            per[r["row"]] = sum(msgs for j in range(d) if shard(j, d) != shard((j + off) % d, d))
    return per


serve = Serve(BIN, PKI, prefix="iotc-fleet-shards-serve-")
try:
    target = {"host": "127.0.0.1", "sni": "localhost", "ca": os.path.join(PKI, "ca-bundle.crt"),
              "pki": PKI, "ports": {k: serve.ports[k] for k in ("8883", "8443", "443")}}
    tpath = os.path.join(TMP, "target.json")
    json.dump(target, open(tpath, "w"))

    # ---- the whole run ----
    whole = os.path.join(TMP, "whole.json")
    p = subprocess.run([BIN, "fleet", "--quiet", "--target", tpath, "--json", whole, SPEC],
                       capture_output=True, text=True, timeout=120)
    print(p.stdout[-2000:], p.stderr[-1000:])
    check("whole run: exit 0", p.returncode == 0, p.returncode)
    rc, W, _ = merge(whole)
    check("whole run merges as shard 1/1", rc == 0 and W.get("shards") == 1, (rc, W.get("shards")))

    # ---- N shards as the Job's pods: same env, one process each, all at once ----
    run = "it-" + uuid.uuid4().hex[:12]
    procs, files = [], []
    for idx in range(N):
        if idx == N - 1:
            # The last pod comes late (an image pull): it starts only once shard 1 has
            # announced itself ready, so the barrier must let it catch up.
            late = serve.events(lambda e: e.get("event") == "mqtt.in"
                                and e.get("topic") == f"fleet/{run}/sync/1", timeout=60)
            check("shard 1 announced itself before the late shard started", bool(late), None)
        env = dict(os.environ, JOB_COMPLETION_INDEX=str(idx), IOTC_FLEET_SHARDS=str(N),
                   IOTC_FLEET_RUN=run)
        os.makedirs(os.path.join(TMP, run), exist_ok=True)  # the Job's init container
        saved = dict(os.environ)
        os.environ.update(env)
        cmd = pod_command(env, tpath, TMP)
        os.environ.clear()
        os.environ.update(saved)
        f = os.path.join(TMP, run, f"shard-{idx}.json")
        check(f"pod {idx}: writes {os.path.basename(f)}", f in cmd, cmd)
        files.append(f)
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    for idx, pr in enumerate(procs):
        out, err = pr.communicate(timeout=180)
        print(f"--- shard {idx}:", out[-1500:], err[-800:])
        check(f"shard {idx + 1}/{N}: exit 0", pr.returncode == 0, pr.returncode)
    shards = [json.load(open(f)) for f in files]
    check("shards: indices from JOB_COMPLETION_INDEX, run tag from IOTC_FLEET_RUN",
          [s["shard"]["index"] for s in shards] == [1, 2, 3]
          and all(s["shard"]["count"] == N and s["run"] == run for s in shards),
          [(s["shard"]["index"], s["run"]) for s in shards])
    check("shards: every shard started with all the others (sync released)",
          all(s["shard"]["sync"]["released"] for s in shards), [s["shard"]["sync"] for s in shards])
    check("shards: devices split exactly (sum = fleet)",
          sum(s["devices"] for s in shards) == W.get("devices") == 22,
          [s["devices"] for s in shards])

    rc, M, _ = merge(*files)
    check("merge: exit 0, OK", rc == 0 and M.get("ok") is True, (rc, M.get("ok")))
    wrows = {r["row"]: r for r in W.get("rows", [])}
    mrows = {r["row"]: r for r in M.get("rows", [])}
    check("merge: the same rows as the whole run", set(wrows) == set(mrows) and len(mrows) == 3,
          (list(wrows), list(mrows)))
    for name, w in wrows.items():
        m = mrows.get(name, {})
        for k in ("devices", "sent", "delivered", "duplicated", "lost"):
            check(f"merge: {name}: {k} equals the whole run's ({w[k]})", m.get(k) == w[k],
                  (m.get(k), w[k]))
        check(f"merge: {name}: every message sent (devices x max_messages)",
              w["sent"] == w["devices"] * 5 and w["delivered"] == w["sent"], w)
    cross = expected_cross(json.load(open(SPEC)), N)
    for name, want in cross.items():
        check(f"merge: {name}: cross-shard deliveries = {want} (from the split)",
              mrows.get(name, {}).get("cross_shard_delivered") == want > 0,
              mrows.get(name, {}).get("cross_shard_delivered"))
    check("whole run: no cross-shard deliveries", W["messages"]["cross_shard_delivered"] == 0,
          W.get("messages"))
    for k in ("sent", "delivered", "lost", "duplicated"):
        check(f"merge: total {k} equals the whole run's", M["messages"][k] == W["messages"][k],
              (M["messages"][k], W["messages"][k]))
    # a shard alone cannot know: its own view of a row misses what other shards received
    check("a single shard's summary is partial (why the merge exists)",
          any(r["delivered"] != r["sent"] for s in shards for r in s["rows"]),
          [[(r["row"], r["sent"], r["delivered"]) for r in s["rows"]] for s in shards])

    # ---- negative twins ----
    rc, _, err = merge(files[0], files[2])
    check("merge refuses a missing shard (exit 2, names it)", rc == 2 and "shard 2/3 is missing" in err, err)
    rc, _, err = merge(files[0], files[1], files[1], files[2])
    check("merge refuses a duplicated shard (exit 2, names it)", rc == 2 and "given twice" in err, err)
    rc, _, err = merge(files[0], files[1], whole)
    check("merge refuses a shard of another run", rc == 2 and "not a shard of the same run" in err, err)
    # a shard whose receivers saw nothing: the merge must count those messages lost
    bad = copy.deepcopy(shards[1])
    bad["ledger"]["seen"] = []
    bpath = os.path.join(TMP, "shard-1-blind.json")
    json.dump(bad, open(bpath, "w"))
    rc, B, _ = merge(files[0], bpath, files[2])
    lost_q1 = B.get("messages", {}).get("lost", 0)
    check("merge counts the messages a shard did not receive as lost (exit 1)",
          rc == 1 and B.get("ok") is False and lost_q1 > 0
          and B["messages"]["delivered"] < M["messages"]["delivered"], (rc, B.get("messages")))

    # ---- merged latency: percentiles of the shards' histograms added together ----
    def pct_ms(buckets, n, max_us, pct):
        want = max(1, -(-n * pct // 100))
        seen = 0
        for i, c in sorted(buckets.items()):
            seen += c
            if seen >= want:
                return min(1.0 if i == 0 else 1.02 ** i, max_us) / 1000.0
        return max_us / 1000.0

    for name in ("connect", "deliver", "deliver_after_ramp"):
        summed, n, mx = {}, 0, 0
        for sh in shards:
            h = sh["histograms"][name]
            n += h["n"]
            mx = max(mx, h["max_us"])
            for i, c in h["buckets"]:
                summed[i] = summed.get(i, 0) + c
        lat = M.get("latency", {}).get(name, {})
        check(f"merge: {name} latency from the summed histograms (samples {n})",
              lat.get("samples") == n > 0
              and abs(lat.get("p50_ms", -1) - pct_ms(summed, n, mx, 50)) < 1e-6
              and abs(lat.get("p99_ms", -1) - pct_ms(summed, n, mx, 99)) < 1e-6, (lat, n))
    check("merge: ramp over the shards' wall clocks, every device connected",
          M.get("ramp", {}).get("all_connected") is True and M["ramp"]["seconds"] > 0
          and M["ramp"]["ever_connected"] == 22, M.get("ramp"))
    bad = copy.deepcopy(shards[0])
    bad["histograms"]["deliver"]["n"] += 1  # counts that do not add up
    bpath = os.path.join(TMP, "shard-0-badhist.json")
    json.dump(bad, open(bpath, "w"))
    rc, B, _ = merge(bpath, files[1], files[2])
    check("merge: a histogram whose buckets do not add up gives no latency (not a wrong one)",
          rc == 0 and "latency" not in B and B["messages"] == M["messages"], (rc, B.get("latency")))
finally:
    serve.stop()

# ---- fleet --workers 3: the same split as three processes on this machine, one summary ----
wout = os.path.join(TMP, "workers.json")
p = subprocess.run([BIN, "fleet", "--workers", "3", "--serve-workers", "2", "--json", wout, SPEC],
                   capture_output=True, text=True, timeout=240)
print(p.stdout[-3000:], p.stderr[-2000:])
R = json.load(open(wout)) if os.path.exists(wout) else {}
check("fleet --workers 3: exit 0, OK, 3 shards of 22 devices", p.returncode == 0 and R.get("ok") is True
      and R.get("shards") == 3 and R.get("devices") == 22, (p.returncode, R.get("shards")))
wrows = {r["row"]: r for r in W.get("rows", [])}
for r in R.get("rows", []):
    w = wrows.get(r["row"], {})
    check(f"fleet --workers 3: {r['row']}: sent/delivered/lost equal the whole run's",
          (r["sent"], r["delivered"], r["lost"]) == (w.get("sent"), w.get("delivered"), w.get("lost")),
          (r, w))
procs = R.get("memory", {}).get("processes", [])
names = [x["process"] for x in procs]
check("fleet --workers 3: RSS of both serve workers, mosquitto and the three shards",
      names == ["serve worker 0", "serve worker 1", "mosquitto",
                "fleet shard 1", "fleet shard 2", "fleet shard 3"]
      and all(x["rss_kb"] > 0 for x in procs), procs)
check("fleet --workers 3: merged latency after the ramp", R.get("latency", {})
      .get("deliver_after_ramp", {}).get("samples", 0) > 0, R.get("latency"))
p = subprocess.run([BIN, "fleet", "--workers", "2", "--shard", "1/2", SPEC], capture_output=True,
                   text=True, timeout=30)
check("fleet --workers with --shard is refused (exit 2)", p.returncode == 2 and "--shard" in p.stderr,
      (p.returncode, p.stderr))
p = subprocess.run([BIN, "fleet", "--serve-workers", "2", SPEC], capture_output=True, text=True, timeout=30)
check("--serve-workers without fleet --workers is refused (exit 2)",
      p.returncode == 2 and "--serve-workers" in p.stderr, (p.returncode, p.stderr))
finish()
