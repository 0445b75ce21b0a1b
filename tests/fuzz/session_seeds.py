#!/usr/bin/env python3
"""Writes the seed inputs of the session fuzzer (tests/fuzz/fuzz_session.c) into a directory.

Each seed is one config byte then records [tag][len hi][len lo][bytes]: tag 0 = bytes
from the current device, 1 = bytes from its broker connection, 2 = a new device,
3 = the device closes, 4 = the broker drops it, 5 = pick the current device,
6 = time passes (4 bytes, big-endian milliseconds: due timers fire).
Config byte: bit 0 = limits.qos1_durable, bit 1 = no topic aliases, bit 2 = tight quotas
(2 publishes/s per connection, 4 per account, 1 CONNECT/s per client ID).
The seeds are valid MQTT 3.1.1 and 5 conversations (the fuzzer mutates from there);
the minimized corpus in tests/fuzz/corpus/session grew from them.
"""
import os
import struct
import sys


def varint(n):
    out = b""
    while True:
        b = n % 128
        n //= 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack(">H", len(x)) + x


def pkt(first, body):
    return bytes([first]) + varint(len(body)) + body


def props(b=b""):
    return varint(len(b)) + b


def connect(v, cid, clean=True, ka=60, will=None, will_retain=False, will_qos=0, cprops=b""):
    flags = 0x02 if clean else 0
    if will:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
    body = s("MQTT") + bytes([v, flags]) + struct.pack(">H", ka)
    if v == 5:
        body += props(cprops)
    body += s(cid)
    if will:
        if v == 5:
            body += props()
        body += s(will[0]) + s(will[1])
    return pkt(0x10, body)


def subscribe(v, pid, filters, sprops=b""):
    body = struct.pack(">H", pid)
    if v == 5:
        body += props(sprops)
    for f, q in filters:
        body += s(f) + bytes([q])
    return pkt(0x82, body)


def unsubscribe(v, pid, filters):
    body = struct.pack(">H", pid)
    if v == 5:
        body += props()
    for f in filters:
        body += s(f)
    return pkt(0xA2, body)


def publish(v, topic, payload, qos=0, pid=1, retain=False, pprops=b""):
    body = s(topic)
    if qos:
        body += struct.pack(">H", pid)
    if v == 5:
        body += props(pprops)
    return pkt(0x30 | (qos << 1) | (1 if retain else 0), body + payload)


def puback(pid):
    return pkt(0x40, struct.pack(">H", pid))


PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


def rec(tag, data=b""):
    return bytes([tag]) + struct.pack(">H", len(data)) + data


def wait(ms):
    return rec(6, struct.pack(">I", ms))


def dev(*pkts):
    return b"".join(rec(0, p) for p in pkts)


def seeds():
    out = {}
    for v in (4, 5):
        n = "v5" if v == 5 else "v311"
        out[f"{n}_basic"] = b"\x00" + dev(
            connect(v, "dev-1"), subscribe(v, 1, [("a/b", 1)]), publish(v, "a/b", b"hi", 1, 7),
            puback(1), PINGREQ, unsubscribe(v, 2, ["a/b"]), DISCONNECT)
        out[f"{n}_will"] = b"\x00" + dev(connect(v, "dev-w", will=("w/1", b"gone"))) + rec(3)
        out[f"{n}_will_retained"] = b"\x00" + dev(
            connect(v, "dev-w", will=("w/r", b"gone"), will_retain=True, will_qos=1)) + rec(4)
        out[f"{n}_will_secret"] = b"\x00" + dev(connect(v, "dev-w", will=("secret/w", b"x")))
        out[f"{n}_retained"] = b"\x00" + dev(
            connect(v, "dev-r"), publish(v, "r/1", b"keep", 1, 3, retain=True),
            subscribe(v, 4, [("r/1", 1)]), subscribe(v, 5, [("r/#", 0)]), puback(1))
        out[f"{n}_big"] = b"\x00" + dev(connect(v, "dev-big"), subscribe(v, 1, [("big", 1)]),
                                       publish(v, "big", b"B" * 60000, 1, 9))
        out[f"{n}_persistent"] = b"\x00" + dev(
            connect(v, "p1", clean=False, cprops=b"\x11\x00\x00\x0e\x10"),
            subscribe(v, 1, [("p/#", 1)]), DISCONNECT) + rec(2) + dev(
                connect(v, "p1", clean=False, cprops=b"\x11\x00\x00\x0e\x10"),
                publish(v, "p/x", b"1", 1, 2))
        out[f"{n}_takeover"] = b"\x00" + dev(connect(v, "same")) + rec(2) + dev(
            connect(v, "same")) + rec(5, b"\x00") + dev(PINGREQ)
        out[f"{n}_broker_injects"] = b"\x00" + dev(connect(v, "dev-i"), subscribe(v, 1, [("#", 1)])) + \
            rec(1, publish(v, "x/secret", b"no", 1, 40)) + rec(1, publish(v, "$SYS/broker/load", b"1")) + \
            rec(1, publish(v, "ok/1", b"yes", 1, 41))
        out[f"{n}_publish_secret"] = b"\x00" + dev(connect(v, "dev-s"), publish(v, "secret/a", b"x", 1, 3),
                                                  publish(v, "secret/a", b"x"))
        out[f"{n}_subscribe_secret"] = b"\x00" + dev(connect(v, "dev-s"), subscribe(v, 1, [("secret/#", 1),
                                                                                        ("ok/#", 1)]))
        out[f"{n}_banned"] = b"\x00" + dev(connect(v, "banned-1"))
        out[f"{n}_durable"] = b"\x01" + dev(connect(v, "dev-d"), publish(v, "d/1", b"x", 1, 5),
                                           PINGREQ, publish(v, "d/2", b"y", 1, 6))
        out[f"{n}_before_connack"] = b"\x00" + rec(0, connect(v, "dev-e") + publish(v, "e", b"1"))
        out[f"{n}_qos2_auth"] = b"\x00" + dev(connect(v, "dev-q"), publish(v, "q", b"2", 2, 1))
        out[f"{n}_second_connect"] = b"\x00" + dev(connect(v, "dev-c"), connect(v, "dev-c"))
        out[f"{n}_empty_id"] = b"\x00" + dev(connect(v, "", clean=False))
        out[f"{n}_lifecycle"] = b"\x00" + dev(connect(v, "watch"),
                                             subscribe(v, 1, [("$aws/events/presence/#", 1)])) + \
            rec(2) + dev(connect(v, "other"), DISCONNECT) + rec(5, b"\x00") + dev(PINGREQ)
    # MQTT 5 only: topic aliases, subscription identifiers, properties
    out["v5_alias"] = b"\x00" + dev(connect(5, "dev-a"), subscribe(5, 1, [("t/#", 1)]),
                                   publish(5, "t/1", b"a", 1, 2, pprops=b"\x23\x00\x01"),
                                   publish(5, "", b"b", 1, 3, pprops=b"\x23\x00\x01"),
                                   publish(5, "", b"c", 0, pprops=b"\x23\x00\x09"))
    out["v5_alias_zero"] = b"\x00" + dev(connect(5, "dev-a"), publish(5, "t/1", b"a", 0,
                                                                     pprops=b"\x23\x00\x00"))
    out["v5_alias_off"] = b"\x02" + dev(connect(5, "dev-a"), publish(5, "t/1", b"a", 0,
                                                                    pprops=b"\x23\x00\x01"))
    out["v5_sub_id"] = b"\x00" + dev(connect(5, "dev-i"), subscribe(5, 1, [("i/#", 1)], b"\x0b\x05"))
    out["v5_props"] = b"\x00" + dev(
        connect(5, "dev-p", cprops=b"\x11\x00\x00\x00\x3c\x21\x00\x0a\x27\x00\x01\x00\x00"),
        publish(5, "p", b"{}", 1, 4, pprops=b"\x01\x01\x03\x00\x10application/json\x08\x00\x02r/"),
        pkt(0xE0, b"\x00\x00"))
    out["v5_disconnect_reason"] = b"\x00" + dev(connect(5, "dev-r", will=("w", b"x")), pkt(0xE0, b"\x04\x00"))
    out["v5_auth_packet"] = b"\x00" + dev(connect(5, "dev-x"), pkt(0xF0, b"\x00\x00"))
    out["v311_unsub_many"] = b"\x00" + dev(connect(4, "dev-u"), subscribe(4, 1, [("a", 1), ("b/+", 0)]),
                                          unsubscribe(4, 2, ["a", "b/+", "c"]))
    out["v311_broker_drop"] = b"\x00" + dev(connect(4, "dev-b"), subscribe(4, 1, [("x", 1)])) + rec(4) + dev(PINGREQ)
    # time: keep-alive expiry, the CONNECT deadline, pings that keep a connection up,
    # an unacknowledged delivery, and the quotas' buckets refilling
    for v in (4, 5):
        n = "v5" if v == 5 else "v311"
        out[f"{n}_keepalive_expiry"] = b"\x00" + dev(connect(v, "dev-k", ka=30, will=("w/k", b"gone")),
                                                     subscribe(v, 1, [("w/#", 1)])) + \
            rec(2) + dev(connect(v, "dev-o", ka=1200), subscribe(v, 1, [("w/#", 1)])) + \
            rec(5, b"\x00") + wait(44000) + wait(2000) + rec(5, b"\x01") + dev(PINGREQ)
        out[f"{n}_keepalive_pings"] = b"\x00" + dev(connect(v, "dev-p", ka=30)) + \
            (wait(40000) + dev(PINGREQ)) * 4 + wait(46000)
        out[f"{n}_keepalive_zero"] = b"\x00" + dev(connect(v, "dev-z", ka=0)) + wait(1_700_000) + \
            dev(PINGREQ) + wait(1_900_000)
        out[f"{n}_connect_deadline"] = b"\x00" + wait(9000) + rec(2) + wait(2000) + \
            dev(connect(v, "dev-late")) + rec(5, b"\x00") + dev(connect(v, "dev-late2"))
        out[f"{n}_unacked_wait"] = b"\x00" + dev(connect(v, "dev-u", ka=30), subscribe(v, 1, [("u/#", 1)])) + \
            rec(1, publish(v, "u/1", b"late", 1, 50)) + wait(30000) + dev(puback(50)) + wait(30000)
        out[f"{n}_throttle_publish"] = b"\x04" + dev(
            connect(v, "dev-t"), subscribe(v, 1, [("t/#", 1)]),
            *[publish(v, "t/1", b"x" * 40, 1, 10 + i) for i in range(5)]) + wait(1000) + \
            dev(publish(v, "t/2", b"y", 1, 20), publish(v, "t/2", b"y" * 300, 1, 21)) + wait(1500) + \
            dev(publish(v, "t/3", b"z", 1, 22))
        out[f"{n}_throttle_connect"] = b"\x04" + dev(connect(v, "dev-c")) + rec(2) + \
            dev(connect(v, "dev-c")) + wait(1000) + rec(2) + dev(connect(v, "dev-c"), PINGREQ)
        out[f"{n}_throttle_account"] = b"\x04" + dev(connect(v, "a1"), publish(v, "a/1", b"1", 1, 1),
                                                      publish(v, "a/1", b"1", 1, 2)) + rec(2) + \
            dev(connect(v, "a2"), publish(v, "a/2", b"2", 1, 1), publish(v, "a/2", b"2", 1, 2),
                publish(v, "a/2", b"2", 1, 3)) + wait(250) + dev(publish(v, "a/2", b"2", 1, 4))
        out[f"{n}_durable_wait"] = b"\x01" + dev(connect(v, "dev-d", ka=30), publish(v, "d/1", b"x", 1, 5)) + \
            wait(20000) + dev(PINGREQ) + wait(50000)
    out["v5_session_expiry_wait"] = b"\x00" + dev(
        connect(5, "dev-x", clean=False, cprops=b"\x11\x00\x00\x00\x05", will=("w/x", b"bye")),
        subscribe(5, 1, [("x/#", 1)]), pkt(0xE0, b"\x04\x00")) + wait(6000) + rec(2) + dev(
            connect(5, "dev-x", clean=False, cprops=b"\x11\x00\x00\x00\x05"))
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(d, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(d, "seed_" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
