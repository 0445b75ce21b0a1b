/*
 * The MQTT session's internals, shared by its files: mqtt_session.c (life and
 * dispatch), handle_connect.c, handle_publish.c, handle_subscribe.c,
 * handle_ping_disconnect.c (keep-alive), broker_relay.c (broker -> device) and
 * mqtt_journal.c. Only these files include it.
 */
#ifndef IOTC_ENDPOINT_MQTT_SESSION_H
#define IOTC_ENDPOINT_MQTT_SESSION_H

#include "broker_link.h"
#include "session.h"
#include "common/buf.h"
#include "mqtt/mqtt.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define IOTC_ENDPOINT_MS_HIGH_WATER                                                                \
    (1u << 20) /* pause the other side above this much queued output */
#define IOTC_ENDPOINT_MS_LOW_WATER (256u << 10)
/* How long an unexplained close of a 3.1.1 broker link waits for another front door's
 * connected event of the client ID (doors sharing a broker; broker_relay.c). */
#define IOTC_MS_TAKEOVER_WAIT_MS 1000

enum iotc_endpoint_ms_state {
    IOTC_ENDPOINT_MS_WAIT_CONNECT,
    IOTC_ENDPOINT_MS_AUTHORIZING,
    IOTC_ENDPOINT_MS_WAIT_CONNACK,
    IOTC_ENDPOINT_MS_LIVE,
    IOTC_ENDPOINT_MS_DONE
};

/* AWS closes an MQTT 3.1.1 connection it does not authorize without a CONNACK. */
#define IOTC_ENDPOINT_MS_NO_CONNACK 0xFF

struct iotc_endpoint_mqtt_sess {
    /* Ordered so the small fields share words: one per idle device (issue 13). */
    struct iotc_conn *c;
    enum iotc_endpoint_ms_state state;
    uint8_t version;
    bool assigned_id;
    bool taken_over;
    bool client_initiated;
    char *client_id;
    uint16_t ka_requested, ka_effective;
    uint16_t alias_max; /* the Topic Alias Maximum the CONNACK advertised */
    bool ka_armed;
    bool scenario_sent;
    long long
        session_expiry_cut; /* MQTT 5: the Session Expiry the cap set (CONNACK says so), -1 none */
    struct iotc_blink *link;
    struct iotc_deadline timer; /* CONNECT deadline, then keep-alive (ep->deadlines) */
    uint64_t takeover_gen;      /* wshared.h: this connect's generation (workers), 0 none */
    /* Another front door on the shared broker (serve --broker tls://): its connected event
     * for this client ID (monotonic ms, 0 none), and the wait after an unexplained close
     * of the broker link for such an event (broker_relay.c). */
    double elsewhere_ms;
    struct event *takeover_wait;
    const char *takeover_wait_reason;
    double last_rx;        /* monotonic ms of the last client packet */
    double cut_at;         /* scenario: monotonic ms to close after a withheld ack (0: none) */
    const char *lc_reason; /* lifecycle disconnectReason, when known before the close */
    char session_id[37];
    bool ws_closed;
    bool announced;         /* a connected lifecycle event went out */
    json_t *pending_subs;   /* packet id -> filters, until the broker's SUBACK/UNSUBACK */
    json_t *subscriptions;  /* granted filters (a set) of the broker session: the
                             * 50 limit, '#' matching; = ep->session_subs[client_id];
                             * NULL until the first granted SUBSCRIBE */
    json_t *retain_filters; /* filters the last SUBACK granted: retained messages follow */
    struct {           /* handle_publish.c: MQTT 5 copies of one message, one per matching filter */
        uint64_t key;  /* FNV-1a of topic and payload of the message being counted, 0: none */
        unsigned seen; /* copies of it seen so far */
    } copies;
    struct iotc_buf connect_pkt; /* the CONNECT, kept while a custom authorizer runs */
    struct iotc_ws *ws;          /* MQTT over WebSocket: framing between TLS and MQTT */
    struct evbuffer *ws_in;      /* = c->ws_in: MQTT bytes unwrapped from WebSocket messages */
    char **aliases; /* MQTT 5 inbound topic aliases, [1..alias_max], set by the device */
    struct iotc_buf out;
    struct {                  /* mqtt_session.c: AWS's inbound in-flight QoS 1 quota */
        unsigned n;           /* the device's QoS 1 PUBLISHes not yet answered with a PUBACK */
        bool paused;          /* MQTT 3.1.1 at the quota: its input waits for a PUBACK */
        struct event *resume; /* reads the waiting input again, outside the ack's callback */
    } inflight;
    struct { /* durable_ack.c: PUBACKs held until the broker has saved */
        struct iotc_buf held_new, held_covered;
        uint64_t ping_bits; /* outstanding PINGREQs to the broker, oldest first: 1 = ours */
        uint8_t ping_n;
        bool barrier_out;
    } da;
};

/* durable_ack.c (limits.qos1_durable): hold_puback true = held, do not relay; pingresp true
 * = the barrier's own answer, do not relay; device_ping false = cannot track it, answer it
 * here instead of forwarding. */
bool iotc_ms_da_hold_puback(struct iotc_endpoint_mqtt_sess *s, const uint8_t *pkt, size_t len);
bool iotc_ms_da_pingresp(struct iotc_endpoint_mqtt_sess *s);
bool iotc_ms_da_device_ping(struct iotc_endpoint_mqtt_sess *s);
void iotc_ms_da_free(struct iotc_endpoint_mqtt_sess *s);
/* handle_ping_disconnect.c: ms = delay from now; the timer callback of s->timer */
void iotc_ms_arm(struct iotc_endpoint_mqtt_sess *s, double ms);
void iotc_ms_arm_keepalive(struct iotc_endpoint_mqtt_sess *s);
void iotc_ms_on_timer(struct iotc_deadline *d);
/* mqtt_journal.c */
void iotc_ms_journal(struct iotc_endpoint_mqtt_sess *s, const char *event,
                     const struct iotc_mqtt_frame *f, const uint8_t *pkt, bool always);
/* handle_connect.c */
int iotc_ms_on_connect(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                       const uint8_t *pkt);
/* handle_publish.c: check_* return 0 to forward, 1 when the connection was closed, 2 when answered
 * here */
bool iotc_ms_authorize_receive(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                               const uint8_t *pkt);
int iotc_ms_check_publish(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                          const uint8_t *pkt);
/* handle_subscribe.c (same return codes) */
void iotc_ms_remember_filters(struct iotc_endpoint_mqtt_sess *s,
                              const struct iotc_mqtt_subscribe *sub, const uint8_t *refused);
int iotc_ms_check_subscribe(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                            const uint8_t *pkt);
/* handle_subscribe.c: after the broker's CONNACK, s->subscriptions becomes the
 * session's set (an earlier connection's when the broker resumed it); at close, a
 * session that does not outlive the connection forgets it. */
void iotc_ms_subs_bind(struct iotc_endpoint_mqtt_sess *s, bool session_present);
void iotc_ms_subs_release(struct iotc_endpoint_mqtt_sess *s);
bool iotc_ms_subscription_event(struct iotc_endpoint_mqtt_sess *s, const struct iotc_mqtt_frame *f,
                                const uint8_t *pkt);
/* broker_relay.c: the iotc_blink callbacks of a session (arg = struct iotc_endpoint_mqtt_sess) */
void iotc_ms_broker_packet(void *arg, const struct iotc_mqtt_frame *f, const uint8_t *pkt);
void iotc_ms_broker_closed(void *arg, const char *reason);
/* The shared broker's presence/connected event of client_id's session session_id, made
 * by any front door (lifecycle.c watches them when the broker is shared by doors). */
void iotc_ms_connected_elsewhere(struct iotc_endpoint *ep, const char *client_id,
                                 const char *session_id);
void iotc_ms_broker_drain(void *arg);
/* mqtt_session.c: the ways out; refuse answers per AWS (CONNACK / DISCONNECT / close) */
void iotc_ms_send_client(struct iotc_endpoint_mqtt_sess *s, const void *data, size_t len);
void iotc_ms_inflight_forget(struct iotc_endpoint_mqtt_sess *s);
void iotc_ms_send_broker(struct iotc_endpoint_mqtt_sess *s, const void *data, size_t len);
void iotc_ms_finish(struct iotc_endpoint_mqtt_sess *s, const char *by, const char *reason);
void iotc_ms_refuse(struct iotc_endpoint_mqtt_sess *s, const char *rule, const char *reason,
                    uint8_t v5, uint8_t v3_connack);

#endif
