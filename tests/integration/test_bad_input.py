#!/usr/bin/python3
"""Bad input against `iotconform serve`: garbage instead of a ClientHello, a stalled
handshake, truncated, oversized and malformed MQTT, malformed HTTP. Each bad connection
must be closed with a journal entry saying why, while a well-behaved paho-mqtt client
keeps round-tripping messages throughout."""
import json, os, socket, ssl, struct, subprocess, sys, tempfile, threading, time
import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iotclib
from iotclib import Serve, check

BIN, PKI = sys.argv[1], sys.argv[2]
CA = f"{PKI}/ca-bundle.crt"
srv = Serve(BIN, PKI, {"limits": {"handshake_timeout_ms": 400, "connect_timeout_ms": 400}},
            prefix="iotc-bad-")
try:
    P8883, P8443 = srv.ports["8883"], srv.ports["8443"]

    journal_events = srv.events

    # A good device that stays connected the whole time.
    good = iotclib.Canary(P8883, CA, f"{PKI}/device-01.crt", f"{PKI}/device-01.key",
                          "good-device", "bad/input/echo")

    def good_round_trip(tag):
        good.round_trip(tag, f"good client still served after {tag}")

    def tls_conn(port=P8883, cert="device-02"):
        ctx = ssl.create_default_context(cafile=CA)
        ctx.load_cert_chain(f"{PKI}/{cert}.crt", f"{PKI}/{cert}.key")
        raw = socket.create_connection(("127.0.0.1", port))
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def closed_by_peer(sock, timeout=3.0):
        sock.settimeout(timeout)
        try:
            while True:
                if not sock.recv(65536):
                    return True
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        except OSError:
            return True

    # 1. garbage instead of a ClientHello
    s = socket.create_connection(("127.0.0.1", P8883))
    port = s.getsockname()[1]
    s.sendall(b"\x16\x03\x01\x00\x05hello" + os.urandom(200))
    check("garbage ClientHello: connection closed", closed_by_peer(s))
    s.close()
    ev = journal_events(lambda e: e.get("event") == "tls.refused" and e.get("peer_port") == port)
    check("garbage ClientHello: journaled as tls.refused with a reason", ev and ev[0].get("reason"), ev)
    check("garbage ClientHello: journaled once", len(ev) == 1, ev)
    good_round_trip("after-garbage")

    # 1b. a client that resets (RST) before its ClientHello is done, and its twin that
    # closes cleanly: each is journaled once, with what happened (the reset once gave
    # the reason "(null)")
    ends = {}
    for how in ("reset", "close"):
        s = socket.create_connection(("127.0.0.1", P8883))
        ends[how] = s.getsockname()[1]
        s.sendall(b"\x16\x03\x01\x02\x00\x01")
        time.sleep(0.1)
        if how == "reset":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    for how, want in (("reset", "client reset the connection during the handshake"),
                      ("close", "client closed during the handshake")):
        ev = []
        for _ in range(50):
            ev = journal_events(lambda e, p=ends[how]: e.get("event") == "tls.refused"
                                and e.get("peer_port") == p)
            if ev:
                break
            time.sleep(0.05)
        check(f"handshake {how}: journaled once as '{want}'",
              len(ev) == 1 and ev[0].get("reason") == want, ev)
    good_round_trip("after-reset")

    # 2. a client that stalls mid-handshake (sends half a ClientHello, then nothing)
    s = socket.create_connection(("127.0.0.1", P8883))
    port = s.getsockname()[1]
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    check("stalled handshake: closed by the handshake timeout", closed_by_peer(s, 5))
    s.close()
    ev = journal_events(lambda e: e.get("event") == "tls.refused" and e.get("peer_port") == port)
    check("stalled handshake: journal says handshake timeout",
          ev and ev[0].get("reason") == "handshake timeout", ev)
    good_round_trip("after-stall")

    # 3. truncated MQTT: half a CONNECT, then the client goes away
    s = tls_conn()
    port = s.getsockname()[1]
    s.sendall(b"\x10\x20\x00\x04MQTT\x04")
    s.close()
    ev = journal_events(lambda e: e.get("event") == "conn.close" and e.get("peer_port") == port)
    check("truncated CONNECT: connection closed and journaled", bool(ev), ev)

    # 4. oversized MQTT: a PUBLISH that announces 1 MB
    s = tls_conn()
    port = s.getsockname()[1]
    cid = b"oversize"
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack(">H", len(cid)) + cid
    s.sendall(bytes([0x10, len(body)]) + body)
    connack = s.recv(4)
    check("oversize: CONNACK accepted first", connack[:1] == b"\x20" and connack[-1:] == b"\x00", connack)
    s.sendall(b"\x30\x80\x80\x40" + b"\x00\x01t" + b"x" * 1000)
    check("oversized PUBLISH: connection closed", closed_by_peer(s))
    s.close()
    ev = journal_events(lambda e: e.get("event") == "mqtt.refused" and e.get("peer_port") == port)
    check("oversized PUBLISH: journaled with rule packet-size",
          ev and ev[0].get("rule") == "packet-size", ev)
    good_round_trip("after-oversize")

    # 5. malformed MQTT: reserved packet type 0 as the first packet
    s = tls_conn()
    port = s.getsockname()[1]
    s.sendall(b"\x00\x00")
    check("malformed first packet: connection closed", closed_by_peer(s))
    s.close()
    ev = journal_events(lambda e: e.get("event") in ("mqtt.refused",) and e.get("peer_port") == port)
    check("malformed first packet: journaled", bool(ev), ev)

    # 6. MQTT 3.1.1 PUBLISH with QoS 2 -> disconnect (AWS does not support QoS 2)
    s = tls_conn()
    port = s.getsockname()[1]
    s.sendall(bytes([0x10, len(body)]) + body.replace(b"oversize", b"qos2test"))
    s.recv(4)
    s.sendall(b"\x34\x07\x00\x01t\x00\x01hi")
    check("QoS 2 PUBLISH: connection closed", closed_by_peer(s))
    ev = journal_events(lambda e: e.get("event") == "mqtt.refused" and e.get("peer_port") == port)
    check("QoS 2 PUBLISH: journaled with rule qos2", ev and ev[0].get("rule") == "qos2", ev)

    # 7. malformed HTTP on 8443
    s = tls_conn(P8443)
    port = s.getsockname()[1]
    s.sendall(b"NOT AN HTTP REQUEST\r\n\r\n")
    s.settimeout(3)
    resp = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            resp += chunk
    except Exception:
        pass
    check("malformed HTTP: answered 400 with a JSON message",
          resp.startswith(b"HTTP/1.1 400") and b'"message"' in resp, resp[:200])
    ev = journal_events(lambda e: e.get("event") == "http.refused" and e.get("peer_port") == port)
    check("malformed HTTP: journaled", bool(ev), ev)

    # 8. TLS up but no CONNECT: closed by the connect timeout
    s = tls_conn()
    port = s.getsockname()[1]
    check("silent MQTT client: closed by the connect timeout", closed_by_peer(s, 5))
    good_round_trip("after-all")
    good.stop()
finally:
    rc = srv.stop()
check("serve exited cleanly on SIGTERM", rc == 0, rc)
iotclib.finish()
