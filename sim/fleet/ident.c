/*
 * Identities of a row. X.509 rows name certificates in the PKI directory; the door
 * rows name what a device presents without one: a SigV4 access key (its secret and
 * session token come from the registry unless given inline) or a custom authorizer
 * with a token (signed here with the PKI's signing key when asked). This file reads
 * them from the spec, resolves them at run start, and turns them into what goes on
 * the wire: a presigned WSS target, custom-auth headers, an MQTT username.
 */
#include "fleet_int.h"
#include "common/err.h"
#include "config/cfgjson.h"
#include "client/door_auth.h"
#include "config/registry.h"

#include <openssl/err.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define IDENT_MAX_NAME   128
#define IDENT_MAX_SECRET 256
#define IDENT_MAX_TOKEN  1024

static const char *const ident__sigv4_keys[] = {"access_key", "secret", "session_token", NULL};
static const char *const ident__custom_keys[] = {"authorizer", "token", "token_key", "sign", NULL};

/* Characters a value may hold: it ends up in a header line or a query. */
enum ident__charset { CS_ALNUM, CS_NAME, CS_HEADER };

static bool ident__ok(const char *s, size_t max, int cs)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (cs == CS_ALNUM && !alnum)
            return false;
        if (cs == CS_NAME && !alnum && c != '-' && c != '_')
            return false;
        /* visible ASCII only: no CR/LF that could end a header, no space in a query */
        if (cs == CS_HEADER && (c <= 0x20 || c >= 0x7f))
            return false;
    }
    return true;
}

/* Optional string key of o: NULL when absent; an error unless it passes ident__ok. */
static int ident__str(const char *file, const char *path, json_t *o, const char *key, size_t max,
                      int cs, bool allow_empty, char **out, iotc_errtext *ce)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v)
        return IOTC_OK;
    const char *s = json_string_value(v);
    if (!s || !((allow_empty && !*s) || ident__ok(s, max, cs)))
        return iotc_cfg_fail(ce, file, path, "%s: must be a string of 1..%zu %s", key, max,
                             cs == CS_ALNUM  ? "letters and digits"
                             : cs == CS_NAME ? "letters, digits, '-' or '_'"
                                             : "visible ASCII characters");
    *out = strdup(s);
    return *out ? IOTC_OK : IOTC_ERR_NOMEM;
}

static int ident__x509(const char *file, const char *path, json_t *v, struct iotc_fleet_ident *id,
                       iotc_errtext *ce)
{
    const char *s = json_string_value(v);
    if (!s || !*s)
        return iotc_cfg_fail(ce, file, path, "a certificate name in the PKI directory");
    if (strchr(s, '/') || strchr(s, '.'))
        return iotc_cfg_fail(ce, file, path, "'%s' is a name in the PKI directory, not a path", s);
    id->name = strdup(s);
    return id->name ? IOTC_OK : IOTC_ERR_NOMEM;
}

static int ident__sigv4(const char *file, const char *path, json_t *v, struct iotc_fleet_ident *id,
                        iotc_errtext *ce)
{
    int rc;
    if (json_is_string(v)) {
        if (!ident__ok(json_string_value(v), IDENT_MAX_NAME, CS_ALNUM))
            return iotc_cfg_fail(ce, file, path, "an access key id (letters and digits)");
        id->name = strdup(json_string_value(v));
        return id->name ? IOTC_OK : IOTC_ERR_NOMEM;
    }
    if (!json_is_object(v))
        return iotc_cfg_fail(ce, file, path,
                             "an access key id, or {\"access_key\", \"secret\", "
                             "\"session_token\"}");
    if ((rc = iotc_cfg_check_keys(file, path, v, ident__sigv4_keys, ce)) ||
        (rc = ident__str(file, path, v, "access_key", IDENT_MAX_NAME, CS_ALNUM, false, &id->name,
                         ce)) ||
        (rc = ident__str(file, path, v, "secret", IDENT_MAX_SECRET, CS_HEADER, false, &id->secret,
                         ce)) ||
        (rc = ident__str(file, path, v, "session_token", IDENT_MAX_TOKEN, CS_HEADER, true,
                         &id->session_token, ce)))
        return rc;
    if (!id->name)
        return iotc_cfg_fail(ce, file, path, "access_key: required");
    id->secret_inline = id->secret != NULL;
    id->token_inline = id->session_token != NULL;
    return IOTC_OK;
}

static int ident__custom(const char *file, const char *path, json_t *v, struct iotc_fleet_ident *id,
                         iotc_errtext *ce)
{
    int rc;
    if (!json_is_object(v))
        return iotc_cfg_fail(ce, file, path,
                             "{\"authorizer\", \"token\", \"token_key\", \"sign\"} "
                             "(no authorizer: the default one)");
    if ((rc = iotc_cfg_check_keys(file, path, v, ident__custom_keys, ce)) ||
        (rc = ident__str(file, path, v, "authorizer", IDENT_MAX_NAME, CS_NAME, false, &id->name,
                         ce)) ||
        (rc = ident__str(file, path, v, "token", IDENT_MAX_TOKEN, CS_HEADER, false, &id->token,
                         ce)) ||
        (rc = ident__str(file, path, v, "token_key", IDENT_MAX_NAME, CS_NAME, false, &id->token_key,
                         ce)))
        return rc;
    if (!id->token)
        return iotc_cfg_fail(ce, file, path, "token: required");
    if (!id->token_key && !(id->token_key = strdup("token")))
        return IOTC_ERR_NOMEM;
    json_t *sign = json_object_get(v, "sign");
    if (sign && !json_is_boolean(sign))
        return iotc_cfg_fail(ce, file, path, "sign: must be true or false");
    id->sign = json_is_true(sign);
    return IOTC_OK;
}

int iotc_fleet_ident_read(const char *file, const char *path, json_t *arr, int auth,
                          struct iotc_fleet_ident **out, size_t *n, iotc_errtext *ce)
{
    char p[128];
    *out = NULL;
    *n = 0;
    snprintf(p, sizeof p, "%s.identities", path);
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return iotc_cfg_fail(ce, file, p, "at least one %s",
                             auth == IOTC_AUTH_X509    ? "certificate name"
                             : auth == IOTC_AUTH_SIGV4 ? "SigV4 credential"
                                                       : "custom-authorizer token");
    if (json_array_size(arr) > IOTC_FLEET_MAX_DEVICES)
        return iotc_cfg_fail(ce, file, p, "at most %d identities", IOTC_FLEET_MAX_DEVICES);
    *out = calloc(json_array_size(arr), sizeof **out);
    if (!*out)
        return IOTC_ERR_NOMEM;
    for (size_t k = 0; k < json_array_size(arr); k++) {
        json_t *v = json_array_get(arr, k);
        int rc;
        *n = k + 1;
        snprintf(p, sizeof p, "%s.identities[%zu]", path, k);
        if (auth == IOTC_AUTH_X509)
            rc = ident__x509(file, p, v, &(*out)[k], ce);
        else if (auth == IOTC_AUTH_SIGV4)
            rc = ident__sigv4(file, p, v, &(*out)[k], ce);
        else
            rc = ident__custom(file, p, v, &(*out)[k], ce);
        if (rc != IOTC_OK)
            return rc;
    }
    return IOTC_OK;
}

void iotc_fleet_idents_free(struct iotc_fleet_ident *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        if (v[i].secret)
            OPENSSL_cleanse(v[i].secret, strlen(v[i].secret));
        free(v[i].name);
        free(v[i].secret);
        free(v[i].session_token);
        free(v[i].token);
        free(v[i].token_key);
        free(v[i].signature);
    }
    free(v);
}

static int ident__from_registry(struct iotc_fleet_ident *id, const json_t *registry,
                                iotc_errtext *err)
{
    size_t i;
    json_t *cr;
    json_array_foreach(json_object_get(registry, "credentials"), i, cr)
    {
        const char *ak = json_string_value(json_object_get(cr, "access_key_id"));
        const char *secret = json_string_value(json_object_get(cr, "secret_access_key"));
        const char *token = json_string_value(json_object_get(cr, "session_token"));
        if (!ak || strcmp(ak, id->name) != 0)
            continue;
        if (!secret) {
            return iotc_errtext_set(err, IOTC_ERR_CONFIG,
                                    "registry credential %s has no secret_access_key", id->name);
        }
        if (!id->secret_inline && !(id->secret = strdup(secret)))
            return IOTC_ERR_NOMEM;
        if (!id->token_inline && token && !(id->session_token = strdup(token)))
            return IOTC_ERR_NOMEM;
        return IOTC_OK;
    }
    return iotc_errtext_set(
        err, IOTC_ERR_NOT_FOUND,
        "access key %s is not in the registry's credentials: give its \"secret\"", id->name);
}

static int ident__sign(struct iotc_fleet_ident *id, const char *pki, iotc_errtext *err)
{
    char path[1200], sig[1024];
    snprintf(path, sizeof path, "%s/%s", pki, IOTC_FLEET_AUTHZ_SIGNING_KEY);
    free(id->signature);
    id->signature = NULL;
    int rc = iotc_door_auth_sign_token(path, id->token, sig, sizeof sig, err);
    if (rc != IOTC_OK)
        return rc;
    id->signature = strdup(sig);
    return id->signature ? IOTC_OK : IOTC_ERR_NOMEM;
}

int iotc_fleet_ident_resolve(struct iotc_fleet_ident *id, int auth, const json_t *registry,
                             const char *pki, iotc_errtext *err)
{
    if (auth == IOTC_AUTH_SIGV4 && !id->secret_inline) {
        if (!registry) {
            return iotc_errtext_set(err, IOTC_ERR_CONFIG,
                                    "access key %s: no registry to take its secret from", id->name);
        }
        return ident__from_registry(id, registry, err);
    }
    if (auth == IOTC_AUTH_CUSTOM && id->sign)
        return ident__sign(id, pki, err);
    return IOTC_OK;
}

static int ident__set(char *dst, size_t len, const char *src)
{
    return snprintf(dst, len, "%s", src ? src : "") < (int)len ? IOTC_OK : IOTC_ERR_TOO_LARGE;
}

/* What the identity presents, in the client layer's terms (*a is wiped by the caller). */
static int ident__door(const struct iotc_fleet_ident *id, int auth, iotc_door_auth *a)
{
    int rc;
    memset(a, 0, sizeof *a);
    if (auth == IOTC_AUTH_SIGV4) {
        a->kind = IOTC_DA_SIGV4;
        a->own_signer = 1;
        a->expires = IOTC_FLEET_SIGV4_EXPIRES_S;
        if ((rc = ident__set(a->access_key, sizeof a->access_key, id->name)) ||
            (rc = ident__set(a->secret, sizeof a->secret, id->secret)) ||
            (rc = ident__set(a->token, sizeof a->token, id->session_token)) ||
            (rc = ident__set(a->region, sizeof a->region, IOTC_FLEET_SIGV4_REGION)))
            return rc;
        return ident__set(a->service, sizeof a->service, IOTC_FLEET_SIGV4_SVC_WSS);
    }
    a->kind = IOTC_DA_CUSTOM;
    a->has_ctoken = id->token != NULL;
    if ((rc = ident__set(a->authorizer, sizeof a->authorizer, id->name)) ||
        (rc = ident__set(a->token_key, sizeof a->token_key, id->token_key)) ||
        (rc = ident__set(a->ctoken, sizeof a->ctoken, id->token)))
        return rc;
    return ident__set(a->signature, sizeof a->signature, id->signature);
}

int iotc_fleet_ident_custom_header(const struct iotc_fleet_ident *id, unsigned k, char *line,
                                   size_t len)
{
    iotc_door_auth a;
    iotc_door_req r = {.method = "GET", .path = "/mqtt", .host = ""};
    struct iotc_buf q = {0}, h = {0};
    iotc_errtext err = {0};
    int rc = ident__door(id, IOTC_AUTH_CUSTOM, &a);
    if (rc == IOTC_OK)
        rc = iotc_door_auth_http(&a, &r, &q, &h, &err);
    /* The k-th "Name: value\r\n" line, without its CRLF. */
    const char *p = h.len ? (const char *)h.p : "", *e = NULL;
    while (rc == IOTC_OK && (e = strstr(p, "\r\n")) && k-- > 0)
        p = e + 2;
    if (rc == IOTC_OK)
        rc = !e                                                        ? IOTC_ERR_NOT_FOUND
             : snprintf(line, len, "%.*s", (int)(e - p), p) < (int)len ? IOTC_OK
                                                                       : IOTC_ERR_TOO_LARGE;
    OPENSSL_cleanse(&a, sizeof a);
    iotc_buf_free(&q);
    iotc_buf_free(&h);
    return rc;
}

int iotc_fleet_ident_username(const struct iotc_fleet_ident *id, const char *user, char *out,
                              size_t len)
{
    iotc_door_auth a;
    if (!id->token || strchr(user, '?'))
        return IOTC_ERR_INVALID;
    int rc = ident__door(id, IOTC_AUTH_CUSTOM, &a);
    if (rc == IOTC_OK)
        rc = iotc_door_auth_username(&a, user, out, len);
    OPENSSL_cleanse(&a, sizeof a);
    return rc;
}

int iotc_fleet_ident_wss_target(const struct iotc_fleet_ident *id, int auth, const char *host,
                                time_t when, char *out, size_t len)
{
    if (auth != IOTC_AUTH_SIGV4)
        return snprintf(out, len, "/mqtt") < (int)len ? IOTC_OK : IOTC_ERR_TOO_LARGE;
    if (!id->secret)
        return IOTC_ERR_INVALID;
    iotc_door_auth a;
    iotc_door_req r = {.method = "GET", .path = "/mqtt", .host = host, .presign = 1, .when = when};
    struct iotc_buf q = {0}, h = {0};
    iotc_errtext err = {0};
    /* AWS IoT: the session token is not signed, it follows the signature. */
    int rc = ident__door(id, auth, &a);
    if (rc == IOTC_OK)
        rc = iotc_door_auth_http(&a, &r, &q, &h, &err);
    if (rc == IOTC_OK &&
        snprintf(out, len, "/mqtt?%.*s", (int)q.len, q.len ? (char *)q.p : "") >= (int)len)
        rc = IOTC_ERR_TOO_LARGE;
    OPENSSL_cleanse(&a, sizeof a);
    iotc_buf_free(&q);
    iotc_buf_free(&h);
    return rc;
}

static bool ident__needs_registry(const struct iotc_fleet_spec *s)
{
    for (size_t r = 0; r < s->n_rows; r++)
        for (size_t i = 0; s->rows[r].def->auth == IOTC_AUTH_SIGV4 && i < s->rows[r].n_identities;
             i++)
            if (!s->rows[r].identities[i].secret_inline)
                return true;
    return false;
}

int iotc_fleet_idents_setup(struct iotc_fleet_spec *s, iotc_errtext *err)
{
    iotc_errtext ce = {{0}};
    json_t *registry = NULL;
    int rc = IOTC_OK;
    if (ident__needs_registry(s)) {
        if (!s->target.registry) {
            return iotc_errtext_set(err, IOTC_ERR_CONFIG,
                                    "SigV4 identities without an inline secret need a registry "
                                    "(the external target file's \"registry\")");
        }
        registry = iotc_registry_doc(s->target.registry, &ce);
        if (!registry) {
            return iotc_errtext_set(err, IOTC_ERR_CONFIG, "%s", ce.msg);
        }
    }
    for (size_t r = 0; r < s->n_rows && rc == IOTC_OK; r++) {
        struct iotc_fleet_row *row = &s->rows[r];
        for (size_t i = 0; i < row->n_identities && rc == IOTC_OK; i++) {
            iotc_errtext why = {0};
            rc = iotc_fleet_ident_resolve(&row->identities[i], row->def->auth, registry,
                                          s->target.pki, &why);
            if (rc != IOTC_OK)
                iotc_errtext_set(err, 0, "%s: $.rows[%zu].identities[%zu]: %s", s->file, r, i,
                                 why.msg);
        }
    }
    json_decref(registry);
    return rc;
}
