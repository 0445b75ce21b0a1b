/*
 * A WebSocket client for the wss driver: one blocking TLS connection, the
 * opening handshake (sim/ws builds and checks it), then whole MQTT packets in
 * binary frames both ways. Every wait is bounded by a deadline.
 */
#ifndef IOTC_RUNNER_WSC_H
#define IOTC_RUNNER_WSC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "driver.h"
#include "mqtt/mqtt.h"

typedef struct iotc_wsc {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    json_t *alpn;
    iotc_tlsc_state st;
    int hs_ok;
    struct iotc_ws *ws;
    struct iotc_buf rx; /* received bytes: the HTTP answer, then MQTT */
    int closed;         /* nothing more will arrive */
    int raw;            /* MQTT straight over TLS (no WebSocket): the session driver */
    const char *end;    /* how it ended, for the report */
} iotc_wsc;

/* TCP + TLS with the case's settings; observations go to out->observed.
 * IOTC_OK even when TLS is refused (w->hs_ok tells); other codes: out->error. */
int iotc_wsc_open(iotc_wsc *w, const iotc_env *env, const iotc_case *c, iotc_drv_out *out);

/* TCP + TLS with explicit options to a logical port (the session driver's
 * reference clients); observations go to obs (may be NULL). */
int iotc_wsc_open_opts(iotc_wsc *w, const iotc_env *env, int af, int logical_port,
                       const iotc_tlsc_opts *o, json_t *obs, int timeout_ms, iotc_drv_out *out);

/* Closes the TCP connection at once: no MQTT DISCONNECT, no close_notify, no
 * WebSocket close (an abrupt loss as the endpoint sees it). */
void iotc_wsc_drop(iotc_wsc *w);

/* GET path_and_query with Sec-WebSocket-Protocol: mqtt and extra header lines.
 * IOTC_OK: 101. IOTC_ERR_DENIED: refused (*status, and the body into obs
 * "http_body"). IOTC_ERR_TIMEOUT / IOTC_ERR_IO: no (complete) answer. */
int iotc_wsc_upgrade(iotc_wsc *w, const char *host, const char *path_and_query,
                     const char *extra_headers, long deadline, int *status, json_t *obs);

/* One MQTT packet in one binary message (raw: the bytes on the TLS stream). */
int iotc_wsc_send(iotc_wsc *w, const struct iotc_buf *pkt);

/* Next whole MQTT packet: IOTC_OK with f filled and *pkt pointing into w->rx
 * (valid until iotc_wsc_consume), IOTC_ERR_TIMEOUT, IOTC_ERR_IO once closed,
 * IOTC_ERR_MALFORMED for bytes that are not MQTT. */
int iotc_wsc_next(iotc_wsc *w, long deadline, const uint8_t **pkt, struct mqtt_frame *f);
void iotc_wsc_consume(iotc_wsc *w, size_t n);

void iotc_wsc_close(iotc_wsc *w);

#endif
