/* Client-side SigV4 (see sigv4c.h for why it does not reuse sim/sigv4). */
#include "sigv4c.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"

#define SC__ALGO "AWS4-HMAC-SHA256"
/* sha256("") : a presigned GET has no payload to hash. */
#define SC__EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct sc_pair {
    char *k; /* encoded */
    char *v;
} sc_pair;

int iotc_sigv4c_encode(const char *in, int keep_slash, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    if (!in || !out || outlen == 0)
        return IOTC_ERR_INVALID;
    for (; *in; in++) {
        unsigned char ch = (unsigned char)*in;
        int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
                    (keep_slash && ch == '/');
        if (o + (plain ? 1 : 3) >= outlen) {
            out[0] = '\0';
            return IOTC_ERR_TOO_LARGE;
        }
        if (plain) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
    return IOTC_OK;
}

static char *sigv4c__encode_dup(const char *in, int keep_slash)
{
    size_t cap = strlen(in) * 3 + 1;
    char *out = malloc(cap);
    if (out && iotc_sigv4c_encode(in, keep_slash, out, cap) != IOTC_OK) {
        free(out);
        return NULL;
    }
    return out;
}

static int sigv4c__hmac(const void *key, size_t klen, const void *msg, size_t mlen,
                        unsigned char out[32])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    size_t outl = 0;
    int rc = IOTC_ERR_CRYPTO;

    if (!mac)
        goto cleanup;
    ctx = EVP_MAC_CTX_new(mac);
    if (!ctx || EVP_MAC_init(ctx, key, klen, params) != 1 || EVP_MAC_update(ctx, msg, mlen) != 1 ||
        EVP_MAC_final(ctx, out, &outl, 32) != 1 || outl != 32)
        goto cleanup;
    rc = IOTC_OK;
cleanup:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

static void sigv4c__hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int sigv4c__sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return IOTC_ERR_CRYPTO;
    sigv4c__hex(md, 32, out);
    return IOTC_OK;
}

static void sigv4c__dates(time_t when, char amz[IOTC_SIGV4C_DATE_LEN], char day[9])
{
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(amz, IOTC_SIGV4C_DATE_LEN, "%Y%m%dT%H%M%SZ", &tm);
    memcpy(day, amz, 8);
    day[8] = '\0';
}

static int sigv4c__pair_cmp(const void *a, const void *b)
{
    const sc_pair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

/* Sorted, encoded "k=v&k=v" of params plus extra. */
static int sigv4c__query(const iotc_sigv4c_param *params, size_t n, const iotc_sigv4c_param *extra,
                         size_t n_extra, struct iotc_buf *out)
{
    sc_pair pairs[2 * IOTC_SIGV4C_MAX_PARAMS];
    size_t count = 0;
    int rc = IOTC_ERR_NOMEM;

    if (n > IOTC_SIGV4C_MAX_PARAMS || n_extra > IOTC_SIGV4C_MAX_PARAMS)
        return IOTC_ERR_TOO_LARGE;
    memset(pairs, 0, sizeof(pairs));
    for (size_t i = 0; i < n + n_extra; i++) {
        const iotc_sigv4c_param *p = i < n ? &params[i] : &extra[i - n];
        pairs[count].k = sigv4c__encode_dup(p->key ? p->key : "", 0);
        pairs[count].v = sigv4c__encode_dup(p->value ? p->value : "", 0);
        count++;
        if (!pairs[count - 1].k || !pairs[count - 1].v)
            goto cleanup;
    }
    qsort(pairs, count, sizeof(pairs[0]), sigv4c__pair_cmp);
    for (size_t i = 0; i < count; i++)
        if (iotc_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].k, pairs[i].v) != IOTC_OK)
            goto cleanup;
    if (iotc_buf_reserve(out, 1) != IOTC_OK)
        goto cleanup;
    out->p[out->len] = '\0';
    rc = IOTC_OK;
cleanup:
    for (size_t i = 0; i < count; i++) {
        free(pairs[i].k);
        free(pairs[i].v);
    }
    return rc;
}

/* HMAC chain over the scope, then over the string to sign: hex signature. */
static int sigv4c__sign(const iotc_sigv4c *s, const char *amz, const char *day, const char *scope,
                        const struct iotc_buf *creq, char sig[65])
{
    struct iotc_buf key = {0}, sts = {0};
    unsigned char k[32];
    char creq_hash[65];
    const char *parts[4] = {day, s->region, s->service, "aws4_request"};
    int rc = IOTC_ERR_NOMEM;

    if (iotc_buf_printf(&key, "AWS4%s", s->secret) != IOTC_OK)
        goto cleanup;
    rc = sigv4c__hmac(key.p, key.len, parts[0], strlen(parts[0]), k);
    for (int i = 1; i < 4 && rc == IOTC_OK; i++)
        rc = sigv4c__hmac(k, sizeof(k), parts[i], strlen(parts[i]), k);
    if (rc == IOTC_OK)
        rc = sigv4c__sha256_hex(creq->p, creq->len, creq_hash);
    if (rc != IOTC_OK)
        goto cleanup;
    rc = iotc_buf_printf(&sts, SC__ALGO "\n%s\n%s\n%s", amz, scope, creq_hash);
    if (rc == IOTC_OK)
        rc = sigv4c__hmac(k, sizeof(k), sts.p, sts.len, k);
    if (rc == IOTC_OK)
        sigv4c__hex(k, sizeof(k), sig);
cleanup:
    if (key.p)
        OPENSSL_cleanse(key.p, key.len);
    iotc_buf_free(&key);
    iotc_buf_free(&sts);
    return rc;
}

static int sigv4c__check(const iotc_sigv4c *s)
{
    if (!s || !s->access_key || !s->secret || !s->region || !s->service || !s->method || !s->path ||
        !s->host || (s->n_params && !s->params))
        return IOTC_ERR_INVALID;
    return IOTC_OK;
}

int iotc_sigv4c_header(const iotc_sigv4c *s, char amz_date[IOTC_SIGV4C_DATE_LEN], char *auth,
                       size_t authlen)
{
    struct iotc_buf q = {0}, creq = {0};
    char day[9], scope[256], body_hash[65], sig[65], *uri = NULL;
    const char *signed_headers =
        s && s->token ? "host;x-amz-date;x-amz-security-token" : "host;x-amz-date";
    int rc = sigv4c__check(s);

    if (rc != IOTC_OK)
        return rc;
    sigv4c__dates(s->when, amz_date, day);
    snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", day, s->region, s->service);
    rc = IOTC_ERR_NOMEM;
    uri = sigv4c__encode_dup(s->path, 1);
    if (!uri || sigv4c__query(s->params, s->n_params, NULL, 0, &q) != IOTC_OK)
        goto cleanup;
    rc = sigv4c__sha256_hex(s->body ? s->body : "", s->body ? s->body_len : 0, body_hash);
    if (rc != IOTC_OK)
        goto cleanup;
    rc = iotc_buf_printf(&creq, "%s\n%s\n%s\nhost:%s\nx-amz-date:%s\n", s->method, uri,
                         q.p ? (char *)q.p : "", s->host, amz_date);
    if (rc == IOTC_OK && s->token)
        rc = iotc_buf_printf(&creq, "x-amz-security-token:%s\n", s->token);
    if (rc == IOTC_OK)
        rc = iotc_buf_printf(&creq, "\n%s\n%s", signed_headers, body_hash);
    if (rc == IOTC_OK)
        rc = sigv4c__sign(s, amz_date, day, scope, &creq, sig);
    if (rc != IOTC_OK)
        goto cleanup;
    if (snprintf(auth, authlen, SC__ALGO " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                 s->access_key, scope, signed_headers, sig) >= (int)authlen)
        rc = IOTC_ERR_TOO_LARGE;
cleanup:
    free(uri);
    iotc_buf_free(&q);
    iotc_buf_free(&creq);
    return rc;
}

int iotc_sigv4c_presign(const iotc_sigv4c *s, long expires, char *query, size_t qlen)
{
    struct iotc_buf q = {0}, creq = {0};
    char amz[IOTC_SIGV4C_DATE_LEN], day[9], scope[256], cred[512], exp[32], sig[65];
    char *uri = NULL;
    iotc_sigv4c_param extra[5];
    size_t n_extra = 0;
    int rc = sigv4c__check(s);

    if (rc != IOTC_OK)
        return rc;
    sigv4c__dates(s->when, amz, day);
    snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", day, s->region, s->service);
    if (snprintf(cred, sizeof(cred), "%s/%s", s->access_key, scope) >= (int)sizeof(cred))
        return IOTC_ERR_TOO_LARGE;
    snprintf(exp, sizeof(exp), "%ld", expires);
    extra[n_extra++] = (iotc_sigv4c_param){"X-Amz-Algorithm", SC__ALGO};
    extra[n_extra++] = (iotc_sigv4c_param){"X-Amz-Credential", cred};
    extra[n_extra++] = (iotc_sigv4c_param){"X-Amz-Date", amz};
    if (expires > 0)
        extra[n_extra++] = (iotc_sigv4c_param){"X-Amz-Expires", exp};
    extra[n_extra++] = (iotc_sigv4c_param){"X-Amz-SignedHeaders", "host"};
    rc = IOTC_ERR_NOMEM;
    uri = sigv4c__encode_dup(s->path, 1);
    if (!uri || sigv4c__query(s->params, s->n_params, extra, n_extra, &q) != IOTC_OK)
        goto cleanup;
    rc = iotc_buf_printf(&creq, "%s\n%s\n%s\nhost:%s\n\nhost\n" SC__EMPTY_SHA256, s->method, uri,
                         (char *)q.p, s->host);
    if (rc == IOTC_OK)
        rc = sigv4c__sign(s, amz, day, scope, &creq, sig);
    if (rc != IOTC_OK)
        goto cleanup;
    if (snprintf(query, qlen, "%s&X-Amz-Signature=%s", (char *)q.p, sig) >= (int)qlen)
        rc = IOTC_ERR_TOO_LARGE;
cleanup:
    free(uri);
    iotc_buf_free(&q);
    iotc_buf_free(&creq);
    return rc;
}
