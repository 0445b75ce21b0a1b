/* Registry entries for the non-X.509 rows: SigV4 credentials and custom authorizers. */
#define _GNU_SOURCE /* strptime, timegm */
#include "registry.h"
#include "authz/authz.h"
#include "common/err.h"

#include <libgen.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

int iotc_registry__credentials(const char *file, json_t *arr, struct iotc_registry *r,
                               iotc_errtext *err);
int iotc_registry__authorizers(const char *file, json_t *arr, const char *pki,
                               struct iotc_registry *r, iotc_errtext *err);
void iotc_registry__free_auth(struct iotc_registry *r);

/* IAM's access key status (Active | Inactive, as IAM spells them) and an STS session's
 * Expiration ("2026-01-01T00:00:00Z", UTC, as GetSessionToken returns it). */
static int registry__cred_state(const char *file, const char *path, json_t *e,
                                struct iotc_reg_credential *c, iotc_errtext *err)
{
    json_t *st = json_object_get(e, "status");
    json_t *ex = json_object_get(e, "expiration");
    if (st) {
        const char *s = json_string_value(st);
        if (!s || (strcmp(s, "Active") != 0 && strcmp(s, "Inactive") != 0))
            return iotc_cfg_fail(err, file, path, "status: must be \"Active\" or \"Inactive\"");
        c->inactive = strcmp(s, "Inactive") == 0;
    }
    if (ex) {
        const char *s = json_string_value(ex);
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
        if (!end || *end != '\0')
            return iotc_cfg_fail(err, file, path,
                                 "expiration: must be UTC \"YYYY-MM-DDTHH:MM:SSZ\"");
        c->expires_at = (int64_t)timegm(&tm);
        if (!c->session_token)
            return iotc_cfg_fail(err, file, path,
                                 "expiration: only temporary credentials (session_token) expire");
    }
    return IOTC_OK;
}

int iotc_registry__credentials(const char *file, json_t *arr, struct iotc_registry *r,
                               iotc_errtext *err)
{
    static const char *const keys[] = {
        "access_key_id", "secret_access_key", "session_token", "status",
        "expiration",    "policies",          "description",   NULL};
    if (!arr)
        return IOTC_OK;
    if (!json_is_array(arr))
        return iotc_cfg_fail(err, file, "$.credentials", "must be an array");
    r->credentials = calloc(json_array_size(arr) + 1, sizeof *r->credentials);
    if (!r->credentials)
        return IOTC_ERR_NOMEM;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char path[64];
        snprintf(path, sizeof path, "$.credentials[%zu]", i);
        struct iotc_reg_credential *c = &r->credentials[r->credential_count++];
        int rc;
        if (!json_is_object(e))
            return iotc_cfg_fail(err, file, path, "must be an object");
        if ((rc = iotc_cfg_check_keys(file, path, e, keys, err)) ||
            (rc = iotc_cfg_string(file, path, e, "access_key_id", NULL, &c->access_key_id, err)) ||
            (rc = iotc_cfg_string(file, path, e, "secret_access_key", NULL, &c->secret_access_key,
                                  err)) ||
            (rc = iotc_cfg_string(file, path, e, "session_token", NULL, &c->session_token, err)) ||
            (rc = iotc_registry_attach(file, path, json_object_get(e, "policies"), r, &c->policies,
                                       err)) ||
            (rc = registry__cred_state(file, path, e, c, err)))
            return rc;
        if (!c->access_key_id || !c->secret_access_key)
            return iotc_cfg_fail(err, file, path,
                                 "access_key_id and secret_access_key are required");
        for (size_t j = 0; j + 1 < r->credential_count; j++)
            if (strcmp(r->credentials[j].access_key_id, c->access_key_id) == 0)
                return iotc_cfg_fail(err, file, path, "duplicate access_key_id");
    }
    return IOTC_OK;
}

static int registry__argv(const char *file, const char *path, json_t *v, const char *dir,
                          struct iotc_reg_authorizer *a, iotc_errtext *err)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return iotc_cfg_fail(err, file, path, "program: must be a non-empty array (argv)");
    a->argv = calloc(json_array_size(v) + 1, sizeof *a->argv);
    if (!a->argv)
        return IOTC_ERR_NOMEM;
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
    {
        const char *text = json_string_value(s);
        if (!text || !*text)
            return iotc_cfg_fail(err, file, path, "program[%zu]: must be a non-empty string", i);
        char buf[4096];
        /* The program is a fixture: relative to the registry file, like policy files. */
        if (i == 0 && text[0] != '/')
            snprintf(buf, sizeof buf, "%s/%s", dir, text);
        else
            snprintf(buf, sizeof buf, "%s", text);
        a->argv[i] = strdup(buf);
    }
    if (access(a->argv[0], X_OK) != 0)
        return iotc_cfg_fail(err, file, path, "program: '%s' is not an executable file",
                             a->argv[0]);
    return IOTC_OK;
}

/*
 * An authorizer is a program, or an HTTP(S) URL. A URL authorizer runs curl as its
 * program (the event POSTed as the body, the answer read from stdout), so both kinds
 * share one event-driven runner with its timeout and process-group cleanup, and the
 * HTTP client is a well-kept one rather than a second code path here.
 */
static int registry__program(const char *file, const char *path, json_t *e, const char *dir,
                             struct iotc_reg_authorizer *a, iotc_errtext *err)
{
    json_t *prog = json_object_get(e, "program"), *url = json_object_get(e, "url");
    if (!!prog == !!url)
        return iotc_cfg_fail(err, file, path, "exactly one of program and url is required");
    if (prog)
        return registry__argv(file, path, prog, dir, a, err);
    const char *u = json_string_value(url);
    if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
        return iotc_cfg_fail(err, file, path, "url: must be an http:// or https:// URL");
    const char *argv[] = {"/usr/bin/curl",
                          "--silent",
                          "--show-error",
                          "--fail",
                          "--max-time",
                          "5",
                          "-H",
                          "content-type: application/json",
                          "--data-binary",
                          "@-",
                          u,
                          NULL};
    size_t n = sizeof argv / sizeof argv[0];
    a->argv = calloc(n, sizeof *a->argv);
    if (!a->argv)
        return IOTC_ERR_NOMEM;
    for (size_t i = 0; argv[i]; i++)
        a->argv[i] = strdup(argv[i]);
    if (access(a->argv[0], X_OK) != 0)
        return iotc_cfg_fail(err, file, path, "url: needs %s to call the authorizer", argv[0]);
    return IOTC_OK;
}

int iotc_registry__authorizers(const char *file, json_t *arr, const char *pki,
                               struct iotc_registry *r, iotc_errtext *err)
{
    static const char *const keys[] = {
        "name",    "program", "url",        "token_key_name",          "signing",     "public_key",
        "default", "status",  "timeout_ms", "enable_caching_for_http", "description", NULL};
    if (!arr)
        return IOTC_OK;
    if (!json_is_array(arr))
        return iotc_cfg_fail(err, file, "$.authorizers", "must be an array");
    r->authorizers = calloc(json_array_size(arr) + 1, sizeof *r->authorizers);
    if (!r->authorizers)
        return IOTC_ERR_NOMEM;
    char *copy = strdup(file);
    const char *dir = copy ? dirname(copy) : ".";
    int rc = IOTC_OK, defaults = 0;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char path[64];
        char *status = NULL, *key = NULL;
        snprintf(path, sizeof path, "$.authorizers[%zu]", i);
        struct iotc_reg_authorizer *a = &r->authorizers[r->authorizer_count++];
        if (!json_is_object(e)) {
            rc = iotc_cfg_fail(err, file, path, "must be an object");
            break;
        }
        if ((rc = iotc_cfg_check_keys(file, path, e, keys, err)) ||
            (rc = iotc_cfg_string(file, path, e, "name", NULL, &a->name, err)) ||
            (rc = iotc_cfg_string(file, path, e, "token_key_name", "token", &a->token_key_name,
                                  err)) ||
            (rc = iotc_cfg_string(file, path, e, "status", "ACTIVE", &status, err)) ||
            (rc = iotc_cfg_string(file, path, e, "public_key", NULL, &key, err)) ||
            (rc = registry__program(file, path, e, dir, a, err)))
            goto next;
        if (!a->name) {
            rc = iotc_cfg_fail(err, file, path, "name is required");
            goto next;
        }
        json_t *sig = json_object_get(e, "signing"), *def = json_object_get(e, "default"),
               *tmo = json_object_get(e, "timeout_ms");
        if ((sig && !json_is_boolean(sig)) || (def && !json_is_boolean(def))) {
            rc = iotc_cfg_fail(err, file, path, "signing and default must be true or false");
            goto next;
        }
        a->signing_enabled = !sig || json_is_true(sig);
        a->is_default = def && json_is_true(def);
        json_t *cache = json_object_get(e, "enable_caching_for_http");
        if (cache && !json_is_boolean(cache)) {
            rc = iotc_cfg_fail(err, file, path, "enable_caching_for_http must be true or false");
            goto next;
        }
        a->caching_for_http = cache && json_is_true(cache);
        defaults += a->is_default;
        a->timeout_ms = IOTC_AUTHZ_DEFAULT_TIMEOUT_MS;
        if (tmo && (!json_is_integer(tmo) || json_integer_value(tmo) < 10 ||
                    json_integer_value(tmo) > 60000)) {
            rc = iotc_cfg_fail(err, file, path, "timeout_ms: must be an integer in 10..60000");
            goto next;
        } else if (tmo) {
            a->timeout_ms = (int)json_integer_value(tmo);
        }
        if (strcmp(status, "ACTIVE") != 0 && strcmp(status, "INACTIVE") != 0) {
            rc = iotc_cfg_fail(err, file, path, "status: must be ACTIVE or INACTIVE");
            goto next;
        }
        a->active = strcmp(status, "ACTIVE") == 0;
        if (a->signing_enabled) {
            char full[4096];
            iotc_errtext why = {0};
            if (!key) {
                rc = iotc_cfg_fail(err, file, path, "public_key is required when signing is on");
                goto next;
            }
            snprintf(full, sizeof full, "%s/%s", key[0] == '/' ? "" : pki, key);
            if (iotc_authz_load_pubkey_file(key[0] == '/' ? key : full, &a->public_key, &why) !=
                IOTC_OK) {
                rc = iotc_cfg_fail(err, file, path, "public_key: %s", why.msg);
                goto next;
            }
        }
    next:
        free(status);
        free(key);
        if (rc)
            break;
    }
    if (!rc && defaults > 1)
        rc = iotc_cfg_fail(err, file, "$.authorizers", "more than one default authorizer");
    free(copy);
    return rc;
}

void iotc_registry__free_auth(struct iotc_registry *r)
{
    for (size_t i = 0; i < r->credential_count; i++) {
        free(r->credentials[i].access_key_id);
        free(r->credentials[i].secret_access_key);
        free(r->credentials[i].session_token);
        free(r->credentials[i].policies.list);
    }
    free(r->credentials);
    for (size_t i = 0; i < r->authorizer_count; i++) {
        struct iotc_reg_authorizer *a = &r->authorizers[i];
        free(a->name);
        free(a->token_key_name);
        for (size_t j = 0; a->argv && a->argv[j]; j++)
            free(a->argv[j]);
        free(a->argv);
        EVP_PKEY_free(a->public_key);
    }
    free(r->authorizers);
}

const struct iotc_reg_credential *iotc_registry_find_credential(const struct iotc_registry *r,
                                                                const char *access_key_id)
{
    for (size_t i = 0; access_key_id && i < r->credential_count; i++)
        if (strcmp(r->credentials[i].access_key_id, access_key_id) == 0)
            return &r->credentials[i];
    return NULL;
}

const struct iotc_reg_authorizer *iotc_registry_find_authorizer(const struct iotc_registry *r,
                                                                const char *name)
{
    for (size_t i = 0; i < r->authorizer_count; i++) {
        const struct iotc_reg_authorizer *a = &r->authorizers[i];
        if (name ? strcmp(a->name, name) == 0 : a->is_default)
            return a;
    }
    return NULL;
}
