/*
 * The typed view of an expanded case: read once from its definition, so drivers do
 * not fetch fields by name and a field's default is decided in one place. The schema
 * (cases_schema.c) has checked every type before this runs.
 */
#include "cases.h"

#include <string.h>

#include "common/err.h"

static const char *typed__str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int typed__is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

static iotc_case_action typed__action(const char *a)
{
    if (typed__is(a, "roundtrip"))
        return IOTC_CASE_ACT_ROUNDTRIP;
    if (typed__is(a, "publish-then-subscribe"))
        return IOTC_CASE_ACT_PUBLISH_THEN_SUBSCRIBE;
    if (typed__is(a, "subscribe"))
        return IOTC_CASE_ACT_SUBSCRIBE;
    return IOTC_CASE_ACT_CONNECT;
}

static iotc_case_driver typed__driver(const char *d, const iotc_case *k)
{
    static const struct {
        const char *name;
        iotc_case_driver drv;
    } named[] = {
        {"probe", IOTC_CASE_DRV_PROBE}, {"hello", IOTC_CASE_DRV_HELLO},
        {"mqtt", IOTC_CASE_DRV_MQTT},   {"https", IOTC_CASE_DRV_HTTPS},
        {"wss", IOTC_CASE_DRV_WSS},     {"session", IOTC_CASE_DRV_SESSION},
    };
    for (size_t i = 0; d && i < sizeof(named) / sizeof(named[0]); i++)
        if (strcmp(d, named[i].name) == 0)
            return named[i].drv;
    if (k->row->proto == IOTC_PROTO_WSS)
        return IOTC_CASE_DRV_WSS;
    /* The probe knows no door credentials: the door rows always use real clients. */
    if (k->client.action == IOTC_CASE_ACT_CONNECT && k->row->auth == IOTC_AUTH_X509)
        return IOTC_CASE_DRV_PROBE;
    return k->row->proto == IOTC_PROTO_MQTT ? IOTC_CASE_DRV_MQTT : IOTC_CASE_DRV_HTTPS;
}

/* Absent or "row": what the row's clients send (x-amzn-*-ca on 443, none elsewhere). */
static json_t *typed__alpn(json_t *a, const iotc_row *row)
{
    if (!a || typed__is(json_string_value(a), "row"))
        return row->alpn ? json_pack("[s]", row->alpn) : json_array();
    if (json_is_array(a))
        return json_incref(a);
    if (json_is_string(a))
        return json_pack("[s]", json_string_value(a));
    return json_array();
}

static void typed__client(iotc_case *k, json_t *cl)
{
    iotc_case_client_def *c = &k->client;
    json_t *cert = json_object_get(cl, "cert");
    json_t *t = json_object_get(cl, "timeout_ms");
    json_t *port = json_object_get(cl, "port");

    c->action = typed__action(typed__str(cl, "action"));
    c->driver = typed__driver(typed__str(cl, "driver"), k);
    c->sni = typed__str(cl, "sni");
    c->cipher = typed__str(cl, "cipher");
    c->ciphersuites = typed__str(cl, "ciphersuites");
    c->sigalgs = typed__str(cl, "sigalgs");
    /* null: no certificate; absent: the row's usual client (the door rows have none). */
    if (cert)
        c->cert = json_string_value(cert);
    else
        c->cert = k->row->auth == IOTC_AUTH_X509 ? "device-01" : NULL;
    c->key = typed__str(cl, "key");
    c->qos = (int)json_integer_value(json_object_get(cl, "qos"));
    c->retain = json_is_true(json_object_get(cl, "retain"));
    c->client_id = typed__str(cl, "client_id");
    c->query = typed__str(cl, "query");
    c->payload = typed__str(cl, "payload");
    c->subscriber_cert = typed__str(cl, "subscriber_cert");
    c->timeout_ms =
        json_is_integer(t) && json_integer_value(t) > 0 && json_integer_value(t) <= 60000
            ? (int)json_integer_value(t)
            : 3000;
    c->port = json_is_integer(port) ? (int)json_integer_value(port) : k->row->port;
    json_t *rep = json_object_get(cl, "repeat");
    c->repeat = json_is_integer(rep) ? (int)json_integer_value(rep) : 1;
    c->keep_alive = json_is_true(json_object_get(cl, "keep_alive"));
    c->auth = json_object_get(cl, "auth");
    c->subscriber_auth = json_object_get(cl, "subscriber_auth");
    c->steps = json_object_get(cl, "steps");
}

static void typed__expect(iotc_case_expect_def *e, json_t *ex)
{
    json_t *d = json_object_get(ex, "delivered");
    e->delivered = json_is_boolean(d) ? json_is_true(d) : -1;
    e->judges_delivery =
        d || json_object_get(ex, "delivered_qos") || json_object_get(ex, "retained");
    e->journal_has = json_object_get(ex, "journal_has");
}

int iotc_case_fill(iotc_case *k)
{
    k->profile = typed__str(k->def, "profile");
    typed__client(k, json_object_get(k->def, "client"));
    typed__expect(&k->expect, json_object_get(k->def, "expect"));
    k->client.alpn =
        typed__alpn(json_object_get(json_object_get(k->def, "client"), "alpn"), k->row);
    return k->client.alpn ? IOTC_OK : IOTC_ERR_NOMEM;
}

void iotc_case_clear(iotc_case *k)
{
    json_decref(k->client.alpn);
    json_decref(k->def);
    k->client.alpn = k->def = NULL;
}
