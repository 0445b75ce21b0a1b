/*
 * What an external target cannot run, and why: every case is still listed
 * (status skipped + reason) so a report shows what was not checked.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "target.h"

static int target__port_of(const iotc_target *t, int logical)
{
    return logical == 8883 ? t->port_8883 : logical == 8443 ? t->port_8443 : t->port_443;
}

static int target__claims_row(const iotc_target *t, const char *row)
{
    size_t i;
    json_t *r;
    json_array_foreach(t->rows, i, r) if (strcmp(json_string_value(r), row) == 0) return 1;
    return 0;
}

/* The status the emulator's registry gives a certificate, for the reason text. */
static const char *target__status(const json_t *registry, const char *name)
{
    char file[160];
    size_t i;
    json_t *c;
    snprintf(file, sizeof(file), "%s.crt", name);
    json_array_foreach(json_object_get(registry, "certificates"), i, c)
    {
        const char *f = json_string_value(json_object_get(c, "file"));
        if (f && strcmp(f, file) == 0)
            return json_string_value(json_object_get(c, "status"));
    }
    return NULL;
}

static int target__identity(const iotc_target *t, const char *name, const char *role,
                            const json_t *registry, char *why, size_t len)
{
    const char *status;
    if (!name || json_object_get(t->identities, name))
        return 0;
    status = target__status(registry, name);
    if (status)
        snprintf(why, len,
                 "needs the emulator's registry: the %s identity %s is a %s certificate there and "
                 "the target file maps no certificate to it (target.identities)",
                 role, name, status);
    else
        snprintf(why, len,
                 "needs the emulator's registry: the %s identity %s (unknown to the registry) "
                 "is not mapped in the target file (target.identities)",
                 role, name);
    return 1;
}

/* A session script with a reference (observer) connection. */
static int target__observer(json_t *steps)
{
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st)
    {
        const char *as = json_string_value(json_object_get(st, "as"));
        if (as && strcmp(as, "observer") == 0)
            return 1;
    }
    return 0;
}

/* Identities the drivers will present: the device's, and the reference clients
 * that prove delivery (subscriber) or feed a subscribing device (publisher). */
static int target__identities(const iotc_target *t, const iotc_case *c, const json_t *registry,
                              char *why, size_t len)
{
    iotc_case_action action = c->client.action;
    const char *sub = c->client.subscriber_cert;
    int delivery =
        action == IOTC_CASE_ACT_ROUNDTRIP || action == IOTC_CASE_ACT_PUBLISH_THEN_SUBSCRIBE;

    if (target__identity(t, c->client.cert, "device", registry, why, len) ||
        target__identity(t, c->client.key, "key", registry, why, len))
        return 1;
    if (target__observer(c->client.steps)) {
        /* Session scripts' reference clients: X.509 on 8883. */
        if (!t->port_8883) {
            snprintf(why, len,
                     "the session's reference client dials 8883, which the target "
                     "file does not map");
            return 1;
        }
        if (target__identity(t, sub ? sub : "device-02", "reference client", registry, why, len))
            return 1;
    }
    if (c->row->proto == IOTC_PROTO_WSS) {
        if (action == IOTC_CASE_ACT_SUBSCRIBE)
            return target__identity(t, "device-01", "reference publisher", registry, why, len);
        return 0;
    }
    if (!delivery)
        return 0;
    /* The subscriber uses the case's row when it can, else X.509 on 8883. */
    if (!(c->row->proto == IOTC_PROTO_MQTT &&
          (c->row->auth == IOTC_AUTH_X509 || c->client.subscriber_auth))) {
        if (!t->port_8883) {
            snprintf(why, len,
                     "the MQTT subscriber that proves delivery dials 8883, which the target "
                     "file does not map");
            return 1;
        }
    }
    if (c->row->proto == IOTC_PROTO_MQTT && c->row->auth == IOTC_AUTH_CUSTOM &&
        c->client.subscriber_auth)
        return 0;
    return target__identity(t, sub ? sub : "device-02", "subscriber", registry, why, len);
}

static int target__door(const iotc_target *t, const iotc_case *c, json_t *auth, char *why,
                        size_t len)
{
    json_t *sigv4 = json_object_get(auth, "sigv4");
    json_t *custom = json_object_get(auth, "custom");
    if (sigv4) {
        const char *ak = json_string_value(json_object_get(sigv4, "access_key"));
        size_t i;
        json_t *cr;
        int known = 0;
        /* A case with its own secret (a wrong one, an unknown key) runs anywhere. */
        if (json_object_get(sigv4, "secret"))
            return 0;
        json_array_foreach(json_object_get(t->registry, "credentials"), i, cr)
        {
            const char *id = json_string_value(json_object_get(cr, "access_key_id"));
            if (id && ak && strcmp(id, ak) == 0)
                known = !json_is_true(json_object_get(sigv4, "token")) ||
                        json_object_get(cr, "session_token");
        }
        if (!known)
            snprintf(why, len, "SigV4 credentials %s%s are not in the target file (target.sigv4)",
                     ak ? ak : "?",
                     json_is_true(json_object_get(sigv4, "token")) ? " with a session token" : "");
        return !known;
    }
    if (custom) {
        const char *name = json_string_value(json_object_get(custom, "authorizer"));
        json_t *sign = json_object_get(custom, "sign");
        if (!json_object_get(t->doc, "custom_auth")) {
            snprintf(why, len, "the target file has no custom_auth section");
            return 1;
        }
        if (name && !json_object_get(t->authorizers, name)) {
            snprintf(why, len,
                     "needs the emulator's registry: authorizer %s is not mapped in "
                     "target.custom_auth.authorizers",
                     name);
            return 1;
        }
        if (!name && !t->default_authorizer) {
            snprintf(why, len,
                     "the target file claims no default authorizer "
                     "(target.custom_auth.default_authorizer)");
            return 1;
        }
        if ((json_is_true(sign) || json_is_string(sign)) && !t->signing_key[0]) {
            snprintf(why, len,
                     "the token must be signed: target.custom_auth.signing_key is not set");
            return 1;
        }
    }
    (void)c;
    return 0;
}

int iotc_target_skip(const iotc_target *t, const iotc_case *c, const json_t *registry, char *why,
                     size_t len)
{
    const char *profile = c->profile;
    const char *sni = c->client.sni;
    int logical = c->client.port;

    if (strcmp(profile, t->profile) != 0) {
        snprintf(why, len,
                 "needs the emulator's profile %s (the target claims the behaviour of profile %s)",
                 profile, t->profile);
        return 1;
    }
    if (!target__claims_row(t, c->row->id)) {
        snprintf(why, len,
                 "the target does not claim row %s (target.features.rows, ports, "
                 "credentials)",
                 c->row->id);
        return 1;
    }
    if (!target__port_of(t, logical)) {
        snprintf(why, len, "the target file maps no port %d (target.ports)", logical);
        return 1;
    }
    if (!(c->af == AF_INET6 ? t->addr6 : t->addr4)[0]) {
        snprintf(why, len, "the target has no %s address", c->af == AF_INET6 ? "IPv6" : "IPv4");
        return 1;
    }
    if (sni && strcmp(sni, "endpoint") != 0 && strcmp(sni, "none") != 0 &&
        strcmp(sni, "wrong") != 0 && strcmp(sni, "ip") != 0 &&
        !json_object_get(t->domain_names, sni)) {
        snprintf(why, len,
                 "SNI %s is a domain name of the emulator's profile; map it in "
                 "target.domain_names to run this case",
                 sni);
        return 1;
    }
    if (target__identities(t, c, registry, why, len))
        return 1;
    if (target__door(t, c, c->client.auth, why, len) ||
        target__door(t, c, c->client.subscriber_auth, why, len))
        return 1;
    return 0;
}

json_t *iotc_target_expect(const iotc_case *c, json_t **dropped)
{
    static const char *const emulator_only[] = {"journal_has", NULL};
    json_t *e = json_deep_copy(iotc_case_expect(c));
    if (dropped)
        *dropped = json_array();
    for (const char *const *k = emulator_only; *k; k++) {
        if (!json_object_get(e, *k))
            continue;
        json_object_del(e, *k);
        if (dropped)
            json_array_append_new(*dropped, json_string(*k));
    }
    return e;
}

json_t *iotc_target_json(const iotc_target *t)
{
    json_t *ports = json_object();
    if (t->port_8883)
        json_object_set_new(ports, "8883", json_integer(t->port_8883));
    if (t->port_8443)
        json_object_set_new(ports, "8443", json_integer(t->port_8443));
    if (t->port_443)
        json_object_set_new(ports, "443", json_integer(t->port_443));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s?, s:s?, s:O, s:s}", "kind", "external",
                     "name", t->name, "host", t->host, "sni", t->sni, "file", t->path, "ports",
                     ports, "ipv4", t->addr4[0] ? t->addr4 : NULL, "ipv6",
                     t->addr6[0] ? t->addr6 : NULL, "rows", t->rows, "profile", t->profile);
}
