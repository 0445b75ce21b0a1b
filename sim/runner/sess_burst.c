/*
 * A burst of QoS 1 PUBLISHes on one session connection (`publish` step with `count`):
 * what a device over AWS IoT Core's per-connection publish quota (100/s) sends. The
 * publishes go out in windows of at most `window` unacknowledged messages, each window
 * written back to back and then acknowledged, so the burst stays below AWS's in-flight
 * quota (100 unacknowledged QoS 1 messages: one more is a Receive Maximum violation on
 * MQTT 5) and the quota that answers is the rate, not the in-flight one.
 */
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "mqtt/mqtt.h"
#include "sess.h"

/* At most this many in flight: AWS's inbound unacknowledged maximum, and no more than the
 * acknowledgements a session records (IOTC_MQTT_SESSION_ACKS). */
#define BURST_WINDOW_MAX 100
_Static_assert(BURST_WINDOW_MAX <= IOTC_MQTT_SESSION_ACKS, "a window's acks must all be kept");

typedef struct burst_win {
    uint16_t pids[BURST_WINDOW_MAX];
    size_t n;
} burst_win;

static int burst__all_acked(iotc_mqtt_session *m, const void *arg)
{
    const burst_win *w = arg;
    for (size_t i = 0; i < w->n; i++)
        if (!iotc_mqtt_session_acked(m->pubacks, m->n_pubacks, w->pids[i]))
            return 0;
    return 1;
}

int iotc_runner_sess_burst(iotc_runner_sess *s, json_t *step, iotc_mqtt_session *m, json_t *o)
{
    json_t *jc = json_object_get(step, "count"), *jw = json_object_get(step, "window");
    long over_rate = (long)json_integer_value(json_object_get(step, "over_rate"));
    const char *topic_t = json_string_value(json_object_get(step, "topic"));
    long count = json_integer_value(jc), window = jw ? (long)json_integer_value(jw) : 25;
    long ok = 0, quota = 0, other = 0, none = 0, sent = 0;
    long deadline = (long)iotc_clock_ms() + iotc_drv_timeout_ms(s->c);
    long t0 = (long)iotc_clock_ms();
    char topic[1024];
    struct iotc_mqtt_publish p;

    if (count < 1 || count > 10000 || window < 1 || window > BURST_WINDOW_MAX) {
        snprintf(s->out->error, sizeof(s->out->error),
                 "publish: count must be 1..10000 and window 1..%d", BURST_WINDOW_MAX);
        return IOTC_ERR_CONFIG;
    }
    {
        /* A device keeps within the server's Receive Maximum (MQTT 5 section 3.3.4). */
        struct iotc_mqtt_prop rm;
        struct iotc_span cp = {m->connack_props.p, m->connack_props.len};
        if (m->version == IOTC_MQTT_V5 &&
            iotc_mqtt_props_find(cp, IOTC_MQTT_PROP_RECEIVE_MAXIMUM, &rm) == 1 && rm.u32 > 0 &&
            (long)rm.u32 < window)
            window = (long)rm.u32;
    }
    iotc_runner_sess_fill(s, topic_t ? topic_t : "{topic}", topic, sizeof(topic));
    memset(&p, 0, sizeof(p));
    p.qos = 1;
    p.topic = iotc_span_str(topic);
    p.payload = iotc_span_str(s->c->id);
    while (sent < count && !iotc_mqtt_session_closed(m)) {
        burst_win w = {.n = 0};
        /* Only this window's acknowledgements are looked up: forget the earlier ones. */
        iotc_mqtt_session_forget_acks(m);
        for (; w.n < (size_t)window && sent < count; sent++) {
            p.packet_id = iotc_mqtt_session_pid(m);
            w.pids[w.n++] = p.packet_id;
            /* Deadline now: written, not waited for (the window is acknowledged below). */
            if (iotc_mqtt_session_publish(m, &p, (long)iotc_clock_ms()) != IOTC_OK)
                break;
        }
        iotc_mqtt_session_pump(m, deadline, burst__all_acked, &w);
        for (size_t i = 0; i < w.n; i++) {
            int rc = iotc_mqtt_session_puback_rc(m, w.pids[i]);
            if (rc < 0)
                none++;
            else if (rc == 0x97)
                quota++;
            else if (rc < 0x80)
                ok++;
            else
                other++;
        }
    }
    json_object_set_new(o, "sent", json_integer(sent));
    json_object_set_new(o, "acked_ok", json_integer(ok));
    json_object_set_new(o, "quota_exceeded", json_integer(quota));
    json_object_set_new(o, "refused_other", json_integer(other));
    json_object_set_new(o, "unacked", json_integer(none));
    long burst_ms = (long)iotc_clock_ms() - t0;
    json_object_set_new(o, "burst_ms", json_integer(burst_ms));
    json_object_set_new(o, "closed", json_boolean(iotc_mqtt_session_closed(m)));
    json_object_set_new(o, "disconnect_reason",
                        m->disconnect_reason >= 0 ? json_integer(m->disconnect_reason)
                                                  : json_null());
    /* A quota of over_rate/s (a bucket of one second's worth) refills while the burst is
     * sent: a burst too slow to outrun it owes no throttling, even on AWS, so nothing
     * throttled then says nothing about the endpoint. The case errors (cannot judge)
     * instead of failing an endpoint for a slow client (a loaded or sanitized build). */
    long due = over_rate + over_rate * burst_ms / 1000;
    if (over_rate > 0 && quota == 0 && sent <= due) {
        snprintf(s->out->error, sizeof(s->out->error),
                 "publish burst: %ld publishes took %ld ms, so a %ld/s quota had refilled to "
                 "%ld and none was due to be throttled: the client was too slow to test the "
                 "quota (not judged)",
                 sent, burst_ms, over_rate, due);
        return IOTC_ERR_TIMEOUT;
    }
    return IOTC_OK;
}
