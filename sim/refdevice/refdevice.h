/*
 * iotc_refdevice: the built-in reference device for `iotconform certify`. A small,
 * well-behaved AWS IoT device (verifies the server, sends SNI, offers the recommended
 * suites, backs off exponentially with full jitter, retries QoS 1 with the same
 * packet id and DUP, keeps its persistent session, gives up on a dead link) whose
 * good habits can be switched off one at a time (--misbehave) to prove each judge.
 */
#ifndef IOTC_REFDEVICE_H
#define IOTC_REFDEVICE_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"

enum iotc_refdevice_misbehave {
    IOTC_REFDEVICE_NO_HOSTNAME_VERIFY = 1u << 0,
    IOTC_REFDEVICE_ACCEPT_EXPIRED = 1u << 1,
    IOTC_REFDEVICE_ACCEPT_UNTRUSTED = 1u << 2,
    IOTC_REFDEVICE_NO_SNI = 1u << 3,
    IOTC_REFDEVICE_UNSUPPORTED_SUITES = 1u << 4,
    IOTC_REFDEVICE_BACKOFF_CONSTANT = 1u << 5,
    IOTC_REFDEVICE_BACKOFF_LINEAR = 1u << 6,
    IOTC_REFDEVICE_BACKOFF_EXP_NOJITTER = 1u << 7,
    IOTC_REFDEVICE_NO_QOS1_RETRY = 1u << 8,
    IOTC_REFDEVICE_RETRY_NEW_PACKET_ID = 1u << 9,
    IOTC_REFDEVICE_RESUBSCRIBE_ON_RESUME = 1u << 10,
    IOTC_REFDEVICE_IGNORE_MISSING_PINGRESP = 1u << 11,
    IOTC_REFDEVICE_RECONNECT_INSTANTLY = 1u << 12,
    IOTC_REFDEVICE_NO_PUBACK = 1u << 13,
    IOTC_REFDEVICE_OLD_TLS = 1u << 14,            /* also offers TLS 1.0 / 1.1 */
    IOTC_REFDEVICE_NO_ALPN = 1u << 15,            /* ignores --alpn */
    IOTC_REFDEVICE_KEEPALIVE_ZERO = 1u << 16,     /* CONNECT keep-alive 0 (no keep-alive) */
    IOTC_REFDEVICE_CLEAN_ON_RECONNECT = 1u << 17, /* persistent only on the first CONNECT */
    IOTC_REFDEVICE_NO_PUBLISH = 1u << 18,
    IOTC_REFDEVICE_NO_SUBSCRIBE = 1u << 19,
    IOTC_REFDEVICE_NO_RESUBSCRIBE = 1u
                                    << 20, /* subscribes once per process, whatever CONNACK says */
    IOTC_REFDEVICE_GIVE_UP = 1u << 21,     /* exits after 3 failed attempts in a row */
    /* MQTT 5 only (no effect in 3.1.1 mode, where the first is the default habit): */
    RD_RETRY_ON_OPEN_CONNECTION = 1u << 22, /* resends on the same connection [MQTT-4.4.0-2] */
    RD_IGNORE_SERVER_KEEPALIVE = 1u << 23,  /* keeps its own keep-alive [MQTT-3.2.2-21] */
    RD_NO_SESSION_EXPIRY = 1u << 24,        /* persistent without a Session Expiry Interval */
};

struct iotc_refdevice_opts {
    const char *host, *ca, *cert, *key, *client_id, *sub_topic, *pub_topic, *sni, *alpn;
    int port;
    int keepalive;    /* seconds, as sent in CONNECT; PINGREQ cadence and PINGRESP wait
                       * (MQTT 5: the CONNACK's Server Keep Alive replaces it) */
    int mqtt_version; /* IOTC_MQTT_V311 (4) or IOTC_MQTT_V5 (5) */
    int qos;
    bool persistent;   /* clean session 0 */
    double time_scale; /* multiplies every timer of the device except keep-alive */
    uint64_t seed;
    long publish_every_ms; /* 0: publish once per connection */
    long run_ms;           /* 0: until SIGTERM */
    unsigned misbehave;
    bool verbose;
};

/* Timers at time scale 1 (milliseconds); see rd_backoff.c for the schedule. */
#define IOTC_REFDEVICE_BACKOFF_BASE_MS    1000.0
#define IOTC_REFDEVICE_BACKOFF_CAP_MS     128000.0
#define IOTC_REFDEVICE_MIN_RECONNECT_MS   1000.0  /* after a CONNECT the endpoint answered */
#define IOTC_REFDEVICE_STABLE_MS          30000.0 /* a connection this old resets the backoff */
#define IOTC_REFDEVICE_CONNACK_TIMEOUT_MS 5000.0
#define IOTC_REFDEVICE_ACK_RETRY_MS       5000.0 /* PUBACK / SUBACK wait before a retransmission */
/* MQTT 5: the Session Expiry Interval a persistent device asks for (s). */
#define RD_SESSION_EXPIRY_S 3600u

int iotc_refdevice_opts_parse(int argc, char **argv, struct iotc_refdevice_opts *o);
void iotc_refdevice_usage(FILE *out);
const char *iotc_refdevice_misbehave_names(void);

/* TLS: a connected, verified (unless a misbehaviour says otherwise) SSL on a blocking fd. */
SSL_CTX *iotc_refdevice_tls_ctx(const struct iotc_refdevice_opts *o);
SSL *iotc_refdevice_tls_connect(SSL_CTX *ctx, const struct iotc_refdevice_opts *o, int *fd_out);

/* Reconnect schedule. */
struct iotc_refdevice_backoff {
    unsigned attempt; /* failures since the last stable connection */
    uint64_t rng;
};
void iotc_refdevice_backoff_init(struct iotc_refdevice_backoff *b, uint64_t seed);
/* Delay before the next attempt; answered: the endpoint answered the last CONNECT (a
 * CONNACK, or a close before the device's CONNACK timeout), so the next is a second away. */
double iotc_refdevice_backoff_next_ms(struct iotc_refdevice_backoff *b,
                                      const struct iotc_refdevice_opts *o, bool answered);
void iotc_refdevice_backoff_reset(struct iotc_refdevice_backoff *b);

/* One MQTT session over ssl until it ends; returns 1 when CONNACK was accepted
 * (and how long the connection lasted in *up_ms), 0 when it never was. */
struct rd_state; /* what survives reconnects: in-flight messages, subscription state */
struct rd_state *iotc_refdevice_state_new(void);
void iotc_refdevice_state_free(struct rd_state *st);
int iotc_refdevice_session_run(SSL *ssl, int fd, const struct iotc_refdevice_opts *o,
                               struct rd_state *st, double *up_ms);

void iotc_refdevice_log(const struct iotc_refdevice_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
extern volatile int iotc_refdevice_stop;

#endif
