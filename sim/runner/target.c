/* Target files: strict schema, paths relative to the file, address resolution. */
#include "target.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common/err.h"
#include "schema.h"

static const char *const en_family[] = {"ipv4", "ipv6", NULL};

static const iotc_cases_schema_key identity_fields[] = {
    {"cert", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"key", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key credential_fields[] = {
    {"access_key_id", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"secret_access_key", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"session_token", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key sigv4_fields[] = {
    {"region", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"credentials", IOTC_CASES_T_OBJ, IOTC_CASES_K_REQUIRED | IOTC_CASES_K_ANYKEY, NULL, IOTC_CASES_T_OBJ, credential_fields, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key custom_fields[] = {
    {"signing_key", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"default_authorizer", IOTC_CASES_T_BOOL, 0, NULL, 0, NULL, NULL},
    {"authorizers", IOTC_CASES_T_OBJ, IOTC_CASES_K_ANYKEY, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"tokens", IOTC_CASES_T_OBJ, IOTC_CASES_K_ANYKEY, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key ports_fields[] = {
    {"8883", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"8443", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {"443", IOTC_CASES_T_INT, 0, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key addresses_fields[] = {
    {"ipv4", IOTC_CASES_T_STR | IOTC_CASES_T_NULL, 0, NULL, 0, NULL, NULL},
    {"ipv6", IOTC_CASES_T_STR | IOTC_CASES_T_NULL, 0, NULL, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key features_fields[] = {
    {"profile", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"rows", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"ip_families", IOTC_CASES_T_ARR, 0, NULL, IOTC_CASES_T_STR, NULL, en_family},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const iotc_cases_schema_key top_fields[] = {
    {"format", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"name", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"comment", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"host", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"addresses", IOTC_CASES_T_OBJ, 0, addresses_fields, 0, NULL, NULL},
    {"sni", IOTC_CASES_T_STR, 0, NULL, 0, NULL, NULL},
    {"domain_names", IOTC_CASES_T_OBJ, IOTC_CASES_K_ANYKEY, NULL, IOTC_CASES_T_STR, NULL, NULL},
    {"ports", IOTC_CASES_T_OBJ, IOTC_CASES_K_REQUIRED, ports_fields, 0, NULL, NULL},
    {"ca", IOTC_CASES_T_STR, IOTC_CASES_K_REQUIRED, NULL, 0, NULL, NULL},
    {"identities", IOTC_CASES_T_OBJ, IOTC_CASES_K_ANYKEY, NULL, IOTC_CASES_T_OBJ, identity_fields, NULL},
    {"sigv4", IOTC_CASES_T_OBJ, 0, sigv4_fields, 0, NULL, NULL},
    {"custom_auth", IOTC_CASES_T_OBJ, 0, custom_fields, 0, NULL, NULL},
    {"features", IOTC_CASES_T_OBJ, 0, features_fields, 0, NULL, NULL},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

/* A path from the file, relative to the file's directory; it must be readable. */
static void target__path(const iotc_target *t, const char *in, const char *where, char *out,
                         size_t len, iotc_diag *d)
{
    struct stat st;
    const char *slash = strrchr(t->path, '/');
    if (in[0] == '/' || !slash)
        snprintf(out, len, "%s", in);
    else
        snprintf(out, len, "%.*s/%s", (int)(slash - t->path), t->path, in);
    if (stat(out, &st) != 0 || !S_ISREG(st.st_mode))
        iotc_diag_add(d, "%s: %s: no such file %s", t->path, where, out);
}

/* First address of the family, or the literal itself; "" when there is none. */
static void target__resolve(const char *host, int af, char *out, size_t len)
{
    struct addrinfo hints, *res = NULL;
    out[0] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = af;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return;
    if (af == AF_INET)
        inet_ntop(af, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out, (socklen_t)len);
    else
        inet_ntop(af, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, out, (socklen_t)len);
    freeaddrinfo(res);
}

static void target__address(iotc_target *t, json_t *addrs, const char *fam, int af, char *out,
                            size_t len, iotc_diag *d)
{
    json_t *v = json_object_get(addrs, fam);
    unsigned char bin[16];
    if (json_is_null(v)) { /* explicitly not served */
        out[0] = '\0';
        return;
    }
    if (json_is_string(v)) {
        if (inet_pton(af, json_string_value(v), bin) != 1)
            iotc_diag_add(d, "%s: $.addresses.%s: \"%s\" is not an %s literal", t->path, fam,
                          json_string_value(v), fam);
        snprintf(out, len, "%s", json_string_value(v));
        return;
    }
    target__resolve(t->host, af, out, len);
}

static int target__port(iotc_target *t, json_t *ports, const char *k, iotc_diag *d)
{
    json_t *v = json_object_get(ports, k);
    if (!v)
        return 0;
    if (json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
        iotc_diag_add(d, "%s: $.ports.%s: 1..65535", t->path, k);
        return 0;
    }
    return (int)json_integer_value(v);
}

static void target__identities(iotc_target *t, iotc_diag *d)
{
    const char *name;
    json_t *v;
    char where[300], cert[PATH_MAX], key[PATH_MAX];
    json_object_foreach(json_object_get(t->doc, "identities"), name, v)
    {
        const char *c = json_string_value(json_object_get(v, "cert"));
        const char *k = json_string_value(json_object_get(v, "key"));
        if (!c || !k)
            continue;
        snprintf(where, sizeof(where), "$.identities.%s.cert", name);
        target__path(t, c, where, cert, sizeof(cert), d);
        snprintf(where, sizeof(where), "$.identities.%s.key", name);
        target__path(t, k, where, key, sizeof(key), d);
        json_object_set_new(t->identities, name, json_pack("{s:s, s:s}", "cert", cert, "key", key));
    }
}

/* The registry's shape, so the door drivers resolve secrets the same way. */
static void target__credentials(iotc_target *t)
{
    json_t *s = json_object_get(t->doc, "sigv4");
    json_t *creds = json_array();
    const char *logical;
    json_t *v;
    json_object_foreach(json_object_get(s, "credentials"), logical, v)
    {
        json_t *cr = json_pack("{s:s, s:O, s:O}", "access_key_id", logical, "secret_access_key",
                               json_object_get(v, "secret_access_key"), "send_as",
                               json_object_get(v, "access_key_id"));
        if (cr && json_object_get(v, "session_token"))
            json_object_set(cr, "session_token", json_object_get(v, "session_token"));
        json_array_append_new(creds, cr);
    }
    t->registry = json_pack("{s:o}", "credentials", creds);
    if (json_is_string(json_object_get(s, "region")))
        json_object_set(t->registry, "region", json_object_get(s, "region"));
}

static void target__rows(iotc_target *t, iotc_diag *d)
{
    json_t *claimed = json_object_get(json_object_get(t->doc, "features"), "rows");
    size_t i;
    json_t *r;
    t->rows = json_array();
    if (claimed) {
        json_array_foreach(claimed, i, r)
        {
            if (!iotc_row_find(json_string_value(r)))
                iotc_diag_add(d, "%s: $.features.rows[%zu]: unknown row \"%s\"", t->path, i,
                              json_string_value(r) ? json_string_value(r) : "");
            else
                json_array_append(t->rows, r);
        }
        return;
    }
    /* Default: every row the file has a port and credentials for. */
    for (int k = 0; iotc_row_at(k); k++) {
        const iotc_row *row = iotc_row_at(k);
        int port = row->port == 8883   ? t->port_8883
                   : row->port == 8443 ? t->port_8443
                                       : t->port_443;
        if (!port || (row->auth == IOTC_AUTH_SIGV4 && !json_object_get(t->doc, "sigv4")) ||
            (row->auth == IOTC_AUTH_CUSTOM && !json_object_get(t->doc, "custom_auth")))
            continue;
        json_array_append_new(t->rows, json_string(row->id));
    }
}

int iotc_target_load(const char *path, iotc_target *t, iotc_diag *d)
{
    json_error_t je;
    int before = d->count;
    json_t *custom, *features;
    const char *s;

    memset(t, 0, sizeof(*t));
    snprintf(t->path, sizeof(t->path), "%s", path);
    t->identities = json_object();
    t->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!t->doc) {
        iotc_diag_add(d, "%s:%d: %s", path, je.line, je.text);
        return IOTC_ERR_CONFIG;
    }
    if (!json_is_object(t->doc)) {
        iotc_diag_add(d, "%s: $: expected an object", path);
        return IOTC_ERR_CONFIG;
    }
    iotc_schema_check_object(t->doc, top_fields, path, "$", d);
    if (d->count != before)
        return IOTC_ERR_CONFIG;
    s = json_string_value(json_object_get(t->doc, "format"));
    if (strcmp(s, IOTC_TARGET_FORMAT) != 0)
        iotc_diag_add(d, "%s: $.format: \"%s\" is not \"%s\"", path, s, IOTC_TARGET_FORMAT);
    s = json_string_value(json_object_get(t->doc, "name"));
    snprintf(t->name, sizeof(t->name), "%s", s ? s : "external");
    snprintf(t->host, sizeof(t->host), "%s", json_string_value(json_object_get(t->doc, "host")));
    s = json_string_value(json_object_get(t->doc, "sni"));
    snprintf(t->sni, sizeof(t->sni), "%s", s ? s : t->host);
    features = json_object_get(t->doc, "features");
    s = json_string_value(json_object_get(features, "profile"));
    snprintf(t->profile, sizeof(t->profile), "%s", s ? s : "default");

    json_t *ports = json_object_get(t->doc, "ports");
    t->port_8883 = target__port(t, ports, "8883", d);
    t->port_8443 = target__port(t, ports, "8443", d);
    t->port_443 = target__port(t, ports, "443", d);
    if (!json_object_size(ports))
        iotc_diag_add(d, "%s: $.ports: map at least one of 8883, 8443, 443", path);
    target__path(t, json_string_value(json_object_get(t->doc, "ca")), "$.ca", t->ca, sizeof(t->ca),
                 d);
    target__identities(t, d);
    target__credentials(t);
    custom = json_object_get(t->doc, "custom_auth");
    t->authorizers = json_incref(json_object_get(custom, "authorizers"));
    t->tokens = json_incref(json_object_get(custom, "tokens"));
    t->domain_names = json_incref(json_object_get(t->doc, "domain_names"));
    t->default_authorizer = json_is_true(json_object_get(custom, "default_authorizer"));
    if (json_is_string(json_object_get(custom, "signing_key")))
        target__path(t, json_string_value(json_object_get(custom, "signing_key")),
                     "$.custom_auth.signing_key", t->signing_key, sizeof(t->signing_key), d);
    target__rows(t, d);

    json_t *addrs = json_object_get(t->doc, "addresses");
    target__address(t, addrs, "ipv4", AF_INET, t->addr4, sizeof(t->addr4), d);
    target__address(t, addrs, "ipv6", AF_INET6, t->addr6, sizeof(t->addr6), d);
    json_t *fams = json_object_get(features, "ip_families");
    size_t i;
    json_t *f;
    json_array_foreach(fams, i, f)
    {
        int v6 = strcmp(json_string_value(f), "ipv6") == 0;
        if (!(v6 ? t->addr6 : t->addr4)[0])
            iotc_diag_add(d,
                          "%s: $.features.ip_families[%zu]: %s claimed, but %s has no %s address",
                          path, i, json_string_value(f), t->host, json_string_value(f));
    }
    if (fams) { /* a family with an address but not claimed is not dialled */
        int has4 = 0, has6 = 0;
        json_array_foreach(fams, i, f)
        {
            has6 |= strcmp(json_string_value(f), "ipv6") == 0;
            has4 |= strcmp(json_string_value(f), "ipv4") == 0;
        }
        if (!has4)
            t->addr4[0] = '\0';
        if (!has6)
            t->addr6[0] = '\0';
    }
    if (!t->addr4[0] && !t->addr6[0])
        iotc_diag_add(d, "%s: $.host: \"%s\" has no address to dial", path, t->host);
    return d->count == before ? IOTC_OK : IOTC_ERR_CONFIG;
}

void iotc_target_free(iotc_target *t)
{
    json_decref(t->doc);
    json_decref(t->identities);
    json_decref(t->registry);
    json_decref(t->authorizers);
    json_decref(t->tokens);
    json_decref(t->domain_names);
    json_decref(t->rows);
    memset(t, 0, sizeof(*t));
}

void iotc_target_env(const iotc_target *t, iotc_env *env)
{
    env->external = 1;
    env->endpoint = t->sni;
    env->port_8883 = t->port_8883;
    env->port_8443 = t->port_8443;
    env->port_443 = t->port_443;
    snprintf(env->addr4, sizeof(env->addr4), "%s", t->addr4);
    snprintf(env->addr6, sizeof(env->addr6), "%s", t->addr6);
    env->ca_file = t->ca;
    env->identities = t->identities;
    env->registry = t->registry;
    env->signing_key = t->signing_key[0] ? t->signing_key : NULL;
    env->authorizers = t->authorizers;
    env->tokens = t->tokens;
    env->domain_names = t->domain_names;
}
