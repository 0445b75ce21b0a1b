/* MQTT keep-alive (the front door owns it, not the broker) and the CONNECT deadline. */
#include "mqtt_session.h"
#include "common/err.h"
#include "common/jevents.h"

#include <stdio.h>

void iotc_ms_arm(struct iotc_endpoint_mqtt_sess *s, double ms)
{
    iotc_deadline_set(&s->c->ep->deadlines, &s->timer, ms);
}

static double ms__keepalive_window(const struct iotc_endpoint_mqtt_sess *s)
{
    double ms = s->ka_effective * 1500.0 * s->c->ep->profile.time_scale;
    return ms < 1 ? 1 : ms;
}

/* Arms once per window; packets only stamp last_rx, so the hot path adds no timer work. */
void iotc_ms_arm_keepalive(struct iotc_endpoint_mqtt_sess *s)
{
    s->last_rx = iotc_mono_ms();
    if (!s->ka_armed) {
        s->ka_armed = true;
        iotc_ms_arm(s, ms__keepalive_window(s));
    }
}

void iotc_ms_on_timer(struct iotc_deadline *d)
{
    struct iotc_endpoint_mqtt_sess *s =
        IOTC_DEADLINE_OWNER(d, struct iotc_endpoint_mqtt_sess, timer);
    if (s->state == IOTC_ENDPOINT_MS_WAIT_CONNECT) {
        iotc_conn_emit(s->c, IOTC_EV_MQTT_REFUSED,
                       json_pack("{s:s, s:s}", "rule", "connect-timeout", "reason",
                                 "no CONNECT after the TLS handshake"));
        iotc_ms_finish(s, "endpoint", "no CONNECT in time");
        return;
    }
    if (s->state == IOTC_ENDPOINT_MS_AUTHORIZING)
        return; /* the authorizer's own timeout answers */
    if (s->state == IOTC_ENDPOINT_MS_WAIT_CONNACK) {
        iotc_ms_refuse(s, "broker-timeout", "broker did not answer CONNECT",
                       IOTC_MQTT_RC_SERVER_UNAVAILABLE, IOTC_MQTT_V3_CONNACK_UNAVAILABLE);
        return;
    }
    double now = iotc_mono_ms(), idle = now - s->last_rx, window = ms__keepalive_window(s);
    if (s->cut_at > 0 && now >= s->cut_at) {
        iotc_conn_emit(s->c, IOTC_EV_SCENARIO_DISCONNECT, json_pack("{s:s}", "after", "withheld"));
        s->lc_reason = "SERVER_INITIATED_DISCONNECT";
        iotc_ms_finish(s, "endpoint", "scenario: disconnect after a withheld acknowledgement");
        return;
    }
    if (idle < window) {
        double next = window - idle;
        if (s->cut_at > 0 && s->cut_at - now < next)
            next = s->cut_at - now;
        iotc_ms_arm(s, next);
        return;
    }
    char why[96];
    snprintf(why, sizeof why, "no packet within 1.5 x keep-alive (%u s)", s->ka_effective);
    iotc_ms_refuse(s, "MQTT_KEEP_ALIVE_TIMEOUT", why, IOTC_MQTT_RC_KEEP_ALIVE_TIMEOUT, 0);
}
