/* Internals of `iotconform fleet`: the spec, the devices, the counters. */
#ifndef IOTC_FLEET_INT_H
#define IOTC_FLEET_INT_H

#include "common/clock.h"
#include "common/rows.h"
#include "faults/faults.h"
#include "harness/serve_child.h"
#include "harness/shard.h"
#include "mqtt/mqtt.h"

#include <curl/curl.h>
#include <jansson.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "common/errtext.h"

#define IOTC_FLEET_MAX_ROWS     32
#define IOTC_FLEET_MAX_FAULTS   64
#define IOTC_FLEET_MAX_DEVICES  200000
#define IOTC_FLEET_PAYLOAD_MIN  48 /* room for the "dev seq time" header */
#define IOTC_FLEET_PAYLOAD_MAX  131072
#define IOTC_FLEET_TOPIC_MAX    256
#define IOTC_FLEET_CLIENTID_MAX 128

/* ---- the matrix rows a fleet can drive are common/rows.h's (iotc_row): a new row is
 * one more entry there plus, when its transport is new, a driver beside device.c (MQTT),
 * wss.c (MQTT over WebSocket) and https.c (libcurl); how a door row authenticates is
 * ident.c's and https_auth.c's. MQTT rows run device.c, HTTPS rows libcurl multi
 * (https.c), WSS rows device.c with wss.c underneath; X.509 identities are certificate
 * names, SigV4 ones access keys, custom ones authorizer + token (ident.c). ---- */

/* SigV4 scope of the door rows: AWS IoT's signing names, the region the registry uses. */
#define IOTC_FLEET_SIGV4_REGION      "us-east-1"
#define IOTC_FLEET_SIGV4_SVC_WSS     "iotdevicegateway"
#define IOTC_FLEET_SIGV4_SVC_HTTPS   "iotdata"
#define IOTC_FLEET_SIGV4_EXPIRES_S   86400
#define IOTC_FLEET_AUTHZ_SIGNING_KEY "authorizer-signing.key" /* in the PKI directory */

/* ---- ident.c: who a device is (one per row identity, shared by its devices) ---- */
struct iotc_fleet_ident {
    char *name; /* x509: certificate name; sigv4: access key id; custom: authorizer (NULL: the
                   default authorizer) */
    /* sigv4 */
    char *secret;        /* NULL until resolved from the registry, unless given inline */
    char *session_token; /* NULL: none; "" given inline: send none */
    bool secret_inline, token_inline;
    /* custom */
    char *token, *token_key;
    bool sign;
    char *signature; /* base64 RSA-SHA256 over token, made at run start when sign */
};
/* Reads $.rows[i].identities for a row of the given auth (strict, errors name the path). */
int iotc_fleet_ident_read(const char *file, const char *path, json_t *arr, int auth,
                          struct iotc_fleet_ident **out, size_t *n, iotc_errtext *ce);
void iotc_fleet_idents_free(struct iotc_fleet_ident *v, size_t n);
/* Run start: secrets and session tokens from the registry, token signatures with the PKI's
 * signing key. registry may be NULL when every SigV4 identity has its secret inline. */
int iotc_fleet_ident_resolve(struct iotc_fleet_ident *id, int auth, const json_t *registry,
                             const char *pki, iotc_errtext *err);
/* Every identity of the spec, once the target (its registry and PKI) is known. */
struct iotc_fleet_spec;
int iotc_fleet_idents_setup(struct iotc_fleet_spec *s, iotc_errtext *err);
/* Custom-auth material as HTTP header lines "Name: value" (no CRLF): k = 0, 1, ...;
 * IOTC_ERR_NOT_FOUND past the last one. */
int iotc_fleet_ident_custom_header(const struct iotc_fleet_ident *id, unsigned k, char *line,
                                   size_t len);
/* MQTT username for custom auth on ALPN mqtt: "<user>?x-amz-customauthorizer-name=..". */
int iotc_fleet_ident_username(const struct iotc_fleet_ident *id, const char *user, char *out,
                              size_t len);
/* GET target of a WSS upgrade: "/mqtt", presigned for SigV4 (session token appended after
 * signing, as AWS IoT wants); host is the Host header the request will carry. */
int iotc_fleet_ident_wss_target(const struct iotc_fleet_ident *id, int auth, const char *host,
                                time_t when, char *out, size_t len);

/* ---- backoff.c: reconnect strategies (pure, unit-tested) ---- */
enum iotc_fleet_backoff_kind {
    IOTC_FLEET_BACKOFF_EXP_JITTER =
        0,                       /* default: full jitter, uniform in [0, min(cap, base*f^n)] */
    IOTC_FLEET_BACKOFF_EXP,      /* min(cap, base * factor^(n-1)) */
    IOTC_FLEET_BACKOFF_LINEAR,   /* min(cap, base + step * (n-1)) */
    IOTC_FLEET_BACKOFF_CONSTANT, /* base */
    IOTC_FLEET_BACKOFF_NONE,     /* never reconnect */
};
struct iotc_fleet_backoff {
    long long kind;                                           /* enum iotc_fleet_backoff_kind */
    long long base_ms, cap_ms, step_ms, factor, max_attempts; /* max_attempts 0: unlimited */
};
const char *iotc_fleet_backoff_name(int kind);
int iotc_fleet_backoff_parse(const char *name); /* -1 when unknown */
/* Delay before reconnect attempt n (n >= 1), or -1 when no attempt is allowed. */
long long iotc_fleet_backoff_delay(const struct iotc_fleet_backoff *b, unsigned n, uint64_t *rng);
uint64_t iotc_fleet_rand(uint64_t *state); /* xorshift64*, state != 0 */
double iotc_fleet_rand01(uint64_t *state);

/* ---- stats.c: log-bucketed latency histogram (2% resolution, fixed memory) ---- */
#define IOTC_FLEET_HIST_BUCKETS 1200
struct iotc_fleet_hist {
    uint64_t n;
    uint64_t max_us;
    uint32_t b[IOTC_FLEET_HIST_BUCKETS];
};
void iotc_fleet_hist_add(struct iotc_fleet_hist *h, uint64_t us);
double iotc_fleet_hist_pct_ms(const struct iotc_fleet_hist *h, double pct); /* 0 when empty */
/* The histogram in a summary ({n, max_us, buckets: [[i, count], ...]}), and one such
 * object added into h (fleet-merge); IOTC_ERR_INVALID when malformed. */
json_t *iotc_fleet_hist_json(const struct iotc_fleet_hist *h);
int iotc_fleet_hist_add_json(struct iotc_fleet_hist *h, const json_t *o);

/* ---- spec.c ---- */
struct iotc_fleet_behave {
    long long qos, publish_interval_ms, payload_bytes, clean_session, keepalive_s;
    long long max_inflight, max_queued, connect_timeout_ms, request_timeout_ms;
    long long max_messages; /* per device; 0: publish until the window ends */
    struct iotc_fleet_backoff backoff;
};
struct iotc_fleet_row {
    const iotc_row *def;
    long long devices;
    struct iotc_fleet_ident *identities; /* given to the row's devices in turn */
    size_t n_identities;
    char *client_id;        /* pattern: {run} {row} {i} {n} */
    char *monitor_identity; /* HTTPS rows: certificate of the monitor on 8883 */
    long long peer_offset;  /* device i subscribes to the topic of device (i + offset) % devices */
    struct iotc_fleet_behave b;
    /* run time */
    uint32_t first;                 /* global index of the row's first device */
    uint32_t llo, lcount;           /* this shard's devices of the row: ridx llo .. llo+lcount-1 */
    uint32_t lfirst;                /* index in fl->devs of the first of them */
    SSL_CTX **ctx;                  /* X.509: one per identity; door: one, no certificate */
    size_t n_ctx;                   /* 0 on door HTTPS rows: libcurl makes its own */
    SSL_CTX *monitor_ctx;           /* HTTPS rows */
    struct iotc_fleet_dev *monitor; /* HTTPS rows: the MQTT subscriber that counts deliveries */
};
struct iotc_fleet_fault_ev {
    struct iotc_fault f;
    double at_s, for_s, fraction;
    uint32_t row_mask; /* bit per spec row; 0: every row */
    /* run time */
    bool started, ended;
    uint32_t hit; /* devices (or processes) it touched */
};
enum iotc_fleet_target_kind { IOTC_FLEET_TARGET_EMULATED, IOTC_FLEET_TARGET_EXTERNAL };
struct iotc_fleet_target {
    int kind;
    char *profile;  /* emulated: profile name or file */
    char *ext_file; /* external: target file */
    char *host;     /* numeric address the devices connect to */
    char *sni;      /* also the name verified in the server certificate */
    char *ca;       /* CA bundle file */
    char *pki;      /* directory of <identity>.crt/.key */
    char *registry; /* credentials of SigV4 identities (emulated: the one serve loads) */
    int ports[3];   /* real ports of 8883, 8443, 443 */
    double time_scale;
    long long packet_journal;
};
struct iotc_fleet_spec {
    char *file, *name;
    double duration_s, drain_s, start_spread_s;
    long long ramp_in_flight, ramp_per_s, ramp_timeout_s, proxy;
    struct iotc_fleet_target target;
    struct iotc_fleet_row rows[IOTC_FLEET_MAX_ROWS];
    size_t n_rows;
    struct iotc_fleet_fault_ev faults[IOTC_FLEET_MAX_FAULTS];
    size_t n_faults;
};
int iotc_fleet_spec_load(const char *path, struct iotc_fleet_spec *s, iotc_errtext *err);
int iotc_fleet_target_load_external(const char *path, struct iotc_fleet_target *t,
                                    iotc_errtext *err);
void iotc_fleet_spec_free(struct iotc_fleet_spec *s);
/* behaviour tables, shared by defaults and per-row overrides */
int iotc_fleet_behave_read(const char *file, const char *path, json_t *obj,
                           struct iotc_fleet_behave *b, iotc_errtext *err);
void iotc_fleet_behave_defaults(struct iotc_fleet_behave *b);
bool iotc_fleet_behave_key(const char *key);

/* ---- ledger.c: per-device delivery accounting ---- */
struct iotc_fleet_ledger {
    uint32_t sent;      /* messages the application published (seq 0..sent-1) */
    uint32_t delivered; /* distinct seqs received at least once */
    uint32_t dup;       /* receptions of an already received seq */
    uint32_t words;     /* bitmap size in 64-bit words */
    uint64_t *seen;
};
/* Returns 1 for a first delivery, 0 for a duplicate, <0 on error (seq absurd / no memory). */
int iotc_fleet_ledger_mark(struct iotc_fleet_ledger *l, uint32_t seq);
bool iotc_fleet_ledger_seen(const struct iotc_fleet_ledger *l, uint32_t seq);
void iotc_fleet_ledger_free(struct iotc_fleet_ledger *l);
/* payload header: "dev seq t_us " then padding */
size_t iotc_fleet_payload_fill(char *out, size_t size, uint32_t dev, uint32_t seq, uint64_t t_us);
int iotc_fleet_payload_parse(const uint8_t *p, size_t n, uint32_t *dev, uint32_t *seq,
                             uint64_t *t_us);

/* ---- device state ---- */
enum iotc_fleet_dev_state {
    IOTC_FLEET_DEV_IDLE,
    IOTC_FLEET_DEV_WAIT,       /* backoff, or queued for a connect slot */
    IOTC_FLEET_DEV_CONNECTING, /* TCP + TLS */
    IOTC_FLEET_DEV_UPGRADE,    /* WSS: upgrade request sent, no 101 yet */
    IOTC_FLEET_DEV_MQTT_WAIT,  /* CONNECT sent, no CONNACK yet */
    IOTC_FLEET_DEV_UP,
    IOTC_FLEET_DEV_DONE, /* gave up (reconnect disabled or attempts exhausted) or stopped */
};
enum iotc_fleet_cause {
    IOTC_FLEET_CAUSE_NONE = 0,
    IOTC_FLEET_CAUSE_REFUSED, /* TCP connection refused */
    IOTC_FLEET_CAUSE_TLS,     /* handshake failed */
    IOTC_FLEET_CAUSE_CONNECT_TIMEOUT,
    IOTC_FLEET_CAUSE_CONNACK,      /* CONNACK with a refusal code */
    IOTC_FLEET_CAUSE_KEEPALIVE,    /* no PINGRESP in time */
    IOTC_FLEET_CAUSE_CLOSED,       /* the endpoint closed the connection */
    IOTC_FLEET_CAUSE_RESET,        /* ECONNRESET / EPIPE */
    IOTC_FLEET_CAUSE_SOCKET,       /* other socket errors */
    IOTC_FLEET_CAUSE_PROTOCOL,     /* malformed or unexpected packet */
    IOTC_FLEET_CAUSE_SUBACK,       /* subscription refused */
    IOTC_FLEET_CAUSE_HTTP_STATUS,  /* HTTPS: answer other than 200 */
    IOTC_FLEET_CAUSE_HTTP_TIMEOUT, /* HTTPS: request timed out */
    IOTC_FLEET_CAUSE_WS_REFUSED,   /* WSS: the upgrade was answered with something other than 101 */
    IOTC_FLEET_CAUSE_COUNT
};
const char *iotc_fleet_cause_name(int c);

struct iotc_fleet_pending {
    uint32_t seq;
    uint16_t pid;
    bool sent; /* written on the current connection */
    bool ever_sent;
    uint64_t t_us;
};

struct iotc_fleet;
struct iotc_fleet_dev {
    struct iotc_fleet *fl;
    struct iotc_fleet_row *row;
    uint32_t idx;  /* global */
    uint32_t ridx; /* in its row */
    uint8_t state;
    uint8_t last_cause; /* of the last failure, connect attempts included */
    uint8_t down_cause; /* of the last loss of an established connection */
    bool monitor;
    bool sync; /* the shard's start-barrier client (sync.c); also a monitor */
    bool ping_out;
    bool subscribed;
    bool ever_up;
    bool in_ramp;  /* holds a connect slot */
    bool in_queue; /* waiting for one */
    uint16_t next_pid, sub_pid;
    uint16_t local_port;
    uint32_t attempt;
    uint32_t inflight;
    uint64_t t_attempt_us;
    uint64_t t_connect_end_us; /* last CONNECT answered or its connection gone (0: never) */
    struct bufferevent *bev;
    struct event *tm;  /* connect timeout, backoff, keep-alive */
    struct event *pub; /* publish schedule */
    struct iotc_fleet_pending *q;
    uint32_t q_len, q_cap;
    struct iotc_fleet_dev *queue_next;
    /* faults currently on this device */
    struct iotc_fault fault;
    uint64_t fault_until_ms;
    struct fleet_wss *wss; /* WSS rows: the WebSocket under MQTT (wss.c) */
    /* HTTPS */
    CURL *easy;
    struct curl_slist *resolve;
    struct curl_slist *headers; /* custom-auth header lines */
    bool req_busy;
    char *client_id;
    char *topic;     /* where it publishes */
    char *sub_topic; /* what it subscribes to (its peer's topic with a peer_offset) */
};

/* ---- the fleet ---- */
enum iotc_fleet_phase {
    IOTC_FLEET_PHASE_MONITORS,
    IOTC_FLEET_PHASE_RAMP,
    IOTC_FLEET_PHASE_PUBLISH,
    IOTC_FLEET_PHASE_DRAIN,
    IOTC_FLEET_PHASE_END
};
struct iotc_fleet_counters {
    uint64_t connects, connect_failures[IOTC_FLEET_CAUSE_COUNT],
        disconnects[IOTC_FLEET_CAUSE_COUNT];
    uint64_t reconnects[IOTC_FLEET_CAUSE_COUNT];
    uint64_t qos0_sent, qos1_sent, qos0_skipped, queue_dropped;
    uint64_t published_wire, republished, puback, received, protocol_errors;
    uint64_t http_ok, http_fail;
};
struct iotc_fleet {
    struct iotc_fleet_spec *spec;
    struct event_base *base;
    struct iotc_fleet_dev *devs; /* this shard's n_devs devices, then one monitor per HTTPS row
                               (sharded: on shard 1 only), then the sync client */
    uint32_t n_devs, n_all;
    uint32_t n_global;                /* devices of the whole fleet (every shard) */
    struct iotc_fleet_ledger *ledger; /* by global device index: sent by this shard's publishers,
                                    received in this shard from any publisher */
    iotc_shard shard;                 /* n == 0: not sharded */
    bool synced; /* publishing starts together: sharded, or receivers other than the
                    publisher (peer_offset), so every subscriber is there first */
    struct iotc_fleet_sync *sync;
    struct iotc_fleet_counters c;
    struct iotc_fleet_hist connect_lat, deliver_lat;
    struct iotc_fleet_hist deliver_steady; /* messages published after the ramp */
    uint64_t rng;
    char run_tag[64];
    char spec_digest[80]; /* sha256 of the spec file: shards of one fleet must match */
    bool tty;
    /* connect slots */
    uint32_t in_flight;
    struct iotc_fleet_dev *qhead, *qtail;
    struct event *ramp_tm;
    double ramp_tokens;
    uint64_t ramp_last_us;
    /* phases */
    uint64_t t_start_us, t_pub_start_us, t_pub_end_us, t_end_us, t_all_up_us;
    uint64_t t_ramp_end_us; /* every device connected once (or the ramp timed out) */
    int phase;              /* enum iotc_fleet_phase */
    bool publishing, stopping, interrupted, monitors_ready;
    uint32_t disconnected_end;
    long nofile, nofile_hard;
    int sigints;
    uint32_t up_now, ever_up_n;
    /* target */
    struct iotc_serve_child serve;
    bool have_serve;
    struct iotc_proxy *proxy[3]; /* per logical port, when faults need one */
    int conn_port[3];            /* where devices connect (proxy or endpoint) */
    const char *conn_host;
    /* HTTPS */
    CURLM *multi;
    struct event *curl_tm;
    /* scratch */
    struct iotc_buf out;
    char *payload;
    /* memory figures */
    long rss_before_kb, rss_after_kb, serve_before_kb, serve_after_kb, broker_before_kb,
        broker_after_kb;
    /* timers */
    struct event *tick, *sig_int, *sig_term, *phase_tm;
    uint64_t last_progress_us, last_sent_snapshot;
    iotc_errtext err;
    FILE *progress_out;
    double progress_interval_s;
};

/* tls.c */
int iotc_fleet_tls_setup(struct iotc_fleet *fl, iotc_errtext *err);
void iotc_fleet_tls_free(struct iotc_fleet *fl);
SSL_CTX *iotc_fleet_tls_ctx_of(const struct iotc_fleet_dev *d);
/* A client context for a certificate name in the target's PKI (NULL: no certificate). */
SSL_CTX *iotc_fleet_tls_ctx_new(const struct iotc_fleet_target *t, const char *identity,
                                iotc_errtext *err);
const struct iotc_fleet_ident *iotc_fleet_dev_ident(const struct iotc_fleet_dev *d);

/* device.c: connection lifecycle of an MQTT device (and of a monitor) */
int iotc_fleet_dev_init(struct iotc_fleet *fl, struct iotc_fleet_dev *d);
void iotc_fleet_dev_free(struct iotc_fleet_dev *d);
void iotc_fleet_dev_want_connect(struct iotc_fleet_dev *d); /* now, through the ramp */
void iotc_fleet_dev_lost(struct iotc_fleet_dev *d, int cause);
void iotc_fleet_dev_close(struct iotc_fleet_dev *d, bool graceful);
void iotc_fleet_dev_publish_tick(
    struct iotc_fleet_dev *d); /* the application publishes one message */
/* Queues message seq (published at t_us) until it is acknowledged; false, counted in
 * queue_dropped, when the row's max_queued is reached or memory runs out: the message
 * then stays undelivered and is counted as lost. */
bool iotc_fleet_dev_enqueue(struct iotc_fleet_dev *d, uint32_t seq, uint64_t t_us);
void iotc_fleet_ramp_pump(struct iotc_fleet *fl);
void iotc_fleet_ramp_on_timer(evutil_socket_t fd, short what, void *arg);
void iotc_fleet_ramp_release(struct iotc_fleet_dev *d);
void iotc_fleet_dev_apply_fault(struct iotc_fleet_dev *d);
void iotc_fleet_dev_up(struct iotc_fleet_dev *d); /* accepting CONNACK */
void iotc_fleet_dev_start_publishing(struct iotc_fleet_dev *d, double spread_ms);

/* device_mqtt.c: packets of an MQTT device */
int iotc_fleet_mqtt_send_connect(struct iotc_fleet_dev *d);
void iotc_fleet_mqtt_on_read(struct bufferevent *bev, void *arg);
/* MQTT packets out of in, while bev is still the device's connection. */
void iotc_fleet_mqtt_on_stream(struct iotc_fleet_dev *d, struct bufferevent *bev,
                               struct evbuffer *in);
void iotc_fleet_mqtt_pump(struct iotc_fleet_dev *d);
int iotc_fleet_mqtt_send_disconnect(struct iotc_fleet_dev *d);
/* One PUBLISH outside the ledger (the sync client's); QoS 1 gets a fresh packet id. */
int iotc_fleet_mqtt_send_raw(struct iotc_fleet_dev *d, const char *topic, const void *payload,
                             size_t n, uint8_t qos, bool retain);
int iotc_fleet_mqtt_ping(struct iotc_fleet_dev *d);
void iotc_fleet_record_delivery(struct iotc_fleet *fl, const uint8_t *payload, size_t n, int qos);

/* wss.c: MQTT over WebSocket on the 443 door (the bytes under device_mqtt.c) */
int iotc_fleet_wss_dev_init(struct iotc_fleet_dev *d);
void iotc_fleet_wss_dev_free(struct iotc_fleet_dev *d);
int iotc_fleet_wss_upgrade(struct iotc_fleet_dev *d); /* TLS is up: send GET /mqtt */
void iotc_fleet_wss_on_read(struct bufferevent *bev, void *arg);
int iotc_fleet_wss_write(struct iotc_fleet_dev *d, const uint8_t *p, size_t n);
void iotc_fleet_wss_drop(
    struct iotc_fleet_dev *d); /* the connection is going: forget the session */

/* https_auth.c: what an HTTPS device presents (certificate, SigV4, custom-auth headers) */
int iotc_fleet_https_auth(struct iotc_fleet_dev *d, CURL *e);

/* https.c: HTTPS devices on libcurl multi */
int iotc_fleet_https_setup(struct iotc_fleet *fl, iotc_errtext *err);
void iotc_fleet_https_free(struct iotc_fleet *fl);
int iotc_fleet_https_dev_init(struct iotc_fleet_dev *d);
void iotc_fleet_https_publish_tick(struct iotc_fleet_dev *d);
void iotc_fleet_https_kick(struct iotc_fleet_dev *d);
void iotc_fleet_https_done(struct iotc_fleet_dev *d, CURLcode result);

/* target.c: the endpoint (emulated child or external) and the fault proxies */
int iotc_fleet_target_start(struct iotc_fleet *fl, const char *serve_bin, const char *pki_override,
                            iotc_errtext *err);
void iotc_fleet_target_stop(struct iotc_fleet *fl);
/* The emulated endpoint alone, no proxies (fleet --workers: its shards connect to it as
 * an external target, each with proxies of its own). */
int iotc_fleet_target_start_emulated(struct iotc_fleet *fl, const char *serve_bin,
                                     const char *pki_override, iotc_errtext *err);

/* procs.c: fleet --workers N: N shard processes of this fleet on this machine against one
 * endpoint, then one merged summary with every process's memory. */
struct iotc_fleet_procs_opts {
    const char *spec_path, *self, *serve_bin, *pki, *target, *json_out, *run;
    double duration, progress_interval;
    int workers, serve_workers;
    bool quiet;
};
int iotc_fleet_procs_run(struct iotc_fleet_spec *spec, const struct iotc_fleet_procs_opts *o);
bool iotc_fleet_target_needs_proxy(const struct iotc_fleet_spec *s);
struct iotc_proxy *iotc_fleet_proxy_for(struct iotc_fleet *fl, int lport);

/* sched.c: the fault schedule */
void iotc_fleet_faults_tick(struct iotc_fleet *fl);
bool iotc_fleet_dev_fault_active(const struct iotc_fleet_dev *d);

/* progress.c and summary.c */
void iotc_fleet_progress(struct iotc_fleet *fl, bool final);
json_t *iotc_fleet_summary_json(const struct iotc_fleet *fl);
void iotc_fleet_summary_print(const struct iotc_fleet *fl, const json_t *sum, FILE *out);
/* Lost QoS 1 messages and devices not connected at the end. */
uint64_t iotc_fleet_lost(const struct iotc_fleet *fl);
uint32_t iotc_fleet_disconnected_at_end(const struct iotc_fleet *fl);

/* sync.c: publishing starts together on every shard. Each shard's sync client subscribes
 * to fleet/<run>/sync/+ and, once the shard's devices are all subscribed, repeats "ready"
 * on fleet/<run>/sync/<k>; publishing starts when all N are seen. */
int iotc_fleet_sync_setup(struct iotc_fleet *fl, struct iotc_fleet_dev *d, iotc_errtext *err);
void iotc_fleet_sync_free(struct iotc_fleet *fl);
SSL_CTX *iotc_fleet_sync_ctx(const struct iotc_fleet *fl);
void iotc_fleet_sync_on_suback(struct iotc_fleet_dev *d);
void iotc_fleet_sync_on_publish(struct iotc_fleet_dev *d, const struct iotc_mqtt_publish *p);
/* The shard's devices are ready: announce it (now or once the sync client is subscribed). */
void iotc_fleet_sync_local_ready(struct iotc_fleet *fl);
bool iotc_fleet_sync_released(const struct iotc_fleet *fl);
void iotc_fleet_sync_tick(struct iotc_fleet *fl); /* the run's tick: repeat "ready" */
json_t *iotc_fleet_sync_json(const struct iotc_fleet *fl);
/* A device's place in [0, 1): its publish phase, the same whole or sharded. */
double iotc_fleet_dev_phase01(uint32_t idx, uint32_t salt);

/* The shard's ledger for the merge: who published here, what was received here. */
json_t *iotc_fleet_ledger_json(const struct iotc_fleet *fl);

/* merge.c: shards' --json summaries (every shard once) into the fleet's totals; the
 * merged object and its text form (fleet-merge, fleet --workers). */
int iotc_fleet_merge_files(int n, const char **files, json_t **out, iotc_errtext *err);
void iotc_fleet_merge_print(json_t *merged, FILE *out);

/* run.c */
int iotc_fleet_run(struct iotc_fleet *fl, const char *serve_bin, const char *pki_override);
void iotc_fleet_free(struct iotc_fleet *fl);

#endif
