#!/usr/bin/python3
"""HTTPS publish with MQTT 5 properties (reference section 5): contentType, responseTopic,
messageExpiry query parameters and the x-amz-mqtt5-* headers reach an MQTT 5 subscriber as
PUBLISH properties; malformed values are refused with 400 (each refusal has its twin)."""
import base64, json, os, ssl, struct, sys, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iotclib
from iotclib import Conn, Serve, check, connect, subscribe, v5_props

BIN, PKI = sys.argv[1], sys.argv[2]
iotclib.PKI = PKI
srv = Serve(BIN, PKI, prefix="iotc-h5-")


def post(query, headers=None, body=b"{\"t\":21}"):
    ctx = ssl.create_default_context(cafile=f"{PKI}/ca-bundle.crt")
    ctx.load_cert_chain(f"{PKI}/device-02.crt", f"{PKI}/device-02.key")
    req = urllib.request.Request(f"https://localhost:{srv.ports['8443']}/topics/h5%2Ft?{query}", data=body,
                                 method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


try:
    sub = Conn(srv.ports["8883"])
    sub.send(connect(b"h5-sub", 5, 1200)); sub.read_packet()
    sub.send(subscribe([b"h5/t"], v=5)); sub.read_packet()
    users = base64.b64encode(json.dumps([{"a": "1"}, {"b": "2"}]).encode()).decode()
    st, body = post("qos=1&contentType=application%2Fjson&responseTopic=h5%2Fresp&messageExpiry=60",
                    {"x-amz-mqtt5-payload-format-indicator": "UTF8_DATA",
                     "x-amz-mqtt5-correlation-data": base64.b64encode(b"corr-1").decode(),
                     "x-amz-mqtt5-user-properties": users})
    check("HTTPS publish with MQTT 5 properties: 200", st == 200, (st, body))
    p = sub.read_packet()
    ok = p and p[0] == 3
    props = {}
    if ok:
        b = p[2]; tl = struct.unpack(">H", b[:2])[0]
        props = v5_props(b, 2 + tl + (2 if (p[1] >> 1) & 3 else 0))
    check("subscriber got Content Type application/json", props.get(0x03) == b"application/json", props)
    check("subscriber got Response Topic h5/resp", props.get(0x08) == b"h5/resp", props)
    check("subscriber got Message Expiry <= 60", 0 < props.get(0x02, 0) <= 60, props)
    check("subscriber got Payload Format Indicator 1 (UTF-8)", props.get(0x01) == 1, props)
    check("subscriber got Correlation Data", props.get(0x09) == b"corr-1", props)
    check("subscriber got the user properties in order", props.get(0x26) == [("a", "1"), ("b", "2")], props)
    st, _ = post("qos=1")
    p = sub.read_packet()
    b = p[2]; tl = struct.unpack(">H", b[:2])[0]
    check("twin: a plain HTTPS publish carries no such properties",
          st == 200 and not (set(v5_props(b, 2 + tl + 2)) & {0x01, 0x02, 0x03, 0x08, 0x09, 0x26}))
    for what, q, h, body in [
        ("correlation data that is not base64", "qos=0", {"x-amz-mqtt5-correlation-data": "###"}, b"x"),
        ("an unknown payload format", "qos=0", {"x-amz-mqtt5-payload-format-indicator": "BINARY"}, b"x"),
        ("UTF8_DATA with a non-UTF-8 payload", "qos=0", {"x-amz-mqtt5-payload-format-indicator": "UTF8_DATA"}, b"\xff\xfe"),
        ("user properties that are not a JSON array", "qos=0", {"x-amz-mqtt5-user-properties": base64.b64encode(b"{}").decode()}, b"x"),
        ("a responseTopic with a wildcard", "qos=0&responseTopic=a%2F%23", {}, b"x"),
        ("a negative messageExpiry", "qos=0&messageExpiry=-5", {}, b"x"),
    ]:
        st, body = post(q, h, body)
        check(f"{what}: 400 with a JSON message", st == 400 and b'"message"' in body, (st, body))
finally:
    rc = srv.stop()
check("serve exited cleanly", rc == 0, rc)
iotclib.finish()
