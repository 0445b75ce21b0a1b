/*
 * Fuzz harness for the WebSocket session (wslay underneath) and the client's
 * response-head reader. Byte 0 picks the side (server or client), a small or
 * default message limit, and whether the input is also read as a handshake
 * answer; byte 1 picks how the rest is sliced. Checks the contract, not just
 * memory safety: on_close at most once, a failed feed leaves the session
 * wanting to close, delivered bytes never exceed what was fed.
 */
#include "ws/ws.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

struct fuzz__state {
    size_t delivered;
    int closes;
};

static void fuzz__data(void *arg, const uint8_t *d, size_t n)
{
    struct fuzz__state *st = arg;
    if (n == 0)
        abort(); /* empty deliveries are promised never to happen */
    (void)d[n - 1];
    st->delivered += n;
}

static void fuzz__close(void *arg, uint16_t code, const char *reason)
{
    struct fuzz__state *st = arg;
    if (++st->closes > 1 || !reason)
        abort();
    (void)strlen(reason);
}

static void fuzz__drain(struct iotc_ws *w, size_t step)
{
    const uint8_t *p;
    size_t n;
    iotc_ws_pending(w, &p, &n);
    if (n)
        (void)p[n - 1];
    iotc_ws_consume(w, step ? step : n);
}

static void fuzz__handshake(const uint8_t *data, size_t size)
{
    size_t used = 0;
    int status = 0;
    iotc_errtext why = {0};
    int rc = iotc_ws_client_response(data, size, "dGhlIHNhbXBsZSBub25jZQ==", &used, &status, &why);
    if (rc == IOTC_OK && (used > size || status != 101))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t mode = data[0], slice = data[1];
    data += 2;
    size -= 2;
    if (mode & 0x04)
        fuzz__handshake(data, size);

    struct fuzz__state st = {0};
    struct iotc_ws_cbs cbs = {fuzz__data, fuzz__close, &st};
    size_t max = (mode & 0x02) ? 64 : 0;
    struct iotc_ws *w = (mode & 0x01) ? iotc_ws_client_new(&cbs, max) : iotc_ws_new(&cbs, max);
    if (!w)
        return 0;
    size_t step = slice ? slice : size;
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        int rc = iotc_ws_feed(w, data + off, n);
        if (rc != IOTC_OK && rc != IOTC_ERR_NOMEM && !iotc_ws_want_close(w))
            abort();
        fuzz__drain(w, (size_t)(mode >> 4));
        if (mode & 0x08)
            (void)iotc_ws_send(w, data + off, n > 8 ? 8 : n);
    }
    if (st.delivered > size)
        abort();
    (void)iotc_ws_close(w, IOTC_WS_GOING_AWAY, "fuzz done");
    fuzz__drain(w, 0);
    (void)iotc_ws_want_close(w);
    iotc_ws_free(w);
    return 0;
}
