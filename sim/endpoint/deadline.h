/*
 * Deadlines of idle connections (the CONNECT deadline, keep-alive, the connection-duration
 * limit) as entries of one min-heap per endpoint, driven by one libevent timer armed for
 * the earliest. A libevent timer per deadline costs a 128-byte struct event plus malloc's
 * overhead; an entry here is 24 bytes in its owner and a pointer in the heap (issue 13,
 * <= 16 KB per idle device).
 *
 * Times are monotonic milliseconds (common/clock.h iotc_mono_ms), so a harness that moves
 * that clock moves the deadlines with it. An entry is popped before its callback runs: the
 * callback may set or clear any entry, its own included, and free its owner.
 */
#ifndef IOTC_ENDPOINT_DEADLINE_H
#define IOTC_ENDPOINT_DEADLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event;
struct event_base;

/* Embedded in its owner, which the callback finds with IOTC_DEADLINE_OWNER. Zeroed = not
 * set; fire must be filled in before the first iotc_deadline_set. */
struct iotc_deadline {
    double at_ms;  /* monotonic ms when it fires (meaningful while set) */
    uint32_t slot; /* 1 + index in the heap; 0 = not set */
    void (*fire)(struct iotc_deadline *d);
};

#define IOTC_DEADLINE_OWNER(d, type, member) ((type *)((char *)(d)-offsetof(type, member)))

struct iotc_deadlines {
    struct event_base *base;
    struct event *ev;            /* made on first use */
    struct iotc_deadline **heap; /* heap[0] is the earliest */
    uint32_t n, cap;
    double armed_ms; /* what ev is armed for; HUGE_VAL when not armed */
    bool running;    /* inside iotc_deadlines_run: it re-arms ev once at the end */
};

/* No allocation: ev and the heap come with the first iotc_deadline_set. */
void iotc_deadlines_init(struct iotc_deadlines *h, struct event_base *base);
/* Frees the heap and ev. Entries still set become not set (a later clear is harmless). */
void iotc_deadlines_free(struct iotc_deadlines *h);

/* Sets (or moves) d to fire ms from now (negative counts as 0). IOTC_ERR_NOMEM leaves d as
 * it was. Moving a set entry later costs a sift, no libevent call. */
int iotc_deadline_set(struct iotc_deadlines *h, struct iotc_deadline *d, double ms);
/* No-op when d is not set. */
void iotc_deadline_clear(struct iotc_deadlines *h, struct iotc_deadline *d);

static inline bool iotc_deadline_is_set(const struct iotc_deadline *d)
{
    return d->slot != 0;
}

/* Fires every entry due by the clock at the call, earliest first (entries set by the
 * callbacks wait for the next run), then re-arms the timer: the timer's callback, and the
 * unit test's way in. Returns how many fired. */
size_t iotc_deadlines_run(struct iotc_deadlines *h);

#endif
