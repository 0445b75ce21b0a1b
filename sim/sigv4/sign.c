/*
 * String to sign and the signature: HMAC-SHA256 chained over the scope
 * (kDate, kRegion, kService, kSigning) with OpenSSL 3 EVP_MAC. The derived keys
 * are secrets of the same weight as the secret key, so they are wiped.
 */
#include "sigv4_int.h"
#include "common/err.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

#define SIGN__MAC_LEN 32

/* One HMAC-SHA256 with a fresh key on an existing context. */
static int sign__hmac(EVP_MAC_CTX *ctx, const unsigned char *key, size_t keylen, const void *data,
                      size_t n, unsigned char out[SIGN__MAC_LEN])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    size_t outlen = 0;
    if (!EVP_MAC_init(ctx, key, keylen, params) || !EVP_MAC_update(ctx, data, n) ||
        !EVP_MAC_final(ctx, out, &outlen, SIGN__MAC_LEN) || outlen != SIGN__MAC_LEN)
        return IOTC_ERR_CRYPTO;
    return IOTC_OK;
}

int iotc_sigv4_string_to_sign(const struct iotc_sigv4_parsed *p,
                              const struct iotc_buf *canonical_request, struct iotc_buf *out)
{
    char hash[IOTC_SIGV4__HEX_LEN + 1];
    int rc;
    if (!p || !canonical_request || !out)
        return IOTC_ERR_INVALID;
    if ((rc = iotc_sigv4__sha256_hex(canonical_request->p, canonical_request->len, hash)))
        return rc;
    /* each field bounded by its array: a hand-built struct need not be terminated */
    const struct {
        const char *s;
        size_t max;
    } parts[] = {{IOTC_SIGV4__ALGORITHM "\n", 32},
                 {p->amz_date, sizeof p->amz_date},
                 {"\n", 1},
                 {p->date, sizeof p->date},
                 {"/", 1},
                 {p->region, sizeof p->region},
                 {"/", 1},
                 {p->service, sizeof p->service},
                 {"/" IOTC_SIGV4__TERMINATOR "\n", 32},
                 {hash, sizeof hash}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if ((rc = iotc_buf_append(out, parts[i].s, strnlen(parts[i].s, parts[i].max))))
            return rc;
    return IOTC_OK;
}

int iotc_sigv4_signature(const char *secret_key, const struct iotc_sigv4_parsed *p,
                         const struct iotc_buf *string_to_sign, char hex_out[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char ksecret[4 + 256];
    unsigned char k[SIGN__MAC_LEN], k2[SIGN__MAC_LEN], sig[SIGN__MAC_LEN];
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    int rc = IOTC_ERR_CRYPTO;
    if (!secret_key || !p || !string_to_sign || !hex_out)
        return IOTC_ERR_INVALID;
    size_t slen = strlen(secret_key);
    if (slen > sizeof ksecret - 4)
        return IOTC_ERR_INVALID;
    memcpy(ksecret, "AWS4", 4);
    memcpy(ksecret + 4, secret_key, slen);

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    if (!ctx)
        goto cleanup;
    if ((rc = sign__hmac(ctx, ksecret, 4 + slen, p->date, strnlen(p->date, sizeof p->date), k)) ||
        (rc = sign__hmac(ctx, k, sizeof k, p->region, strnlen(p->region, sizeof p->region), k2)) ||
        (rc = sign__hmac(ctx, k2, sizeof k2, p->service, strnlen(p->service, sizeof p->service),
                         k)) ||
        (rc = sign__hmac(ctx, k, sizeof k, IOTC_SIGV4__TERMINATOR, strlen(IOTC_SIGV4__TERMINATOR), k2)) ||
        (rc = sign__hmac(ctx, k2, sizeof k2, string_to_sign->p, string_to_sign->len, sig)))
        goto cleanup;
    for (size_t i = 0; i < SIGN__MAC_LEN; i++) {
        hex_out[2 * i] = digits[sig[i] >> 4];
        hex_out[2 * i + 1] = digits[sig[i] & 15];
    }
    hex_out[IOTC_SIGV4__HEX_LEN] = '\0';
    rc = IOTC_OK;
cleanup:
    OPENSSL_cleanse(ksecret, sizeof ksecret);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(k2, sizeof k2);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}
