/*
 * Server side of the opening handshake (RFC 6455 section 4.2): checks the
 * upgrade request the front door parsed and writes the 101 answer, or the
 * error answer a browser-grade client expects (426 tells it what to retry with).
 */
#include "ws_int.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>

struct ws__verdict {
    int err;
    int status;
    const char *msg;
    const char *extra; /* header lines for the error response, or NULL */
};

/*
 * The MQTT subprotocol names AWS IoT Core answers to: "mqtt" (RFC-registered,
 * every current AWS SDK) and "mqttv3.1" (the v1 aws-iot-device-sdk for
 * JavaScript, through mqtt.js's websocket options). Compared exactly: they are
 * tokens (RFC 6455 4.1), not case-insensitive keywords.
 */
static const char *const ws__subprotocols[] = {"mqtt", "mqttv3.1"};

/*
 * The first name the client offers (header lines in order, then list elements
 * in order: RFC 6455 4.1 makes that its preference order) that is ours, or
 * NULL. The answer must echo exactly one of the offered names (RFC 6455 4.2.2).
 */
static const char *ws__pick_subprotocol(const struct iotc_http_req *req)
{
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcmp(req->headers[i].name, "sec-websocket-protocol") != 0)
            continue;
        const char *p = req->headers[i].value;
        while (p && *p) {
            size_t n = strcspn(p, ",");
            char one[32];
            if (n < sizeof one) {
                memcpy(one, p, n);
                one[n] = '\0';
                for (size_t k = 0; k < sizeof ws__subprotocols / sizeof ws__subprotocols[0]; k++)
                    if (iotc_ws__list_has(one, ws__subprotocols[k], true))
                        return ws__subprotocols[k];
            }
            p += n;
            if (*p == ',')
                p++;
        }
    }
    return NULL;
}

/* True if any header line called name holds token in its list value. */
static bool ws__headers_have(const struct iotc_http_req *req, const char *name, const char *token,
                             bool exact)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcmp(req->headers[i].name, name) == 0 &&
            iotc_ws__list_has(req->headers[i].value, token, exact))
            return true;
    return false;
}

static struct ws__verdict ws__check(const struct iotc_http_req *req)
{
    if (strcmp(req->method, "GET") != 0)
        return (struct ws__verdict){IOTC_ERR_MALFORMED, 405, "WebSocket upgrade must use GET",
                                    "Allow: GET\r\n"};
    if (req->http_major != 1 || req->http_minor < 1)
        return (struct ws__verdict){IOTC_ERR_MALFORMED, 400, "WebSocket upgrade needs HTTP/1.1",
                                    NULL};
    if (iotc_http_header_count(req, "host") != 1)
        return (struct ws__verdict){IOTC_ERR_MALFORMED, 400, "exactly one Host header is required",
                                    NULL};
    if (!ws__headers_have(req, "upgrade", "websocket", false))
        return (struct ws__verdict){IOTC_ERR_MALFORMED, 426, "Upgrade: websocket is required",
                                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"};
    if (!ws__headers_have(req, "connection", "upgrade", false))
        return (struct ws__verdict){IOTC_ERR_MALFORMED, 400, "Connection must contain Upgrade",
                                    NULL};
    size_t nver = iotc_http_header_count(req, "sec-websocket-version");
    if (nver == 0)
        return (struct ws__verdict){IOTC_ERR_MALFORMED, 400, "Sec-WebSocket-Version is missing",
                                    NULL};
    const char *ver = iotc_http_header_get(req, "sec-websocket-version");
    if (nver != 1 || strcmp(ver, "13") != 0)
        return (struct ws__verdict){IOTC_ERR_DENIED, 426,
                                    "only Sec-WebSocket-Version 13 is supported",
                                    "Sec-WebSocket-Version: 13\r\n"};
    size_t nkey = iotc_http_header_count(req, "sec-websocket-key");
    if (nkey == 0)
        return (struct ws__verdict){IOTC_ERR_MALFORMED, 400, "Sec-WebSocket-Key is missing", NULL};
    if (nkey != 1)
        return (struct ws__verdict){IOTC_ERR_MALFORMED, 400, "Sec-WebSocket-Key is repeated", NULL};
    if (!iotc_ws_key_valid(iotc_http_header_get(req, "sec-websocket-key")))
        return (struct ws__verdict){IOTC_ERR_MALFORMED, 400,
                                    "Sec-WebSocket-Key is not base64 of 16 bytes", NULL};
    /* No offer, or none of ours: refused (README, table of choices: AWS does not
     * document a subprotocol-less MQTT over WebSocket, and every AWS SDK offers one). */
    if (!ws__pick_subprotocol(req))
        return (struct ws__verdict){IOTC_ERR_DENIED, 400,
                                    "Sec-WebSocket-Protocol must offer \"mqtt\" or \"mqttv3.1\"",
                                    NULL};
    return (struct ws__verdict){IOTC_OK, 101, "", NULL};
}

int iotc_ws_accept(const struct iotc_http_req *req, struct iotc_buf *out, int *status,
                   iotc_errtext *why)
{
    if (!req || !out || !status)
        return IOTC_ERR_INVALID;
    struct ws__verdict v = ws__check(req);
    *status = v.status;
    iotc_ws__fail(0, why, v.msg);
    if (v.err != IOTC_OK) {
        int rc =
            iotc_http_response(out, v.status, "text/plain", v.msg, strlen(v.msg), false, v.extra);
        return rc != IOTC_OK ? rc : v.err;
    }
    char accept[IOTC_WS_ACCEPT_LEN];
    int rc = iotc_ws_accept_key(iotc_http_header_get(req, "sec-websocket-key"), accept);
    if (rc != IOTC_OK)
        return iotc_ws__fail(rc, why, "cannot compute Sec-WebSocket-Accept");
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: %s\r\n"
                     "\r\n",
                     accept, ws__pick_subprotocol(req));
    if (n < 0 || (size_t)n >= sizeof head)
        return IOTC_ERR_INVALID;
    return iotc_buf_append(out, head, (size_t)n);
}
