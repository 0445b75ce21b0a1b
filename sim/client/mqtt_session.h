/*
 * One MQTT client session on the blocking transport (client/wsc.h) and the
 * project's codec (sim/mqtt): packet ids, an inbox of received PUBLISHes, what
 * the server answered (CONNACK, PUBACK / PUBREC, SUBACK, PINGRESP, DISCONNECT),
 * and a pump that reads packets, answers QoS 1 and records everything until a
 * condition holds, the connection ends or a deadline passes. Orderly or abrupt
 * close. Used by the runner's session driver and the reference device; times
 * are on the monotonic clock of common/journal.h (ms).
 */
#ifndef IOTC_CLIENT_MQTT_SESSION_H
#define IOTC_CLIENT_MQTT_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "client/wsc.h"
#include "common/buf.h"
#include "mqtt/mqtt.h"

#define IOTC_MQTT_SESSION_INBOX 32
#define IOTC_MQTT_SESSION_ACKS  128

/* Habits a caller may switch off (the reference device's misbehaviours). */
enum iotc_mqtt_session_flags {
    IOTC_MQTT_SESSION_NO_PUBACK = 1u << 0, /* received QoS 1 is never acknowledged */
    IOTC_MQTT_SESSION_NO_INBOX = 1u << 1,  /* received PUBLISHes are not kept */
};

typedef struct iotc_mqtt_msg {
    char topic[320];
    int qos, retain;
    size_t len;
    char *payload;  /* NUL-terminated copy */
    uint8_t *props; /* MQTT 5: a copy of the PUBLISH's property block (NULL when none) */
    size_t props_len;
} iotc_mqtt_msg;

struct iotc_mqtt_session;

/* Sees every whole packet before the session records it; non-zero ends the
 * session (the transport is then treated as closed). */
typedef int (*iotc_mqtt_session_hook)(struct iotc_mqtt_session *m, const uint8_t *pkt,
                                      const struct iotc_mqtt_frame *f, void *arg);

typedef struct iotc_mqtt_session {
    int version;    /* IOTC_MQTT_V311 or IOTC_MQTT_V5: how packets are encoded and parsed */
    unsigned flags; /* enum iotc_mqtt_session_flags */
    iotc_mqtt_session_hook hook;
    void *hook_arg;
    int open;       /* transport up (handshake done) */
    int connack_rc; /* -1 until CONNACK */
    int session_present;
    int server_keep_alive;     /* MQTT 5 property, -1 when absent */
    int disconnect_reason;     /* MQTT 5 DISCONNECT from the server, -1 none */
    long opened_at, closed_at; /* ms; closed_at 0 while open */
    unsigned long packets;     /* whole packets received */
    int malformed;             /* the pump stopped at bytes that are not MQTT */
    uint16_t next_pid;
    uint16_t pubacks[IOTC_MQTT_SESSION_ACKS], pubrecs[IOTC_MQTT_SESSION_ACKS];
    size_t n_pubacks, n_pubrecs;
    uint8_t puback_rcs[IOTC_MQTT_SESSION_ACKS]; /* reason of pubacks[i] (0 on MQTT 3.1.1) */
    /* MQTT 5: copies of the property blocks of the last CONNACK and the last server
     * DISCONNECT (what a caller judges: limits advertised, reason strings). */
    struct iotc_buf connack_props, disconnect_props;
    uint16_t suback_pid;
    int suback_n;
    uint8_t suback_codes[IOTC_MQTT_SUB_MAX_FILTERS];
    int pingresps;
    iotc_mqtt_msg inbox[IOTC_MQTT_SESSION_INBOX];
    size_t n_inbox;
    iotc_wsc w;
} iotc_mqtt_session;

/* The next non-zero packet id after *last (1 after 65535). */
uint16_t iotc_mqtt_pid_next(uint16_t *last);

/* A closed session with no transport (w.fd = -1). */
void iotc_mqtt_session_init(iotc_mqtt_session *m);

/* Forgets everything received and answered (the transport is not touched). */
void iotc_mqtt_session_reset(iotc_mqtt_session *m);

/* The transport in m->w finished its handshake (or was refused): the session
 * starts now, open when TLS (and any upgrade) succeeded and nothing closed. */
void iotc_mqtt_session_start(iotc_mqtt_session *m);

uint16_t iotc_mqtt_session_pid(iotc_mqtt_session *m);

/* Sends one encoded packet; a failure ends the session. */
int iotc_mqtt_session_send(iotc_mqtt_session *m, const struct iotc_buf *pkt);

/* Reads packets (answering PUBLISH QoS 1 and recording everything) until done()
 * says so, the connection ends or the deadline passes. done may be NULL. */
typedef int (*iotc_mqtt_session_done)(iotc_mqtt_session *m, const void *arg);
void iotc_mqtt_session_pump(iotc_mqtt_session *m, long deadline, iotc_mqtt_session_done done,
                            const void *arg);

/* Records one whole packet as the pump does (after the hook); exposed for tests. */
void iotc_mqtt_session_packet(iotc_mqtt_session *m, const uint8_t *pkt,
                              const struct iotc_mqtt_frame *f);

/* CONNECT, then the pump until CONNACK (m->connack_rc) or the deadline. */
int iotc_mqtt_session_connect(iotc_mqtt_session *m, const struct iotc_mqtt_connect *cn,
                              long deadline);
/* SUBSCRIBE, then the pump until its SUBACK (m->suback_*) or the deadline. */
int iotc_mqtt_session_subscribe(iotc_mqtt_session *m, const struct iotc_mqtt_subscribe *sub,
                                long deadline);
/* PUBLISH, then the pump until the deadline or, at QoS > 0, its PUBACK / PUBREC. */
int iotc_mqtt_session_publish(iotc_mqtt_session *m, const struct iotc_mqtt_publish *p,
                              long deadline);

int iotc_mqtt_session_closed(const iotc_mqtt_session *m);
int iotc_mqtt_session_acked(const uint16_t *v, size_t n, uint16_t pid);
/* The reason code of the PUBACK for pid (MQTT 3.1.1: 0), -1 when none came. */
int iotc_mqtt_session_puback_rc(const iotc_mqtt_session *m, uint16_t pid);
/* Forgets the acknowledgements seen so far: a caller that publishes in windows looks up
 * only the current window's (the list holds IOTC_MQTT_SESSION_ACKS at most). */
void iotc_mqtt_session_forget_acks(iotc_mqtt_session *m);

/* Removes inbox[i] (a second wait then needs a second message). */
void iotc_mqtt_session_take(iotc_mqtt_session *m, size_t i);

/* Orderly (DISCONNECT, then read until the server hangs up, at most 300 ms) or
 * abrupt (TCP reset) end; both free the transport. */
void iotc_mqtt_session_disconnect(iotc_mqtt_session *m);
void iotc_mqtt_session_drop(iotc_mqtt_session *m);
/* Frees the transport (an orderly TLS close when it is still up). */
void iotc_mqtt_session_close(iotc_mqtt_session *m);
/* iotc_mqtt_session_close plus the inbox. */
void iotc_mqtt_session_free(iotc_mqtt_session *m);

#endif
