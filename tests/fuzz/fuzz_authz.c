/*
 * Fuzz harness for the custom-auth parsers. The low two bits of byte 0 pick
 * the target: the MQTT username parser, the authorizer response validator,
 * or (via the HTTP reader) credentials from headers and query; the rest of
 * the input is the text. Also checks what the parsers promise: accepted
 * answers respect the documented bounds.
 */
#include "authz/authz.h"
#include "http/http.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static void fuzz__username(const uint8_t *data, size_t size)
{
    struct iotc_authz_creds c;
    iotc_errtext why = {0};
    int rc = iotc_authz_parse_username((const char *)data, size, &c, &why);
    if (rc == IOTC_OK) {
        if (!c.user || c.param_count > IOTC_AUTHZ_MAX_PARAMS)
            abort();
        for (size_t i = 0; i < c.param_count; i++)
            if (!c.params[i].key[0] || !iotc_authz_creds_get(&c, c.params[i].key))
                abort();
        if ((c.authorizer && !c.authorizer[0]) || (c.signature && !c.signature[0]))
            abort();
    } else if (c.user || c.params) {
        abort(); /* a refusal leaves nothing to free */
    }
    iotc_authz_creds_free(&c);
}

static void fuzz__response(const uint8_t *data, size_t size)
{
    struct iotc_authz_response r;
    iotc_errtext why = {0};
    if (iotc_authz_response_parse((const char *)data, size, &r, &why) == IOTC_OK) {
        if (r.policy_count > IOTC_AUTHZ_MAX_POLICIES || strlen(r.principal_id) > 128)
            abort();
        if (r.authenticated && (!r.principal_id[0] || r.disconnect_after < IOTC_AUTHZ_MIN_TTL ||
                                r.refresh_after > IOTC_AUTHZ_MAX_TTL))
            abort();
    }
    iotc_authz_response_free(&r);
}

static void fuzz__http(const uint8_t *data, size_t size)
{
    struct iotc_http_reader *rd = iotc_http_reader_new(NULL);
    if (!rd)
        return;
    size_t used = 0;
    if (iotc_http_reader_feed(rd, data, size, &used) == IOTC_OK) {
        const struct iotc_http_req *q = iotc_http_reader_request(rd);
        struct iotc_authz_creds c;
        if (iotc_authz_from_http(q, &c, NULL) == IOTC_OK) {
            (void)iotc_authz_http_token(q, &c, "x-token");
            struct iotc_authz_request ev = {
                .token = c.authorizer, .tls = true, .http = true, .req = q};
            free(iotc_authz_request_json(&ev));
        }
        iotc_authz_creds_free(&c);
    }
    iotc_http_reader_free(rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0] & 0x03;
    data++;
    size--;
    if (which == 0 || which == 3)
        fuzz__username(data, size);
    else if (which == 1)
        fuzz__response(data, size);
    else
        fuzz__http(data, size);
    return 0;
}
