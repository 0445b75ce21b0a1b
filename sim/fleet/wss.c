/*
 * MQTT over WebSocket for the wss-* rows: on the device's TLS bufferevent (no
 * client certificate, no ALPN) the GET /mqtt upgrade goes out, presigned with
 * SigV4 or carrying custom-auth headers (ident.c); after the 101 the MQTT codec
 * of device_mqtt.c runs unchanged over sim/ws's client session: its packets go
 * out one per binary message, and received messages are one byte stream that
 * iotc_fleet_mqtt_on_stream() cuts into packets. The lifecycle (ramp, backoff,
 * keep-alive, faults, counting) is device.c's, as for any MQTT device.
 */
#include "fleet_int.h"
#include "common/err.h"
#include "ws/ws.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#define WSS_TARGET_MAX  4096
#define WSS_HEADERS_MAX 4096

struct fleet_wss {
    struct iotc_ws *ws;  /* the session of the current connection, after its 101 */
    struct evbuffer *in; /* MQTT bytes out of received messages, not parsed yet */
    char key[IOTC_WS_KEY_LEN];
    bool peer_closed;   /* its close frame arrived, or the input failed the session */
    bool out_of_memory; /* a message could not be kept */
};

static void wss__on_data(void *arg, const uint8_t *data, size_t len)
{
    struct iotc_fleet_dev *d = arg;
    if (evbuffer_add(d->wss->in, data, len) != 0)
        d->wss->out_of_memory = true;
}

static void wss__on_close(void *arg, uint16_t code, const char *reason)
{
    struct iotc_fleet_dev *d = arg;
    d->wss->peer_closed = true;
}

int iotc_fleet_wss_dev_init(struct iotc_fleet_dev *d)
{
    d->wss = calloc(1, sizeof *d->wss);
    if (!d->wss)
        return IOTC_ERR_NOMEM;
    d->wss->in = evbuffer_new();
    return d->wss->in ? IOTC_OK : IOTC_ERR_NOMEM;
}

void iotc_fleet_wss_dev_free(struct iotc_fleet_dev *d)
{
    if (!d->wss)
        return;
    iotc_fleet_wss_drop(d);
    evbuffer_free(d->wss->in);
    free(d->wss);
    d->wss = NULL;
}

void iotc_fleet_wss_drop(struct iotc_fleet_dev *d)
{
    struct fleet_wss *w = d->wss;
    iotc_ws_free(w->ws);
    w->ws = NULL;
    evbuffer_drain(w->in, evbuffer_get_length(w->in));
    w->peer_closed = w->out_of_memory = false;
}

/* Framed bytes to the socket: our messages, and the pongs and close replies wslay made. */
static int wss__pump(struct iotc_fleet_dev *d)
{
    struct fleet_wss *w = d->wss;
    const uint8_t *p;
    size_t n;
    for (;;) {
        iotc_ws_pending(w->ws, &p, &n);
        if (n == 0)
            return IOTC_OK;
        if (!d->bev || bufferevent_write(d->bev, p, n) != 0)
            return IOTC_ERR_IO;
        iotc_ws_consume(w->ws, n);
    }
}

int iotc_fleet_wss_write(struct iotc_fleet_dev *d, const uint8_t *p, size_t n)
{
    struct fleet_wss *w = d->wss;
    if (!w->ws || !d->bev)
        return IOTC_ERR_IO;
    int rc = iotc_ws_send(w->ws, p, n);
    return rc == IOTC_OK ? wss__pump(d) : rc;
}

static int wss__headers(const struct iotc_fleet_dev *d, char *out, size_t len)
{
    char line[WSS_HEADERS_MAX];
    size_t o = 0;
    out[0] = '\0';
    if (d->row->def->auth != IOTC_AUTH_CUSTOM)
        return IOTC_OK;
    for (unsigned k = 0;; k++) {
        int rc = iotc_fleet_ident_custom_header(iotc_fleet_dev_ident(d), k, line, sizeof line);
        if (rc == IOTC_ERR_NOT_FOUND)
            return IOTC_OK;
        if (rc != IOTC_OK)
            return rc;
        int n = snprintf(out + o, len - o, "%s\r\n", line);
        if (n < 0 || (size_t)n >= len - o)
            return IOTC_ERR_TOO_LARGE;
        o += (size_t)n;
    }
}

int iotc_fleet_wss_upgrade(struct iotc_fleet_dev *d)
{
    struct iotc_fleet *fl = d->fl;
    struct iotc_fleet_target *t = &fl->spec->target;
    char host[300], target[WSS_TARGET_MAX], headers[WSS_HEADERS_MAX];
    /* The Host a client dialling this port would send; SigV4 signs exactly this. */
    snprintf(host, sizeof host, "%s:%d", t->sni, fl->conn_port[2]);
    int rc = iotc_fleet_ident_wss_target(iotc_fleet_dev_ident(d), d->row->def->auth, host,
                                         time(NULL), target, sizeof target);
    if (rc == IOTC_OK)
        rc = wss__headers(d, headers, sizeof headers);
    if (rc == IOTC_OK)
        rc = iotc_ws_client_request(&fl->out, host, target, headers[0] ? headers : NULL,
                                    d->wss->key);
    if (rc == IOTC_OK && bufferevent_write(d->bev, fl->out.p, fl->out.len) != 0)
        rc = IOTC_ERR_IO;
    iotc_buf_reset(&fl->out);
    if (rc == IOTC_OK)
        d->state = IOTC_FLEET_DEV_UPGRADE;
    return rc;
}

/* The answer to GET /mqtt. Returns true when the session is open and bytes may follow. */
static bool wss__response(struct iotc_fleet_dev *d, struct evbuffer *in)
{
    struct fleet_wss *w = d->wss;
    size_t len = evbuffer_get_length(in), consumed = 0;
    size_t n = len < IOTC_WS_MAX_RESPONSE_HEAD ? len : IOTC_WS_MAX_RESPONSE_HEAD;
    int status = 0;
    iotc_errtext why = {0};
    if (n == 0)
        return false;
    const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)n);
    int rc = p ? iotc_ws_client_response(p, n, w->key, &consumed, &status, &why) : IOTC_ERR_NOMEM;
    if (rc == IOTC_ERR_AGAIN)
        return false;
    if (rc != IOTC_OK) {
        /* A refusal (403 from the authenticator) is the device's credentials at fault;
         * anything else is a broken answer. */
        if (rc != IOTC_ERR_DENIED)
            d->fl->c.protocol_errors++;
        iotc_fleet_dev_lost(d, rc == IOTC_ERR_DENIED ? IOTC_FLEET_CAUSE_WS_REFUSED
                                                     : IOTC_FLEET_CAUSE_PROTOCOL);
        return false;
    }
    evbuffer_drain(in, consumed);
    struct iotc_ws_cbs cbs = {wss__on_data, wss__on_close, d};
    w->ws = iotc_ws_client_new(&cbs, 0);
    if (!w->ws) {
        iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_SOCKET);
        return false;
    }
    d->state = IOTC_FLEET_DEV_MQTT_WAIT;
    if (iotc_fleet_mqtt_send_connect(d) != IOTC_OK) {
        iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_SOCKET);
        return false;
    }
    return true;
}

void iotc_fleet_wss_on_read(struct bufferevent *bev, void *arg)
{
    struct iotc_fleet_dev *d = arg;
    struct fleet_wss *w = d->wss;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (d->state == IOTC_FLEET_DEV_UPGRADE && !wss__response(d, in))
        return;
    if (!w->ws)
        return;
    int rc = IOTC_OK;
    while (rc == IOTC_OK && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        rc = iotc_ws_feed(w->ws, v.iov_base, v.iov_len);
        evbuffer_drain(in, v.iov_len);
    }
    if (wss__pump(d) != IOTC_OK) {
        iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_SOCKET);
        return;
    }
    /* What arrived before a close or a failure still counts. */
    iotc_fleet_mqtt_on_stream(d, bev, w->in);
    if (d->bev != bev)
        return;
    if (rc != IOTC_OK || w->out_of_memory) {
        bool nomem = rc == IOTC_ERR_NOMEM || w->out_of_memory;
        if (!nomem)
            d->fl->c.protocol_errors++;
        iotc_fleet_dev_lost(d, nomem ? IOTC_FLEET_CAUSE_SOCKET : IOTC_FLEET_CAUSE_PROTOCOL);
    } else if (w->peer_closed || iotc_ws_want_close(w->ws)) {
        iotc_fleet_dev_lost(d, IOTC_FLEET_CAUSE_CLOSED);
    }
}
