/* What broker_link.c (the API, and bufferevent links: TLS to a remote broker, the
 * fuzzer's in-memory broker) and broker_link_unix.c (the private unix socket) share. */
#ifndef IOTC_BROKER_LINK_INT_H
#define IOTC_BROKER_LINK_INT_H

#include "broker_link.h"
#include "flushq.h"

#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blink__retry;

struct iotc_blink {
    /* Ordered so the small fields share words: one per connected device (issue 13). */
    struct iotc_blink_cbs cbs;
    struct bufferevent *bev; /* TLS and adopted links; NULL on the unix socket */
    /* The unix socket (broker_link_unix.c). */
    struct iotc_flushq *fq; /* its loop, and the end-of-turn flush */
    struct event ev;        /* reads, and writes while out holds bytes */
    struct evbuffer *out;   /* bytes the socket has not taken yet; NULL when there are none */
    uint8_t *part;          /* the start of a packet not yet whole, NULL when none */
    size_t part_len, part_cap;
    struct blink__retry *retry; /* while mosquitto's listen backlog is full */
    int fd;                     /* -1 until connected */
    int in_cb;                  /* inside a callback: a free must wait until it returns */
    short ev_want;              /* what ev is added for; 0: not added */
    bool dead;
    bool free_pending;
    bool linger_pending; /* linger asked for inside a callback */
    bool lingering;      /* dead, flushing what is queued, then freed */
    bool paused;         /* the session asked for no reads (flow control) */
    bool flush_queued;   /* out waits for the end of this loop turn */
};

void blink__die(struct iotc_blink *l, const char *reason);
void blink__after_cb(struct iotc_blink *l);
void blink__release(struct iotc_blink *l);

int blink__unix_open(struct iotc_blink *l, const char *socket_path);
int blink__unix_send(struct iotc_blink *l, const void *data, size_t len);
void blink__unix_arm(struct iotc_blink *l);
void blink__unix_start_linger(struct iotc_blink *l);
void blink__unix_release(struct iotc_blink *l);

#endif
