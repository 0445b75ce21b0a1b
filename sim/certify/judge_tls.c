/* TLS judges: handshake, offered suites and versions, server-certificate checks, SNI,
 * ALPN, and receiving maximum-size TLS records. */
#include <stdio.h>
#include <string.h>

#include "cert_int.h"
#include "common/jevents.h"

#define TLS__MAX_CONNS 256

/* AWS IoT's TLS 1.2 list (seed 004) and the TLS 1.3 suites. */
static const char *const tls__supported[] = {
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES128-SHA256",
    "AES128-SHA",
    "AES256-GCM-SHA384",
    "AES256-SHA256",
    "AES256-SHA",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    NULL,
};
/* AWS recommends the two ECDHE AES128-GCM suites; under TLS 1.3 the AES-GCM suites are
 * the equivalent choice (a TLS 1.3-only device is not penalised). */
static const char *const tls__recommended[] = {
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    NULL,
};

static int tls__in(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/* Device connections over every series. */
static size_t tls__conns(const iotc_certify_ctx *x, const iotc_certify_conn **out)
{
    size_t n = 0;
    for (size_t s = 0; s < x->n_series; s++)
        n += iotc_certify_obs_device_conns(&x->obs[s], out + n, TLS__MAX_CONNS - n);
    return n;
}

static const iotc_certify_conn *tls__first_hello(const iotc_certify_ctx *x)
{
    const iotc_certify_conn *c[TLS__MAX_CONNS];
    size_t n = tls__conns(x, c);
    for (size_t i = 0; i < n; i++)
        if (c[i]->hello)
            return c[i];
    return NULL;
}

static const char *tls__refusal(const iotc_certify_conn *c)
{
    const char *r = json_string_value(json_object_get(c->refused, IOTC_JF_REASON));
    if (!r)
        r = json_string_value(json_object_get(c->close, IOTC_JF_REASON));
    return r ? r : "connection closed";
}

static iotc_certify_verdict tls__no_hello(iotc_certify_ctx *x)
{
    if (!x->final)
        return IOTC_CERTIFY_UNDECIDED;
    return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                    "the device opened TCP connections but never sent a TLS ClientHello");
}

/* TLS_Connect, TLS_Large_Size_Server_Cert. */
static iotc_certify_verdict judge_tls_connect(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c[TLS__MAX_CONNS];
    size_t n = tls__conns(x, c), refused = 0;
    const char *last = NULL;
    for (size_t i = 0; i < n; i++) {
        if (c[i]->handshake) {
            json_object_set(x->observed, "handshake", c[i]->handshake);
            iotc_certify_set(x, IOTC_CERTIFY_PASS, "TLS handshake completed (%s, %s)",
                     json_string_value(json_object_get(c[i]->handshake, IOTC_JF_VERSION)),
                     json_string_value(json_object_get(c[i]->handshake, IOTC_JF_CIPHER)));
            if (refused)
                iotc_certify_warn(x, "%zu earlier attempt(s) ended in TLS alerts (last: %s)", refused,
                          last);
            return x->v;
        }
        if (c[i]->refused || (c[i]->close && c[i]->hello)) {
            refused++;
            last = tls__refusal(c[i]);
        }
    }
    if (!x->final)
        return IOTC_CERTIFY_UNDECIDED;
    if (!refused)
        return tls__no_hello(x);
    return iotc_certify_set(x, IOTC_CERTIFY_FAIL, "the TLS handshake never completed in %zu attempt(s): %s",
                    refused, last);
}

/* TLS_Support_AWS_IoT_Cipher_Suites. */
static iotc_certify_verdict judge_tls_ciphers(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c = tls__first_hello(x);
    json_t *ciphers, *cv, *bad = json_array();
    size_t i, rec = 0, sup = 0;
    char list[512] = "";
    if (!c) {
        json_decref(bad);
        return tls__no_hello(x);
    }
    ciphers = json_object_get(c->hello, IOTC_JF_CIPHERS);
    json_array_foreach(ciphers, i, cv)
    {
        const char *s = json_string_value(cv);
        if (tls__in(s, tls__recommended))
            rec++;
        if (tls__in(s, tls__supported))
            sup++;
        else if (s)
            json_array_append(bad, cv);
    }
    json_object_set(x->observed, "offered", ciphers);
    json_object_set(x->observed, "unsupported", bad);
    json_object_set_new(x->observed, "recommended_offered", json_integer((json_int_t)rec));
    for (i = 0; i < json_array_size(bad) && strlen(list) + 48 < sizeof(list); i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                 json_string_value(json_array_get(bad, i)));
    if (sup == 0)
        iotc_certify_set(x, IOTC_CERTIFY_FAIL, "none of the %zu offered suites is supported by AWS IoT (%s)",
                 json_array_size(ciphers), list);
    else {
        iotc_certify_set(x, IOTC_CERTIFY_PASS, "offers %zu supported suite(s), %zu recommended", sup, rec);
        if (rec == 0)
            iotc_certify_warn(x, "no recommended suite (ECDHE-ECDSA-AES128-GCM-SHA256 / "
                         "ECDHE-RSA-AES128-GCM-SHA256)");
        if (json_array_size(bad))
            iotc_certify_warn(x, "offers %zu suite(s) AWS IoT does not support: %s; remove them",
                      json_array_size(bad), list);
    }
    json_decref(bad);
    return x->v;
}

/* TLS_Unsecure_Server_Cert, TLS_Incorrect_Subject_Name_Server_Cert, TLS_Expired_Server_Cert:
 * the device must abort. params: what (the defect, for the reason), alert (1: an abort
 * without an alert is only a warning, as the catalogue says for the expired case). */
static iotc_certify_verdict judge_tls_reject(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c[TLS__MAX_CONNS];
    size_t n = tls__conns(x, c), aborted = 0, silent = 0;
    const char *what = iotc_certify_param_str(x, "what", "is not acceptable");
    bool want_alert = iotc_certify_param_num(x, "alert", 0) != 0;
    const char *last = NULL;
    for (size_t i = 0; i < n; i++) {
        if (c[i]->handshake) {
            json_object_set(x->observed, "handshake", c[i]->handshake);
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                            "the device completed the TLS handshake although the server "
                            "certificate %s%s: it must verify the certificate and abort",
                            what, c[i]->connect ? " (and went on to send CONNECT)" : "");
        }
        if (!c[i]->hello || (!c[i]->refused && !c[i]->close))
            continue;
        aborted++;
        last = tls__refusal(c[i]);
        if (!strstr(last, "alert"))
            silent++;
    }
    json_object_set_new(x->observed, "aborted_attempts", json_integer((json_int_t)aborted));
    if (last)
        json_object_set_new(x->observed, "last_abort", json_string(last));
    /* Two aborted attempts (or the device's exit) show it will not fall back. */
    if (aborted == 0)
        return x->final ? tls__no_hello(x) : IOTC_CERTIFY_UNDECIDED;
    if (!x->final && aborted < 2 &&
        !(x->obs[x->n_series - 1].dev && x->obs[x->n_series - 1].dev->exited))
        return IOTC_CERTIFY_UNDECIDED;
    iotc_certify_set(x, IOTC_CERTIFY_PASS, "the device aborted the handshake (%zu attempt(s); %s)", aborted, last);
    if (want_alert && silent)
        iotc_certify_warn(x,
                  "%zu abort(s) without a TLS alert: send a fatal alert (certificate_expired) "
                  "before closing",
                  silent);
    return x->v;
}

static iotc_certify_verdict judge_sni(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c = tls__first_hello(x);
    json_t *sni;
    const char *names = iotc_certify_param_str(x, "names", "localhost,iot.example.test");
    char copy[256], *save = NULL;
    if (!c)
        return tls__no_hello(x);
    sni = json_object_get(c->hello, IOTC_JF_SNI);
    json_object_set(x->observed, "sni", sni);
    if (!json_is_string(sni))
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                        "no SNI in the ClientHello: AWS IoT needs the endpoint name "
                        "(server_name extension) to route and authenticate");
    snprintf(copy, sizeof(copy), "%s", names);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (strcmp(t, json_string_value(sni)) == 0)
            return iotc_certify_set(x, IOTC_CERTIFY_PASS, "SNI \"%s\" is the endpoint name", t);
    return iotc_certify_set(x, IOTC_CERTIFY_FAIL, "SNI \"%s\" is not the endpoint name (%s)",
                    json_string_value(sni), names);
}

static iotc_certify_verdict judge_alpn(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c = tls__first_hello(x);
    const char *want = iotc_certify_param_str(x, "expect", "x-amzn-mqtt-ca");
    json_t *alpn, *v;
    size_t i;
    if (!c)
        return tls__no_hello(x);
    alpn = json_object_get(c->hello, IOTC_JF_ALPN);
    json_object_set(x->observed, "alpn", alpn);
    json_array_foreach(alpn, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0) {
            iotc_certify_set(x, IOTC_CERTIFY_PASS, "ALPN offers %s", want);
            if (json_array_size(alpn) > 1)
                iotc_certify_warn(x,
                          "%zu other ALPN name(s) offered too; the endpoint picks the first "
                          "it knows",
                          json_array_size(alpn) - 1);
            return x->v;
        }
    }
    return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                    "ALPN %s missing (%zu name(s) offered): X.509 MQTT on port 443 "
                    "needs ALPN %s",
                    want, json_array_size(alpn), want);
}

static iotc_certify_verdict judge_tls_versions(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c = tls__first_hello(x);
    json_t *vers, *v;
    size_t i;
    bool modern = false;
    char old[128] = "";
    if (!c)
        return tls__no_hello(x);
    vers = json_object_get(c->hello, IOTC_JF_VERSIONS);
    json_object_set(x->observed, "versions", vers);
    json_array_foreach(vers, i, v)
    {
        const char *s = json_string_value(v);
        if (!s)
            continue;
        if (strcmp(s, "TLSv1.2") == 0 || strcmp(s, "TLSv1.3") == 0)
            modern = true;
        else if (strlen(old) + strlen(s) + 3 < sizeof(old))
            snprintf(old + strlen(old), sizeof(old) - strlen(old), "%s%s", old[0] ? ", " : "", s);
    }
    if (!modern)
        return iotc_certify_set(x, IOTC_CERTIFY_FAIL, "offers neither TLS 1.2 nor TLS 1.3 (%s)", old);
    iotc_certify_set(x, IOTC_CERTIFY_PASS, "offers TLS 1.2/1.3 only");
    if (old[0]) {
        iotc_certify_set(x, IOTC_CERTIFY_PASS, "offers TLS 1.2/1.3");
        iotc_certify_warn(x, "also offers %s, which AWS IoT refuses: set the minimum to TLS 1.2", old);
    }
    return x->v;
}

/* TLS_Receive_Maximum_Size_Fragments and MQTT_Client_Puback_Qos1: the endpoint publishes
 * a large QoS 1 message after the device's SUBACK; the device must acknowledge it. */
static iotc_certify_verdict judge_receive(iotc_certify_ctx *x)
{
    const iotc_certify_conn *c[TLS__MAX_CONNS];
    size_t n = tls__conns(x, c);
    bool subscribed = false;
    for (size_t i = 0; i < n; i++) {
        json_t *send = iotc_certify_conn_find(c[i], IOTC_EV_SCENARIO_SEND, NULL, 0);
        subscribed |= iotc_certify_conn_find(c[i], IOTC_EV_MQTT_IN, "SUBSCRIBE", 0) != NULL;
        if (!send)
            continue;
        json_int_t bytes = json_integer_value(json_object_get(send, IOTC_JF_BYTES));
        json_object_set(x->observed, "sent", send);
        for (size_t k = 0;; k++) {
            json_t *p = iotc_certify_conn_find(c[i], IOTC_EV_MQTT_OUT, "PUBLISH", k);
            if (!p)
                break;
            if (json_integer_value(json_object_get(p, IOTC_JF_PAYLOAD_BYTES)) < bytes)
                continue;
            json_int_t qos = json_integer_value(json_object_get(p, IOTC_JF_QOS));
            json_int_t pid = json_integer_value(json_object_get(p, IOTC_JF_PACKET_ID));
            for (size_t a = 0;; a++) {
                json_t *ack = iotc_certify_conn_find(c[i], IOTC_EV_MQTT_IN, "PUBACK", a);
                if (!ack)
                    break;
                if (json_integer_value(json_object_get(ack, IOTC_JF_PACKET_ID)) == pid)
                    return iotc_certify_set(x, IOTC_CERTIFY_PASS,
                                    "received the %lld-byte QoS 1 message and acknowledged it "
                                    "(PUBACK %lld after %.0f ms)",
                                    (long long)bytes, (long long)pid,
                                    iotc_certify_entry_t(ack) - iotc_certify_entry_t(p));
            }
            if (qos == 0 &&
                (x->final || (c[i]->t_close < 0 && x->obs[0].t_end - iotc_certify_entry_t(p) > 1000)))
                return iotc_certify_set(x, IOTC_CERTIFY_WARN,
                                "the %lld-byte message went out at QoS 0 (the device subscribed "
                                "at QoS 0), so receipt cannot be proven by a PUBACK; the "
                                "connection stayed open",
                                (long long)bytes);
            if (c[i]->t_close >= 0 && qos == 1)
                return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                                "the connection ended (%s) after the %lld-byte message was sent, "
                                "without a PUBACK",
                                json_string_value(json_object_get(c[i]->close, IOTC_JF_REASON)),
                                (long long)bytes);
        }
        if (x->final)
            return iotc_certify_set(x, IOTC_CERTIFY_FAIL, "no PUBACK for the %lld-byte QoS 1 message",
                            (long long)bytes);
        return IOTC_CERTIFY_UNDECIDED;
    }
    if (!x->final)
        return IOTC_CERTIFY_UNDECIDED;
    return iotc_certify_set(x, IOTC_CERTIFY_FAIL,
                    subscribed ? "the device subscribed but the endpoint could not send "
                                 "to its filter (wildcard filter? use {topic})"
                               : "the device never subscribed, so nothing could be sent "
                                 "to it: subscribe to {topic} at QoS 1");
}

static const char *const tls__reject_params[] = {"what", "alert", NULL};
static const char *const tls__sni_params[] = {"names", NULL};
static const char *const tls__alpn_params[] = {"expect", NULL};

const iotc_certify_judge iotc_certify_judges_tls[] = {
    {"tls_connect", judge_tls_connect, NULL},
    {"tls_ciphers", judge_tls_ciphers, NULL},
    {"tls_reject", judge_tls_reject, tls__reject_params},
    {"sni", judge_sni, tls__sni_params},
    {"alpn", judge_alpn, tls__alpn_params},
    {"tls_versions", judge_tls_versions, NULL},
    {"receive", judge_receive, NULL},
    {NULL, NULL, NULL},
};
