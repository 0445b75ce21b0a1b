/* Door credentials: client.auth resolved, signed and encoded (see door_auth.h). */
#include "door_auth.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "client/sigv4c.h"

static void door__copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

static json_t *door__credential(const iotc_env *env, const char *access_key)
{
    size_t i;
    json_t *cr;
    json_array_foreach(json_object_get(env->registry, "credentials"), i, cr)
    {
        const char *id = json_string_value(json_object_get(cr, "access_key_id"));
        if (id && strcmp(id, access_key) == 0)
            return cr;
    }
    return NULL;
}

static int door__sigv4(const iotc_env *env, const iotc_case *c, json_t *s, iotc_door_auth *a,
                       char *err, size_t errlen)
{
    const char *ak = json_string_value(json_object_get(s, "access_key"));
    const char *secret = json_string_value(json_object_get(s, "secret"));
    const char *signer = json_string_value(json_object_get(s, "signer"));
    json_t *token = json_object_get(s, "token");
    json_t *cred;

    a->kind = IOTC_DA_SIGV4;
    if (!ak) {
        snprintf(err, errlen, "client.auth.sigv4.access_key is required");
        return IOTC_ERR_CONFIG;
    }
    cred = door__credential(env, ak);
    if (!secret && !cred) {
        snprintf(err, errlen, "access key %s is not in the registry: give client.auth.sigv4.secret",
                 ak);
        return IOTC_ERR_CONFIG;
    }
    /* An external target's file maps the tables' key names to its own keys. */
    door__copy(a->access_key, sizeof(a->access_key),
               json_is_string(json_object_get(cred, "send_as"))
                   ? json_string_value(json_object_get(cred, "send_as"))
                   : ak);
    door__copy(a->secret, sizeof(a->secret),
               secret ? secret : json_string_value(json_object_get(cred, "secret_access_key")));
    door__copy(a->region, sizeof(a->region), json_string_value(json_object_get(s, "region")));
    if (!a->region[0])
        door__copy(a->region, sizeof(a->region),
                   json_is_string(json_object_get(env->registry, "region"))
                       ? json_string_value(json_object_get(env->registry, "region"))
                       : "us-east-1");
    door__copy(a->service, sizeof(a->service), json_string_value(json_object_get(s, "service")));
    if (!a->service[0]) /* the SDKs' signing names: iotdata for publish, the gateway for WSS */
        door__copy(a->service, sizeof(a->service),
                   c->row->proto == IOTC_PROTO_WSS ? "iotdevicegateway" : "iotdata");
    if (json_is_true(token)) {
        const char *t = json_string_value(json_object_get(cred, "session_token"));
        if (!t) {
            snprintf(err, errlen, "access key %s has no session_token in the registry", ak);
            return IOTC_ERR_CONFIG;
        }
        door__copy(a->token, sizeof(a->token), t);
    } else if (json_is_string(token)) {
        door__copy(a->token, sizeof(a->token), json_string_value(token));
    }
    door__copy(a->tamper, sizeof(a->tamper), json_string_value(json_object_get(s, "tamper")));
    a->expires = json_is_integer(json_object_get(s, "expires"))
                     ? (long)json_integer_value(json_object_get(s, "expires"))
                     : 86400;
    a->date_offset_s = (long)json_integer_value(json_object_get(s, "date_offset_s"));
    /* WSS is always presigned here; HTTPS defaults to libcurl, the independent signer. */
    a->own_signer = c->row->proto == IOTC_PROTO_WSS || (signer && strcmp(signer, "own") == 0);
    if (!a->own_signer && (a->tamper[0] || a->date_offset_s)) {
        snprintf(err, errlen,
                 "tamper and date_offset_s need \"signer\": \"own\" "
                 "(libcurl signs the current time, untampered)");
        return IOTC_ERR_CONFIG;
    }
    return IOTC_OK;
}

static int door__sign_token(const iotc_env *env, const char *token, char *out, size_t outlen,
                            char *err, size_t errlen)
{
    char path[1024];
    FILE *f;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    int rc = IOTC_ERR_CRYPTO;

    if (env->signing_key)
        snprintf(path, sizeof(path), "%s", env->signing_key);
    else
        snprintf(path, sizeof(path), "%s/authorizer-signing.key", env->pki_dir);
    f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open the token-signing key %s", path);
        return IOTC_ERR_CONFIG;
    }
    key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    md = EVP_MD_CTX_new();
    if (!key || !md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)token, strlen(token)) != 1) {
        snprintf(err, errlen, "cannot sign the token with %s", path);
        goto cleanup;
    }
    if (outlen < 4 * ((siglen + 2) / 3) + 1) {
        snprintf(err, errlen, "token signature too long");
        goto cleanup;
    }
    EVP_EncodeBlock((unsigned char *)out, sig, (int)siglen);
    rc = IOTC_OK;
cleanup:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return rc;
}

static int door__custom(const iotc_env *env, json_t *s, iotc_door_auth *a, char *err, size_t errlen)
{
    json_t *sign = json_object_get(s, "sign");
    const char *token = json_string_value(json_object_get(s, "token"));
    const char *via = json_string_value(json_object_get(s, "via"));

    a->kind = IOTC_DA_CUSTOM;
    door__copy(a->authorizer, sizeof(a->authorizer),
               json_string_value(json_object_get(s, "authorizer")));
    /* External targets name their own authorizers and tokens. */
    if (env->authorizers && json_is_string(json_object_get(env->authorizers, a->authorizer)))
        door__copy(a->authorizer, sizeof(a->authorizer),
                   json_string_value(json_object_get(env->authorizers, a->authorizer)));
    if (token && env->tokens && json_is_string(json_object_get(env->tokens, token)))
        token = json_string_value(json_object_get(env->tokens, token));
    door__copy(a->token_key, sizeof(a->token_key),
               json_string_value(json_object_get(s, "token_key")));
    if (!a->token_key[0])
        door__copy(a->token_key, sizeof(a->token_key), "token");
    a->has_ctoken = token != NULL;
    door__copy(a->ctoken, sizeof(a->ctoken), token);
    a->via_query = via && strcmp(via, "query") == 0;
    if (json_is_true(sign) || json_is_string(sign)) {
        /* "bad": a well-formed signature, but over another token. */
        char other[600];
        snprintf(other, sizeof(other), "%s%s", a->ctoken, json_is_string(sign) ? "-other" : "");
        return door__sign_token(env, other, a->signature, sizeof(a->signature), err, errlen);
    }
    return IOTC_OK;
}

int iotc_door_auth_resolve(const iotc_env *env, const iotc_case *c, iotc_door_auth *a, char *err,
                           size_t errlen)
{
    return iotc_door_auth_from(env, c, json_object_get(iotc_case_client(c), "auth"), a, err,
                               errlen);
}

int iotc_door_auth_from(const iotc_env *env, const iotc_case *c, json_t *auth, iotc_door_auth *a,
                        char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    if (!auth)
        return IOTC_OK;
    if (!env->registry && json_object_get(auth, "sigv4")) {
        snprintf(err, errlen, "no registry loaded (IOTCONFORM_REGISTRY): SigV4 secrets unknown");
        return IOTC_ERR_CONFIG;
    }
    if (json_object_get(auth, "sigv4"))
        return door__sigv4(env, c, json_object_get(auth, "sigv4"), a, err, errlen);
    if (json_object_get(auth, "custom"))
        return door__custom(env, json_object_get(auth, "custom"), a, err, errlen);
    return IOTC_OK;
}

/* "k=v" with both sides percent-encoded, '&'-joined onto q. */
static int door__param(struct iotc_buf *q, const char *k, const char *v)
{
    size_t cap = 3 * (strlen(k) + strlen(v)) + 2;
    char *ek = malloc(cap), *ev = malloc(cap);
    int rc = IOTC_ERR_NOMEM;
    if (ek && ev && iotc_sigv4c_encode(k, 0, ek, cap) == IOTC_OK &&
        iotc_sigv4c_encode(v, 0, ev, cap) == IOTC_OK)
        rc = iotc_buf_printf(q, "%s%s=%s", q->len ? "&" : "", ek, ev);
    free(ek);
    free(ev);
    return rc;
}

/* Changes one hex digit of the signature in place: still well formed, now wrong. */
static void door__flip_sig(char *s)
{
    char *sig = strstr(s, "Signature=");
    if (!sig)
        return;
    sig += strlen("Signature=");
    if (*sig)
        *sig = *sig == '0' ? '1' : '0';
}

static int door__sigv4_http(const iotc_door_auth *a, const iotc_door_req *r, struct iotc_buf *query,
                            struct iotc_buf *headers, char *err, size_t errlen)
{
    iotc_sigv4c s;
    char amz[IOTC_SIGV4C_DATE_LEN], out[4096];
    int rc;

    memset(&s, 0, sizeof(s));
    s.access_key = a->access_key;
    s.secret = a->secret;
    s.region = a->region;
    s.service = a->service;
    s.when = time(NULL) + a->date_offset_s;
    s.method = r->method;
    s.path = r->path;
    s.host = r->host;
    s.params = r->params;
    s.n_params = r->n_params;
    s.body = r->body;
    s.body_len = r->body_len;
    if (r->presign) {
        rc = iotc_sigv4c_presign(&s, a->expires, out, sizeof(out));
        if (rc != IOTC_OK)
            goto fail;
        if (strcmp(a->tamper, "signature") == 0)
            door__flip_sig(out);
        if (strcmp(a->tamper, "date") == 0) {
            /* Move the sent X-Amz-Date one second: the signature covered the other. */
            char *d = strstr(out, "X-Amz-Date=");
            if (d && strlen(d) >= 11 + 15)
                d[11 + 14] = d[11 + 14] == '0' ? '1' : '0';
        }
        rc = iotc_buf_printf(query, "%s%s", query->len ? "&" : "", out);
        /* AWS IoT: the session token is appended after signing. */
        if (rc == IOTC_OK && a->token[0])
            rc = door__param(query, "X-Amz-Security-Token", a->token);
        return rc;
    }
    s.token = a->token[0] ? a->token : NULL;
    rc = iotc_sigv4c_header(&s, amz, out, sizeof(out));
    if (rc != IOTC_OK)
        goto fail;
    if (strcmp(a->tamper, "signature") == 0)
        door__flip_sig(out);
    if (strcmp(a->tamper, "date") == 0)
        amz[14] = amz[14] == '0' ? '1' : '0';
    rc = iotc_buf_printf(headers, "X-Amz-Date: %s\r\nAuthorization: %s\r\n", amz, out);
    if (rc == IOTC_OK && s.token)
        rc = iotc_buf_printf(headers, "X-Amz-Security-Token: %s\r\n", s.token);
    return rc;
fail:
    snprintf(err, errlen, "SigV4 signing failed: %s", iotc_strerror(rc));
    return rc;
}

int iotc_door_auth_http(const iotc_door_auth *a, const iotc_door_req *r, struct iotc_buf *query,
                        struct iotc_buf *headers, char *err, size_t errlen)
{
    int rc = IOTC_OK;
    if (a->kind == IOTC_DA_SIGV4)
        return door__sigv4_http(a, r, query, headers, err, errlen);
    if (a->kind != IOTC_DA_CUSTOM)
        return IOTC_OK;
    if (a->via_query) {
        if (a->authorizer[0])
            rc = door__param(query, "x-amz-customauthorizer-name", a->authorizer);
        if (rc == IOTC_OK && a->has_ctoken)
            rc = door__param(query, a->token_key, a->ctoken);
        if (rc == IOTC_OK && a->signature[0])
            rc = door__param(query, "x-amz-customauthorizer-signature", a->signature);
    } else {
        if (a->authorizer[0])
            rc = iotc_buf_printf(headers, "x-amz-customauthorizer-name: %s\r\n", a->authorizer);
        if (rc == IOTC_OK && a->has_ctoken)
            rc = iotc_buf_printf(headers, "%s: %s\r\n", a->token_key, a->ctoken);
        if (rc == IOTC_OK && a->signature[0])
            rc = iotc_buf_printf(headers, "x-amz-customauthorizer-signature: %s\r\n", a->signature);
    }
    if (rc != IOTC_OK)
        snprintf(err, errlen, "custom-auth request too large");
    return rc;
}

int iotc_door_auth_username(const iotc_door_auth *a, char *out, size_t len)
{
    struct iotc_buf q = {0};
    int rc = IOTC_OK;

    if (a->kind != IOTC_DA_CUSTOM) {
        out[0] = '\0';
        return IOTC_ERR_INVALID;
    }
    if (a->authorizer[0])
        rc = door__param(&q, "x-amz-customauthorizer-name", a->authorizer);
    if (rc == IOTC_OK && a->has_ctoken)
        rc = door__param(&q, a->token_key, a->ctoken);
    if (rc == IOTC_OK && a->signature[0])
        rc = door__param(&q, "x-amz-customauthorizer-signature", a->signature);
    if (rc == IOTC_OK && snprintf(out, len, "iotconform%s%s", q.len ? "?" : "",
                                  q.len ? (char *)q.p : "") >= (int)len)
        rc = IOTC_ERR_TOO_LARGE;
    iotc_buf_free(&q);
    return rc;
}

const char *iotc_door_auth_sent_body(const iotc_door_auth *a, const char *signed_body)
{
    if (a->kind == IOTC_DA_SIGV4 && strcmp(a->tamper, "payload") == 0)
        return "{\"tampered\":true}";
    return signed_body;
}
