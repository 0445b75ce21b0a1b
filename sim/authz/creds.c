/*
 * Custom-authorizer credentials in an MQTT username:
 *   user?x-amz-customauthorizer-name=N&x-amz-customauthorizer-signature=S&<tokenKey>=T
 * Values are percent-decoded strictly (sim/http), keeping '+' as '+' because a
 * signature is base64 and devices often forget to URL-encode it.
 */
#include "authz_int.h"
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int iotc_authz__fail(int err, iotc_errtext *why, const char *fmt, ...)
{
    if (why) {
        va_list ap;
        va_start(ap, fmt);
        iotc_errtext_vset(why, 0, fmt, ap);
        va_end(ap);
    }
    return err;
}

int iotc_authz__begin(void *out, size_t size, int have_input, iotc_errtext *why)
{
    if (!out)
        return IOTC_ERR_INVALID;
    memset(out, 0, size);
    iotc_authz__fail(IOTC_OK, why, "%s", "");
    return have_input ? IOTC_OK : IOTC_ERR_INVALID;
}

static int creds__decode(const char *s, size_t n, char **out)
{
    struct iotc_buf b = {0};
    int rc = iotc_url_decode(s, n, &b);
    if (rc == IOTC_OK && !b.p)
        rc = iotc_buf_u8(&b, 0); /* empty input: still hand back "" */
    if (rc != IOTC_OK) {
        iotc_buf_free(&b);
        return rc;
    }
    *out = (char *)b.p;
    return IOTC_OK;
}

/* Shows at most 40 bytes of a raw piece in a reason, so a long token does not
 * flood the journal and no control byte reaches it. */
static const char *creds__show(const char *s, size_t n, char buf[48])
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 40; i++)
        buf[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    buf[k] = '\0';
    return buf;
}

static int creds__add(struct iotc_authz_creds *c, const char *p, size_t n, iotc_errtext *why)
{
    char show[48];
    const char *eq = memchr(p, '=', n);
    size_t klen = eq ? (size_t)(eq - p) : n;
    if (klen == 0)
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "parameter without a name: \"%s\"",
                                creds__show(p, n, show));
    if (c->param_count == IOTC_AUTHZ_MAX_PARAMS)
        return iotc_authz__fail(IOTC_ERR_TOO_LARGE, why, "more than %u parameters",
                                IOTC_AUTHZ_MAX_PARAMS);
    if (c->param_count == 0) {
        c->params = calloc(IOTC_AUTHZ_MAX_PARAMS, sizeof *c->params);
        if (!c->params)
            return IOTC_ERR_NOMEM;
    }
    struct iotc_authz_param *prm = &c->params[c->param_count];
    int rc = creds__decode(p, klen, &prm->key);
    if (rc == IOTC_OK) {
        rc = eq ? creds__decode(eq + 1, n - klen - 1, &prm->value)
                : creds__decode("", 0, &prm->value);
        if (rc != IOTC_OK) {
            free(prm->key);
            prm->key = NULL;
            if (rc == IOTC_ERR_MALFORMED)
                return iotc_authz__fail(rc, why, "bad percent-encoding in the value of \"%s\"",
                                        creds__show(p, klen, show));
            return rc;
        }
    } else if (rc == IOTC_ERR_MALFORMED) {
        return iotc_authz__fail(rc, why, "bad percent-encoding in parameter name \"%s\"",
                                creds__show(p, klen, show));
    } else {
        return rc;
    }
    if (iotc_authz_creds_get(c, prm->key)) {
        iotc_authz__fail(IOTC_ERR_MALFORMED, why, "parameter \"%s\" is repeated",
                         creds__show(prm->key, strlen(prm->key), show));
        free(prm->key);
        free(prm->value);
        prm->key = prm->value = NULL;
        return IOTC_ERR_MALFORMED;
    }
    c->param_count++;
    return IOTC_OK;
}

int iotc_authz__parse_params(const char *q, size_t len, struct iotc_authz_creds *c,
                             iotc_errtext *why)
{
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(q + i, '&', len - i);
        size_t n = amp ? (size_t)(amp - (q + i)) : len - i;
        if (n > 0) {
            int rc = creds__add(c, q + i, n, why);
            if (rc != IOTC_OK)
                return rc;
        }
        i += n + 1;
    }
    const char *name = iotc_authz_creds_get(c, IOTC_AUTHZ_NAME_KEY);
    const char *sig = iotc_authz_creds_get(c, IOTC_AUTHZ_SIG_KEY);
    if (name && !*name)
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, IOTC_AUTHZ_NAME_KEY " is empty");
    if (sig && !*sig)
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, IOTC_AUTHZ_SIG_KEY " is empty");
    if ((name && !(c->authorizer = strdup(name))) || (sig && !(c->signature = strdup(sig))))
        return IOTC_ERR_NOMEM;
    return IOTC_OK;
}

int iotc_authz_parse_username(const char *username, size_t len, struct iotc_authz_creds *out,
                              iotc_errtext *why)
{
    int rc = iotc_authz__begin(out, sizeof *out, username || !len, why);
    if (rc != IOTC_OK)
        return rc;
    /* MQTT strings may not hold U+0000 (MQTT 3.1.1 1.5.3), and a NUL would cut
     * the C strings handed on. */
    if (len && memchr(username, '\0', len))
        return iotc_authz__fail(IOTC_ERR_MALFORMED, why, "username contains a NUL byte");
    const char *qm = len ? memchr(username, '?', len) : NULL;
    size_t ulen = qm ? (size_t)(qm - username) : len;
    struct iotc_span user = {(const uint8_t *)username, ulen};
    rc = IOTC_ERR_NOMEM;
    if (!(out->user = iotc_span_strdup(user)))
        goto cleanup;
    rc = qm ? iotc_authz__parse_params(qm + 1, len - ulen - 1, out, why) : IOTC_OK;
cleanup:
    if (rc != IOTC_OK) {
        iotc_authz_creds_free(out);
        if (rc == IOTC_ERR_NOMEM)
            iotc_authz__fail(rc, why, "out of memory");
    }
    return rc;
}

const char *iotc_authz_creds_get(const struct iotc_authz_creds *c, const char *key)
{
    if (!c || !key)
        return NULL;
    for (size_t i = 0; i < c->param_count; i++)
        if (strcmp(c->params[i].key, key) == 0)
            return c->params[i].value;
    return NULL;
}

void iotc_authz_creds_free(struct iotc_authz_creds *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->param_count; i++) {
        free(c->params[i].key);
        free(c->params[i].value);
    }
    free(c->params);
    free(c->user);
    free(c->authorizer);
    free(c->signature);
    memset(c, 0, sizeof *c);
}
