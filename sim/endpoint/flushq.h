/*
 * Output written during one loop turn, sent at the end of that turn (flushq.c).
 *
 * Why: waiting for the socket's EV_WRITE to send what a callback queued costs two
 * epoll_ctl calls per burst (write interest on, then off once written), and with one
 * event per connection (conn_io.c) libevent makes each change a DEL and an ADD. A socket
 * with room takes the bytes at once; only what it refuses waits for EV_WRITE. The queue
 * runs after every callback already active in the turn, so one fan-out's packets to a
 * device still leave in one write.
 */
#ifndef IOTC_ENDPOINT_FLUSHQ_H
#define IOTC_ENDPOINT_FLUSHQ_H

#include <stddef.h>

struct event;
struct event_base;

struct iotc_flushq_entry {
    void (*fn)(void *arg); /* NULL: cancelled */
    void *arg;
};

struct iotc_flushq {
    struct event_base *base;
    struct event *ev; /* made on first use */
    struct iotc_flushq_entry *list;
    size_t n, cap;
};

/* No allocation until the first add. */
void iotc_flushq_init(struct iotc_flushq *q, struct event_base *base);
void iotc_flushq_free(struct iotc_flushq *q);
/* Calls fn(arg) at the end of this loop turn, once per add: the caller keeps its own
 * "queued" flag. An add from inside a run is called in the same run. IOTC_ERR_NOMEM when
 * it cannot (the caller then waits for EV_WRITE instead). */
int iotc_flushq_add(struct iotc_flushq *q, void (*fn)(void *arg), void *arg);
/* The queued calls for arg are dropped (its owner is being freed). */
void iotc_flushq_cancel(struct iotc_flushq *q, void *arg);

#endif
