"""Attack kinds every area can use: raw bytes at a port, a TLS handshake, and an
MQTT publish observed from a second connection (what was acked, what was delivered)."""
import socket, ssl, struct, time, uuid


@attack("raw_bytes")
def raw_bytes(ctx, p):
    """Plain TCP to a logical port, send `hex` bytes; observe whether the endpoint
    closes the connection (it must, without answering in kind)."""
    s = socket.create_connection(("127.0.0.1", ctx.port(p.get("port", 8883))), timeout=5)
    try:
        s.sendall(bytes.fromhex(p["hex"]) * p.get("repeat", 1))
        s.settimeout(p.get("timeout", 5))
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return {"closed": True, "answer_bytes": len(got)}
                got += chunk
        except socket.timeout:
            return {"closed": False, "answer_bytes": len(got)}
        except ConnectionResetError:
            return {"closed": True, "answer_bytes": len(got)}
    finally:
        s.close()


@attack("tls_handshake")
def tls_handshake(ctx, p):
    """A full TLS handshake with a device certificate; observe the outcome."""
    c = ssl.create_default_context(cafile=f"{ctx.pki}/ca-bundle.crt")
    c.load_cert_chain(f"{ctx.pki}/{p.get('cert', 'device-01')}.crt", f"{ctx.pki}/{p.get('cert', 'device-01')}.key")
    try:
        s = c.wrap_socket(socket.create_connection(("127.0.0.1", ctx.port(p.get("port", 8883))), timeout=5),
                          server_hostname=p.get("sni", "localhost"))
        s.close()
        return {"handshake": "ok"}
    except (ssl.SSLError, OSError) as e:
        return {"handshake": "refused", "error": str(e)[:200]}


def _puback_or_end(conn, timeout=3):
    while True:
        p = conn.read_packet(timeout)
        if p is None:
            return "closed"
        if p[0] == 4:
            return "puback" if len(p[2]) < 3 or p[2][2] < 0x80 else f"puback 0x{p[2][2]:02x}"
        if p[0] == 14:
            return f"disconnect 0x{p[2][0]:02x}" if p[2] else "disconnect"


@attack("mqtt_publish")
def mqtt_publish(ctx, p):
    """An observer (device-01, subscribed to `watch`) and a publisher (`cert`, client id
    `client_id`, MQTT `version`) that publishes `topic` at `qos`; observe the publisher's
    CONNACK, what answered the publish, and whether the observer received it."""
    v = p.get("version", 4)
    watch = p.get("watch", p["topic"]).encode()
    obs = ctx.mqtt()
    # helpers get fresh client IDs: only the device under test reconnects at AWS's pace
    obs.send(iotclib.connect(f"attack-observer-{uuid.uuid4().hex[:8]}".encode(), keepalive=30))
    out = {"observer_connack": iotclib.connack_code(obs.read_packet())}
    obs.send(iotclib.subscribe([watch], pid=1, qos=1))
    out["observer_suback"] = iotclib.suback_codes(obs.read_packet())
    pub = ctx.mqtt(cert=p.get("cert", "device-01"))
    pub.send(iotclib.connect(p.get("client_id", "attack-publisher").encode(), v=v, keepalive=30))
    out["connack"] = iotclib.connack_code(pub.read_packet())
    if out["connack"] == 0:
        qos = p.get("qos", 1)
        pkt = iotclib.publish(p["topic"].encode(), p.get("payload", "attack").encode(), qos=qos, v=v, pid=7)
        if p.get("retain"):
            pkt = bytes([pkt[0] | 1]) + pkt[1:]
        pub.send(pkt)
        out["answer"] = _puback_or_end(pub) if qos else "none"
    delivered = False
    deadline = time.monotonic() + p.get("deliver_timeout", 1.5)
    while time.monotonic() < deadline:
        q = obs.read_packet(max(0.05, deadline - time.monotonic()))
        if q is None:
            break
        if q[0] == 3:
            delivered = True
            break
    out["delivered"] = delivered
    return out
