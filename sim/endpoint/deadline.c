/* The endpoint's deadline heap (deadline.h): a binary min-heap on at_ms, one libevent timer. */
#include "deadline.h"
#include "common/clock.h"
#include "common/err.h"

#include <event2/event.h>
#include <math.h> /* HUGE_VAL */
#include <stdlib.h>

#define DL_FIRST_CAP 64

static void dl__place(struct iotc_deadlines *h, uint32_t i, struct iotc_deadline *d)
{
    h->heap[i] = d;
    d->slot = i + 1;
}

static void dl__sift_up(struct iotc_deadlines *h, uint32_t i)
{
    struct iotc_deadline *d = h->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->heap[parent]->at_ms <= d->at_ms)
            break;
        dl__place(h, i, h->heap[parent]);
        i = parent;
    }
    dl__place(h, i, d);
}

static void dl__sift_down(struct iotc_deadlines *h, uint32_t i)
{
    struct iotc_deadline *d = h->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->heap[child + 1]->at_ms < h->heap[child]->at_ms)
            child++;
        if (d->at_ms <= h->heap[child]->at_ms)
            break;
        dl__place(h, i, h->heap[child]);
        i = child;
    }
    dl__place(h, i, d);
}

static void dl__remove(struct iotc_deadlines *h, struct iotc_deadline *d)
{
    uint32_t i = d->slot - 1;
    struct iotc_deadline *last = h->heap[--h->n];
    d->slot = 0;
    if (i == h->n)
        return;
    dl__place(h, i, last);
    if (i > 0 && h->heap[(i - 1) / 2]->at_ms > last->at_ms)
        dl__sift_up(h, i);
    else
        dl__sift_down(h, i);
}

/* Arms the timer for the earliest entry only when that is sooner than it is armed for: a
 * timer armed too early (its entry cleared or moved later) wakes once and re-arms, which
 * keeps moving a keep-alive later free of libevent calls. */
static void dl__rearm(struct iotc_deadlines *h)
{
    if (h->running || !h->ev)
        return;
    if (h->n == 0) {
        if (h->armed_ms != HUGE_VAL)
            event_del(h->ev);
        h->armed_ms = HUGE_VAL;
        return;
    }
    double at = h->heap[0]->at_ms;
    if (at >= h->armed_ms)
        return;
    double left = at - iotc_mono_ms();
    long long us = 0;
    if (left > 0) { /* rounded up: a timer that wakes before the entry is due wakes twice */
        us = (long long)(left * 1000.0);
        if ((double)us < left * 1000.0)
            us++;
    }
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    if (evtimer_add(h->ev, &tv) == 0)
        h->armed_ms = at;
}

static void dl__on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct iotc_deadlines *h = arg;
    h->armed_ms = HUGE_VAL; /* fired: no longer pending */
    iotc_deadlines_run(h);
}

void iotc_deadlines_init(struct iotc_deadlines *h, struct event_base *base)
{
    *h = (struct iotc_deadlines){.base = base, .armed_ms = HUGE_VAL};
}

void iotc_deadlines_free(struct iotc_deadlines *h)
{
    for (uint32_t i = 0; i < h->n; i++)
        h->heap[i]->slot = 0;
    free(h->heap);
    if (h->ev)
        event_free(h->ev);
    iotc_deadlines_init(h, h->base);
}

static int dl__grow(struct iotc_deadlines *h)
{
    if (h->n < h->cap)
        return IOTC_OK;
    if (h->cap > UINT32_MAX / 2)
        return IOTC_ERR_NOMEM;
    uint32_t cap = h->cap ? h->cap * 2 : DL_FIRST_CAP;
    struct iotc_deadline **heap = realloc(h->heap, (size_t)cap * sizeof *heap);
    if (!heap)
        return IOTC_ERR_NOMEM;
    h->heap = heap;
    h->cap = cap;
    return IOTC_OK;
}

int iotc_deadline_set(struct iotc_deadlines *h, struct iotc_deadline *d, double ms)
{
    if (!(ms > 0)) /* negative or NaN */
        ms = 0;
    if (!h->ev && !(h->ev = evtimer_new(h->base, dl__on_timer, h)))
        return IOTC_ERR_NOMEM;
    double at = iotc_mono_ms() + ms;
    if (d->slot) {
        double was = d->at_ms;
        d->at_ms = at;
        if (at < was)
            dl__sift_up(h, d->slot - 1);
        else
            dl__sift_down(h, d->slot - 1);
    } else {
        if (dl__grow(h) != IOTC_OK)
            return IOTC_ERR_NOMEM;
        d->at_ms = at;
        h->heap[h->n] = d;
        dl__sift_up(h, h->n++);
    }
    dl__rearm(h);
    return IOTC_OK;
}

void iotc_deadline_clear(struct iotc_deadlines *h, struct iotc_deadline *d)
{
    if (!d->slot)
        return;
    dl__remove(h, d);
    if (h->n == 0)
        dl__rearm(h); /* otherwise the timer may wake early once, and re-arm then */
}

size_t iotc_deadlines_run(struct iotc_deadlines *h)
{
    if (h->running)
        return 0;
    double now = iotc_mono_ms();
    size_t fired = 0;
    h->running = true;
    /* Due by now only: an entry a callback sets (even for 0 ms) is later than now, so a
     * callback that keeps re-setting itself cannot hold the loop here. */
    while (h->n > 0 && h->heap[0]->at_ms <= now) {
        struct iotc_deadline *d = h->heap[0];
        dl__remove(h, d);
        d->fire(d); /* may free d's owner: d is not touched again */
        fired++;
    }
    h->running = false;
    dl__rearm(h);
    return fired;
}
