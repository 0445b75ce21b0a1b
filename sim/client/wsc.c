#define _GNU_SOURCE /* strcasestr */
/* Blocking MQTT client transport, over WebSocket or raw TLS (see wsc.h). */
#include "wsc.h"

#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/journal.h"
#include "ws/ws.h"

/* A refusal body is one small JSON object; the head limit is sim/ws's. */
#define WSC__MAX_ANSWER (IOTC_WS_MAX_RESPONSE_HEAD + 4096)

int iotc_wsc_init(iotc_wsc *w, const iotc_tlsc_opts *o, iotc_errtext *err)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    w->ctx = iotc_tlsc_ctx_new(o, &w->st, err);
    return w->ctx ? IOTC_OK : IOTC_ERR_CONFIG;
}

int iotc_wsc_handshake(iotc_wsc *w, int fd, json_t *obs, iotc_errtext *err)
{
    w->fd = fd;
    w->ssl = SSL_new(w->ctx);
    if (!w->ssl || SSL_set_fd(w->ssl, w->fd) != 1) {
        return iotc_errtext_set(err, IOTC_ERR_NOMEM, "SSL_new failed");
    }
    w->hs_ok = SSL_connect(w->ssl) == 1;
    ERR_clear_error();
    if (!w->st.hello_sent) {
        return iotc_errtext_set(
            err, IOTC_ERR_CONFIG,
            "the client could not send a ClientHello (settings OpenSSL cannot offer?)");
    }
    if (w->hs_ok && obs)
        iotc_tlsc_observe(w->ssl, obs);
    else if (!w->hs_ok)
        w->closed = 1;
    return IOTC_OK;
}

void iotc_wsc_borrow(iotc_wsc *w, SSL *ssl, int fd)
{
    memset(w, 0, sizeof(*w));
    w->fd = fd;
    w->ssl = ssl;
    w->hs_ok = 1;
    w->raw = 1;
}

void iotc_wsc_release(iotc_wsc *w)
{
    iotc_ws_free(w->ws);
    iotc_buf_free(&w->rx);
    memset(w, 0, sizeof(*w));
    w->fd = -1;
}

void iotc_wsc_drop(iotc_wsc *w)
{
    if (w->fd >= 0) {
        /* RST, not FIN: nothing the endpoint could take for an orderly close. */
        struct linger l = {1, 0};
        setsockopt(w->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        close(w->fd);
        w->fd = -1;
    }
    w->closed = 1;
    w->end = "dropped";
}

/* Waits for readable bytes (or buffered TLS data) until the deadline. */
static int wsc__wait(iotc_wsc *w, long deadline)
{
    struct pollfd p = {w->fd, POLLIN, 0};
    long left;

    if (SSL_pending(w->ssl) > 0)
        return IOTC_OK;
    left = deadline - (long)iotc_clock_ms();
    if (left <= 0)
        return IOTC_ERR_TIMEOUT;
    int n = poll(&p, 1, (int)left);
    if (n < 0 && errno != EINTR)
        return IOTC_ERR_IO;
    return n > 0 ? IOTC_OK : IOTC_ERR_TIMEOUT;
}

/* Reads what is there into buf (len > 0 bytes, 0 = closed). */
static int wsc__read(iotc_wsc *w, long deadline, uint8_t *buf, size_t cap, size_t *got)
{
    int rc, n;

    *got = 0;
    if (w->closed)
        return IOTC_ERR_IO;
    rc = wsc__wait(w, deadline);
    if (rc != IOTC_OK)
        return rc;
    n = SSL_read(w->ssl, buf, (int)cap);
    if (n > 0) {
        w->st.app_data_seen = 1;
        *got = (size_t)n;
        return IOTC_OK;
    }
    switch (SSL_get_error(w->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        ERR_clear_error();
        return IOTC_ERR_TIMEOUT;
    case SSL_ERROR_ZERO_RETURN:
        w->end = "close_notify";
        break;
    case SSL_ERROR_SYSCALL:
        w->end = errno == ECONNRESET ? "reset" : "eof";
        break;
    default:
        /* OpenSSL 3 reports a close without close_notify as an error. */
        w->end = ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING
                     ? "eof"
                     : "tls_error";
    }
    ERR_clear_error();
    w->closed = 1;
    return IOTC_ERR_IO;
}

static int wsc__write(iotc_wsc *w, const void *data, size_t len)
{
    if (w->closed)
        return IOTC_ERR_IO;
    if (len && SSL_write(w->ssl, data, (int)len) != (int)len) {
        ERR_clear_error();
        w->closed = 1;
        w->end = "write failed";
        return IOTC_ERR_IO;
    }
    return IOTC_OK;
}

static int wsc__flush(iotc_wsc *w)
{
    const uint8_t *p;
    size_t n;
    iotc_ws_pending(w->ws, &p, &n);
    if (!n)
        return IOTC_OK;
    int rc = wsc__write(w, p, n);
    iotc_ws_consume(w->ws, n);
    return rc;
}

static void wsc__on_data(void *arg, const uint8_t *data, size_t len)
{
    iotc_wsc *w = arg;
    if (iotc_buf_append(&w->rx, data, len) != IOTC_OK)
        w->closed = 1;
}

static void wsc__on_close(void *arg, uint16_t code, const char *reason)
{
    iotc_wsc *w = arg;
    (void)code;
    (void)reason;
    w->end = "websocket_close";
}

/* The refusal's body, by Content-Length or up to the close. */
static void wsc__refusal_body(iotc_wsc *w, size_t head_len, long deadline, json_t *obs)
{
    const char *cl = strcasestr((const char *)w->rx.p, "\r\ncontent-length:");
    int has_len = cl && cl < (const char *)w->rx.p + head_len;
    size_t want = has_len ? strtoul(cl + 17, NULL, 10) : 0;
    uint8_t buf[4096];
    size_t got;

    /* cl may move with the buffer: only has_len and want are used from here. */
    while ((!has_len || w->rx.len < head_len + want) && w->rx.len < WSC__MAX_ANSWER &&
           wsc__read(w, deadline, buf, sizeof(buf), &got) == IOTC_OK)
        if (iotc_buf_append(&w->rx, buf, got) != IOTC_OK)
            break;
    if (w->rx.len > head_len) {
        size_t n = w->rx.len - head_len;
        json_t *j = json_loadb((const char *)w->rx.p + head_len, n, JSON_DISABLE_EOF_CHECK, NULL);
        json_object_set_new(obs, "http_body",
                            j ? j
                              : json_stringn((const char *)w->rx.p + head_len, n > 200 ? 200 : n));
    }
}

int iotc_wsc_upgrade(iotc_wsc *w, const char *host, const char *path_and_query,
                     const char *extra_headers, long deadline, int *status, json_t *obs)
{
    struct iotc_buf req = {0};
    struct iotc_ws_cbs cbs = {wsc__on_data, wsc__on_close, w};
    char key[IOTC_WS_KEY_LEN];
    iotc_errtext why = {0};
    uint8_t buf[4096];
    size_t got, consumed = 0;
    int rc;

    *status = 0;
    rc = iotc_ws_client_request(&req, host, path_and_query, extra_headers, key);
    if (rc == IOTC_OK)
        rc = wsc__write(w, req.p, req.len);
    iotc_buf_free(&req);
    if (rc != IOTC_OK)
        return rc;
    for (;;) {
        rc = wsc__read(w, deadline, buf, sizeof(buf), &got);
        if (rc != IOTC_OK)
            return rc;
        if (iotc_buf_append(&w->rx, buf, got) != IOTC_OK)
            return IOTC_ERR_NOMEM;
        rc = iotc_ws_client_response(w->rx.p, w->rx.len, key, &consumed, status, &why);
        if (rc != IOTC_ERR_AGAIN)
            break;
    }
    if (rc == IOTC_ERR_DENIED && *status != 101) {
        if (iotc_buf_reserve(&w->rx, 1) == IOTC_OK)
            w->rx.p[w->rx.len] = '\0';
        wsc__refusal_body(w, consumed, deadline, obs);
        return IOTC_ERR_DENIED;
    }
    if (rc != IOTC_OK) {
        json_object_set_new(obs, "upgrade_error", json_string(why.msg));
        return IOTC_ERR_DENIED;
    }
    w->ws = iotc_ws_client_new(&cbs, 0);
    if (!w->ws)
        return IOTC_ERR_NOMEM;
    /* Frames may have come with the 101: they are WebSocket already. */
    size_t rest = w->rx.len - consumed;
    uint8_t *tail = rest ? malloc(rest) : NULL;
    if (rest && !tail)
        return IOTC_ERR_NOMEM;
    if (rest)
        memcpy(tail, w->rx.p + consumed, rest);
    iotc_buf_reset(&w->rx);
    rc = rest ? iotc_ws_feed(w->ws, tail, rest) : IOTC_OK;
    free(tail);
    return rc == IOTC_OK ? wsc__flush(w) : IOTC_ERR_PROTOCOL;
}

int iotc_wsc_send(iotc_wsc *w, const struct iotc_buf *pkt)
{
    if (w->raw)
        return wsc__write(w, pkt->p, pkt->len);
    if (!w->ws || iotc_ws_send(w->ws, pkt->p, pkt->len) != IOTC_OK)
        return IOTC_ERR_IO;
    return wsc__flush(w);
}

int iotc_wsc_next(iotc_wsc *w, long deadline, const uint8_t **pkt, struct iotc_mqtt_frame *f)
{
    uint8_t buf[4096];
    size_t got;

    for (;;) {
        int rc = iotc_mqtt_frame_peek(w->rx.p, w->rx.len, w->max_packet, f);
        if (rc == IOTC_OK) {
            *pkt = w->rx.p;
            return IOTC_OK;
        }
        if (rc != IOTC_ERR_AGAIN)
            return IOTC_ERR_MALFORMED;
        if (w->raw) {
            rc = wsc__read(w, deadline, buf, sizeof(buf), &got);
            if (rc != IOTC_OK)
                return rc;
            if (iotc_buf_append(&w->rx, buf, got) != IOTC_OK)
                return IOTC_ERR_NOMEM;
            continue;
        }
        if (!w->ws || iotc_ws_want_close(w->ws))
            w->closed = 1;
        rc = wsc__read(w, deadline, buf, sizeof(buf), &got);
        if (rc != IOTC_OK)
            return rc;
        if (iotc_ws_feed(w->ws, buf, got) != IOTC_OK)
            w->closed = 1;
        /* Answer pings and the close handshake as they come. */
        wsc__flush(w);
    }
}

int iotc_wsc_buffered(const iotc_wsc *w)
{
    struct iotc_mqtt_frame f;
    if (iotc_mqtt_frame_peek(w->rx.p, w->rx.len, w->max_packet, &f) != IOTC_ERR_AGAIN)
        return 1;
    return w->ssl && SSL_pending(w->ssl) > 0;
}

void iotc_wsc_consume(iotc_wsc *w, size_t n)
{
    if (n >= w->rx.len) {
        iotc_buf_reset(&w->rx);
        return;
    }
    memmove(w->rx.p, w->rx.p + n, w->rx.len - n);
    w->rx.len -= n;
}

void iotc_wsc_close(iotc_wsc *w)
{
    if (w->ws && !w->closed && iotc_ws_close(w->ws, IOTC_WS_NORMAL, NULL) == IOTC_OK)
        wsc__flush(w);
    if (w->ssl) {
        if (w->hs_ok && !w->closed && w->fd >= 0)
            SSL_shutdown(w->ssl);
        SSL_free(w->ssl);
    }
    ERR_clear_error();
    if (w->fd >= 0)
        close(w->fd);
    SSL_CTX_free(w->ctx);
    iotc_ws_free(w->ws);
    iotc_buf_free(&w->rx);
    memset(w, 0, sizeof(*w));
    w->fd = -1;
}
