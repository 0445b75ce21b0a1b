#!/usr/bin/env python3
"""The plain-shell token authorizer (fixtures/authorizers/allow-tokens.sh, what the
registry runs) answers every event exactly as the Python sample allow-by-token.sh does:
same decision, principal, policy documents (parsed) and timers. Events are written the
way sim/authz/request.c writes them: compact JSON, "token" first."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
AUTHZ = os.path.join(HERE, "..", "..", "fixtures", "authorizers")


def answer(program, event):
    text = json.dumps(event, separators=(",", ":"))
    out = subprocess.run([os.path.join(AUTHZ, program)], input=text.encode(),
                         stdout=subprocess.PIPE, check=True, timeout=10).stdout
    d = json.loads(out)
    d["policyDocuments"] = [json.loads(p) for p in d.get("policyDocuments", [])]
    return d


def event(token, proto="mqtt"):
    e = {}
    if token is not None:
        e["token"] = token
    e["signatureVerified"] = True
    e["protocols"] = ["tls", proto]
    if proto == "http":
        # a header that holds an allowed token must not stand in for the token itself
        e["protocolData"] = {"http": {"headers": {"token": "token-alpha"}}}
    else:
        e["protocolData"] = {"mqtt": {"username": "u?token=token-alpha", "clientId": "c"}}
    return e


def main():
    allowed = {"token-alpha": "alpha", "token-beta": "beta", "token-no-connect": "noconnect",
               "token-narrow": "narrow", "token-ttl-max": "ttlmax", "token-ttl-over": "ttlover",
               "token-read-only": "readonly"}
    refused = [None, "", "token-x", "token-alpha2", "xtoken-alpha", 'token-alpha",x',
               "token-shell"]
    failures = 0
    for proto in ("mqtt", "http"):
        for tok in list(allowed) + refused:
            e = event(tok, proto)
            a, b = answer("allow-tokens.sh", e), answer("allow-by-token.sh", e)
            want = tok in allowed
            ok = a == b and a["isAuthenticated"] is want and (
                not want or a["principalId"] == allowed[tok])
            print(("ok  " if ok else "FAIL"), proto, repr(tok), a if not ok else "")
            if not ok:
                print("     python:", b)
                failures += 1
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
