/*
 * A WebSocket session over wslay's event API with no socket behind it: the recv
 * callback reads from the bytes handed to iotc_ws_feed(), the send callback
 * appends to an output buffer the owner drains. wslay does the framing,
 * masking, reassembly, ping/pong and close echo; this layer adds what MQTT
 * over WebSocket needs on top (binary only, a byte stream, close reporting).
 */
#include "ws.h"
#include "common/err.h"

#include <openssl/rand.h>
#include <wslay/wslay.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct iotc_ws {
    wslay_event_context_ptr ctx;
    struct iotc_ws_cbs cbs;
    /* Input of the feed() in progress. */
    const uint8_t *in;
    size_t in_len;
    /* Framed output: bytes [out_off, out.len) are still to be written. */
    struct iotc_buf out;
    size_t out_off;
    bool closed_reported; /* on_close() already called */
    bool nomem;           /* wslay failed fatally: nothing more in or out */
    bool rejected_text;   /* we queued 1003 ourselves */
};

static ssize_t ws__recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                           void *user)
{
    struct iotc_ws *w = user;
    if (w->in_len == 0) {
        /* Not an error: tells wslay_event_recv() to return and wait for more. */
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < w->in_len ? len : w->in_len;
    memcpy(buf, w->in, n);
    w->in += n;
    w->in_len -= n;
    return (ssize_t)n;
}

static ssize_t ws__send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                           void *user)
{
    struct iotc_ws *w = user;
    if (iotc_buf_append(&w->out, data, len) != IOTC_OK) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int ws__genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    /* RFC 6455 10.3: masks must be unpredictable, so a CSPRNG, not rand(). */
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void ws__report_close(struct iotc_ws *w, uint16_t code, const char *reason)
{
    if (w->closed_reported)
        return;
    w->closed_reported = true;
    if (w->cbs.on_close)
        w->cbs.on_close(w->cbs.arg, code, reason);
}

static void ws__frame_start_cb(wslay_event_context_ptr ctx,
                               const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    struct iotc_ws *w = user;
    if (arg->opcode != WSLAY_TEXT_FRAME || w->rejected_text)
        return;
    /* MQTT is binary (MQTT 5 section 6: text frames close the connection).
     * Queued before wslay can queue anything else for this frame, so 1003 is
     * what the peer sees even if the text is also invalid UTF-8. */
    w->rejected_text = true;
    static const char why[] = "text frames are not accepted";
    wslay_event_queue_close(ctx, IOTC_WS_UNSUPPORTED_DATA, (const uint8_t *)why, sizeof why - 1);
    wslay_event_shutdown_read(ctx);
}

static void ws__msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                       void *user)
{
    struct iotc_ws *w = user;
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        if (arg->msg_length && w->cbs.on_data)
            w->cbs.on_data(w->cbs.arg, arg->msg, arg->msg_length);
        return;
    }
    if (arg->opcode != WSLAY_CONNECTION_CLOSE)
        return; /* pings are answered by wslay, pongs need nothing */
    /* wslay has checked the code and the UTF-8 of the reason by now. */
    char reason[124] = "";
    if (arg->msg_length > 2) {
        size_t n = arg->msg_length - 2;
        if (n > sizeof reason - 1)
            n = sizeof reason - 1;
        memcpy(reason, arg->msg + 2, n);
        reason[n] = '\0';
    }
    ws__report_close(w, arg->status_code ? arg->status_code : IOTC_WS_NO_STATUS, reason);
}

static const char *ws__local_reason(uint16_t code)
{
    switch (code) {
    case IOTC_WS_PROTOCOL_ERROR:
        return "protocol error (unmasked or reserved bits, bad opcode, or bad continuation)";
    case IOTC_WS_UNSUPPORTED_DATA:
        return "text frames are not accepted";
    case IOTC_WS_INVALID_PAYLOAD:
        return "close reason is not valid UTF-8";
    case IOTC_WS_MESSAGE_TOO_BIG:
        return "message exceeds the size limit";
    case IOTC_WS_NO_STATUS:
        return "invalid frame header (control frame too long or fragmented, or length "
               "not minimally encoded)";
    default:
        return "connection failed";
    }
}

/* Moves whatever wslay has queued into the output buffer. */
static int ws__flush(struct iotc_ws *w)
{
    if (w->nomem)
        return IOTC_ERR_NOMEM;
    if (wslay_event_send(w->ctx) != 0) {
        w->nomem = true; /* our send callback only fails on allocation */
        return IOTC_ERR_NOMEM;
    }
    return IOTC_OK;
}

static struct iotc_ws *ws__new(const struct iotc_ws_cbs *cbs, size_t max_message, bool client)
{
    struct iotc_ws *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    if (cbs)
        w->cbs = *cbs;
    struct wslay_event_callbacks wcb = {
        .recv_callback = ws__recv_cb,
        .send_callback = ws__send_cb,
        .genmask_callback = ws__genmask_cb,
        .on_frame_recv_start_callback = ws__frame_start_cb,
        .on_msg_recv_callback = ws__msg_cb,
    };
    int rc = client ? wslay_event_context_client_init(&w->ctx, &wcb, w)
                    : wslay_event_context_server_init(&w->ctx, &wcb, w);
    if (rc != 0) {
        free(w);
        return NULL;
    }
    /* Buffering stays on: wslay reassembles fragments and enforces the limit
     * on the whole message, which is the 1009 rule we want. */
    wslay_event_config_set_max_recv_msg_length(w->ctx, max_message ? max_message
                                                                   : IOTC_WS_DEFAULT_MAX_MESSAGE);
    return w;
}

struct iotc_ws *iotc_ws_new(const struct iotc_ws_cbs *cbs, size_t max_message)
{
    return ws__new(cbs, max_message, false);
}

struct iotc_ws *iotc_ws_client_new(const struct iotc_ws_cbs *cbs, size_t max_message)
{
    return ws__new(cbs, max_message, true);
}

void iotc_ws_free(struct iotc_ws *w)
{
    if (!w)
        return;
    wslay_event_context_free(w->ctx);
    iotc_buf_free(&w->out);
    free(w);
}

int iotc_ws_feed(struct iotc_ws *w, const uint8_t *data, size_t len)
{
    if (!w || (!data && len))
        return IOTC_ERR_INVALID;
    if (w->nomem)
        return IOTC_ERR_NOMEM;
    if (!wslay_event_get_read_enabled(w->ctx) || len == 0)
        return IOTC_OK;
    w->in = data;
    w->in_len = len;
    int r = wslay_event_recv(w->ctx);
    w->in = NULL;
    w->in_len = 0;
    if (r == WSLAY_ERR_NOMEM) {
        w->nomem = true;
        return IOTC_ERR_NOMEM;
    }
    /* Any other failure is the frame layer refusing a header (our recv
     * callback only ever says "would block"): wslay queued a close without a
     * status code and stopped reading. */
    int rc = ws__flush(w);
    if (rc != IOTC_OK)
        return rc;
    if (wslay_event_get_read_enabled(w->ctx) || wslay_event_get_close_received(w->ctx))
        return IOTC_OK;
    uint16_t sent = wslay_event_get_status_code_sent(w->ctx);
    ws__report_close(w, sent, ws__local_reason(sent));
    return sent == IOTC_WS_MESSAGE_TOO_BIG ? IOTC_ERR_TOO_LARGE : IOTC_ERR_PROTOCOL;
}

int iotc_ws_send(struct iotc_ws *w, const uint8_t *data, size_t len)
{
    if (!w || (!data && len))
        return IOTC_ERR_INVALID;
    struct wslay_event_msg msg = {WSLAY_BINARY_FRAME, data, len};
    int r = wslay_event_queue_msg(w->ctx, &msg);
    if (r == WSLAY_ERR_NOMEM)
        return IOTC_ERR_NOMEM;
    if (r != 0)
        return IOTC_ERR_PROTOCOL; /* closing: no more messages */
    return ws__flush(w);
}

int iotc_ws_close(struct iotc_ws *w, uint16_t code, const char *reason)
{
    if (!w)
        return IOTC_ERR_INVALID;
    size_t rlen = reason ? strlen(reason) : 0;
    /* 1005/1006/1015 are reserved for reporting, never sent (RFC 6455 7.4.1). */
    if (rlen > 123 || code < 1000 || code == 1004 || code == 1005 || code == 1006 || code == 1015 ||
        code >= 5000)
        return IOTC_ERR_INVALID;
    int r = wslay_event_queue_close(w->ctx, code, (const uint8_t *)reason, rlen);
    if (r == WSLAY_ERR_NOMEM)
        return IOTC_ERR_NOMEM;
    if (r != 0)
        return IOTC_ERR_PROTOCOL; /* already closing */
    return ws__flush(w);
}

void iotc_ws_pending(const struct iotc_ws *w, const uint8_t **data, size_t *len)
{
    *data = w->out.p ? w->out.p + w->out_off : NULL;
    *len = w->out.len - w->out_off;
}

void iotc_ws_consume(struct iotc_ws *w, size_t n)
{
    size_t avail = w->out.len - w->out_off;
    w->out_off += n < avail ? n : avail;
    if (w->out_off == w->out.len) {
        w->out_off = 0;
        w->out.len = 0;
    } else if (w->out_off > w->out.len / 2) {
        /* Compact once most of the buffer is written, so it does not creep. */
        memmove(w->out.p, w->out.p + w->out_off, w->out.len - w->out_off);
        w->out.len -= w->out_off;
        w->out_off = 0;
    }
}

bool iotc_ws_want_close(const struct iotc_ws *w)
{
    if (w->nomem)
        return true;
    /* Done reading (peer's close seen, or failure) and our close is out: what
     * is left is the caller's pending output. */
    return !wslay_event_get_read_enabled(w->ctx) && wslay_event_get_close_sent(w->ctx);
}

uint16_t iotc_ws_code_sent(const struct iotc_ws *w)
{
    return wslay_event_get_status_code_sent(w->ctx);
}

uint16_t iotc_ws_code_received(const struct iotc_ws *w)
{
    return wslay_event_get_status_code_received(w->ctx);
}
