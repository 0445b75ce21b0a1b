/*
 * Fuzz harness for the SigV4 verifier. The input is split on '\n' into fields:
 *   0 flags   1 Authorization   2 query   3 path   4 X-Amz-Date   5 extra header
 *   "name:value"   6 SignedHeaders for a hand-built claim   7.. body (the rest)
 * A field may be absent. The request goes through parse (header form, presigned
 * form, or neither), then canonicalisation with both token modes, the string to
 * sign, the signature and verify; a hand-built claim with an arbitrary
 * SignedHeaders drives canonicalisation even when parse refuses the request.
 */
#include "sigv4/sigv4.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

#define FIELDS 8

static void fuzz__check_why(const iotc_errtext *why)
{
    if (!memchr(why->msg, '\0', sizeof why->msg))
        abort(); /* the reason must always be a C string */
}

static void fuzz__canonical(const struct iotc_sigv4_request *rq, const struct iotc_sigv4_parsed *p)
{
    for (int token_in = 0; token_in < 2; token_in++) {
        struct iotc_buf creq = {0}, sts = {0};
        char hex[65];
        if (iotc_sigv4_canonical_request(rq, p, token_in, &creq) == IOTC_OK &&
            iotc_sigv4_string_to_sign(p, &creq, &sts) == IOTC_OK &&
            iotc_sigv4_signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", p, &sts, hex) ==
                IOTC_OK) {
            if (strlen(hex) != 64)
                abort();
        }
        iotc_buf_free(&creq);
        iotc_buf_free(&sts);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* NUL-terminated copies of the fields: the API takes C strings */
    char *copy = malloc(size + 1);
    char *field[FIELDS] = {0};
    const uint8_t *body = NULL;
    size_t body_len = 0;
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *p = copy;
    for (int i = 0; i < FIELDS - 1 && p; i++) {
        field[i] = p;
        char *nl = memchr(p, '\n', size - (size_t)(p - copy));
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = NULL;
        }
    }
    if (p) {
        body = (const uint8_t *)p;
        body_len = size - (size_t)(p - copy);
    }
    unsigned flags = field[0] && field[0][0] ? (unsigned char)field[0][0] : 0;

    struct iotc_sigv4_header h[5];
    size_t n = 0;
    h[n++] = (struct iotc_sigv4_header){"Host", "example.amazonaws.com"};
    if (field[1] && (flags & 1))
        h[n++] = (struct iotc_sigv4_header){"Authorization", field[1]};
    if (field[4] && (flags & 2))
        h[n++] = (struct iotc_sigv4_header){"X-Amz-Date", field[4]};
    char *colon = field[5] ? strchr(field[5], ':') : NULL;
    if (colon) {
        *colon = '\0';
        h[n++] = (struct iotc_sigv4_header){field[5], colon + 1};
        if (flags & 4) /* a repeat, so joining is exercised */
            h[n++] = (struct iotc_sigv4_header){field[5], colon + 1};
    }
    struct iotc_sigv4_request rq = {(flags & 8) ? "POST" : "GET",
                                    field[3],
                                    (flags & 16) ? field[2] : NULL,
                                    h,
                                    n,
                                    body,
                                    body_len,
                                    (flags & 32) != 0};

    iotc_errtext why = {0};
    struct iotc_sigv4_parsed claim;
    int rc = iotc_sigv4_parse(&rq, &claim, &why);
    fuzz__check_why(&why);
    if (rc == IOTC_OK) {
        static const char *const services[] = {"iotdata", "iotdevicegateway", "service"};
        struct iotc_sigv4_policy pol = {
            services,          3, (flags & 64) ? NULL : "us-east-1", 300, (flags & 128) != 0,
            (time_t)1440938160};
        fuzz__canonical(&rq, &claim);
        rc = iotc_sigv4_verify(&rq, &claim, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &pol, &why);
        fuzz__check_why(&why);
        if (rc != IOTC_OK && rc != IOTC_ERR_DENIED)
            abort(); /* nothing else may come out of a parsed claim */
        iotc_sigv4_parsed_free(&claim);
    } else if (claim.security_token) {
        abort(); /* a refused parse leaks nothing */
    }

    /* A claim built by hand: canonicalisation must cope with any SignedHeaders. */
    struct iotc_sigv4_parsed hand = {.expires = -1, .presigned = (flags & 16) != 0};
    memcpy(hand.date, "20150830", 9);
    memcpy(hand.amz_date, "20150830T123600Z", 17);
    memcpy(hand.region, "us-east-1", 10);
    memcpy(hand.service, "service", 8);
    if (field[6]) {
        size_t l = strlen(field[6]);
        if (l >= sizeof hand.signed_headers)
            l = sizeof hand.signed_headers - 1;
        memcpy(hand.signed_headers, field[6], l);
    }
    fuzz__canonical(&rq, &hand);
    free(copy);
    return 0;
}
