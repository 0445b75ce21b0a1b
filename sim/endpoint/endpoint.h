/*
 * The emulated AWS IoT Core endpoint (the "front door"): TLS policy, SNI/ALPN
 * routing, X.509 authentication against the registry, AWS MQTT rules, HTTPS
 * publish, and a relay of MQTT to the mosquitto it supervises. One libevent
 * loop, no thread per connection.
 */
#ifndef IOTC_ENDPOINT_H
#define IOTC_ENDPOINT_H

#include "broker/broker.h"
#include "common/buf.h"
#include "common/journal.h"
#include "config/profile.h"
#include "config/registry.h"
#include "mqtt/mqtt.h"
#include "scenario.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
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

struct iotc_endpoint;
struct iotc_auth_pending;
#define IOTC_MAX_BIND 4
struct iotc_conn;

/* A protocol session running on top of an established TLS connection. */
struct iotc_session_ops {
    const char *name;
    int (*start)(struct iotc_conn *c);
    void (*on_read)(struct iotc_conn *c);
    void (*on_close)(struct iotc_conn *c); /* release session state; conn is going away */
    void (*on_drain)(struct iotc_conn *c); /* output fell to the low watermark; may be NULL */
    /* The connection-duration limit fired: end the session with this lifecycle reason. */
    void (*on_expire)(struct iotc_conn *c, const char *reason);
};

struct iotc_conn {
    struct iotc_endpoint *ep;
    uint64_t id;
    enum iotc_lport lport;
    bool ipv6;
    char peer[64];
    int peer_port;
    SSL *ssl;
    struct bufferevent *bev;
    struct event *timer;   /* handshake timeout; sessions keep their own timers */
    struct event *free_ev; /* deferred free after close */
    double t_accept;
    bool handshake_done;
    bool closing;
    /* ClientHello facts */
    char *sni;
    int hello_seen;
    enum iotc_conn_mode mode;
    const char *alpn; /* protocol we select, NULL for none */
    int alert_sent;   /* last alert we sent, -1 none */
    char refuse_reason[160];
    /* authentication */
    const struct iotc_reg_cert *cert;
    char principal[160];
    const struct iotc_reg_policies *policies; /* attached to the principal; NULL = none */
    const char *thing;                        /* ${iot:Connection.Thing.ThingName} */
    const char *auth_method;                  /* "x509", "sigv4", "custom" */
    struct iotc_reg_policies own_policies;    /* compiled authorizer policy documents */
    struct iotc_auth_pending *auth_pending;   /* a custom authorizer is running */
    struct event *ttl_timer;                  /* connection-duration limit */
    struct event *refresh_timer;              /* custom auth: refreshAfterInSeconds */
    char *refresh_event;                      /* the authorizer event to send again */
    const struct iotc_reg_authorizer *refresh_authz;
    /* Bytes unwrapped from WebSocket messages. Owned by the connection, not the session,
     * because a session may end while a packet in this buffer is still being read. */
    struct evbuffer *ws_in;
    const char *ttl_reason; /* lifecycle reason when it fires */
    /* session */
    const struct iotc_session_ops *ops;
    void *session;
    uint64_t bytes_in, bytes_out;
    const char *close_by; /* "client", "endpoint" or "broker", set when closing */
    struct iotc_conn *prev, *next;
};

struct iotc_endpoint {
    struct event_base *base;
    struct iotc_profile profile;
    struct iotc_registry registry;
    struct iotc_journal *journal;
    SSL_CTX *ctx;
    int ssl_idx;
    struct iotc_broker *broker;
    char *run_dir;
    char *pki_dir;
    struct evconnlistener *listeners[IOTC_PORT_COUNT][IOTC_MAX_BIND];
    int bound_port[IOTC_PORT_COUNT];
    uint64_t next_conn_id;
    size_t conn_count;
    struct iotc_conn *conns;
    bool journal_packets; /* journal every MQTT packet (off for benchmarks) */
    struct iotc_lifecycle *lifecycle;
    struct iotc_strmap *sessions; /* client ID -> live MQTT session (takeover) */
    struct iotc_scenario scenario;
    long long connacks_withheld;
    long long sessions_cut;
    json_t *authz_cache; /* "authorizer\ntoken" -> {"expires": ms, "response": text} */
    uint32_t next_https_client;
};

/* tls_policy.c */
int iotc_tls_ctx_new(struct iotc_endpoint *ep, SSL_CTX **out, char *err, size_t errlen);
const char *iotc_tls_version_name(int version);
/* hello.c: ClientHello inspection, SNI and ALPN routing (installed by tls_policy.c) */
int iotc_hello_cb(SSL *ssl, int *alert, void *arg);
int iotc_alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                        const unsigned char *in, unsigned int inlen, void *arg);
/* x509_auth.c: client certificate check against the registry */
int iotc_x509_verify_cb(X509_STORE_CTX *store, void *arg);

/* listener.c */
int iotc_listeners_open(struct iotc_endpoint *ep, char *err, size_t errlen);
void iotc_listeners_close(struct iotc_endpoint *ep);

/* conn.c */
void iotc_conn_accept(struct iotc_endpoint *ep, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      enum iotc_lport lport);
/* Journals conn.close and frees the connection once pending output is written. */
void iotc_conn_close(struct iotc_conn *c, const char *by, const char *reason);
int iotc_conn_write(struct iotc_conn *c, const void *data, size_t len);
void iotc_conn_emit(struct iotc_conn *c, const char *event, json_t *fields);
void iotc_conn_close_all(struct iotc_endpoint *ep, const char *reason);

/* Authorization of one action by the principal's policies (default deny). Journals denials. */
#include "policy/policy.h"
bool iotc_conn_allowed(struct iotc_conn *c, const char *client_id, enum iotc_action act,
                       const char *resource, char *why, size_t whylen);

/* sessions */
extern const struct iotc_session_ops iotc_mqtt_session_ops;
extern const struct iotc_session_ops iotc_https_session_ops;
extern const struct iotc_session_ops iotc_door_session_ops;
/* Turns an upgraded WebSocket connection into an MQTT session (the door calls it after 101). */
int iotc_mqtt_session_start_wss(struct iotc_conn *c);

/* mqtt_rules.c: AWS IoT MQTT limits (reference section 3); NULL when fine, else why not */
const char *iotc_rule_client_id(const struct iotc_limits *l, struct iotc_span id);
const char *iotc_rule_topic(const struct iotc_limits *l, struct iotc_span topic);
const char *iotc_rule_filter(const struct iotc_limits *l, struct iotc_span filter);
uint16_t iotc_rule_keepalive(const struct iotc_limits *l, uint16_t requested);

/* https_props.c: MQTT 5 properties of an HTTPS publish (query and x-amz-mqtt5-* headers) */
struct iotc_http_req;
int iotc_https_mqtt5_props(const struct iotc_http_req *q, struct iotc_buf *block, char *why,
                           size_t whylen);

/* serve.c */
int iotc_serve_main(int argc, char **argv);

#endif
