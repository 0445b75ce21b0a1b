/*
 * One TLS connection of the endpoint, from accept to close: what it turned out to
 * be (port + ALPN), who it authenticated as, and the protocol session on top.
 */
#ifndef IOTC_ENDPOINT_CONN_H
#define IOTC_ENDPOINT_CONN_H

#include "endpoint_int.h"
#include "throttle.h"
#include "policy/policy.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

/* What a TLS connection turned out to be, from its port and ALPN. */
enum iotc_conn_mode {
    IOTC_MODE_NONE,
    IOTC_MODE_MQTT_X509,   /* 8883, or 443 + x-amzn-mqtt-ca */
    IOTC_MODE_HTTP_X509,   /* 8443, or 443 + x-amzn-http-ca */
    IOTC_MODE_MQTT_CUSTOM, /* 443 + mqtt: custom authorizer */
    IOTC_MODE_DOOR_443,    /* 443 without ALPN (or http/1.1): SigV4, custom auth, WSS */
};

struct iotc_auth_pending;
struct iotc_session_ops;

/* How a connection's stream is ending (conn_io.c). */
enum iotc_io_ending {
    IOTC_IO_OPEN,        /* not ending */
    IOTC_IO_FLUSH,       /* closing: queued output is written first */
    IOTC_IO_LINGER_READ, /* lingering close: input is read and dropped */
    IOTC_IO_STOPPED,     /* closed with nothing to flush: no more events */
};

/* Transport: the socket, TLS and what the ClientHello said; bytes both ways (conn_io.c). */
struct iotc_conn_transport {
    SSL *ssl;                  /* NULL: the session fuzzer's plain socket */
    struct event ev;           /* the socket, for what ev_want says */
    struct evbuffer *in, *out; /* bytes not yet consumed / not yet sent; NULL when none */
    struct event *timer;       /* handshake timeout; sessions keep their own timers */
    char *sni;
    const char *alpn;    /* protocol we select, NULL for none */
    char *refuse_reason; /* why the handshake was refused (iotc_conn_refuse_reason), or NULL */
    /* Bytes unwrapped from WebSocket messages. Owned by the connection, not the session,
     * because a session may end while a packet in this buffer is still being read. */
    struct evbuffer *ws_in;
    uint64_t bytes_in, bytes_out;
    evutil_socket_t fd;
    int hello_seen;
    enum iotc_conn_mode mode;
    int alert_sent;       /* last alert we sent, -1 none */
    uint32_t write_retry; /* length of the SSL_write to repeat, 0: none */
    uint32_t low_water;   /* on_drain when queued output falls to this */
    short ev_want;        /* what ev is added for; 0: not added */
    short hs_want;        /* during the handshake: what OpenSSL waits for */
    bool handshake_done;
    bool read_paused;      /* flow control: the session takes no input for now */
    bool write_wants_read; /* a retried SSL_write waits for the client's bytes */
    bool read_wants_write; /* SSL_read has to send first */
    bool flush_queued;     /* output waits for the end of this loop turn (flushq.h) */
    uint8_t ending;        /* enum iotc_io_ending */
};

/* Authentication: who the device is, what it may do, and how long it may stay. */
struct iotc_conn_auth {
    const struct iotc_reg_cert *cert;
    /* Who authenticated, NULL until then (read it with iotc_conn_principal). X.509: the
     * registry's certificate id, which outlives every connection; SigV4 and custom
     * authorizers (auth.c): a copy of at most 159 bytes, owned when principal_owned. */
    const char *principal;
    bool principal_owned;
    uint8_t n_connect_attrs;                  /* of connect_attrs */
    const struct iotc_reg_policies *policies; /* attached to the principal; NULL = none */
    const char *thing;                        /* ${iot:Connection.Thing.ThingName} */
    const char *method;                       /* "x509", "sigv4", "custom" */
    struct iotc_reg_policies own_policies;    /* compiled authorizer policy documents */
    /* iot:ConnectAttributes of the CONNECT ("LastWill", "PersistentConnect"), set before
     * iot:Connect is decided; none for HTTPS. */
    const char *connect_attrs[2];
    struct iotc_auth_pending *pending; /* a custom authorizer is running */
    /* Set by auth.c together with pending: drops it when the connection closes, so
     * the connection needs nothing from auth.h. */
    void (*cancel)(struct iotc_conn *c);
    struct iotc_deadline ttl;    /* connection-duration limit (ep->deadlines) */
    const char *ttl_reason;      /* lifecycle reason when it fires */
    struct event *refresh_timer; /* custom auth: refreshAfterInSeconds */
    char *refresh_event;         /* the authorizer event to send again */
    const struct iotc_reg_authorizer *refresh_authz;
};

/* The protocol session on top (session.h). */
struct iotc_conn_session {
    const struct iotc_session_ops *ops;
    void *data;
    struct iotc_throttle_conn throttle; /* per-connection quotas, kept across a WSS upgrade */
};

/* The client's address as accept() gave it; its strings are made on demand (conn_peer.c). */
struct iotc_conn_peer {
    uint8_t addr[16]; /* IPv4: the first 4 bytes; IPv6 (IPv4-mapped included): all 16 */
    uint16_t port;
    bool v6; /* an AF_INET6 address, possibly IPv4-mapped */
};

struct iotc_conn {
    struct iotc_endpoint *ep;
    uint64_t id;
    enum iotc_lport lport;
    struct iotc_conn_peer peer;
    double t_accept;
    bool closing;
    bool linger;           /* iotc_conn_close_linger: drain input before the close */
    const char *close_by;  /* "client", "endpoint" or "broker", set when closing */
    struct event *free_ev; /* deferred free after close (or the end of a lingering close) */
    struct iotc_conn_transport tr;
    struct iotc_conn_auth auth;
    struct iotc_conn_session sess;
    struct iotc_conn *prev, *next;
};

void iotc_conn_accept(struct iotc_endpoint *ep, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      enum iotc_lport lport);
/* Journals conn.close and frees the connection once pending output is written. */
void iotc_conn_close(struct iotc_conn *c, const char *by, const char *reason);
/* The same as a lingering close (HTTP answers sent while the client may still be sending a
 * body): once the answer is written the write side is shut and input is read and discarded
 * until the client closes or limits.http_linger_ms pass, so the client reads the answer
 * instead of a reset (closing with unread input makes the kernel send RST). */
void iotc_conn_close_linger(struct iotc_conn *c, const char *by, const char *reason);
/* conn_io.c: bytes to the client (queued, sent when the socket takes them), the input
 * not yet consumed (never NULL but when out of memory), flow control. */
int iotc_conn_write(struct iotc_conn *c, const void *data, size_t len);
struct evbuffer *iotc_conn_input(struct iotc_conn *c);
size_t iotc_conn_input_len(const struct iotc_conn *c);
size_t iotc_conn_output_len(const struct iotc_conn *c);
void iotc_conn_read_enable(struct iotc_conn *c, bool on);
/* The session's drain callback runs when queued output falls to this many bytes. */
void iotc_conn_set_low_water(struct iotc_conn *c, size_t bytes);
/* The connection of an SSL of the endpoint (hello.c, x509_auth.c), or NULL. */
struct iotc_conn *iotc_conn_of_ssl(const SSL *ssl);
/* Keeps why the handshake is being refused, for conn.tls_handshake's reason: held only by
 * refused connections, not by every idle one. */
void iotc_conn_refuse_reason(struct iotc_conn *c, const char *reason);
void iotc_conn_emit(struct iotc_conn *c, const char *event, json_t *fields);

/* conn_peer.c: the peer's address. Each writes into buf (IOTC_CONN_PEER_LEN is enough for
 * any address) and returns it. */
#define IOTC_CONN_PEER_LEN 64
void iotc_conn_peer_set(struct iotc_conn *c, const struct sockaddr *sa);
/* The journal's "family": false for IPv4 and IPv4-mapped addresses. */
bool iotc_conn_peer_ipv6(const struct iotc_conn *c);
/* The journal's "peer": "ip:port", or "[ipv6]:port" for every AF_INET6 address. */
const char *iotc_conn_peer_str(const struct iotc_conn *c, char *buf, size_t size);
/* The address of "peer" alone, without brackets (IPv4-mapped stays ::ffff:a.b.c.d). */
const char *iotc_conn_peer_host(const struct iotc_conn *c, char *buf, size_t size);
/* aws:SourceIp: the address alone, IPv4-mapped shown as IPv4. */
const char *iotc_conn_peer_ip(const struct iotc_conn *c, char *buf, size_t size);

/* The authenticated principal, "" before authentication. */
static inline const char *iotc_conn_principal(const struct iotc_conn *c)
{
    return c->auth.principal ? c->auth.principal : "";
}
void iotc_conn_close_all(struct iotc_endpoint *ep, const char *reason);

/* Authorization of one action by the principal's policies (default deny). Journals denials. */
/* Connection-duration limits (seed 002): arms c's timer for the method's limit; when it
 * fires the session ends with lifecycle_reason. */
void iotc_conn_arm_duration(struct iotc_conn *c, double seconds, const char *lifecycle_reason);

bool iotc_conn_allowed(struct iotc_conn *c, const char *client_id, enum iotc_action act,
                       const char *resource, iotc_errtext *why);

/* The condition keys of one decision (policy_keys.c): aws:SourceIp, aws:SecureTransport,
 * iot:DomainName, iot:ConnectAttributes, iot:Connection.Thing.IsAttached /
 * ThingTypeName / Attributes[...], iot:Certificate.*. Points into c, the registry and
 * the struct itself, so it lives as long as the decision. */
#define IOTC_CONN_MAX_KEYS (8 + 50 + 12)
struct iotc_conn_keys {
    struct iotc_policy_kv kv[IOTC_CONN_MAX_KEYS];
    const char *one[IOTC_CONN_MAX_KEYS];
    size_t n;
    char source_ip[IOTC_CONN_PEER_LEN]; /* aws:SourceIp's value */
};
void iotc_conn_policy_keys(struct iotc_conn *c, const char *client_id, struct iotc_conn_keys *k);
/* The thing ${iot:Connection.Thing.*} and its condition keys stand for: on MQTT and
 * WebSocket the certificate's thing when client_id names it (or always, for an exclusive
 * attachment); none on HTTPS publish (AWS: MQTT and MQTT over WSS only). */
const char *iotc_conn_thing_for_policy(const struct iotc_conn *c, const char *client_id);

#endif
