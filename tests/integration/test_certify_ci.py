#!/usr/bin/python3
"""ci/certify/action.yml and ci/workflows/*.yml: yamllint clean, and every action input
is an option of `iotconform certify` (parsed from its --help), so the action cannot ask
for something the CLI does not have. Also checks the steps the action promises."""
import json, os, re, subprocess, sys, tempfile
import yaml
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotclib import check, finish

BIN, SRC = sys.argv[1], sys.argv[2]
ACTION = f"{SRC}/ci/certify/action.yml"
WORKFLOWS = sorted(f"{SRC}/ci/workflows/{f}" for f in os.listdir(f"{SRC}/ci/workflows") if f.endswith(".yml"))
LINT = "{extends: default, rules: {line-length: {max: 110}}}"

p = subprocess.run(["yamllint", "-s", "-d", LINT, ACTION, *WORKFLOWS], capture_output=True, text=True)
check("yamllint: action and workflows are clean", p.returncode == 0, p.stdout + p.stderr)

help_text = subprocess.run([BIN, "certify", "--help"], capture_output=True, text=True).stdout
options = set(re.findall(r"--([a-z][a-z-]+)", help_text))
check("certify --help lists its options", {"device", "suite", "adapter", "fail-on"} <= options, options)

action = yaml.safe_load(open(ACTION))
inputs = action.get("inputs", {})
check("the action has the inputs the issue asks for", {"device", "suite", "adapter", "fail-on"} <= set(inputs), set(inputs))
for name in inputs:
    check(f"action input '{name}' is the certify option --{name}", name in options)
    check(f"action input '{name}' is passed on", f"inputs.{name}" in open(ACTION).read())
check("fail-on documents FAIL and WARN", "FAIL" in inputs["fail-on"]["description"] and "WARN" in inputs["fail-on"]["description"])
steps = action["runs"]["steps"]
text = open(ACTION).read()
check("composite action", action["runs"]["using"] == "composite")
check("runs ci/install-deps.sh and builds", "install-deps.sh" in text and "build.sh" in text)
check("uploads the HTML report", any(s.get("uses", "").startswith("actions/upload-artifact@") and "report.html" in s["with"]["path"] for s in steps))
check("publishes JUnit", any("junit" in s.get("uses", "") for s in steps))
check("writes summary.md to the job page", "GITHUB_STEP_SUMMARY" in text and "summary.md" in text)
check("fails the job on a failing exit status", any("exit 1" in s.get("run", "") for s in steps))
for wf in WORKFLOWS:
    if not os.path.basename(wf).startswith("certify"):
        continue  # other workflows (conformance-sharded.yml: integration.sharding) are only linted here
    doc = yaml.safe_load(open(wf))
    uses = [s.get("uses") for j in doc["jobs"].values() for s in j["steps"]]
    check(f"{os.path.basename(wf)} uses ./ci/certify", "./ci/certify" in uses, uses)
    for j in doc["jobs"].values():
        for s in j["steps"]:
            if s.get("uses") == "./ci/certify":
                unknown = set(s.get("with", {})) - set(inputs)
                check(f"{os.path.basename(wf)}: every `with` key is an action input", not unknown, unknown)

# The Certify step's own script, run as GitHub would (its ${{ }} expressions filled): the job
# page's step summary counts PASS_WITH_WARNINGS apart from PASS and the pass rate leaves them out.
step = next(s for s in steps if s.get("id") == "certify")
script = step["run"].replace("${{ github.action_path }}", f"{SRC}/ci/certify").replace('"$root/build/iotconform"', BIN)
with tempfile.TemporaryDirectory(prefix="iotc-ci-step-") as tmp:
    summary, outputs = f"{tmp}/step-summary.md", f"{tmp}/outputs"
    refdevice = json.load(open(f"{SRC}/fixtures/adapters/refdevice.json"))["command"]
    env = dict(os.environ, RUNNER_TEMP=tmp, GITHUB_STEP_SUMMARY=summary, GITHUB_OUTPUT=outputs,
               IOTC_DEVICE=refdevice + " --misbehave keepalive-zero", IOTC_ADAPTER="refdevice",
               IOTC_SUITE="MQTT_Connect,MQTT_Keep_Alive", IOTC_FAIL_ON="FAIL", IOTC_TIME_SCALE="0.1",
               IOTC_NAME="ref")
    p = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=180)
    text = open(summary).read() if os.path.exists(summary) else ""
    check("Certify step: exit 0 with only a warning", p.returncode == 0 and "exit-code=0" in open(outputs).read(),
          p.stderr[-1500:])
    check("step summary: 1 passed and 1 passed with warnings, counted apart",
          "✅ 1 passed · ☑️ 1 passed with warnings ·" in text, text[:400])
    check("step summary: pass rate counts only PASS", "pass rate 50.0%" in text, text[:400])
    check("step summary: the warned case's verdict and reason", "**PASS_WITH_WARNINGS**" in text, text[:800])
finish()
