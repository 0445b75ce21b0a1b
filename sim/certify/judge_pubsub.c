/* PUBLISH / SUBSCRIBE judges, their retransmission when the ack never comes, and the
 * device's reaction to a missing PINGRESP. */
#include <stdio.h>
#include <string.h>

#include "cert_int.h"
#include "common/jevents.h"

#define PUBSUB__MAX 256

static size_t pubsub__conns(const cert_ctx *x, const cert_conn **out)
{
    size_t n = 0;
    for (size_t s = 0; s < x->n_series; s++)
        n += cert_obs_device_conns(&x->obs[s], out + n, PUBSUB__MAX - n);
    return n;
}

static json_int_t pubsub__i(json_t *e, const char *k)
{
    return json_integer_value(json_object_get(e, k));
}

static const char *pubsub__s(json_t *e, const char *k)
{
    const char *s = json_string_value(json_object_get(e, k));
    return s ? s : "";
}

static cert_verdict pubsub__not_connected(cert_ctx *x, const cert_conn *const *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c[i]->connack)
            return CERT_UNDECIDED;
    return cert_set(x, CERT_FAIL,
                    "the device never completed an MQTT connection (no CONNACK "
                    "was sent to it), so this case could not be exercised");
}

static cert_verdict judge_publish(cert_ctx *x)
{
    const cert_conn *c[PUBSUB__MAX];
    size_t n = pubsub__conns(x, c);
    const char *want = cert_param_str(x, "topic", NULL);
    for (size_t i = 0; i < n; i++) {
        json_t *p;
        for (size_t k = 0; (p = cert_conn_find(c[i], IOTC_EV_MQTT_IN, "PUBLISH", k)) != NULL; k++) {
            json_object_set(x->observed, "publish", p);
            if (want && strcmp(want, pubsub__s(p, IOTC_JF_TOPIC)) != 0)
                continue;
            return cert_set(x, CERT_PASS, "PUBLISH to \"%s\" at QoS %lld (%lld bytes)",
                            pubsub__s(p, IOTC_JF_TOPIC), (long long)pubsub__i(p, IOTC_JF_QOS),
                            (long long)pubsub__i(p, IOTC_JF_PAYLOAD_BYTES));
        }
    }
    if (!x->final)
        return CERT_UNDECIDED;
    if (pubsub__not_connected(x, c, n) != CERT_UNDECIDED)
        return x->v;
    return cert_set(x, CERT_FAIL, want ? "no PUBLISH to \"%s\" was seen" : "no PUBLISH was seen%s",
                    want ? want : "");
}

/*
 * PUBLISH or SUBSCRIBE whose acknowledgement is withheld: the device must send it again
 * with the same packet id (PUBLISH: DUP set) on the same connection.
 */
static cert_verdict pubsub__retry(cert_ctx *x, const char *type, const char *ack)
{
    const cert_conn *c[PUBSUB__MAX];
    size_t n = pubsub__conns(x, c);
    bool publish = strcmp(type, "PUBLISH") == 0;
    for (size_t i = 0; i < n; i++) {
        json_t *first = NULL, *p;
        for (size_t k = 0; (p = cert_conn_find(c[i], IOTC_EV_MQTT_IN, type, k)) != NULL; k++)
            if (!publish || pubsub__i(p, IOTC_JF_QOS) == 1) {
                first = p;
                break;
            }
        if (!first)
            continue;
        json_int_t pid = pubsub__i(first, IOTC_JF_PACKET_ID);
        json_object_set(x->observed, "first", first);
        /* Same connection first, then later connections (a resend after reconnecting). */
        for (size_t j = i; j < n; j++) {
            bool other_pid = false;
            for (size_t k = 0; (p = cert_conn_find(c[j], IOTC_EV_MQTT_IN, type, k)) != NULL; k++) {
                if (p == first || cert_entry_t(p) < cert_entry_t(first) ||
                    (publish && pubsub__i(p, IOTC_JF_QOS) != 1))
                    continue;
                if (pubsub__i(p, IOTC_JF_PACKET_ID) != pid) {
                    other_pid = true;
                    continue;
                }
                json_object_set(x->observed, "retry", p);
                double after = (cert_entry_t(p) - cert_entry_t(first)) / 1000.0;
                cert_set(x, CERT_PASS, "%s retried with the same packet id %lld after %.1f s", type,
                         (long long)pid, after);
                if (publish && !json_is_true(json_object_get(p, IOTC_JF_DUP)))
                    cert_warn(x, "the DUP flag was not set on the retransmission");
                if (j != i)
                    cert_warn(x,
                              "retried only after reconnecting; retry on the open connection "
                              "when the %s does not come",
                              ack);
                return x->v;
            }
            if (other_pid && j == i)
                return cert_set(x, CERT_FAIL,
                                "no %s for packet id %lld and the device sent a %s with another "
                                "packet id instead of retransmitting it: a retry must reuse the "
                                "packet id%s",
                                ack, (long long)pid, type, publish ? " and set DUP" : "");
        }
        if (!x->final)
            return CERT_UNDECIDED;
        return cert_set(x, CERT_FAIL,
                        "%s packet id %lld was never retransmitted although no %s "
                        "came (%.1f s observed)",
                        type, (long long)pid, ack,
                        (x->obs[0].t_end - cert_entry_t(first)) / 1000.0);
    }
    if (!x->final)
        return CERT_UNDECIDED;
    if (pubsub__not_connected(x, c, n) != CERT_UNDECIDED)
        return x->v;
    return cert_set(x, CERT_FAIL,
                    publish ? "the device sent no QoS 1 PUBLISH, so a missing PUBACK "
                              "could not be tested: publish at QoS 1"
                            : "the device never subscribed");
}

static cert_verdict judge_publish_retry(cert_ctx *x)
{
    return pubsub__retry(x, "PUBLISH", "PUBACK");
}

static cert_verdict judge_subscribe_retry(cert_ctx *x)
{
    return pubsub__retry(x, "SUBSCRIBE", "SUBACK");
}

static cert_verdict judge_subscribe(cert_ctx *x)
{
    const cert_conn *c[PUBSUB__MAX];
    size_t n = pubsub__conns(x, c);
    const char *want = cert_param_str(x, "filter", NULL);
    for (size_t i = 0; i < n; i++) {
        json_t *p;
        for (size_t k = 0; (p = cert_conn_find(c[i], IOTC_EV_MQTT_IN, "SUBSCRIBE", k)) != NULL;
             k++) {
            json_t *f = json_array_get(json_object_get(p, IOTC_JF_FILTERS), 0);
            const char *flt = pubsub__s(f, IOTC_JF_FILTER);
            json_object_set(x->observed, "subscribe", p);
            if (want && strcmp(want, flt) != 0)
                continue;
            return cert_set(x, CERT_PASS, "SUBSCRIBE to \"%s\" (QoS %lld)", flt,
                            (long long)(pubsub__i(f, "options") & 3));
        }
    }
    if (!x->final)
        return CERT_UNDECIDED;
    if (pubsub__not_connected(x, c, n) != CERT_UNDECIDED)
        return x->v;
    return cert_set(x, CERT_FAIL,
                    want ? "no SUBSCRIBE to \"%s\" was seen" : "no SUBSCRIBE was seen%s",
                    want ? want : "");
}

/* PUBACK, SUBACK and PINGRESP are withheld: after its unanswered PINGREQ the device must
 * close the connection itself, within 2 x keep-alive (+1 s). */
static cert_verdict judge_pingresp(cert_ctx *x)
{
    const cert_conn *c[PUBSUB__MAX];
    size_t n = pubsub__conns(x, c);
    for (size_t i = 0; i < n; i++) {
        if (!c[i]->connack || !c[i]->connect)
            continue;
        json_int_t k = pubsub__i(c[i]->connect, IOTC_JF_KEEPALIVE);
        json_t *ping = cert_conn_find(c[i], IOTC_EV_MQTT_IN, "PINGREQ", 0);
        double limit = 2.0 * (double)k + 1.0;
        json_object_set_new(x->observed, "keepalive", json_integer(k));
        if (k == 0)
            return cert_set(x, CERT_FAIL,
                            "keep-alive 0: the device never pings, so it cannot "
                            "notice that the server stopped answering");
        if (!ping) {
            double idle = ((c[i]->t_close >= 0 ? c[i]->t_close : x->obs[0].t_end) -
                           cert_entry_t(c[i]->connack)) /
                          1000.0;
            if (idle > 1.5 * (double)k + 1.0 || (x->final && c[i]->t_close < 0))
                return cert_set(x, CERT_FAIL, "no PINGREQ within %.1f s of keep-alive %lld s", idle,
                                (long long)k);
            if (c[i]->t_close >= 0)
                continue; /* closed before it had to ping: look at the next connection */
            return CERT_UNDECIDED;
        }
        json_object_set_new(x->observed, "pingreq_t_ms", json_real(cert_entry_t(ping)));
        const cert_obs *o = &x->obs[x->n_series - 1];
        /* A close at or after the runner's SIGTERM is the runner's doing (1 ms: clock
         * conversion error); one before it is the device's own. */
        bool runner_stop = o->stop_t >= 0 && c[i]->t_close >= o->stop_t - 1;
        if (c[i]->t_close >= 0 && !runner_stop) {
            double after = (c[i]->t_close - cert_entry_t(ping)) / 1000.0;
            const char *by = pubsub__s(c[i]->close, IOTC_JF_BY);
            json_object_set_new(x->observed, "closed_after_s", json_real(after));
            if (strcmp(by, "client") != 0)
                return cert_set(x, CERT_FAIL,
                                "the endpoint closed the connection (%s) %.1f s after "
                                "the unanswered PINGREQ; the device never gave up",
                                pubsub__s(c[i]->close, IOTC_JF_REASON), after);
            cert_set(x, CERT_PASS,
                     "closed the connection %.1f s after its unanswered PINGREQ "
                     "(keep-alive %lld s)",
                     after, (long long)k);
            if (after > limit)
                cert_warn(x, "later than 2 x keep-alive + 1 s (%.0f s)", limit);
            return x->v;
        }
        double waited = (x->obs[0].t_end - cert_entry_t(ping)) / 1000.0;
        if (x->final || waited > limit + 2.0)
            return cert_set(x, CERT_FAIL,
                            "still connected %.1f s after a PINGREQ that got no "
                            "PINGRESP (keep-alive %lld s): close the connection and "
                            "reconnect when PINGRESP does not arrive",
                            waited, (long long)k);
        return CERT_UNDECIDED;
    }
    if (!x->final)
        return CERT_UNDECIDED;
    return pubsub__not_connected(x, c, n) != CERT_UNDECIDED
               ? x->v
               : cert_set(x, CERT_FAIL, "the device closed every connection before it had to ping");
}

static const char *const publish__params[] = {"topic", NULL};
static const char *const subscribe__params[] = {"filter", NULL};

const cert_judge cert_judges_pubsub[] = {
    {"publish", judge_publish, publish__params},
    {"publish_retry", judge_publish_retry, NULL},
    {"subscribe", judge_subscribe, subscribe__params},
    {"subscribe_retry", judge_subscribe_retry, NULL},
    {"pingresp", judge_pingresp, NULL},
    {NULL, NULL, NULL},
};
