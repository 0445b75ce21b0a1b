/*
 * The session driver's state: named MQTT connections (on the case's row, or
 * reference X.509 clients on 8883), each with its own packet pump, inbox of
 * received PUBLISHes and what the server answered. Internal to the runner.
 */
#ifndef IOTC_RUNNER_SESS_H
#define IOTC_RUNNER_SESS_H

#include <jansson.h>
#include <stdint.h>

#include "driver.h"
#include "wsc_case.h"

#define SESS_MAX_CONNS 8
#define SESS_INBOX     32
#define SESS_ACKS      64

typedef struct sess_msg {
    char topic[320];
    int qos, retain;
    size_t len;
    char *payload; /* NUL-terminated copy */
} sess_msg;

typedef struct sess_conn {
    char name[32];
    char client_id[200];
    int used;
    int version;
    int open;       /* transport up (handshake done) */
    int connack_rc; /* -1 until CONNACK */
    int session_present;
    int server_keep_alive;     /* MQTT 5 property, -1 when absent */
    int disconnect_reason;     /* MQTT 5 DISCONNECT from the server, -1 none */
    long opened_at, closed_at; /* ms; closed_at 0 while open */
    uint16_t next_pid;
    uint16_t pubacks[SESS_ACKS], pubrecs[SESS_ACKS];
    size_t n_pubacks, n_pubrecs;
    uint16_t suback_pid;
    int suback_n;
    uint8_t suback_codes[64];
    int pingresps;
    sess_msg inbox[SESS_INBOX];
    size_t n_inbox;
    iotc_wsc w;
} sess_conn;

typedef struct sess {
    const iotc_env *env;
    const iotc_case *c;
    size_t idx;
    iotc_drv_out *out;
    json_t *obs; /* observed.steps */
    char topic[128];
    sess_conn conns[SESS_MAX_CONNS];
} sess;

/* The named connection; created (unopened) when create is set and there is room. */
sess_conn *sess_conn_get(sess *s, const char *name, int create);

/* Opens the transport: the case's row (its TLS settings, certificate, ALPN, door
 * credentials, WebSocket upgrade) or, with observer set, a reference X.509
 * client on 8883. *username receives the MQTT username the row needs ("" none). */
int sess_conn_open(sess *s, sess_conn *k, int observer, char *username, size_t ulen,
                   json_t *step_obs);

int sess_conn_send(sess_conn *k, struct iotc_buf *pkt);

/* Reads packets (answering PUBLISH QoS 1 and recording everything) until done()
 * says so, the connection ends or the deadline passes. done may be NULL. */
typedef int (*sess_done_fn)(sess_conn *k, const void *arg);
void sess_conn_pump(sess_conn *k, long deadline, sess_done_fn done, const void *arg);

int sess_conn_closed(const sess_conn *k);
int sess_conn_acked(const uint16_t *v, size_t n, uint16_t pid);

/* Orderly (DISCONNECT + close) or abrupt (TCP reset) end; both free the transport. */
void sess_conn_disconnect(sess_conn *k);
void sess_conn_drop(sess_conn *k);
void sess_conn_free(sess_conn *k);

#endif
