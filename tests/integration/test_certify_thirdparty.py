#!/usr/bin/python3
"""Real third-party devices certified as they are: mosquitto_pub, mosquitto_sub and a
python3-paho-mqtt client (fixtures/adapters/). Their verdicts are whatever the judges
honestly find; this test checks that every case ran to a verdict (no ERROR: the runner
could drive the device) and prints the table README-certify.md reproduces. Devices
that do not honour {time_scale} run at time scale 1, so the suites are chosen to keep
the test short; `--suite full` gives the rest."""
import json, os, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotclib import check, finish

BIN, PKI = sys.argv[1], sys.argv[2]
TLS = "TLS_Connect,TLS_Support_AWS_IoT_Cipher_Suites,TLS_Unsecure_Server_Cert,TLS_Incorrect_Subject_Name_Server_Cert," \
      "TLS_Expired_Server_Cert,TLS_Large_Size_Server_Cert,TLS_SNI,TLS_ALPN_443,TLS_Versions"
RUNS = {
    "mosquitto_pub": TLS + ",MQTT_Connect,MQTT_Publish,MQTT_Publish_Retry_No_Puback,MQTT_Keep_Alive,MQTT_Subscribe",
    "mosquitto_sub": TLS + ",MQTT_Connect,MQTT_Subscribe,TLS_Receive_Maximum_Size_Fragments,MQTT_Client_Puback_Qos1,"
                     "MQTT_No_Ack_PingResp,MQTT_Persistent_Session_Happy_Case,MQTT_Expired_Persistent_Session,"
                     "MQTT_ReconnectionAfterSuccessfulConnection,MQTT_Subscribe_Retry_No_Suback,MQTT_Publish",
    "paho-python": TLS + ",MQTT_Connect,MQTT_Subscribe,MQTT_Publish,TLS_Receive_Maximum_Size_Fragments,"
                   "MQTT_Client_Puback_Qos1,MQTT_ReconnectionAfterSuccessfulConnection,MQTT_Persistent_Session_Happy_Case,"
                   "MQTT_Expired_Persistent_Session,MQTT_Keep_Alive",
}


def run(adapter):
    out = tempfile.mkdtemp(prefix=f"iotc-3p-{adapter}-")
    t0 = time.time()
    p = subprocess.run([BIN, "certify", "--adapter", adapter, "--suite", RUNS[adapter], "--jobs", "5",
                        "--pki", PKI, "--out", out], capture_output=True, text=True, timeout=400)
    return adapter, p, json.load(open(f"{out}/results.json")), time.time() - t0


with ThreadPoolExecutor(max_workers=3) as pool:
    results = list(pool.map(run, RUNS))
rows = {}
for adapter, p, doc, took in results:
    print(f"{adapter}: {took:.1f} s")
    check(f"{adapter}: exit status matches the verdicts", p.returncode == (1 if doc["verdicts"]["FAIL"] or doc["verdicts"]["ERROR"] else 0))
    for c in doc["cases"]:
        rows.setdefault(c["case"], {})[adapter] = (c["verdict"], c["reason"])
        check(f"{adapter}: {c['case']} reached a verdict ({c['verdict']})", c["verdict"] in ("PASS", "PASS_WITH_WARNINGS", "FAIL", "SKIPPED"),
              c["reason"])
        if c["verdict"] == "SKIPPED":
            check(f"{adapter}: {c['case']} skipped with the adapter's reason", "adapter" in c["reason"], c["reason"])
# A few verdicts that follow from what these programs are, so a judge regression shows.
check("mosquitto_pub verifies the server certificate", rows["TLS_Unsecure_Server_Cert"]["mosquitto_pub"][0] == "PASS")
check("mosquitto_sub acknowledges a 128 KB QoS 1 message", rows["MQTT_Client_Puback_Qos1"]["mosquitto_sub"][0] == "PASS")
check("paho subscribes", rows["MQTT_Subscribe"]["paho-python"][0] == "PASS")
print("\n| case | " + " | ".join(RUNS) + " |\n|---|" + "---|" * len(RUNS))
for case in sorted(rows):
    print(f"| {case} | " + " | ".join(rows[case].get(a, ("-",))[0] for a in RUNS) + " |")
print()
for case in sorted(rows):
    for a in RUNS:
        if a in rows[case] and rows[case][a][0] not in ("PASS", "SKIPPED"):
            print(f"- {a} / {case}: {rows[case][a][0]}: {rows[case][a][1]}")
finish()
