/* MQTT CONNECT judges: a well-formed CONNECT accepted, the keep-alive value, and how the
 * device uses clean session across reconnects. */
#include <stdio.h>
#include <string.h>

#include "cert_int.h"
#include "common/jevents.h"

#define CONNECT__MAX 256

static size_t connect__conns(const iotc_certify_ctx *x, const iotc_certify_conn **out)
{
    size_t n = 0;
    for (size_t s = 0; s < x->n_series; s++)
        n += iotc_certify_obs_device_conns(&x->obs[s], out + n, CONNECT__MAX - n);
    return n;
}

static const char *connect__s(json_t *e, const char *k)
{
    const char *s = json_string_value(json_object_get(e, k));
    return s ? s : "";
}

static iotc_certify_verdict connect__missing(iotc_certify_ctx *x, const iotc_certify_conn *const *c, size_t n)
{
    json_t *refused = NULL;
    if (!x->final)
        return IOTC_CERTIFY_UNDECIDED;
    for (size_t i = 0; i < n && !refused; i++)
        refused = iotc_certify_conn_find(c[i], IOTC_EV_MQTT_REFUSED, NULL, 0);
    if (refused)
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                        "the endpoint refused the device's MQTT traffic: %s (rule %s)",
                        connect__s(refused, IOTC_JF_REASON), connect__s(refused, IOTC_JF_RULE));
    for (size_t i = 0; i < n; i++)
        if (c[i]->handshake)
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                            "TLS completed but no CONNECT was accepted (connection ended: %s)",
                            c[i]->close ? connect__s(c[i]->close, IOTC_JF_REASON) : "still open");
    return iotc_certify_set(x, IOTC_CERTIFY_FAIL, "the device never completed a TLS handshake (%s)",
                    n && c[0]->refused ? connect__s(c[0]->refused, IOTC_JF_REASON) : "no attempt");
}

static iotc_certify_verdict judge_mqtt_connect(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c[CONNECT__MAX];
    size_t n = connect__conns(x, c);
    for (size_t i = 0; i < n; i++) {
        const char *cid;
        json_int_t ver;
        if (!c[i]->connect || !c[i]->connack)
            continue;
        cid = connect__s(c[i]->connect, IOTC_JF_CLIENT_ID);
        ver = json_integer_value(json_object_get(c[i]->connect, IOTC_JF_VERSION));
        json_object_set(x->observed, "connect", c[i]->connect);
        json_object_set(x->observed, "connack", c[i]->connack);
        if (json_integer_value(json_object_get(c[i]->connack, IOTC_JF_CODE)) != 0)
            return iotc_certify_set(
                x, IOTC_CERTIFY_FAIL, "CONNACK refused the CONNECT with code %lld",
                (long long)json_integer_value(json_object_get(c[i]->connack, IOTC_JF_CODE)));
        iotc_certify_set(x, IOTC_CERTIFY_PASS, "CONNECT (MQTT %s, client id \"%s\") accepted",
                 ver == 5 ? "5" : "3.1.1", cid);
        if (!*cid)
            iotc_certify_warn(x,
                      "empty client id: AWS IoT policies and lifecycle events need a stable one");
        if (cid[0] == '$')
            iotc_certify_warn(x, "client id starts with '$', which AWS IoT reserves");
        return x->v;
    }
    return connect__missing(x, c, n);
}

static iotc_certify_verdict judge_keepalive(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c[CONNECT__MAX];
    size_t n = connect__conns(x, c);
    for (size_t i = 0; i < n; i++) {
        if (!c[i]->connect)
            continue;
        json_int_t k = json_integer_value(json_object_get(c[i]->connect, IOTC_JF_KEEPALIVE));
        json_object_set_new(x->observed, "keepalive", json_integer(k));
        for (size_t j = 0; j < n; j++)
            if (c[j]->close &&
                strcmp(connect__s(c[j]->close, IOTC_JF_REASON), "MQTT_KEEP_ALIVE_TIMEOUT") == 0)
                return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                                "the endpoint closed the connection for keep-alive "
                                "timeout: the device sent nothing within 1.5 x %lld s",
                                (long long)k);
        if (k == 0)
            return iotc_certify_set(x, IOTC_CERTIFY_WARN,
                            "keep-alive 0 turns keep-alive off; AWS IoT uses 1200 s "
                            "and the device cannot notice a dead link: use 30..1200 s");
        if (k < 30)
            return iotc_certify_set(x, IOTC_CERTIFY_WARN,
                            "keep-alive %lld s is below AWS IoT's minimum; the "
                            "endpoint uses 30 s: use 30..1200 s",
                            (long long)k);
        if (k > 1200)
            return iotc_certify_set(x, IOTC_CERTIFY_WARN,
                            "keep-alive %lld s is above AWS IoT's maximum; the "
                            "endpoint uses 1200 s",
                            (long long)k);
        return iotc_certify_set(x, IOTC_CERTIFY_PASS, "keep-alive %lld s is within AWS IoT's 30..1200 s",
                        (long long)k);
    }
    return connect__missing(x, c, n);
}

/* A device asked for a persistent session is cut after CONNACK once: it must reconnect
 * keeping its session (3.1.1: clean session 0 on every CONNECT; MQTT 5: a session expiry
 * above 0, clean start 1 allowed only on the first CONNECT) under the same client id. */
static iotc_certify_verdict judge_clean_session(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c[CONNECT__MAX], *first = NULL, *second = NULL;
    size_t n = connect__conns(x, c);
    const char *why;
    for (size_t i = 0; i < n; i++) {
        if (!c[i]->connect)
            continue;
        if (!first)
            first = c[i];
        else if (!second)
            second = c[i];
    }
    if (!first)
        return connect__missing(x, c, n);
    json_object_set(x->observed, "first_connect", first->connect);
    json_object_set_new(x->observed, "mqtt_version", json_integer(iotc_certify_conn_version(first)));
    if ((why = iotc_certify_conn_session_fault(first, true)) != NULL)
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                        "asked for a persistent session, the device connected with %s: "
                        "subscriptions and queued QoS 1 messages do not survive a reconnect",
                        why);
    if (!second)
        return x->final ? iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                                   "the device did not reconnect after the server "
                                   "closed its first connection")
                        : IOTC_CERTIFY_UNDECIDED;
    json_object_set(x->observed, "second_connect", second->connect);
    if ((why = iotc_certify_conn_session_fault(second, false)) != NULL)
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL, "reconnected with %s", why);
    if (strcmp(connect__s(first->connect, IOTC_JF_CLIENT_ID),
               connect__s(second->connect, IOTC_JF_CLIENT_ID)))
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                        "reconnected under another client id (\"%s\" then \"%s\"): "
                        "a persistent session belongs to one client id",
                        connect__s(first->connect, IOTC_JF_CLIENT_ID),
                        connect__s(second->connect, IOTC_JF_CLIENT_ID));
    return iotc_certify_set(x, IOTC_CERTIFY_PASS, "%s session kept on every CONNECT with the same client id (%s)",
                    iotc_certify_conn_version_name(first),
                    iotc_certify_conn_version(first) == 5 ? "session expiry > 0, clean start 0 on reconnect"
                                                  : "clean session 0");
}

const iotc_certify_judge iotc_certify_judges_connect[] = {
    {"mqtt_connect", judge_mqtt_connect, NULL},
    {"keepalive", judge_keepalive, NULL},
    {"clean_session", judge_clean_session, NULL},
    {NULL, NULL, NULL},
};
