#!/usr/bin/python3
"""Judges are proven, not assumed: the good reference device PASSes every case of the
catalogue, and each misbehaviour makes the judges it targets FAIL (or warn, where the
catalogue says so). The table below is the proof; the README prints it.

argv[4] "5" runs the MQTT 5 table: the same device in `--mqtt 5` mode against the same
judges, with the MQTT 5 twins (resending on the open connection, ignoring the Server Keep
Alive, no session expiry) and the rows that are not faults in MQTT 5 shown PASSing."""
import json, os, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotclib import check, finish

BIN, PKI, SRC = sys.argv[1], sys.argv[2], sys.argv[3]
MQTT5 = len(sys.argv) > 4 and sys.argv[4] == "5"
ADAPTER = "refdevice-mqtt5" if MQTT5 else "refdevice"
TEMPLATE = json.load(open(f"{SRC}/fixtures/adapters/{ADAPTER}.json"))["command"]
W, F = "PASS_WITH_WARNINGS", "FAIL"

# misbehaviour (or a template change) -> {case: expected verdict}
PROOF = {
    "no-hostname-verify": {"TLS_Incorrect_Subject_Name_Server_Cert": F},
    "accept-expired": {"TLS_Expired_Server_Cert": F},
    "accept-untrusted": {"TLS_Unsecure_Server_Cert": F},
    "no-sni": {"TLS_SNI": F, "TLS_Connect": F},
    "unsupported-suites": {"TLS_Support_AWS_IoT_Cipher_Suites": W},
    "old-tls": {"TLS_Versions": W},
    "no-alpn": {"TLS_ALPN_443": F},
    "backoff-constant": {"MQTT_Connect_Exponential_Backoff_Retries": F, "MQTT_Connect_Jitter_Backoff_Retries": F,
                         "MQTT_Reconnect_Backoff_Retries_On_Server_Disconnect": F},
    "backoff-linear": {"MQTT_Connect_Exponential_Backoff_Retries": F, "MQTT_Connect_Jitter_Backoff_Retries": F,
                       "MQTT_Reconnect_Backoff_Retries_On_Server_Disconnect": F},
    "backoff-exponential-nojitter": {"MQTT_Connect_Exponential_Backoff_Retries": "PASS",
                                     "MQTT_Connect_Jitter_Backoff_Retries": W,
                                     "MQTT_Reconnect_Backoff_Retries_On_Server_Disconnect": W},
    "reconnect-instantly": {"MQTT_ReconnectionAfterSuccessfulConnection": F},
    "no-qos1-retry": {"MQTT_Publish_Retry_No_Puback": F, "MQTT_Subscribe_Retry_No_Suback": F},
    "retry-new-packet-id": {"MQTT_Publish_Retry_No_Puback": F, "MQTT_Subscribe_Retry_No_Suback": F},
    "resubscribe-on-resume": {"MQTT_Persistent_Session_Happy_Case": F},
    "no-resubscribe": {"MQTT_Expired_Persistent_Session": F},
    "ignore-missing-pingresp": {"MQTT_No_Ack_PingResp": F},
    "no-puback": {"MQTT_Client_Puback_Qos1": F, "TLS_Receive_Maximum_Size_Fragments": F},
    "keepalive-zero": {"MQTT_Keep_Alive": W},
    "clean-on-reconnect": {"MQTT_Clean_Session": F},
    "no-publish": {"MQTT_Publish": F},
    "no-subscribe": {"MQTT_Subscribe": F},
    "give-up": {"Long_Duration": F},
    "--client-id '$reserved'": {"MQTT_Connect": F},
}

# MQTT 5 (the judges read the version from the CONNECT). Every 3.1.1 misbehaviour that
# is one in MQTT 5 too, plus the MQTT 5 twins; "--persistent" rows run the retransmission
# cases on a kept session, where the resend must keep its packet id (section 4.4).
TLS_AND_BACKOFF = {k: v for k, v in PROOF.items()
                   if k.startswith(("no-hostname", "accept-", "no-sni", "unsupported", "old-tls",
                                    "no-alpn", "backoff-", "reconnect-instantly"))}
PROOF5 = dict(TLS_AND_BACKOFF, **{
    "no-qos1-retry": {"MQTT_Publish_Retry_No_Puback": F, "MQTT_Subscribe_Retry_No_Suback": F},
    # MQTT 5 section 4.4 [MQTT-4.4.0-2]: no resend on the open connection.
    "retry-on-open-connection": {"MQTT_Publish_Retry_No_Puback": W,
                                 "MQTT_Subscribe_Retry_No_Suback": W},
    "--persistent": {"MQTT_Publish_Retry_No_Puback": "PASS", "MQTT_Subscribe_Retry_No_Suback": "PASS"},
    "retry-new-packet-id --persistent": {"MQTT_Publish_Retry_No_Puback": W,
                                         "MQTT_Subscribe_Retry_No_Suback": W},
    "resubscribe-on-resume": {"MQTT_Persistent_Session_Happy_Case": F},
    "no-resubscribe": {"MQTT_Expired_Persistent_Session": F},
    "ignore-missing-pingresp": {"MQTT_No_Ack_PingResp": F},
    # [MQTT-3.2.2-21]: the CONNACK's Server Keep Alive (30 s) replaces the 5 s asked for.
    "ignore-server-keepalive": {"MQTT_No_Ack_PingResp": W},
    "no-puback": {"MQTT_Client_Puback_Qos1": F, "TLS_Receive_Maximum_Size_Fragments": F},
    "keepalive-zero": {"MQTT_Keep_Alive": W},
    # Clean start 1 on a reconnect discards the session (section 3.1.2.4) ...
    "clean-on-reconnect": {"MQTT_Clean_Session": F, "MQTT_Persistent_Session_Happy_Case": F},
    # ... and without a Session Expiry Interval it ends with the connection (3.1.2.11.2).
    "no-session-expiry": {"MQTT_Clean_Session": F, "MQTT_Persistent_Session_Happy_Case": F},
    "no-publish": {"MQTT_Publish": F},
    "no-subscribe": {"MQTT_Subscribe": F},
    "give-up": {"Long_Duration": F},
    "--client-id '$reserved'": {"MQTT_Connect": F},
})
# 3.1.1 rows that are not faults in MQTT 5, run to show the judge does not FAIL them.
NOT_FAULTS5 = {
    "retry-new-packet-id": ({"MQTT_Publish_Retry_No_Puback": "PASS",
                             "MQTT_Subscribe_Retry_No_Suback": "PASS"},
                            "on a new session (no --persistent) there is no packet id to keep: "
                            "the message sent again under a new id delivers it (MQTT 5 section "
                            "4.4); the twin is the --persistent row"),
}
if MQTT5:
    PROOF = dict(PROOF5, **{k: v for k, (v, _) in NOT_FAULTS5.items()})


def certify(tag, extra, suite, seed):
    out = tempfile.mkdtemp(prefix=f"iotc-proof{'5' if MQTT5 else ''}-{tag[:20].strip('-$ ')}-")
    device = TEMPLATE + (f" --misbehave {extra}" if extra and not extra.startswith("--") else f" {extra}")
    p = subprocess.run([BIN, "certify", "--adapter", ADAPTER, "--device", device, "--suite", suite,
                        "--time-scale", "0.1", "--seed", str(seed), "--jobs", "3", "--pki", PKI,
                        "--out", out], capture_output=True, text=True, timeout=400)
    try:
        doc = json.load(open(f"{out}/results.json"))
    except OSError:
        return tag, p, {}
    return tag, p, {c["case"]: c for c in doc["cases"]}


t0 = time.time()
jobs = [("good", "", "full", 5)] + [(m, m, ",".join(cases), 5) for m, cases in PROOF.items()]
# Long cases first so the pool finishes together.
jobs.sort(key=lambda j: -(j[2] == "full") * 100 - len(j[2]))
with ThreadPoolExecutor(max_workers=3) as pool:
    results = list(pool.map(lambda j: certify(*j), jobs))

table = []
for tag, p, cases in results:
    if tag == "good":
        check("good device: every case of the catalogue ran", len(cases) >= 26, len(cases))
        for cid, c in sorted(cases.items()):
            check(f"good device: {cid} PASS", c["verdict"] == "PASS", f"{c['verdict']}: {c['reason']}")
            table.append((cid, "(none)", "PASS", c["verdict"]))
        check("good device: exit 0", p.returncode == 0, p.stderr[-2000:])
        want_v = "MQTT 5" if MQTT5 else "MQTT 3.1.1"
        check(f"good device speaks {want_v}", want_v in cases.get("MQTT_Connect", {}).get("reason", ""),
              cases.get("MQTT_Connect"))
        continue
    for cid, want in PROOF[tag].items():
        c = cases.get(cid)
        got = c["verdict"] if c else "missing"
        check(f"{tag}: {cid} {want}", got == want, f"{got}: {c and c['reason']}")
        table.append((cid, tag, want, got))
    want_rc = 0 if all(v in ("PASS", W) for v in PROOF[tag].values()) else 1
    check(f"{tag}: exit {want_rc}", p.returncode == want_rc, (p.returncode, p.stderr[-1500:]))

print(f"\nMQTT {'5' if MQTT5 else '3.1.1'} proof table")
print("\n| case | misbehaviour | expected | got |\n|---|---|---|---|")
for row in sorted(table):
    print("| " + " | ".join(row) + " |")
if MQTT5:
    print("\nnot faults in MQTT 5 (the judge must not FAIL them):")
    for m, (_, why) in NOT_FAULTS5.items():
        print(f"- {m}: {why}")
print(f"\nproof table took {time.time() - t0:.1f} s")
finish()
