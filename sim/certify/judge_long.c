/*
 * Long duration, time-compressed: the device runs its normal workload (subscribe, publish
 * periodically) while the endpoint cuts it a few times (intermittent connectivity) and then
 * goes away entirely for a long outage (the runner stops the endpoint and starts it again
 * on the same ports; a synthetic "certify.outage" entry marks the gap). The verdict is a
 * summary of behaviour classes: did it come back, keep publishing, keep its subscription,
 * and back off sensibly on the way.
 */
#include <stdio.h>
#include <string.h>

#include "cert_int.h"
#include "common/jevents.h"

#define LONG__MAX 256

static iotc_certify_verdict judge_long_duration(iotc_certify_ctx *x)
{
    const iotc_certify_obs *o = &x->obs[0];
    const iotc_certify_conn *c[LONG__MAX];
    size_t n = iotc_certify_obs_device_conns(o, c, LONG__MAX), i;
    double out_from = -1, out_to = -1, delays[LONG__MAX];
    size_t nd = 0, pub_before = 0, pub_after = 0, cuts = 0, refusals = 0;
    bool sub_after = false, resumed = false;
    const iotc_certify_conn *back = NULL;
    json_t *e;

    json_array_foreach(o->lines, i, e)
    {
        const char *ev = json_string_value(json_object_get(e, IOTC_JF_EVENT));
        if (ev && strcmp(ev, IOTC_EV_CERTIFY_OUTAGE) == 0) {
            out_from = json_number_value(json_object_get(e, IOTC_JF_T));
            out_to = json_number_value(json_object_get(e, IOTC_JF_UNTIL));
        }
    }
    if (out_from < 0)
        return x->final ? iotc_certify_set(x, IOTC_CERTIFY_ERROR, "the outage did not happen (budget too short?)")
                        : IOTC_CERTIFY_UNDECIDED;
    for (i = 0; i < n; i++) {
        bool after = c[i]->t_accept >= out_to;
        size_t pubs = iotc_certify_conn_count(c[i], IOTC_EV_MQTT_IN, "PUBLISH");
        refusals += iotc_certify_conn_count(c[i], IOTC_EV_MQTT_REFUSED, NULL);
        if (after) {
            pub_after += pubs;
            if (!back && c[i]->connack)
                back = c[i];
            if (iotc_certify_conn_find(c[i], IOTC_EV_MQTT_IN, "SUBSCRIBE", 0))
                sub_after = true;
            if (c[i]->connack &&
                json_is_true(json_object_get(c[i]->connack, IOTC_JF_SESSION_PRESENT)))
                resumed = true;
        } else {
            pub_before += pubs;
        }
        if (c[i]->scenario_cut && !after && i + 1 < n && c[i + 1]->t_accept >= 0 &&
            c[i + 1]->t_accept < out_from && nd < LONG__MAX) {
            cuts++;
            delays[nd++] = (c[i + 1]->t_accept - c[i]->t_close) / 1000.0 / x->scale;
        }
    }
    double recovery = back ? (back->t_accept - out_to) / 1000.0 / x->scale : -1;
    iotc_certify_backoff_result bo;
    char label[224];
    iotc_certify_backoff_classify1(delays, nd, 0.03 / x->scale, &bo);
    iotc_certify_backoff_describe(&bo, label, sizeof(label));
    json_t *sum =
        json_pack("{s:i, s:i, s:s, s:f, s:f, s:i, s:i, s:b, s:b, s:i}", "connections", (int)n,
                  "server_cuts_survived", (int)cuts, "intermittent_backoff", label, "outage_s",
                  (out_to - out_from) / 1000.0 / x->scale, "recovery_after_outage_s", recovery,
                  "publishes_before_outage", (int)pub_before, "publishes_after_outage",
                  (int)pub_after, "subscribed_after_outage", sub_after, "session_resumed", resumed,
                  "protocol_refusals", (int)refusals);
    json_object_set_new(x->observed, "behaviour", sum);
    if (!back) {
        if (!x->final)
            return IOTC_CERTIFY_UNDECIDED;
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                        "the device did not come back within %.0f s after a %.0f s "
                        "outage",
                        (o->t_end - out_to) / 1000.0 / x->scale,
                        (out_to - out_from) / 1000.0 / x->scale);
    }
    if (!x->final && (pub_after < 2 || o->t_end - back->t_accept < 1000))
        return IOTC_CERTIFY_UNDECIDED;
    char dl[256];
    iotc_certify_fmt_series(delays, nd, dl, sizeof(dl));
    iotc_certify_set(x, IOTC_CERTIFY_PASS,
             "%zu connections, %zu server cuts survived (retry delays %s: %s), back %.1f s "
             "after a %.0f s outage, %zu publishes before and %zu after",
             n, cuts, dl, label, recovery, (out_to - out_from) / 1000.0 / x->scale, pub_before,
             pub_after);
    if (pub_after == 0)
        iotc_certify_warn(x, "no PUBLISH after the outage");
    if (!sub_after && !resumed)
        iotc_certify_warn(x, "the subscription was not restored after the outage");
    if (refusals)
        iotc_certify_warn(x, "%zu packet(s) refused by AWS IoT rules", refusals);
    /* Three delays cannot tell linear from exponential (the label says so): warn only on
     * hammering. */
    for (size_t k = 0; k < nd; k++)
        if (delays[k] + 0.03 / x->scale < 1.0) {
            iotc_certify_warn(x, "reconnected %.2f s after a server cut (< 1 s)", delays[k]);
            break;
        }
    return x->v;
}

const iotc_certify_judge iotc_certify_judges_long[] = {
    {"long_duration", judge_long_duration, NULL},
    {NULL, NULL, NULL},
};
