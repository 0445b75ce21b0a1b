/*
 * Persistent sessions. The runner takes the device's session over after its SUBACK
 * (action takeover: a second connection with the device's client id, clean session 0,
 * closes the device's connection, then leaves) and, for the happy case, queues a QoS 1
 * message for the offline session. The device must then reconnect and:
 *  - session present 1: not subscribe again, and PUBACK the stored message;
 *  - session present 0 (scenario): subscribe again.
 */
#include <stdio.h>
#include <string.h>

#include "cert_int.h"
#include "common/jevents.h"

#define SESSION__MAX 256

static size_t session__conns(const iotc_certify_ctx *x, const iotc_certify_conn **out)
{
    size_t n = 0;
    for (size_t s = 0; s < x->n_series; s++)
        n += iotc_certify_obs_device_conns(&x->obs[s], out + n, SESSION__MAX - n);
    return n;
}

/* The first connection that subscribed, and the first accepted one after it. */
static iotc_certify_verdict session__pair(iotc_certify_ctx *x, const iotc_certify_conn **first, const iotc_certify_conn **next)
{
    const iotc_certify_conn *c[SESSION__MAX];
    size_t n = session__conns(x, c);
    *first = *next = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!*first && iotc_certify_conn_find(c[i], IOTC_EV_MQTT_OUT, "SUBACK", 0)) {
            *first = c[i];
            continue;
        }
        if (*first && c[i]->connack) {
            *next = c[i];
            break;
        }
    }
    if (!*first) {
        if (!x->final)
            return IOTC_CERTIFY_UNDECIDED;
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                        "the device never subscribed (or got no SUBACK), so there "
                        "was no session to resume");
    }
    if (!*next) {
        if (!x->final)
            return IOTC_CERTIFY_UNDECIDED;
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                        "the device did not reconnect after its session was taken "
                        "over (connection closed: %s)",
                        json_string_value(json_object_get((*first)->close, IOTC_JF_REASON)));
    }
    return IOTC_CERTIFY_PASS;
}

static iotc_certify_verdict judge_session_resume(iotc_certify_ctx *x)
{
    const iotc_certify_conn *first, *next;
    const iotc_certify_conn *c[SESSION__MAX];
    size_t n = session__conns(x, c);
    bool first_seen = false;
    for (size_t i = 0; i < n; i++) {
        const char *why;
        if (!c[i]->connect)
            continue;
        why = iotc_certify_conn_session_fault(c[i], !first_seen);
        first_seen = true;
        if (why)
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL, "asked for a persistent session: %s", why);
    }
    if (session__pair(x, &first, &next) != IOTC_CERTIFY_PASS)
        return x->v;
    json_object_set(x->observed, "reconnect_connack", next->connack);
    if (!json_is_true(json_object_get(next->connack, IOTC_JF_SESSION_PRESENT)))
        return iotc_certify_set(x, IOTC_CERTIFY_ERROR,
                        "the endpoint answered session present 0 on the reconnect; "
                        "the persistent session was not kept");
    json_t *sub = iotc_certify_conn_find(next, IOTC_EV_MQTT_IN, "SUBSCRIBE", 0);
    if (sub)
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                        "subscribed again although CONNACK said session present 1: "
                        "the broker kept the subscription");
    json_t *p;
    for (size_t k = 0; (p = iotc_certify_conn_find(next, IOTC_EV_MQTT_OUT, "PUBLISH", k)) != NULL; k++) {
        json_int_t pid = json_integer_value(json_object_get(p, IOTC_JF_PACKET_ID));
        if (json_integer_value(json_object_get(p, IOTC_JF_QOS)) != 1)
            continue;
        for (size_t a = 0;; a++) {
            json_t *ack = iotc_certify_conn_find(next, IOTC_EV_MQTT_IN, "PUBACK", a);
            if (!ack)
                break;
            if (json_integer_value(json_object_get(ack, IOTC_JF_PACKET_ID)) != pid)
                continue;
            /* Leave a moment for a late SUBSCRIBE before passing early. */
            if (!x->final && x->obs[x->n_series - 1].t_end - iotc_certify_entry_t(ack) < 500)
                return IOTC_CERTIFY_UNDECIDED;
            return iotc_certify_set(x, IOTC_CERTIFY_PASS,
                            "resumed the session without subscribing again and "
                            "acknowledged the stored QoS 1 message (packet id %lld)",
                            (long long)pid);
        }
        if (x->final)
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                            "the stored QoS 1 message (packet id %lld) was delivered "
                            "on the resumed session but never acknowledged",
                            (long long)pid);
    }
    if (!x->final)
        return IOTC_CERTIFY_UNDECIDED;
    return iotc_certify_set(x, IOTC_CERTIFY_ERROR,
                    "the stored QoS 1 message was not delivered on the resumed "
                    "session (see the runner's action note)");
}

static iotc_certify_verdict judge_session_expired(iotc_certify_ctx *x)
{
    const iotc_certify_conn *first, *next;
    if (session__pair(x, &first, &next) != IOTC_CERTIFY_PASS)
        return x->v;
    json_object_set(x->observed, "reconnect_connack", next->connack);
    /* The endpoint journals the broker's CONNACK before its scenario rewrite, so with
     * session_present_zero the journal may say 1 while the device was sent 0. */
    if (!json_is_true(json_object_get(x->c->scenario, "session_present_zero")) &&
        json_is_true(json_object_get(next->connack, IOTC_JF_SESSION_PRESENT)))
        return iotc_certify_set(x, IOTC_CERTIFY_ERROR,
                        "the endpoint answered session present 1 on the reconnect "
                        "(scenario session_present_zero missing?)");
    json_t *sub = iotc_certify_conn_find(next, IOTC_EV_MQTT_IN, "SUBSCRIBE", 0);
    if (sub) {
        json_object_set(x->observed, "resubscribe", sub);
        return iotc_certify_set(x, IOTC_CERTIFY_PASS, "subscribed again %.0f ms after CONNACK session present 0",
                        iotc_certify_entry_t(sub) - iotc_certify_entry_t(next->connack));
    }
    double waited = (x->obs[x->n_series - 1].t_end - iotc_certify_entry_t(next->connack)) / 1000.0;
    if (!x->final && waited < 3.0 && next->t_close < 0)
        return IOTC_CERTIFY_UNDECIDED;
    return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                    "no SUBSCRIBE within %.1f s of CONNACK session present 0: when "
                    "the session has expired the device must subscribe again",
                    waited);
}

const iotc_certify_judge iotc_certify_judges_session[] = {
    {"session_resume", judge_session_resume, NULL},
    {"session_expired", judge_session_expired, NULL},
    {NULL, NULL, NULL},
};
