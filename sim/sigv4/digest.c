/* SHA-256 in hex (OpenSSL EVP_Digest) and the payload hash line of the canonical request. */
#include "sigv4_int.h"
#include "common/err.h"

#include <openssl/evp.h>
#include <string.h>

int iotc_sigv4__sha256_hex(const void *p, size_t n, char hex[IOTC_SIGV4__HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const unsigned char empty[1] = {0};
    if (!EVP_Digest(n ? p : empty, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return IOTC_ERR_CRYPTO;
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[IOTC_SIGV4__HEX_LEN] = '\0';
    return IOTC_OK;
}

/*
 * The body is always hashed as received; a client-supplied x-amz-content-sha256
 * only matters when it opts out with UNSIGNED-PAYLOAD (a hash that disagrees
 * with the body is caught by iotc_sigv4_verify, never trusted here).
 */
int iotc_sigv4__payload_hash(const struct iotc_sigv4_request *rq, char out[IOTC_SIGV4__HEX_LEN + 1])
{
    size_t count = 0;
    const char *declared = iotc_sigv4__header_find(rq, "x-amz-content-sha256", &count);
    if (count == 1) {
        struct iotc_buf t = {0};
        int rc = iotc_sigv4__append_trimmed(declared, &t);
        bool unsigned_payload = rc == IOTC_OK && t.len == strlen(IOTC_SIGV4__UNSIGNED) &&
                                memcmp(t.p, IOTC_SIGV4__UNSIGNED, t.len) == 0;
        iotc_buf_free(&t);
        if (rc)
            return rc;
        if (unsigned_payload) {
            memcpy(out, IOTC_SIGV4__UNSIGNED, sizeof IOTC_SIGV4__UNSIGNED);
            return IOTC_OK;
        }
    }
    return iotc_sigv4__sha256_hex(rq->body, rq->body ? rq->body_len : 0, out);
}
