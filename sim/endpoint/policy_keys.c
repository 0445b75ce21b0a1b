/*
 * The condition keys a decision sees, from what the endpoint knows about the
 * connection: its peer address, TLS server name, CONNECT attributes, the certificate
 * (registry, read at load) and the thing attached to it (registry attributes).
 *
 * Which thing a connection is (iotc_conn_thing_for_policy): AWS's default attachment is
 * non-exclusive, and then "the value of clientId in the MQTT connect message ... must
 * exactly match the thing name" (developer guide, "Thing policy variables"): the thing is
 * the certificate's only when the client ID names it, otherwise there is none, so
 * ${iot:Connection.Thing.*} does not resolve (the statement does not apply), the thing
 * type and attribute keys are absent and IsAttached is "false". A certificate registered
 * with "thing_exclusive" (AttachThingPrincipal's EXCLUSIVE_THING) is its thing whatever
 * the client ID.
 *
 * AWS's thing policy variables are "only available when a device connects over MQTT or
 * MQTT over the WebSocket protocol" (developer guide, thing policy variables): an HTTPS
 * publish sees neither ${iot:Connection.Thing.*} nor those condition keys.
 */
#include "conn.h"
#include "config/registry.h"

#include <string.h>

static void keys__one(struct iotc_conn_keys *k, const char *key, const char *value)
{
    if (!value || !*value || k->n >= IOTC_CONN_MAX_KEYS)
        return;
    k->one[k->n] = value;
    k->kv[k->n] = (struct iotc_policy_kv){key, &k->one[k->n], 1};
    k->n++;
}

const char *iotc_conn_thing_for_policy(const struct iotc_conn *c, const char *client_id)
{
    const char *thing = c->auth.thing;
    if (c->tr.mode == IOTC_MODE_HTTP_X509 || !thing)
        return NULL;
    if (c->auth.cert && c->auth.cert->thing_exclusive)
        return thing;
    return client_id && strcmp(client_id, thing) == 0 ? thing : NULL;
}

void iotc_conn_policy_keys(struct iotc_conn *c, const char *client_id, struct iotc_conn_keys *k)
{
    k->n = 0;
    keys__one(k, "aws:SourceIp", iotc_conn_peer_ip(c, k->source_ip, sizeof k->source_ip));
    keys__one(k, "aws:SecureTransport", "true"); /* every row is TLS */
    keys__one(k, "iot:DomainName", c->tr.sni);
    /* Present (possibly empty) on MQTT, so ForAllValues/ForAnyValue see the set. */
    if (k->n < IOTC_CONN_MAX_KEYS && c->tr.mode != IOTC_MODE_HTTP_X509)
        k->kv[k->n++] = (struct iotc_policy_kv){"iot:ConnectAttributes", c->auth.connect_attrs,
                                                c->auth.n_connect_attrs};
    const char *thing = iotc_conn_thing_for_policy(c, client_id);
    keys__one(k, "iot:Connection.Thing.IsAttached", thing ? "true" : "false");
    const struct iotc_reg_thing *t = iotc_registry_find_thing(&c->ep->registry, thing);
    if (t) {
        keys__one(k, "iot:Connection.Thing.ThingTypeName", t->type);
        for (size_t i = 0; i < t->nattr; i++)
            keys__one(k, t->attr_keys[i], t->attr_values[i]);
    }
    for (size_t i = 0; c->auth.cert && i < IOTC_CERT_COND_KEYS; i++)
        keys__one(k, iotc_cert_cond_keys[i], c->auth.cert->cond_vals[i]);
}
