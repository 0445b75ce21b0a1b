/* One MQTT connection from the front door to mosquitto: its private unix socket, or a
 * remote broker (`iotconform broker`) over TCP with TLS. */
#ifndef IOTC_BROKER_LINK_H
#define IOTC_BROKER_LINK_H

#include "mqtt/mqtt.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct iotc_blink;

struct iotc_blink_cbs {
    /* One whole packet from the broker; pkt is valid during the call only. */
    void (*on_packet)(void *arg, const struct iotc_mqtt_frame *f, const uint8_t *pkt);
    /* The broker closed or the socket failed; the link is dead (free it). */
    void (*on_close)(void *arg, const char *reason);
    /* Output fell to the write low watermark (a unix-socket link: everything queued was
     * written); flow control; may be NULL. */
    void (*on_drain)(void *arg);
    void *arg;
};

/* To the broker's unix socket, on fq's loop; what a loop turn sends leaves at its end
 * (flushq.h). */
struct iotc_flushq;
int iotc_blink_open(struct iotc_flushq *fq, const char *socket_path,
                    const struct iotc_blink_cbs *cbs, struct iotc_blink **out);
/* To a remote broker: TCP to sa, TLS with ctx (it verifies the broker's certificate for
 * host, also the SNI). Same callbacks and lifetime as a unix-socket link. */
int iotc_blink_open_tls(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
                        SSL_CTX *ctx, const char *host, const struct iotc_blink_cbs *cbs,
                        struct iotc_blink **out);
/* A link on an already connected bufferevent (the fuzzer's in-memory broker); the link
 * owns bev from here on. */
int iotc_blink_adopt(struct bufferevent *bev, const struct iotc_blink_cbs *cbs,
                     struct iotc_blink **out);
int iotc_blink_send(struct iotc_blink *l, const void *data, size_t len);
/* Flow control: no reads from the broker while paused (what was read is still handed
 * out). */
void iotc_blink_pause(struct iotc_blink *l, bool paused);
/* Bytes queued for the broker that it has not taken yet. */
size_t iotc_blink_queued(const struct iotc_blink *l);
void iotc_blink_free(struct iotc_blink *l);
/*
 * Ends the link gracefully: queues `final` (e.g. an MQTT DISCONNECT), stops calling
 * back, and frees itself once everything queued reached the broker. Inside one of
 * the link's own callbacks it degrades to iotc_blink_free.
 */
void iotc_blink_linger(struct iotc_blink *l, const void *final, size_t len);

/*
 * Reads whole MQTT packets from an input buffer (TLS, broker socket, or bytes unwrapped
 * from WebSocket messages): calls fn for each, stops when
 * fn returns non-zero or input is short; IOTC_READ_KEEP stops before that packet (it
 * stays in the buffer, to be read again later). Returns IOTC_OK, or the framing error
 * (IOTC_ERR_MALFORMED / IOTC_ERR_TOO_LARGE) for the first bad packet.
 */
#define IOTC_READ_KEEP 2
typedef int (*iotc_packet_fn)(void *arg, const struct iotc_mqtt_frame *f, const uint8_t *pkt);
int iotc_read_packets(struct evbuffer *in, size_t max_packet, iotc_packet_fn fn, void *arg,
                      uint64_t *bytes_in);

#endif
