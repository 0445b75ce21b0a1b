/*
 * The judgement. Scope, policy and time are checked before the signature so the
 * refusal says what is actually wrong (a correctly signed request for another
 * region is "wrong region", not "signature mismatch"); the signature itself is
 * compared in constant time so the comparison leaks nothing about the expected
 * value.
 */
#include "sigv4_int.h"
#include "common/err.h"

#include <openssl/crypto.h>
#include <string.h>

#define VERIFY__MAX_ABS_TIME (1LL << 40)

static bool verify__terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static int verify__deny(iotc_errtext *why, const char *reason)
{
    iotc_sigv4__why(why, "%s", reason);
    return IOTC_ERR_DENIED;
}

static int verify__scope(const struct iotc_sigv4_parsed *p, const struct iotc_sigv4_policy *pol,
                         iotc_errtext *why)
{
    bool service_ok = false;
    for (size_t i = 0; i < pol->service_count; i++)
        if (pol->services[i] && strcmp(pol->services[i], p->service) == 0)
            service_ok = true;
    if (!service_ok) {
        iotc_sigv4__why(why, "service '%s' not accepted here", p->service);
        return IOTC_ERR_DENIED;
    }
    if (pol->region && strcmp(pol->region, p->region) != 0) {
        iotc_sigv4__why(why, "region '%s' is not this endpoint's", p->region);
        return IOTC_ERR_DENIED;
    }
    if (strncmp(p->date, p->amz_date, 8) != 0 || strlen(p->date) != 8)
        return verify__deny(why, "credential scope date does not match X-Amz-Date");
    return IOTC_OK;
}

static int verify__headers(const struct iotc_sigv4_request *rq, const struct iotc_sigv4_parsed *p,
                           iotc_errtext *why)
{
    if (!iotc_sigv4__signed_headers_valid(p->signed_headers, why))
        return IOTC_ERR_DENIED;
    if (!iotc_sigv4__signed_has(p->signed_headers, "host"))
        return verify__deny(why, "host is not signed");
    /* SigV4 asks for the date header to be signed whenever it carries the date */
    if (!p->presigned && !iotc_sigv4__signed_has(p->signed_headers, "x-amz-date"))
        return verify__deny(why, "x-amz-date is not signed");
    const char *s = p->signed_headers;
    while (*s) {
        size_t n = strcspn(s, ";");
        char name[256];
        size_t count = 0;
        if (n >= sizeof name)
            return verify__deny(why, "SignedHeaders has an empty or too long name");
        memcpy(name, s, n);
        name[n] = '\0';
        (void)iotc_sigv4__header_find(rq, name, &count);
        if (count == 0) {
            iotc_sigv4__why(why, "signed header '%s' is missing from the request", name);
            return IOTC_ERR_DENIED;
        }
        s += n;
        if (*s == ';')
            s++;
    }
    return IOTC_OK;
}

static int verify__time(const struct iotc_sigv4_parsed *p, const struct iotc_sigv4_policy *pol,
                        iotc_errtext *why)
{
    time_t t;
    long skew = pol->skew_s > 0 ? pol->skew_s : IOTC_SIGV4_DEFAULT_SKEW_S;
    time_t now = pol->now ? pol->now : time(NULL);
    if (iotc_sigv4__amz_date_parse(p->amz_date, &t) != IOTC_OK)
        return verify__deny(why, "X-Amz-Date is not YYYYMMDDTHHMMSSZ");
    /* differences in long long: time_t arithmetic near its limits must not wrap */
    long long ahead = (long long)t - (long long)now;
    if (ahead > skew)
        return verify__deny(why, "date outside the allowed clock skew");
    if (p->presigned && p->expires != -1) {
        if (p->expires < 1 || p->expires > IOTC_SIGV4_MAX_EXPIRES)
            return verify__deny(why, "X-Amz-Expires out of range");
        if (-ahead > p->expires)
            return verify__deny(why, "request expired");
        return IOTC_OK;
    }
    /* header form, and presigned URLs without X-Amz-Expires: the skew window only */
    if (-ahead > skew)
        return verify__deny(why, "date outside the allowed clock skew");
    return IOTC_OK;
}

/* A declared body hash must be the body's (UNSIGNED-PAYLOAD opts out). */
static int verify__payload(const struct iotc_sigv4_request *rq, iotc_errtext *why)
{
    size_t count = 0;
    const char *declared = iotc_sigv4__header_find(rq, "x-amz-content-sha256", &count);
    struct iotc_buf t = {0};
    char hash[IOTC_SIGV4__HEX_LEN + 1];
    int rc;
    if (count == 0)
        return IOTC_OK;
    if (count > 1)
        return verify__deny(why, "more than one x-amz-content-sha256 header");
    if ((rc = iotc_sigv4__append_trimmed(declared, &t)) || (rc = iotc_buf_u8(&t, '\0')))
        goto cleanup;
    if (strcmp((const char *)t.p, IOTC_SIGV4__UNSIGNED) == 0)
        goto cleanup;
    if ((rc = iotc_sigv4__sha256_hex(rq->body, rq->body ? rq->body_len : 0, hash)))
        goto cleanup;
    if (strcmp((const char *)t.p, hash) != 0)
        rc = verify__deny(why, "x-amz-content-sha256 does not match the body");
cleanup:
    iotc_buf_free(&t);
    return rc;
}

static int verify__signature(const struct iotc_sigv4_request *rq, const struct iotc_sigv4_parsed *p,
                             const char *secret_key, const struct iotc_sigv4_policy *pol,
                             iotc_errtext *why)
{
    struct iotc_buf creq = {0}, sts = {0};
    char expect[IOTC_SIGV4__HEX_LEN + 1];
    int rc = iotc_sigv4_canonical_request(rq, p, pol->token_in_canonical_query, &creq);
    if (rc == IOTC_ERR_MALFORMED) {
        rc = verify__deny(why, "request cannot be canonicalised (bad percent escape)");
        goto cleanup;
    }
    if (rc || (rc = iotc_sigv4_string_to_sign(p, &creq, &sts)) ||
        (rc = iotc_sigv4_signature(secret_key, p, &sts, expect)))
        goto cleanup;
    if (strlen(p->signature) != IOTC_SIGV4__HEX_LEN ||
        CRYPTO_memcmp(expect, p->signature, IOTC_SIGV4__HEX_LEN) != 0)
        rc = verify__deny(why, "signature mismatch");
    OPENSSL_cleanse(expect, sizeof expect);
cleanup:
    iotc_buf_free(&creq);
    iotc_buf_free(&sts);
    return rc;
}

int iotc_sigv4_verify(const struct iotc_sigv4_request *rq, const struct iotc_sigv4_parsed *p,
                      const char *secret_key, const struct iotc_sigv4_policy *pol,
                      iotc_errtext *why)
{
    int rc;
    if (!rq || !p || !secret_key || !pol || (pol->service_count && !pol->services))
        return IOTC_ERR_INVALID;
    /* keeps the time arithmetic far from overflow (about +-34,000 years) */
    if ((long long)pol->now > VERIFY__MAX_ABS_TIME || (long long)pol->now < -VERIFY__MAX_ABS_TIME)
        return IOTC_ERR_INVALID;
    /* a hand-built struct must still hold C strings before anything reads them */
    if (!verify__terminated(p->access_key, sizeof p->access_key) ||
        !verify__terminated(p->date, sizeof p->date) ||
        !verify__terminated(p->region, sizeof p->region) ||
        !verify__terminated(p->service, sizeof p->service) ||
        !verify__terminated(p->amz_date, sizeof p->amz_date) ||
        !verify__terminated(p->signed_headers, sizeof p->signed_headers) ||
        !verify__terminated(p->signature, sizeof p->signature))
        return IOTC_ERR_INVALID;
    iotc_sigv4__why(why, "%s", "");
    if ((rc = verify__scope(p, pol, why)) || (rc = verify__headers(rq, p, why)) ||
        (rc = verify__time(p, pol, why)) || (rc = verify__payload(rq, why)))
        return rc;
    return verify__signature(rq, p, secret_key, pol, why);
}
