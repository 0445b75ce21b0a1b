/* Sec-WebSocket-Key checks and the Sec-WebSocket-Accept digest (RFC 6455 4.2.2). */
#include "ws_int.h"
#include "common/textcodec.h"
#include "common/err.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

bool iotc_ws_key_valid(const char *key)
{
    /* 16 bytes encode to 22 symbols + "==". The last symbol carries only 2 bits
     * of data: any other bit set means a non-canonical encoding, which real
     * clients never produce and which lenient decoders read differently. */
    if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (iotc_b64_value(key[i]) < 0)
            return false;
    return (iotc_b64_value(key[21]) & 0x0F) == 0;
}

int iotc_ws_accept_key(const char *client_key, char out[IOTC_WS_ACCEPT_LEN])
{
    if (!client_key || !out)
        return IOTC_ERR_INVALID;
    size_t klen = strlen(client_key);
    if (klen > 64)
        return IOTC_ERR_INVALID;
    char cat[64 + sizeof WS_GUID];
    memcpy(cat, client_key, klen);
    memcpy(cat + klen, WS_GUID, sizeof WS_GUID - 1);
    unsigned char md[SHA_DIGEST_LENGTH];
    /* SHA-1 is what RFC 6455 prescribes here; it is a fingerprint, not security. */
    if (!SHA1((const unsigned char *)cat, klen + sizeof WS_GUID - 1, md))
        return IOTC_ERR_CRYPTO;
    if (EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH) != IOTC_WS_ACCEPT_LEN - 1)
        return IOTC_ERR_CRYPTO;
    return IOTC_OK;
}
