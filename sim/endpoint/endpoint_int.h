/*
 * The endpoint's internals (the "front door"): TLS policy, SNI/ALPN routing,
 * X.509 authentication against the registry, listeners, and the endpoint object
 * every connection points back to. One libevent loop, no thread per connection.
 * Only files of sim/endpoint include this; others use endpoint.h.
 */
#ifndef IOTC_ENDPOINT_INT_H
#define IOTC_ENDPOINT_INT_H

#include "endpoint.h"
#include "deadline.h"
#include "flushq.h"
#include "scenario.h"
#include "broker/broker.h"
#include "common/errtext.h"
#include "common/journal.h"
#include "config/profile.h"
#include "config/registry.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#define IOTC_MAX_BIND 4
struct iotc_conn;
struct iotc_blink;
struct iotc_blink_cbs;
struct iotc_ep_fake_broker; /* endpoint_fuzz.h */

struct iotc_endpoint {
    struct event_base *base;
    struct iotc_profile profile;
    struct iotc_registry registry;
    struct iotc_journal *journal;
    SSL_CTX *ctx;
    uint64_t x509_gen; /* x509_auth.c: tells this endpoint's remembered chains from others' */
    struct iotc_broker *broker;        /* our own mosquitto, or NULL with a remote one */
    struct iotc_broker_remote *remote; /* broker_remote.c: `serve --broker tls://..` */
    /* The session fuzzer's in-memory broker (endpoint_fuzz.h) instead of mosquitto;
     * NULL in every real endpoint. Reached only through the broker_remote.h calls. */
    const struct iotc_ep_fake_broker *fake_broker;
    char *run_dir;
    char *pki_dir;
    struct evconnlistener *listeners[IOTC_PORT_COUNT][IOTC_MAX_BIND];
    int bound_port[IOTC_PORT_COUNT];
    uint64_t next_conn_id;
    size_t conn_count;
    struct iotc_conn *conns;
    bool journal_packets; /* journal every MQTT packet (off for benchmarks) */
    struct iotc_lifecycle *lifecycle;
    struct iotc_strmap *sessions;      /* client ID -> live MQTT session (takeover) */
    struct iotc_throttle_ep *throttle; /* throttle.c: account and client-ID quotas */
    /* The devices' clock: the per-client-ID CONNECT quota's second lasts this many
     * seconds (opts.device_time_scale, else the profile's time_scale). */
    double device_time_scale;
    struct iotc_scenario scenario;
    long long connacks_withheld;
    long long sessions_cut;
    json_t *authz_cache;     /* "authorizer\ntoken" -> {"expires": ms, "response": text} */
    json_t *session_subs;    /* client ID -> its broker session's filters (the live
                              * mqtt_sess's subscriptions object, shared): handle_subscribe.c */
    struct iotc_authz_gate { /* auth.c: authorizer programs running at once, and the queue */
        long long running;
        long long queued;
        struct iotc_auth_pending *head, *tail; /* FIFO of connects waiting for a slot */
        struct event *pump;                    /* starts queued programs from the loop */
    } authz_gate;
    uint32_t next_https_client;
    /* lifecycle (endpoint.c) */
    bool has_scenario;
    bool own_run_dir;    /* created here: removed at close when empty */
    int lock_fd;         /* flock'ed run_dir/serve.lock, held for the endpoint's life */
    char broker_dir[64]; /* short private sibling for the broker socket, or "" */
    char *journal_path;
    struct iotc_ep_workers *workers; /* workers.c: the other front-door processes, or NULL */
    struct iotc_ep_shared *wshared;  /* wshared.c: state shared by the workers, or NULL */
    bool reuse_port;                 /* listeners share their ports with other workers */
    bool worker_child;               /* started by a parent serve (worker 1..N-1) */
    int worker_id;                   /* 0: the parent (or the only process) */
    json_t *ready;                   /* the READY object once listening, else NULL */
    void (*on_ready)(iotc_endpoint *ep, void *arg);
    void *arg;
    int stop_pipe[2]; /* iotc_endpoint_stop writes a byte: signal- and thread-safe */
    struct event *stop_ev, *sigint_ev, *sigterm_ev;
    int run_rc;
    iotc_errtext run_err; /* why the loop ended (listeners, workers, journal) */
    /* mem_trim.c: TLS handshakes in flight, and the timer that trims the heap after them */
    unsigned handshaking;
    struct event *trim_ev;
    bool trim_closed;
    /* deadline.h: idle connections' timers (CONNECT deadline, keep-alive, duration limit) */
    struct iotc_deadlines deadlines;
    struct iotc_flushq flushq; /* flushq.h: connections' output of this loop turn */
};

/* mem_trim.c: a handshake began / ended (done or connection gone); after the last one the
 * heap's free pages go back to the system. */
void iotc_ep_trim_handshake_start(struct iotc_endpoint *ep);
void iotc_ep_trim_handshake_end(struct iotc_endpoint *ep);
void iotc_ep_trim_free(struct iotc_endpoint *ep);

/* tls_policy.c */
int iotc_tls_ctx_new(struct iotc_endpoint *ep, SSL_CTX **out, iotc_errtext *err);
const char *iotc_tls_version_name(int version);
/* hello.c: ClientHello inspection, SNI and ALPN routing (installed by tls_policy.c) */
int iotc_hello_cb(SSL *ssl, int *alert, void *arg);
int iotc_alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                        const unsigned char *in, unsigned int inlen, void *arg);
/* x509_auth.c: client certificate check against the registry */
int iotc_x509_verify_cb(X509_STORE_CTX *store, void *arg);

/* listener.c */
int iotc_listeners_open(struct iotc_endpoint *ep, iotc_errtext *err);
void iotc_listeners_close(struct iotc_endpoint *ep);

#endif
