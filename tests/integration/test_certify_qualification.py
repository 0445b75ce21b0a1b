#!/usr/bin/python3
"""`iotconform certify --suite qualification` against the reference device: every one of
the 11 AWS qualification cases PASSes, and the run writes results.json (kind
certification, a verdict per case), junit.xml, summary.md and report.html."""
import json, os, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotclib import check, finish

BIN, PKI = sys.argv[1], sys.argv[2]
out = tempfile.mkdtemp(prefix="iotc-certq-")
t0 = time.time()
p = subprocess.run([BIN, "certify", "--adapter", "refdevice", "--suite", "qualification",
                    "--time-scale", "0.1", "--seed", "11", "--jobs", "4", "--pki", PKI, "--out", out],
                   capture_output=True, text=True, timeout=300)
print(p.stderr)
check("certify exits 0 when every case passes", p.returncode == 0, p.returncode)
check("prints the report path", p.stdout.startswith("report: ") and p.stdout.strip().endswith("report.html"), p.stdout)
doc = json.load(open(f"{out}/results.json"))
check("results.json is of kind certification", doc["run"]["kind"] == "certification")
cases = {c["case"]: c for c in doc["cases"]}
check("the 11 qualification cases ran", len(cases) == 11 and all(c["qualification"] for c in cases.values()), sorted(cases))
for cid, c in sorted(cases.items()):
    check(f"{cid}: PASS ({c['reason']})", c["verdict"] == "PASS" and c["status"] == "passed", c["verdict"])
    check(f"{cid}: journal excerpt and device command recorded", c["journal"] and c["device_command"].startswith("'"))
check("totals and verdict counts", doc["totals"]["passed"] == 11 and doc["verdicts"]["PASS"] == 11, doc["verdicts"])
for f in ("junit.xml", "summary.md", "report.html"):
    check(f"{f} written", os.path.getsize(f"{out}/{f}") > 200)
junit = open(f"{out}/junit.xml").read()
check("junit has one testcase per case", junit.count("<testcase ") == 11)
html = open(f"{out}/report.html").read()
check("the HTML report has the certification verdict page", 'id="certification"' in html and html.count('class="verdict v-pass"') >= 11)
check("summary.md lists every verdict", open(f"{out}/summary.md").read().count(" | PASS | ") == 11)
print(f"qualification run took {time.time() - t0:.1f} s")
finish()
