/* PUBLISH / SUBSCRIBE judges, their retransmission when the ack never comes, and the
 * device's reaction to a missing PINGRESP. */
#include <stdio.h>
#include <string.h>

#include "cert_int.h"
#include "common/jevents.h"

#define PUBSUB__MAX 256

static size_t pubsub__conns(const iotc_certify_ctx *x, const iotc_certify_conn **out)
{
    size_t n = 0;
    for (size_t s = 0; s < x->n_series; s++)
        n += iotc_certify_obs_device_conns(&x->obs[s], out + n, PUBSUB__MAX - n);
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

static iotc_certify_verdict pubsub__not_connected(iotc_certify_ctx *x, const iotc_certify_conn *const *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c[i]->connack)
            return IOTC_CERTIFY_UNDECIDED;
    return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                    "the device never completed an MQTT connection (no CONNACK "
                    "was sent to it), so this case could not be exercised");
}

static iotc_certify_verdict judge_publish(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c[PUBSUB__MAX];
    size_t n = pubsub__conns(x, c);
    const char *want = iotc_certify_param_str(x, "topic", NULL);
    for (size_t i = 0; i < n; i++) {
        json_t *p;
        for (size_t k = 0; (p = iotc_certify_conn_find(c[i], IOTC_EV_MQTT_IN, "PUBLISH", k)) != NULL; k++) {
            json_object_set(x->observed, "publish", p);
            if (want && strcmp(want, pubsub__s(p, IOTC_JF_TOPIC)) != 0)
                continue;
            return iotc_certify_set(x, IOTC_CERTIFY_PASS, "PUBLISH to \"%s\" at QoS %lld (%lld bytes)",
                            pubsub__s(p, IOTC_JF_TOPIC), (long long)pubsub__i(p, IOTC_JF_QOS),
                            (long long)pubsub__i(p, IOTC_JF_PAYLOAD_BYTES));
        }
    }
    if (!x->final)
        return IOTC_CERTIFY_UNDECIDED;
    if (pubsub__not_connected(x, c, n) != IOTC_CERTIFY_UNDECIDED)
        return x->v;
    return iotc_certify_set(x, IOTC_CERTIFY_FAIL, want ? "no PUBLISH to \"%s\" was seen" : "no PUBLISH was seen%s",
                    want ? want : "");
}

/* The same message again: PUBLISH to the same topic with the same payload (size and
 * FNV-1a), or SUBSCRIBE to the same first filter. */
static bool pubsub__same_message(json_t *a, json_t *b, bool publish)
{
    if (publish)
        return strcmp(pubsub__s(a, IOTC_JF_TOPIC), pubsub__s(b, IOTC_JF_TOPIC)) == 0 &&
               pubsub__i(a, IOTC_JF_PAYLOAD_BYTES) == pubsub__i(b, IOTC_JF_PAYLOAD_BYTES) &&
               strcmp(pubsub__s(a, IOTC_JF_PAYLOAD_FNV), pubsub__s(b, IOTC_JF_PAYLOAD_FNV)) == 0;
    json_t *fa = json_array_get(json_object_get(a, IOTC_JF_FILTERS), 0);
    json_t *fb = json_array_get(json_object_get(b, IOTC_JF_FILTERS), 0);
    return strcmp(pubsub__s(fa, IOTC_JF_FILTER), pubsub__s(fb, IOTC_JF_FILTER)) == 0;
}

/* The first later packet on c (after `after`) with packet id pid, else (*copy) the first
 * carrying the same message under another packet id. */
static json_t *pubsub__resend(const iotc_certify_conn *c, const char *type, json_t *first, json_t **copy)
{
    bool publish = strcmp(type, "PUBLISH") == 0;
    json_int_t pid = pubsub__i(first, IOTC_JF_PACKET_ID);
    json_t *p;
    *copy = NULL;
    for (size_t k = 0; (p = iotc_certify_conn_find(c, IOTC_EV_MQTT_IN, type, k)) != NULL; k++) {
        if (p == first || iotc_certify_entry_t(p) < iotc_certify_entry_t(first) ||
            (publish && pubsub__i(p, IOTC_JF_QOS) != 1))
            continue;
        if (pubsub__i(p, IOTC_JF_PACKET_ID) == pid)
            return p;
        if (!*copy && pubsub__same_message(first, p, publish))
            *copy = p;
    }
    return NULL;
}

/*
 * PUBLISH (QoS 1) or SUBSCRIBE whose acknowledgement is withheld; the endpoint closes the
 * connection a while later (scenario disconnect_after_withheld_ms). Device Advisor's intent
 * is that the device eventually delivers the message; when it may resend is the version's:
 *  - MQTT 3.1.1 section 4.4: resending on reconnect with the session kept is required
 *    [MQTT-4.4.0-1]; resending on the open connection (same packet id, DUP 1) is allowed.
 *  - MQTT 5 section 4.4: resending is allowed only on reconnect with the session kept and
 *    forbidden at any other time [MQTT-4.4.0-2]: a resend on the open connection is
 *    tolerated by AWS IoT but warned about.
 * A new session after the reconnect (clean session / no session present) has no packet ids
 * to keep: sending the message again under any packet id delivers it.
 */
static iotc_certify_verdict pubsub__retry(iotc_certify_ctx *x, const char *type, const char *ack)
{
    const iotc_certify_conn *c[PUBSUB__MAX];
    size_t n = pubsub__conns(x, c);
    bool publish = strcmp(type, "PUBLISH") == 0;
    for (size_t i = 0; i < n; i++) {
        json_t *first = NULL, *p, *copy;
        for (size_t k = 0; (p = iotc_certify_conn_find(c[i], IOTC_EV_MQTT_IN, type, k)) != NULL; k++)
            if (!publish || pubsub__i(p, IOTC_JF_QOS) == 1) {
                first = p;
                break;
            }
        if (!first)
            continue;
        json_int_t pid = pubsub__i(first, IOTC_JF_PACKET_ID);
        bool v5 = iotc_certify_conn_version(c[i]) == 5;
        json_object_set(x->observed, "first", first);
        json_object_set_new(x->observed, "mqtt_version", json_integer(v5 ? 5 : 4));
        p = pubsub__resend(c[i], type, first, &copy);
        if (p) {
            json_object_set(x->observed, "retry", p);
            iotc_certify_set(x, IOTC_CERTIFY_PASS,
                     "%s packet id %lld retransmitted on the same connection after %.1f s", type,
                     (long long)pid, (iotc_certify_entry_t(p) - iotc_certify_entry_t(first)) / 1000.0);
            if (publish && !json_is_true(json_object_get(p, IOTC_JF_DUP)))
                iotc_certify_warn(x, "the DUP flag was not set on the retransmission [MQTT-3.3.1-1]");
            if (v5)
                iotc_certify_warn(x, "MQTT 5 section 4.4 forbids resending on the same connection "
                             "[MQTT-4.4.0-2]: resend after reconnecting with the session kept");
            return x->v;
        }
        if (copy)
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                            "no %s for packet id %lld and the device sent the same %s again "
                            "under packet id %lld on the same connection: a resend keeps the "
                            "original packet id (%s section 4.4)%s",
                            ack, (long long)pid, type,
                            (long long)pubsub__i(copy, IOTC_JF_PACKET_ID),
                            iotc_certify_conn_version_name(c[i]), publish ? " and sets DUP" : "");
        /* After the connection closed: the device's next connections. */
        size_t later = 0;
        for (size_t j = i + 1; j < n; j++) {
            if (!c[j]->connack)
                continue;
            later++;
            bool resumed = iotc_certify_conn_keeps_session(c[i]) &&
                           json_is_true(json_object_get(c[j]->connack, IOTC_JF_SESSION_PRESENT));
            p = pubsub__resend(c[j], type, first, &copy);
            if (!p && !copy)
                continue;
            json_object_set(x->observed, "retry", p ? p : copy);
            iotc_certify_set(x, IOTC_CERTIFY_PASS,
                     "%s (packet id %lld) sent again %.1f s later, after the endpoint closed the "
                     "connection and the device reconnected (%s, %s)",
                     type, (long long)pid,
                     (iotc_certify_entry_t(p ? p : copy) - iotc_certify_entry_t(first)) / 1000.0,
                     iotc_certify_conn_version_name(c[i]), resumed ? "session resumed" : "new session");
            if (resumed && !p)
                iotc_certify_warn(x,
                          "the session was resumed, so the resend must keep packet id %lld "
                          "[MQTT-4.4.0-1]",
                          (long long)pid);
            if (resumed && p && publish && !json_is_true(json_object_get(p, IOTC_JF_DUP)))
                iotc_certify_warn(x, "the DUP flag was not set on the retransmission [MQTT-3.3.1-1]");
            return x->v;
        }
        if (!x->final)
            return IOTC_CERTIFY_UNDECIDED;
        double seen = (x->obs[0].t_end - iotc_certify_entry_t(first)) / 1000.0;
        if (later)
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                            "%s packet id %lld was never sent again although no %s came: not on "
                            "the same connection and not after %zu reconnect(s) (%.1f s "
                            "observed)",
                            type, (long long)pid, ack, later, seen);
        const iotc_certify_obs *o = &x->obs[x->n_series - 1];
        bool cut = c[i]->t_close >= 0 && !(o->stop_t >= 0 && c[i]->t_close >= o->stop_t - 1);
        if (cut && o->ended == IOTC_CERTIFY_END_DEVICE)
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                            "no %s for %s packet id %lld, no resend on the open connection, and "
                            "the device exited after the connection closed instead of "
                            "reconnecting to send it again",
                            ack, type, (long long)pid);
        if (cut && (o->t_end - c[i]->t_close) / 1000.0 >= 30.0 * x->scale)
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                            "no %s for %s packet id %lld, no resend on the open connection and "
                            "no reconnect within %.1f s after the connection closed",
                            ack, type, (long long)pid, (o->t_end - c[i]->t_close) / 1000.0);
        return iotc_certify_set(x, IOTC_CERTIFY_INCONCLUSIVE,
                        "no %s for %s packet id %lld and no resend on the open connection "
                        "(%.1f s observed)%s; %s requires the resend after a reconnect, which "
                        "was not observed",
                        ack, type, (long long)pid, seen,
                        cut ? ", the device had not reconnected yet"
                            : ", the connection was never closed",
                        iotc_certify_conn_version_name(c[i]));
    }
    if (!x->final)
        return IOTC_CERTIFY_UNDECIDED;
    if (pubsub__not_connected(x, c, n) != IOTC_CERTIFY_UNDECIDED)
        return x->v;
    return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                    publish ? "the device sent no QoS 1 PUBLISH, so a missing PUBACK "
                              "could not be tested: publish at QoS 1"
                            : "the device never subscribed");
}

static iotc_certify_verdict judge_publish_retry(iotc_certify_ctx *x)
{
    return pubsub__retry(x, "PUBLISH", "PUBACK");
}

static iotc_certify_verdict judge_subscribe_retry(iotc_certify_ctx *x)
{
    return pubsub__retry(x, "SUBSCRIBE", "SUBACK");
}

static iotc_certify_verdict judge_subscribe(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c[PUBSUB__MAX];
    size_t n = pubsub__conns(x, c);
    const char *want = iotc_certify_param_str(x, "filter", NULL);
    for (size_t i = 0; i < n; i++) {
        json_t *p;
        for (size_t k = 0; (p = iotc_certify_conn_find(c[i], IOTC_EV_MQTT_IN, "SUBSCRIBE", k)) != NULL;
             k++) {
            json_t *f = json_array_get(json_object_get(p, IOTC_JF_FILTERS), 0);
            const char *flt = pubsub__s(f, IOTC_JF_FILTER);
            json_object_set(x->observed, "subscribe", p);
            if (want && strcmp(want, flt) != 0)
                continue;
            return iotc_certify_set(x, IOTC_CERTIFY_PASS, "SUBSCRIBE to \"%s\" (QoS %lld)", flt,
                            (long long)(pubsub__i(f, "options") & 3));
        }
    }
    if (!x->final)
        return IOTC_CERTIFY_UNDECIDED;
    if (pubsub__not_connected(x, c, n) != IOTC_CERTIFY_UNDECIDED)
        return x->v;
    return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                    want ? "no SUBSCRIBE to \"%s\" was seen" : "no SUBSCRIBE was seen%s",
                    want ? want : "");
}

/* PUBACK, SUBACK and PINGRESP are withheld: after its unanswered PINGREQ the device must
 * close the connection itself, within 2 x keep-alive (+1 s). The keep-alive is the one
 * the device must honour: MQTT 3.1.1 section 3.1.2.10, its own; MQTT 5 section
 * 3.2.2.3.14, the Server Keep Alive of the CONNACK when the endpoint sent one (AWS IoT
 * raises 1..29 s to 30 s). */
static iotc_certify_verdict judge_pingresp(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c[PUBSUB__MAX];
    size_t n = pubsub__conns(x, c);
    for (size_t i = 0; i < n; i++) {
        if (!c[i]->connack || !c[i]->connect)
            continue;
        json_int_t asked = pubsub__i(c[i]->connect, IOTC_JF_KEEPALIVE);
        json_int_t k = iotc_certify_conn_keepalive(c[i]);
        json_t *ping = iotc_certify_conn_find(c[i], IOTC_EV_MQTT_IN, "PINGREQ", 0);
        double limit = 2.0 * (double)k + 1.0;
        json_object_set_new(x->observed, "keepalive", json_integer(k));
        json_object_set_new(x->observed, "keepalive_requested", json_integer(asked));
        if (k == 0)
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                            "keep-alive 0: the device never pings, so it cannot "
                            "notice that the server stopped answering");
        if (!ping) {
            double idle = ((c[i]->t_close >= 0 ? c[i]->t_close : x->obs[0].t_end) -
                           iotc_certify_entry_t(c[i]->connack)) /
                          1000.0;
            if (idle > 1.5 * (double)k + 1.0)
                return iotc_certify_set(x, IOTC_CERTIFY_FAIL, "no PINGREQ within %.1f s of keep-alive %lld s%s",
                                idle, (long long)k,
                                k != asked ? " (the Server Keep Alive of the CONNACK)" : "");
            if (x->final && c[i]->t_close < 0)
                return iotc_certify_set(x, IOTC_CERTIFY_INCONCLUSIVE,
                                "no PINGREQ yet %.1f s after CONNACK, within 1.5 x the "
                                "keep-alive of %lld s%s the device must honour: the case "
                                "ended first",
                                idle, (long long)k, k != asked ? " (Server Keep Alive)" : "");
            if (c[i]->t_close >= 0)
                continue; /* closed before it had to ping: look at the next connection */
            return IOTC_CERTIFY_UNDECIDED;
        }
        json_object_set_new(x->observed, "pingreq_t_ms", json_real(iotc_certify_entry_t(ping)));
        const iotc_certify_obs *o = &x->obs[x->n_series - 1];
        /* A close at or after the runner's SIGTERM is the runner's doing (1 ms: clock
         * conversion error); one before it is the device's own. */
        bool runner_stop = o->stop_t >= 0 && c[i]->t_close >= o->stop_t - 1;
        if (c[i]->t_close >= 0 && !runner_stop) {
            double after = (c[i]->t_close - iotc_certify_entry_t(ping)) / 1000.0;
            const char *by = pubsub__s(c[i]->close, IOTC_JF_BY);
            json_object_set_new(x->observed, "closed_after_s", json_real(after));
            if (strcmp(by, "client") != 0)
                return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                                "the endpoint closed the connection (%s) %.1f s after "
                                "the unanswered PINGREQ; the device never gave up",
                                pubsub__s(c[i]->close, IOTC_JF_REASON), after);
            iotc_certify_set(x, IOTC_CERTIFY_PASS,
                     "closed the connection %.1f s after its unanswered PINGREQ "
                     "(keep-alive %lld s)",
                     after, (long long)k);
            if (after > limit)
                iotc_certify_warn(x, "later than 2 x keep-alive + 1 s (%.0f s)", limit);
            return x->v;
        }
        double waited = (x->obs[0].t_end - iotc_certify_entry_t(ping)) / 1000.0;
        if (x->final && waited <= limit)
            return iotc_certify_set(x, IOTC_CERTIFY_INCONCLUSIVE,
                            "still connected %.1f s after a PINGREQ that got no PINGRESP, "
                            "within the 2 x keep-alive + 1 s (%.0f s) it may wait: the case "
                            "ended first",
                            waited, limit);
        if (x->final || waited > limit + 2.0)
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                            "still connected %.1f s after a PINGREQ that got no "
                            "PINGRESP (keep-alive %lld s): close the connection and "
                            "reconnect when PINGRESP does not arrive",
                            waited, (long long)k);
        return IOTC_CERTIFY_UNDECIDED;
    }
    if (!x->final)
        return IOTC_CERTIFY_UNDECIDED;
    return pubsub__not_connected(x, c, n) != IOTC_CERTIFY_UNDECIDED
               ? x->v
               : iotc_certify_set(x, IOTC_CERTIFY_FAIL, "the device closed every connection before it had to ping");
}

static const char *const publish__params[] = {"topic", NULL};
static const char *const subscribe__params[] = {"filter", NULL};

const iotc_certify_judge iotc_certify_judges_pubsub[] = {
    {"publish", judge_publish, publish__params},
    {"publish_retry", judge_publish_retry, NULL},
    {"subscribe", judge_subscribe, subscribe__params},
    {"subscribe_retry", judge_subscribe_retry, NULL},
    {"pingresp", judge_pingresp, NULL},
    {NULL, NULL, NULL},
};
