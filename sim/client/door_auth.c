/* Door credentials signed and encoded (see door_auth.h). */
#include "door_auth.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/authz.h"
#include "common/err.h"
#include "client/sigv4c.h"

int iotc_door_auth_sign_token(const char *path, const char *token, char *out, size_t outlen,
                              iotc_errtext *err)
{
    EVP_PKEY *key = NULL;
    char *sig = NULL;
    int rc = IOTC_ERR_CRYPTO;
    FILE *f = fopen(path, "r");

    if (!f) {
        return iotc_errtext_set(err, IOTC_ERR_CONFIG, "cannot open the token-signing key %s", path);
    }
    key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!key || iotc_authz_sign_token(key, token, &sig) != IOTC_OK) {
        iotc_errtext_set(err, 0, "cannot sign the token with %s", path);
        goto cleanup;
    }
    if (strlen(sig) >= outlen) {
        iotc_errtext_set(err, 0, "token signature too long");
        goto cleanup;
    }
    memcpy(out, sig, strlen(sig) + 1);
    rc = IOTC_OK;
cleanup:
    free(sig);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return rc;
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
                            struct iotc_buf *headers, iotc_errtext *err)
{
    iotc_sigv4c s;
    char amz[IOTC_SIGV4C_DATE_LEN], out[4096];
    int rc;

    memset(&s, 0, sizeof(s));
    s.access_key = a->access_key;
    s.secret = a->secret;
    s.region = a->region;
    s.service = a->service;
    s.when = (r->when ? r->when : time(NULL)) + a->date_offset_s;
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
    iotc_errtext_set(err, 0, "SigV4 signing failed: %s", iotc_strerror(rc));
    return rc;
}

int iotc_door_auth_http(const iotc_door_auth *a, const iotc_door_req *r, struct iotc_buf *query,
                        struct iotc_buf *headers, iotc_errtext *err)
{
    int rc = IOTC_OK;
    if (a->kind == IOTC_DA_SIGV4)
        return door__sigv4_http(a, r, query, headers, err);
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
        iotc_errtext_set(err, 0, "custom-auth request too large");
    return rc;
}

int iotc_door_auth_username(const iotc_door_auth *a, const char *user, char *out, size_t len)
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
    if (rc == IOTC_OK &&
        snprintf(out, len, "%s%s%s", user, q.len ? "?" : "", q.len ? (char *)q.p : "") >= (int)len)
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
