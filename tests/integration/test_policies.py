#!/usr/bin/python3
"""IoT policies enforced at the front door for X.509 principals (reference section 8):
iot:Connect, iot:Publish, iot:RetainPublish, iot:Subscribe, iot:Receive, on MQTT 3.1.1
(disconnect), MQTT 5 (reason 0x87) and HTTPS (403). Every denial has its allowed twin.
device-05 carries thing-scoped.json (thing-05), device-06 deny-publish-secret.json,
device-01 allow-all.json."""
import json, os, ssl, subprocess, sys, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iotclib
from iotclib import Conn, Serve, check, connack_code, connect, publish, subscribe, suback_codes

BIN, PKI = sys.argv[1], sys.argv[2]
iotclib.PKI = PKI
srv = Serve(BIN, PKI, prefix="iotc-pol-")
P, PH = srv.ports["8883"], srv.ports["8443"]


def live(cid, cert, v=4):
    c = Conn(P, cert)
    c.send(connect(cid, v, 1200))
    p = c.read_packet()
    return c, p


def https(cert, topic, qos=1, retain=False):
    ctx = ssl.create_default_context(cafile=f"{PKI}/ca-bundle.crt")
    ctx.load_cert_chain(f"{PKI}/{cert}.crt", f"{PKI}/{cert}.key")
    url = f"https://localhost:{PH}/topics/{topic}?qos={qos}" + ("&retain=true" if retain else "")
    req = urllib.request.Request(url, data=b"x", method="POST")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


try:
    # iot:Connect: thing-scoped allows only client id == thing name
    c, p = live(b"thing-05", "device-05")
    check("Connect as own thing name allowed", connack_code(p) == 0, p)
    c, p = live(b"not-thing-05", "device-05")
    check("Connect as another client id: MQTT 3.1.1 closed without CONNACK", p is None, p)
    c, p = live(b"not-thing-05", "device-05", v=5)
    check("Connect as another client id: MQTT 5 CONNACK 0x87", connack_code(p) == 0x87, p)
    check("denial journaled as policy.deny with the reason",
          srv.events(lambda e: e.get("event") == "policy.deny" and e.get("action") == "iot:Connect"))

    # iot:Publish
    c, _ = live(b"thing-05", "device-05")
    c.send(publish(b"things/thing-05/up", b"x", qos=1))
    p = c.read_packet()
    check("Publish to own topic allowed (PUBACK 0)", p and p[0] == 4, p)
    c.send(publish(b"things/thing-04/up", b"x", qos=1, pid=2))
    check("Publish to another thing's topic: MQTT 3.1.1 disconnected", c.closed())
    c, _ = live(b"thing-05", "device-05", v=5)
    c.send(publish(b"things/thing-04/up", b"x", qos=1, v=5, pid=9))
    p = c.read_packet()
    check("Publish denied on MQTT 5: PUBACK 0x87, connection kept",
          p and p[0] == 4 and p[2][:2] == b"\x00\x09" and p[2][2] == 0x87, p)
    c.send(b"\xc0\x00")
    p = c.read_packet()
    check("... and the connection still answers PINGREQ", p and p[0] == 13, p)

    # iot:RetainPublish: thing-scoped has no RetainPublish
    c, _ = live(b"thing-05", "device-05")
    c.send(bytes([0x33]) + publish(b"things/thing-05/r", b"x", qos=1)[1:])  # retain bit set
    check("Retained publish without iot:RetainPublish: disconnected", c.closed())
    c, _ = live(b"rp-allow", "device-01")
    c.send(bytes([0x33]) + publish(b"pol/retained", b"x", qos=1)[1:])
    p = c.read_packet()
    check("Retained publish with allow-all: PUBACK", p and p[0] == 4, p)
    c.send(bytes([0x31]) + publish(b"pol/retained", b"", qos=0)[1:])  # clear it

    # explicit Deny beats Allow
    c, _ = live(b"secret-pub", "device-06")
    c.send(publish(b"public/x", b"x", qos=1))
    p = c.read_packet()
    check("deny-publish-secret: public topic allowed", p and p[0] == 4, p)
    c.send(publish(b"secret/x", b"x", qos=1, pid=2))
    check("deny-publish-secret: explicit Deny on secret/* disconnects", c.closed())

    # iot:Subscribe: MQTT 3.1.1 all-or-nothing, MQTT 5 per filter
    c, _ = live(b"thing-05", "device-05")
    c.send(subscribe([b"things/thing-05/#"]))
    check("Subscribe to own filter allowed", suback_codes(c.read_packet()) == [1])
    c.send(subscribe([b"things/thing-05/#", b"other/#"], pid=2))
    check("Subscribe with a denied filter: MQTT 3.1.1 disconnected", c.closed())
    c, _ = live(b"thing-05", "device-05", v=5)
    c.send(subscribe([b"other/#", b"things/thing-05/a", b"elsewhere"], v=5, pid=3))
    codes = suback_codes(c.read_packet(), v=5)
    check("MQTT 5 SUBACK spliced: 0x87 for denied filters, grant for the allowed one",
          codes == [0x87, 1, 0x87], codes)
    c.send(subscribe([b"nope/1", b"nope/2"], v=5, pid=4))
    codes = suback_codes(c.read_packet(), v=5)
    check("MQTT 5 SUBACK all denied answered by the front door", codes == [0x87, 0x87], codes)

    # thing-05 subscribed to things/thing-05/# does not receive things/thing-05
    sub, _ = live(b"thing-05", "device-05")
    sub.send(subscribe([b"things/thing-05/#"]))
    sub.read_packet()
    pub, _ = live(b"receive-pub", "device-01")
    pub.send(publish(b"things/thing-05", b"parent-level", qos=1))
    pub.read_packet()
    pub.send(publish(b"things/thing-05/child", b"child-level", qos=1, pid=2))
    pub.read_packet()
    p = sub.read_packet()
    body = p[2] if p else b""
    check("iot:Receive allowed topic delivered, denied one not delivered",
          p and p[0] == 3 and b"child-level" in body and b"parent-level" not in body, p)
    # AWS IoT's '#' does not match the parent level, so things/thing-05 is withheld by the
    # matching rule before iot:Receive is asked
    check("parent-level publish withheld by AWS '#' matching, journaled",
          srv.events(lambda e: e.get("event") == "mqtt.withheld" and e.get("topic") == "things/thing-05"
                     and "parent level" in e.get("reason", "")))

    # iot:Receive end to end: device-06 may subscribe to recv/+ but is denied iot:Receive on
    # recv/secret (deny-publish-secret.json); the denied message goes first, so a front door
    # that let it through would deliver it before the allowed one.
    for v in (4, 5):
        sub, _ = live(b"recv-sub-%d" % v, "device-06", v=v)
        sub.send(subscribe([b"recv/+"], v=v, pid=1))
        codes = suback_codes(sub.read_packet(), v=v)
        check(f"MQTT {v}: subscribe to recv/+ allowed", codes == [1], codes)
        pub, _ = live(b"recv-pub-%d" % v, "device-01")
        pub.send(publish(b"recv/secret", b"secret-%d" % v, qos=1))
        pub.read_packet()
        pub.send(publish(b"recv/open", b"open-%d" % v, qos=1, pid=2))
        pub.read_packet()
        p = sub.read_packet()
        body = p[2] if p else b""
        check(f"MQTT {v}: iot:Receive allowed (recv/open) delivered first",
              p and p[0] == 3 and b"recv/open" in body and b"open-%d" % v in body, p)
        p = sub.read_packet(0.5)
        check(f"MQTT {v}: iot:Receive denied (recv/secret) never delivered",
              p is None or (p[0] == 3 and b"recv/secret" not in p[2]), p)
        check(f"MQTT {v}: the denial journaled as policy.deny iot:Receive",
              srv.events(lambda e: e.get("event") == "policy.deny" and e.get("action") == "iot:Receive"
                         and "recv/secret" in json.dumps(e)))
        pub.send(b"\xe0\x00")
        sub.send(b"\xe0\x00")

    # HTTPS: 403 when the policy denies
    st, body = https("device-06", "public%2Fh")
    check("HTTPS publish allowed by policy: 200", st == 200, (st, body))
    st, body = https("device-06", "secret%2Fh")
    check("HTTPS publish denied by policy: 403 with a JSON message",
          st == 403 and b'"message"' in body, (st, body))
    st, body = https("device-05", "things%2Fthing-05%2Fh", retain=True)
    check("HTTPS retained publish without iot:RetainPublish: 403", st == 403, (st, body))
finally:
    rc = srv.stop()
check("serve exited cleanly", rc == 0, rc)
iotclib.finish()
