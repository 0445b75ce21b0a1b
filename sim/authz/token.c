/*
 * Token signatures for custom authorizers: RSA-SHA256 with PKCS#1 v1.5
 * padding, signature in base64, keys of at least 2048 bits (AWS refuses
 * smaller signing keys when the authorizer is created; so do we, at load).
 */
#include "authz_int.h"
#include "common/textcodec.h"
#include "common/err.h"

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why a key is unfit for token signing, or NULL if it is fine. */
static const char *token__unfit(EVP_PKEY *key, char *buf, size_t n)
{
    if (!EVP_PKEY_is_a(key, "RSA"))
        return "token signing key must be RSA";
    int bits = EVP_PKEY_get_bits(key);
    if (bits < IOTC_AUTHZ_MIN_RSA_BITS) {
        snprintf(buf, n, "token signing key is RSA-%d; at least %d bits are required", bits,
                 IOTC_AUTHZ_MIN_RSA_BITS);
        return buf;
    }
    return NULL;
}

int iotc_authz_load_pubkey(const char *pem, size_t len, EVP_PKEY **out, iotc_errtext *why)
{
    if (!pem || !out)
        return IOTC_ERR_INVALID;
    *out = NULL;
    EVP_PKEY *key = NULL;
    /* The decoder takes SubjectPublicKeyInfo ("PUBLIC KEY") and PKCS#1
     * ("RSA PUBLIC KEY") alike. */
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", NULL, NULL, EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    if (!dctx)
        return iotc_authz__fail(IOTC_ERR_CRYPTO, why, "cannot set up a PEM decoder");
    const unsigned char *p = (const unsigned char *)pem;
    size_t left = len;
    int ok = OSSL_DECODER_from_data(dctx, &p, &left);
    OSSL_DECODER_CTX_free(dctx);
    ERR_clear_error();
    if (!ok || !key)
        return iotc_authz__fail(IOTC_ERR_CONFIG, why, "not a PEM public key");
    char buf[96];
    const char *unfit = token__unfit(key, buf, sizeof buf);
    if (unfit) {
        EVP_PKEY_free(key);
        return iotc_authz__fail(IOTC_ERR_CONFIG, why, "%s", unfit);
    }
    *out = key;
    return IOTC_OK;
}

int iotc_authz_load_pubkey_file(const char *path, EVP_PKEY **out, iotc_errtext *why)
{
    if (!path || !out)
        return IOTC_ERR_INVALID;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return iotc_authz__fail(IOTC_ERR_CONFIG, why, "cannot open %s", path);
    char buf[16384]; /* an RSA-16384 public key PEM is under 3 KB */
    size_t n = fread(buf, 1, sizeof buf, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    if (more)
        return iotc_authz__fail(IOTC_ERR_CONFIG, why, "%s is too large for a public key", path);
    int rc = iotc_authz_load_pubkey(buf, n, out, why);
    if (rc != IOTC_OK && why) {
        char inner[128];
        snprintf(inner, sizeof inner, "%.127s", why->msg);
        iotc_errtext_set(why, 0, "%s: %s", path, inner);
    }
    return rc;
}

/* Strict base64 (padding required, no whitespace) into a malloc'ed buffer. */
static int token__b64decode(const char *s, unsigned char **out, size_t *outlen)
{
    size_t n = strlen(s);
    if (n == 0 || n % 4 != 0 || n > 8192)
        return IOTC_ERR_MALFORMED;
    size_t pad = (s[n - 1] == '=') + (s[n - 1] == '=' && s[n - 2] == '=');
    for (size_t i = 0; i < n - pad; i++)
        if (iotc_b64_value((unsigned char)s[i]) < 0)
            return IOTC_ERR_MALFORMED;
    unsigned char *buf = malloc(n / 4 * 3 + 1);
    if (!buf)
        return IOTC_ERR_NOMEM;
    int k = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n);
    if (k < 0 || (size_t)k < pad) {
        free(buf);
        return IOTC_ERR_MALFORMED;
    }
    *out = buf;
    *outlen = (size_t)k - pad; /* DecodeBlock counts the padding as zero bytes */
    return IOTC_OK;
}

int iotc_authz_verify_token(EVP_PKEY *key, const char *token, const char *sig_b64,
                            iotc_errtext *why)
{
    if (!key || !token || !sig_b64)
        return iotc_authz__fail(IOTC_ERR_INVALID, why, "missing key, token or signature");
    char buf[96];
    const char *unfit = token__unfit(key, buf, sizeof buf);
    if (unfit)
        return iotc_authz__fail(IOTC_ERR_INVALID, why, "%s", unfit);
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc = token__b64decode(sig_b64, &sig, &siglen);
    if (rc == IOTC_ERR_MALFORMED)
        return iotc_authz__fail(rc, why, "token signature is not base64");
    if (rc != IOTC_OK)
        return rc;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) {
        rc = IOTC_ERR_NOMEM;
        goto cleanup;
    }
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1) {
        rc = iotc_authz__fail(IOTC_ERR_CRYPTO, why, "cannot set up RSA-SHA256 verification");
        goto cleanup;
    }
    if ((size_t)EVP_PKEY_get_size(key) != siglen) {
        rc =
            iotc_authz__fail(IOTC_ERR_DENIED, why, "token signature is %zu bytes, the key needs %d",
                             siglen, EVP_PKEY_get_size(key));
        goto cleanup;
    }
    if (EVP_DigestVerify(md, sig, siglen, (const unsigned char *)token, strlen(token)) != 1) {
        rc = iotc_authz__fail(IOTC_ERR_DENIED, why, "token signature does not verify");
        goto cleanup;
    }
    rc = iotc_authz__fail(IOTC_OK, why, "%s", "");
cleanup:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    free(sig);
    return rc;
}

int iotc_authz_sign_token(EVP_PKEY *priv, const char *token, char **sig_b64)
{
    if (!priv || !token || !sig_b64)
        return IOTC_ERR_INVALID;
    *sig_b64 = NULL;
    int rc = IOTC_ERR_CRYPTO;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return IOTC_ERR_NOMEM;
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, priv) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)token, strlen(token)) != 1)
        goto cleanup;
    sig = malloc(siglen);
    char *b64 = malloc((siglen + 2) / 3 * 4 + 1);
    if (!sig || !b64) {
        free(b64);
        rc = IOTC_ERR_NOMEM;
        goto cleanup;
    }
    if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)token, strlen(token)) != 1) {
        free(b64);
        goto cleanup;
    }
    EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
    *sig_b64 = b64;
    rc = IOTC_OK;
cleanup:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    free(sig);
    return rc;
}
