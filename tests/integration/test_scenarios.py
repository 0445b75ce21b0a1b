#!/usr/bin/python3
"""Certification scenarios of the endpoint (`serve --scenario`): each one shown doing
what it says, next to the healthy behaviour it replaces."""
import json, os, socket, ssl, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iotclib
from iotclib import Conn, Serve, check, connack_code, connect, publish, subscribe, suback_codes

BIN, PKI = sys.argv[1], sys.argv[2]
iotclib.PKI = PKI


def serve():
    return Serve(BIN, PKI, prefix="iotc-scn-")


def ScenarioServe(scenario):
    return Serve(BIN, PKI, prefix="iotc-scn-", extra_args=["--scenario", json.dumps(scenario)])


def session(srv, cid=b"dev", clean=True, v=4):
    c = Conn(srv.ports["8883"])
    c.send(connect(cid, v, 1200, clean))
    return c


def silent(c, seconds=0.7):
    """True when nothing arrives for `seconds` and the connection stays open."""
    try:
        c.s.settimeout(seconds)
        c.s.recv(1)
        return False  # something arrived, or the connection closed
    except socket.timeout:
        return True
    except OSError:
        return False


healthy = serve()
try:
    c = session(healthy)
    check("healthy: CONNACK arrives", connack_code(c.read_packet()) == 0)
    c.send(publish(b"s/t", b"x", qos=1))
    p = c.read_packet()
    check("healthy: PUBACK arrives", p and p[0] == 4, p)
    c.send(subscribe([b"s/t"]))
    check("healthy: SUBACK arrives", suback_codes(c.read_packet()) == [1])
    c.send(b"\xc0\x00")
    p = c.read_packet()
    check("healthy: PINGRESP arrives", p and p[0] == 13, p)
    c = session(healthy, b"persist", clean=False); c.read_packet(); c.send(b"\xe0\x00"); c.closed()
    c = session(healthy, b"persist", clean=False)
    p = c.read_packet()
    check("healthy: persistent session resumes with session-present 1", p and p[2][0] & 1 == 1, p)
finally:
    healthy.stop()

srv = ScenarioServe({"withhold_connack": 2})
try:
    a = session(srv, b"w1")
    check("withhold_connack: 1st CONNECT gets nothing", silent(a))
    b = session(srv, b"w2")
    check("withhold_connack: 2nd CONNECT gets nothing", silent(b))
    c = session(srv, b"w3")
    check("withhold_connack: 3rd CONNECT gets CONNACK 0", connack_code(c.read_packet()) == 0)
    check("withheld CONNACKs journaled",
          len(srv.events(lambda e: e.get("event") == "scenario.withheld" and e.get("type") == "CONNACK")) == 2)
finally:
    srv.stop()

srv = ScenarioServe({"disconnect_after_connack": 1})
try:
    a = session(srv, b"d1")
    check("disconnect_after_connack: 1st session gets CONNACK", connack_code(a.read_packet()) == 0)
    check("disconnect_after_connack: ... then is closed", a.closed(3))
    b = session(srv, b"d2")
    check("disconnect_after_connack: 2nd session gets CONNACK and stays", connack_code(b.read_packet()) == 0 and silent(b))
finally:
    srv.stop()

srv = ScenarioServe({"withhold_puback": True, "withhold_suback": True, "withhold_pingresp": True})
try:
    c = session(srv); c.read_packet()
    c.send(publish(b"s/t", b"x", qos=1))
    check("withhold_puback: no PUBACK", silent(c))
    c.send(subscribe([b"s/t"], pid=5))
    check("withhold_suback: no SUBACK", silent(c))
    c.send(b"\xc0\x00")
    check("withhold_pingresp: no PINGRESP", silent(c))
finally:
    srv.stop()

srv = ScenarioServe({"session_present_zero": True})
try:
    c = session(srv, b"persist", clean=False); c.read_packet(); c.send(b"\xe0\x00"); c.closed()
    c = session(srv, b"persist", clean=False)
    p = c.read_packet()
    check("session_present_zero: resumed session reported as session-present 0", p and p[2][0] & 1 == 0, p)
finally:
    srv.stop()

srv = ScenarioServe({"send_bytes": 131072, "send_qos": 1})
try:
    c = session(srv); c.read_packet()
    c.send(subscribe([b"cert/in"]))
    c.read_packet()
    p = c.read_packet(5)
    check("send_bytes: device receives a 128 KB QoS 1 message on its subscribed topic",
          p and p[0] == 3 and (p[1] >> 1) & 3 == 1 and len(p[2]) >= 131072, p and len(p[2]))
finally:
    srv.stop()


def handshake(srv, verify=True):
    ctx = ssl.create_default_context(cafile=f"{PKI}/ca-bundle.crt")
    ctx.load_cert_chain(f"{PKI}/device-01.crt", f"{PKI}/device-01.key")
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        s = ctx.wrap_socket(socket.create_connection(("localhost", srv.ports["8883"])), server_hostname="localhost")
        der = s.getpeercert(binary_form=True)
        s.close()
        return "ok", len(der)
    except ssl.SSLCertVerificationError as e:
        return e.verify_message, 0


for name, expect in [("server-untrusted", "unable to get local issuer certificate"),
                     ("server-expired", "certificate has expired"),
                     ("server-wrongname", "Hostname mismatch")]:
    srv = ScenarioServe({"server_cert": name})
    try:
        res, _ = handshake(srv)
        check(f"server_cert {name}: a verifying client refuses it ({expect})", expect in res, res)
        res, _ = handshake(srv, verify=False)
        check(f"server_cert {name}: served (a non-verifying client completes)", res == "ok", res)
    finally:
        srv.stop()
srv = ScenarioServe({"server_cert": "server-large"})
try:
    res, n = handshake(srv)
    check("server_cert server-large: verifies and is larger than 8 KB", res == "ok" and n > 8192, (res, n))
finally:
    srv.stop()
iotclib.finish()
