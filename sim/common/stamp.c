#include "stamp.h"
#include "err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>

int iotc_stamp_make(const uint8_t *secret, size_t secret_len, const char *client_id,
                    size_t client_id_len, const char *principal, size_t principal_len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    int rc = IOTC_ERR_CRYPTO;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    if (!ctx)
        goto cleanup;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t outl = 0;
    if (!EVP_MAC_init(ctx, secret, secret_len, params) ||
        !EVP_MAC_update(ctx, (const uint8_t *)client_id, client_id_len) ||
        !EVP_MAC_update(ctx, (const uint8_t *)"\n", 1) ||
        !EVP_MAC_update(ctx, (const uint8_t *)principal, principal_len) ||
        !EVP_MAC_final(ctx, mac, &outl, sizeof mac) || outl != 32)
        goto cleanup;
    mac_len = (unsigned)outl;
    memcpy(out, "v1:", 3);
    for (unsigned i = 0; i < mac_len; i++) {
        out[3 + 2 * i] = hex[mac[i] >> 4];
        out[3 + 2 * i + 1] = hex[mac[i] & 15];
    }
    out[IOTC_STAMP_LEN] = '\0';
    rc = IOTC_OK;
cleanup:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return rc;
}

int iotc_stamp_check(const uint8_t *secret, size_t secret_len, const char *client_id,
                     size_t client_id_len, const char *principal, size_t principal_len,
                     const char *stamp, size_t stamp_len)
{
    char want[IOTC_STAMP_LEN + 1];
    if (!stamp || stamp_len != IOTC_STAMP_LEN)
        return IOTC_ERR_DENIED;
    if (iotc_stamp_make(secret, secret_len, client_id, client_id_len, principal, principal_len,
                        want) != IOTC_OK)
        return IOTC_ERR_DENIED;
    return CRYPTO_memcmp(want, stamp, IOTC_STAMP_LEN) == 0 ? IOTC_OK : IOTC_ERR_DENIED;
}

int iotc_stamp_load_secret(const char *path, uint8_t *secret)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return IOTC_ERR_NOT_FOUND;
    size_t n = fread(secret, 1, IOTC_STAMP_SECRET_LEN, f);
    int extra = fgetc(f);
    fclose(f);
    return (n == IOTC_STAMP_SECRET_LEN && extra == EOF) ? IOTC_OK : IOTC_ERR_CONFIG;
}
