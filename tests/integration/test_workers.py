#!/usr/bin/env python3
"""serve --workers 2: one READY after both workers listen, connections spread over both
workers, duplicate client ID takeover from worker A to worker B (MQTT 5 DISCONNECT 0x8E,
3.1.1 close, lifecycle DUPLICATE_CLIENTID, versionNumber counted across workers), one
ordered journal of whole lines, a killed worker restarted and journaled, SIGTERM stops
everything. Without --workers: a front door per CPU serve may run on (its affinity mask),
IOTCONFORM_SERVE_WORKERS and --workers 1 as twins, a bad IOTCONFORM_SERVE_WORKERS refused.
Each device's worker is read from the journal (its CONNECT line's "worker",
matched by the device's source port)."""
import json, os, signal, subprocess, sys, time

import iotclib
from iotclib import Conn, Serve, check, connect, subscribe

BIN, PKI = sys.argv[1], sys.argv[2]
iotclib.PKI = PKI

srv = Serve(BIN, PKI, prefix="iotc-workers-", extra_args=["--workers", "2"])
P = srv.ports["8883"]


def worker_of(conn, cid, timeout=3.0):
    port = conn.s.getsockname()[1]
    hits = srv.events(lambda e: e.get("event") == "mqtt.in" and e.get("type") == "CONNECT"
                      and e.get("client_id") == cid and e.get("peer_port") == port, timeout)
    return hits[0].get("worker") if hits else None


def live(cid, v=4, pace=True):
    c = Conn(P, pace=pace)
    c.send(connect(cid.encode(), v))
    p = c.read_packet()
    return c, p


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


try:
    w = srv.events(lambda e: e.get("event") == "endpoint.workers")
    pids = w[0]["pids"] if w else []
    check("endpoint.workers journals 2 workers and their pids", len(pids) == 2 and w[0]["workers"] == 2, w)
    readies = srv.events(lambda e: e.get("event") == "endpoint.ready")
    check("every worker journaled endpoint.ready on the same ports",
          sorted(e.get("worker") for e in readies) == [0, 1]
          and all(e["ports"] == srv.ports for e in readies), readies)
    check("the parent's READY came after the other worker listened",
          w and readies and max(e["t"] for e in readies if e["worker"] == 1) <= w[0]["t"], (w, readies))

    # Spread: distinct devices until both workers hold one (the kernel hashes by source port).
    devs, seen = [], {}
    for i in range(60):
        cid = f"wk-spread-{i}"
        c, p = live(cid)
        devs.append(c)
        seen.setdefault(worker_of(c, cid), cid)
        if 0 in seen and 1 in seen:
            break
    check("connections reach both workers", 0 in seen and 1 in seen, seen)

    def takeover(cid, v):
        """Connects cid again until the new connection lands on the other worker than the
        previous one; returns (old, old_worker, new, new_worker)."""
        prev, p = live(cid, v)
        pw = worker_of(prev, cid)
        for _ in range(60):
            new, p = live(cid, v)
            nw = worker_of(new, cid)
            if nw is not None and nw != pw:
                return prev, pw, new, nw, p
            prev.closed(1)  # taken over on the same worker: try again from the new one
            prev, pw = new, nw
        return prev, pw, None, None, None

    watcher, _ = live("wk-watcher")
    watcher.send(subscribe([b"$aws/events/presence/+/wk-dup5", b"$aws/events/presence/+/wk-dup4"], pid=3))
    p = watcher.read_packet()
    check("lifecycle watcher subscribed", p and p[0] == 9, p)

    old, ow, new, nw, p = takeover("wk-dup5", 5)
    check("MQTT 5 takeover: the new connection is on the other worker", new is not None and ow != nw, (ow, nw))
    check("MQTT 5 takeover: the new connection is accepted", p and p[0] == 2 and p[2][1] == 0, p)
    q = old.read_packet(5) if new else None
    check("MQTT 5 takeover across workers: old connection gets DISCONNECT 0x8E", q and q[0] == 14 and q[2][:1] == b"\x8e", q)
    check("... and is closed", old.closed(5))
    hits = srv.events(lambda e: e.get("event") == "mqtt.disconnect" and e.get("client_id") == "wk-dup5"
                      and e.get("reason") == "DUPLICATE_CLIENTID" and e.get("worker") == ow)
    check("MQTT 5 takeover: the old worker journals DUPLICATE_CLIENTID", hits, ow)
    new.send(b"\xc0\x00")
    q = new.read_packet()
    check("MQTT 5 takeover: the new connection keeps working", q and q[0] == 13, q)

    old4, ow4, new4, nw4, p = takeover("wk-dup4", 4)
    check("3.1.1 takeover: the new connection is on the other worker", new4 is not None and ow4 != nw4, (ow4, nw4))
    check("3.1.1 takeover across workers: the old connection is closed", new4 and old4.closed(5))
    hits = srv.events(lambda e: e.get("event") == "mqtt.disconnect" and e.get("client_id") == "wk-dup4"
                      and e.get("worker") == ow4)
    check("3.1.1 takeover: the old worker journals DUPLICATE_CLIENTID (not a broker close)",
          hits and hits[-1].get("reason") == "DUPLICATE_CLIENTID", hits[-1:] if hits else hits)

    # Twin: devices with other client IDs on either worker were not touched.
    for c in devs[-2:]:
        c.send(b"\xc0\x00")
        q = c.read_packet()
        check("a device with another client ID is still connected", q and q[0] == 13, q)

    # Lifecycle across workers: DUPLICATE_CLIENTID and a versionNumber that keeps counting.
    events = []
    deadline = time.time() + 3
    while time.time() < deadline:
        q = watcher.read_packet(0.5)
        if q and q[0] == 3:
            tl = int.from_bytes(q[2][:2], "big")
            off = 2 + tl + (2 if q[1] & 6 else 0)  # QoS 1: a packet id follows the topic
            events.append(json.loads(q[2][off:]))
    d5 = [e for e in events if e["clientId"] == "wk-dup5"]
    check("lifecycle: disconnected DUPLICATE_CLIENTID for the taken-over session",
          any(e["eventType"] == "disconnected" and e["disconnectReason"] == "DUPLICATE_CLIENTID" for e in d5), d5)
    vers = [e["versionNumber"] for e in d5 if e["eventType"] == "connected"]
    check("lifecycle: versionNumber increases across workers", len(vers) >= 2 and vers == sorted(vers)
          and len(set(vers)) == len(vers), vers)

    # One journal: whole JSON lines, in "t" order although two processes write it.
    lines = open(srv.journal).read().splitlines()
    parsed = []
    for l in lines:
        try:
            parsed.append(json.loads(l))
        except ValueError:
            parsed.append(None)
    check("journal: every line is one whole JSON object", all(parsed) and len(parsed) > 20, len(parsed))
    ts = [e["t"] for e in parsed if e]
    check("journal: lines of both workers are in t order", ts == sorted(ts))
    check("journal: both workers wrote lines", {e.get("worker") for e in parsed if e} >= {0, 1})
    ids = {}
    for e in parsed:
        if e and e.get("event") == "conn.accept":
            ids.setdefault(e["conn"], set()).add(e["worker"])
    check("journal: conn numbers never repeat across workers", all(len(v) == 1 for v in ids.values()), ids)

    # A killed worker's devices: the parent publishes presence/disconnected CONNECTION_LOST
    # for each (AWS announces every lost connection); twins: a device on the surviving
    # worker and a device that left worker 1 cleanly before the kill get no such event.
    def on_worker(prefix, want, v=4):
        for i in range(80):
            cid = f"{prefix}-{i}"
            c, p = live(cid, v)
            if worker_of(c, cid) == want:
                return c, cid
            c.s.close()
        return None, None

    lw, _ = on_worker("wk-lost-watch", 0)
    lw.send(subscribe([b"$aws/events/presence/disconnected/+"], pid=4))
    p = lw.read_packet() if lw else None
    check("lost-connection watcher on the parent worker, subscribed", p and p[0] == 9, p)
    doomed = [on_worker("wk-doomed", 1), on_worker("wk-doomed5", 1, 5)]
    survivor, scid = on_worker("wk-survivor", 0)
    gone, gcid = on_worker("wk-gone", 1)
    if gone:
        gone.send(b"\xe0\x00")  # DISCONNECT: its session ends before the kill
        gone.closed(3)
    check("devices placed: two on worker 1, one on worker 0, one left worker 1 cleanly",
          all(c for c, _ in doomed) and survivor and gone, [cid for _, cid in doomed])

    def presence(timeout):
        got, deadline = [], time.time() + timeout
        while time.time() < deadline:
            q = lw.read_packet(0.3)
            if q and q[0] == 3:
                tl = int.from_bytes(q[2][:2], "big")
                off = 2 + tl + (2 if q[1] & 6 else 0)
                got.append(json.loads(q[2][off:]))
        return got

    presence(1.0)  # the clean DISCONNECT's own event, and anything earlier
    # A killed worker is journaled and started again; devices connect to both workers again.
    victim = pids[1] if len(pids) == 2 else 0
    if victim:
        os.kill(victim, signal.SIGKILL)
    got = presence(4.0)
    for _, cid in doomed:
        ev = [e for e in got if e.get("clientId") == cid]
        check(f"worker killed: presence/disconnected CONNECTION_LOST for {cid}",
              len(ev) == 1 and ev[0]["disconnectReason"] == "CONNECTION_LOST"
              and ev[0]["clientInitiatedDisconnect"] is False and ev[0]["sessionIdentifier"]
              and ev[0]["principalIdentifier"] and ev[0]["versionNumber"] >= 1, ev)
    check("worker killed: no event for the device on the surviving worker",
          not [e for e in got if e.get("clientId") == scid], got)
    check("worker killed: no second event for the device that had disconnected cleanly",
          not [e for e in got if e.get("clientId") == gcid], got)
    survivor.send(b"\xc0\x00")
    q = survivor.read_packet()
    check("the device on the surviving worker is still connected", q and q[0] == 13, q)
    ex = srv.events(lambda e: e.get("event") == "endpoint.worker_exit", 10)
    check("worker_exit journals how many sessions the dead worker held",
          ex and ex[0].get("sessions_lost", 0) >= 2, ex)
    check("a killed worker is journaled (signal 9) and restarted",
          ex and ex[0].get("signal") == 9 and ex[0].get("restarted") is True and ex[0].get("worker") == 1, ex)
    newpid = ex[0].get("new_pid") if ex else 0
    seen2 = set()
    for i in range(60):
        c, p = live(f"wk-after-{i}")
        if p and p[0] == 2 and p[2][1] == 0:
            seen2.add(worker_of(c, f"wk-after-{i}"))
        c.s.close()
        if seen2 >= {0, 1}:
            break
    check("after the restart both workers accept devices again", seen2 >= {0, 1}, seen2)

    # The run directory stays locked by the parent: a second serve on it is refused.
    r = subprocess.run([BIN, "serve", "--pki", PKI, "--ports", "0", "--run-dir", f"{srv.tmp}/run",
                        "--journal", f"{srv.tmp}/second.jsonl"], capture_output=True, text=True, timeout=20)
    check("a second serve on the same run directory is refused", r.returncode == 2 and "in use" in r.stderr,
          (r.returncode, r.stderr[-300:]))

    # SIGTERM: every worker and the broker stop, exit status 0.
    broker = srv.events(lambda e: e.get("event") == "broker.ready")
    bpid = broker[-1].get("pid") if broker else 0
    rc = srv.stop()
    check("SIGTERM: serve exits 0", rc == 0, rc)
    time.sleep(0.2)
    check("SIGTERM: no worker left running", newpid and not alive(newpid) and not alive(pids[0]), newpid)
    check("SIGTERM: the broker stopped", bpid and not alive(bpid), bpid)
    stops = srv.events(lambda e: e.get("event") == "endpoint.stop")
    check("SIGTERM: both workers journaled endpoint.stop", {e.get("worker") for e in stops} == {0, 1}, stops)
finally:
    if srv.proc.poll() is None:
        srv.stop()

# Per-client-ID CONNECT quota (1/s) is one bucket for all workers: a second connect of
# the same client ID within the second is throttled on the other worker too, while
# another client ID connects there.
thr = Serve(BIN, PKI, {"limits": {"connect_per_s_per_client_id": 1}}, prefix="iotc-workers-thr-",
            extra_args=["--workers", "2"])
srv = thr
P = thr.ports["8883"]
try:
    first, p = live("wk-thr")
    fw = worker_of(first, "wk-thr")
    check("throttle: the first connect is accepted", p and p[0] == 2 and p[2][1] == 0, p)
    other = None
    t_first = time.time()
    while time.time() - t_first < 0.8 and other is None:
        c, p = live("wk-thr", pace=False)  # too soon on purpose
        w = worker_of(c, "wk-thr", 1.0)
        if w is not None and w != fw:
            other = (c, w, p)
    check("throttle: a connect of the same client ID reached the other worker within the second", other, fw)
    if other:
        hits = thr.events(lambda e: e.get("event") == "mqtt.throttled" and e.get("worker") == other[1]
                          and e.get("client_id") == "wk-thr" and e.get("limit") == "connect_per_s_per_client_id")
        check("throttle: the other worker refuses it (one bucket per client ID for all workers)",
              hits and not (other[2] and other[2][0] == 2 and other[2][1] == 0), (hits, other[2]))
    seen = set()
    for i in range(40):
        c, p = live(f"wk-thr-other-{i}")
        if p and p[0] == 2 and p[2][1] == 0:
            seen.add(worker_of(c, f"wk-thr-other-{i}"))
        if seen >= {0, 1}:
            break
    check("throttle twin: other client IDs connect on both workers", seen >= {0, 1}, seen)
finally:
    check("throttle serve exits 0", thr.stop() == 0)


# Without --workers: a front door per CPU serve may run on (its affinity mask, at most 64),
# unless IOTCONFORM_SERVE_WORKERS says otherwise (ctest sets it to 1 for the other tests).
def front_doors(env_workers=None, args=(), cpus=None):
    """Starts serve; (front-door processes: serve and its children started as workers,
    the journal's endpoint.workers count or 1 without one)."""
    env = {k: v for k, v in os.environ.items() if k != "IOTCONFORM_SERVE_WORKERS"}
    if env_workers is not None:
        env["IOTCONFORM_SERVE_WORKERS"] = env_workers
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    s = Serve(BIN, PKI, prefix="iotc-workers-default-", extra_args=list(args), env=env, preexec_fn=pin)
    try:
        kids = []
        for t in os.listdir(f"/proc/{s.proc.pid}/task"):
            kids += open(f"/proc/{s.proc.pid}/task/{t}/children").read().split()
        doors = 1
        for k in kids:
            try:
                doors += b"--worker-id" in open(f"/proc/{k}/cmdline", "rb").read().split(b"\0")
            except OSError:
                pass
        w = s.events(lambda e: e.get("event") == "endpoint.workers", 0.5)
        return doors, w[0]["workers"] if w else 1
    finally:
        s.stop()


ncpu = min(len(os.sched_getaffinity(0)), 64)
got = front_doors()
check(f"default: one front door per CPU serve may run on ({ncpu})", got == (ncpu, ncpu), got)
got = front_doors("1")
check("twin: IOTCONFORM_SERVE_WORKERS=1 gives one front door", got == (1, 1), got)
got = front_doors(args=["--workers", "1"])
check("twin: --workers 1 gives one front door", got == (1, 1), got)
one_cpu = {min(os.sched_getaffinity(0))}
got = front_doors("2", cpus=one_cpu)
check("IOTCONFORM_SERVE_WORKERS=2 overrides the CPU count (serve on one CPU)", got == (2, 2), got)
if ncpu > 1:
    got = front_doors(cpus=one_cpu)
    check("default counts the affinity mask, not the machine: on one CPU, one front door", got == (1, 1), got)
else:
    print("note: one CPU here: the default and its one-CPU twin cannot differ")
for bad in ("0", "65", "2x"):
    r = subprocess.run([BIN, "serve", "--pki", PKI, "--ports", "0"], capture_output=True, text=True,
                       timeout=20, env={**os.environ, "IOTCONFORM_SERVE_WORKERS": bad})
    check(f"IOTCONFORM_SERVE_WORKERS={bad} is refused (exit 2, says why)",
          r.returncode == 2 and "IOTCONFORM_SERVE_WORKERS" in r.stderr, (r.returncode, r.stderr[-300:]))
    r = subprocess.run([BIN, "serve", "--pki", PKI, "--ports", "0", "--workers", bad],
                       capture_output=True, text=True, timeout=20)
    check(f"--workers {bad} is refused (exit 2, says why)",
          r.returncode == 2 and "--workers" in r.stderr, (r.returncode, r.stderr[-300:]))
iotclib.finish()
