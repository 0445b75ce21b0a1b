/*
 * A blocking MQTT client transport: one TLS connection on a connected socket,
 * optionally the WebSocket opening handshake (sim/ws builds and checks it), then
 * whole MQTT packets, in binary frames or raw on the TLS stream. Every wait is
 * bounded by a deadline on the monotonic clock of common/journal.h (ms).
 */
#ifndef IOTC_CLIENT_WSC_H
#define IOTC_CLIENT_WSC_H

#include <jansson.h>
#include "common/errtext.h"
#include <stddef.h>
#include <stdint.h>

#include "client/tlsc.h"
#include "common/buf.h"
#include "mqtt/mqtt.h"

typedef struct iotc_wsc {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    iotc_tlsc_state st;
    int hs_ok;
    struct iotc_ws *ws;
    struct iotc_buf rx; /* received bytes: the HTTP answer, then MQTT */
    int closed;         /* nothing more will arrive */
    int raw;            /* MQTT straight over TLS (no WebSocket): the session driver */
    size_t max_packet;  /* a larger MQTT packet is malformed; 0 = no bound */
    const char *end;    /* how it ended, for the report */
} iotc_wsc;

/* Builds the TLS context from o (its ALPN list is copied); nothing is dialled yet,
 * so a setting OpenSSL refuses costs no connection. IOTC_ERR_CONFIG with err. */
int iotc_wsc_init(iotc_wsc *w, const iotc_tlsc_opts *o, iotc_errtext *err);

/* TLS client handshake on fd (a connected blocking socket, owned from here on);
 * the negotiated parameters go to obs (may be NULL). IOTC_OK even when TLS is
 * refused (w->hs_ok tells); other codes fill err. */
int iotc_wsc_handshake(iotc_wsc *w, int fd, json_t *obs, iotc_errtext *err);

/* Raw MQTT on a TLS connection someone else established and keeps owning (the
 * reference device's, with its own verification): iotc_wsc_release hands it back. */
void iotc_wsc_borrow(iotc_wsc *w, SSL *ssl, int fd);
/* Frees what the transport allocated; a borrowed ssl and fd stay open. */
void iotc_wsc_release(iotc_wsc *w);

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
int iotc_wsc_next(iotc_wsc *w, long deadline, const uint8_t **pkt, struct iotc_mqtt_frame *f);
void iotc_wsc_consume(iotc_wsc *w, size_t n);
/* 1 when iotc_wsc_next has something without waiting: a whole packet (or bytes
 * that are not MQTT) received, or decrypted bytes not read yet. */
int iotc_wsc_buffered(const iotc_wsc *w);

void iotc_wsc_close(iotc_wsc *w);

#endif
