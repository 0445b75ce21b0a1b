/*
 * Client side of the opening handshake (RFC 6455 section 4.1), for the
 * simulated fleet and the tests: builds the upgrade request and checks the
 * server's answer. The answer is parsed here rather than by sim/http, whose
 * reader only knows requests; a response head is a few lines, read strictly.
 */
#include "ws_int.h"
#include "common/err.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdio.h>
#include <string.h>

/* No CR, LF or NUL that could smuggle a header line; no space in a target. */
static bool ws__clean(const char *s, bool allow_space)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || (!allow_space && (*s == ' ' || *s == '\t')))
            return false;
    return true;
}

int iotc_ws_client_request(struct iotc_buf *out, const char *host, const char *path_and_query,
                           const char *extra_headers, char key_out[IOTC_WS_KEY_LEN])
{
    if (!out || !host || !path_and_query || !key_out || !*host || path_and_query[0] != '/' ||
        !ws__clean(host, false) || !ws__clean(path_and_query, false))
        return IOTC_ERR_INVALID;
    size_t xlen = extra_headers ? strlen(extra_headers) : 0;
    if (xlen && (xlen < 2 || strcmp(extra_headers + xlen - 2, "\r\n") != 0))
        return IOTC_ERR_INVALID;
    unsigned char nonce[16];
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        return IOTC_ERR_CRYPTO;
    EVP_EncodeBlock((unsigned char *)key_out, nonce, sizeof nonce);
    size_t start = out->len;
    const char *parts[] = {"GET ",
                           path_and_query,
                           " HTTP/1.1\r\nHost: ",
                           host,
                           "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ",
                           key_out,
                           "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n",
                           extra_headers ? extra_headers : "",
                           "\r\n"};
    int rc = IOTC_OK;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && rc == IOTC_OK; i++)
        rc = iotc_buf_append(out, parts[i], strlen(parts[i]));
    if (rc != IOTC_OK)
        out->len = start;
    return rc;
}

struct ws__resp {
    int status;
    bool upgrade, connection, protocol, extensions;
    int accept; /* 0 missing, 1 matches, -1 wrong or repeated */
};

/* One "name: value" line (no CRLF). */
static int ws__resp_header(struct ws__resp *r, const char *line, size_t len, const char *expect)
{
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
        return IOTC_ERR_MALFORMED;
    size_t nlen = (size_t)(colon - line);
    for (size_t i = 0; i < nlen; i++)
        if (line[i] == ' ' || line[i] == '\t')
            return IOTC_ERR_MALFORMED; /* RFC 7230 3.2.4: no space before the colon */
    const char *v = colon + 1, *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    char value[512];
    size_t vlen = (size_t)(e - v);
    if (vlen >= sizeof value)
        return IOTC_ERR_TOO_LARGE;
    memcpy(value, v, vlen);
    value[vlen] = '\0';
    if (iotc_ws__ieq(line, nlen, "upgrade"))
        r->upgrade = r->upgrade || iotc_ws__list_has(value, "websocket", false);
    else if (iotc_ws__ieq(line, nlen, "connection"))
        r->connection = r->connection || iotc_ws__list_has(value, "upgrade", false);
    else if (iotc_ws__ieq(line, nlen, "sec-websocket-protocol"))
        r->protocol = strcmp(value, "mqtt") == 0 && !r->protocol;
    else if (iotc_ws__ieq(line, nlen, "sec-websocket-extensions"))
        r->extensions = true;
    else if (iotc_ws__ieq(line, nlen, "sec-websocket-accept"))
        r->accept = (r->accept == 0 && strcmp(value, expect) == 0) ? 1 : -1;
    return IOTC_OK;
}

static int ws__resp_status(struct ws__resp *r, const char *line, size_t len)
{
    /* "HTTP/1.1 101 Switching Protocols": the reason phrase is free text. */
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ' || (len > 12 && line[12] != ' '))
        return IOTC_ERR_MALFORMED;
    r->status = 0;
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return IOTC_ERR_MALFORMED;
        r->status = r->status * 10 + (line[i] - '0');
    }
    if (r->status < 100)
        return IOTC_ERR_MALFORMED;
    return IOTC_OK;
}

static const char *ws__find_end(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (data[i] == '\r' && data[i + 1] == '\n' && data[i + 2] == '\r' && data[i + 3] == '\n')
            return (const char *)data + i;
    return NULL;
}

int iotc_ws_client_response(const uint8_t *data, size_t len, const char *key, size_t *consumed,
                            int *status, iotc_errtext *why)
{
    if ((!data && len) || !key || !consumed || !status)
        return IOTC_ERR_INVALID;
    *consumed = 0;
    *status = 0;
    size_t scan = len < IOTC_WS_MAX_RESPONSE_HEAD ? len : IOTC_WS_MAX_RESPONSE_HEAD;
    const char *end = ws__find_end(data, scan);
    if (!end)
        return len >= IOTC_WS_MAX_RESPONSE_HEAD
                   ? iotc_ws__fail(IOTC_ERR_TOO_LARGE, why, "response head too large")
                   : IOTC_ERR_AGAIN;
    char expect[IOTC_WS_ACCEPT_LEN];
    int rc = iotc_ws_accept_key(key, expect);
    if (rc != IOTC_OK)
        return iotc_ws__fail(rc, why, "bad client key");

    struct ws__resp r = {0};
    const char *p = (const char *)data;
    bool first = true;
    while (p < end) {
        const char *eol = p;
        while (eol < end && !(eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        size_t llen = (size_t)(eol - p);
        if (memchr(p, '\0', llen) || memchr(p, '\n', llen) || memchr(p, '\r', llen))
            return iotc_ws__fail(IOTC_ERR_MALFORMED, why, "stray control byte in head");
        rc = first ? ws__resp_status(&r, p, llen) : ws__resp_header(&r, p, llen, expect);
        if (rc != IOTC_OK)
            return iotc_ws__fail(rc, why,
                                 first ? "bad status line" : "bad header line in response");
        first = false;
        p = eol + 2;
    }
    if (first)
        return iotc_ws__fail(IOTC_ERR_MALFORMED, why, "empty response head");
    *status = r.status;
    *consumed = (size_t)(end - (const char *)data) + 4;
    if (r.status != 101) {
        char msg[64];
        snprintf(msg, sizeof msg, "server answered %d, not 101", r.status);
        return iotc_ws__fail(IOTC_ERR_DENIED, why, msg);
    }
    if (!r.upgrade || !r.connection)
        return iotc_ws__fail(IOTC_ERR_DENIED, why, "101 without Upgrade/Connection");
    if (r.accept != 1)
        return iotc_ws__fail(IOTC_ERR_DENIED, why,
                             r.accept == 0 ? "Sec-WebSocket-Accept missing"
                                           : "Sec-WebSocket-Accept does not match the key");
    if (!r.protocol)
        return iotc_ws__fail(IOTC_ERR_DENIED, why, "server did not select subprotocol mqtt");
    if (r.extensions)
        return iotc_ws__fail(IOTC_ERR_DENIED, why, "server chose an extension we did not offer");
    iotc_ws__fail(0, why, "");
    return IOTC_OK;
}
