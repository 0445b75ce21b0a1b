/* Output of one loop turn, sent at its end (why: flushq.h). */
#include "flushq.h"
#include "common/err.h"

#include <event2/event.h>
#include <stdlib.h>

static void flushq__run(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct iotc_flushq *q = arg;
    /* By index: a call may add (grows the list) or cancel (clears an entry). */
    for (size_t i = 0; i < q->n; i++) {
        struct iotc_flushq_entry e = q->list[i];
        if (e.fn)
            e.fn(e.arg);
    }
    q->n = 0;
}

void iotc_flushq_init(struct iotc_flushq *q, struct event_base *base)
{
    *q = (struct iotc_flushq){.base = base};
}

void iotc_flushq_free(struct iotc_flushq *q)
{
    if (q->ev)
        event_free(q->ev);
    free(q->list);
    iotc_flushq_init(q, q->base);
}

int iotc_flushq_add(struct iotc_flushq *q, void (*fn)(void *arg), void *arg)
{
    if (!q->ev && !(q->ev = event_new(q->base, -1, 0, flushq__run, q)))
        return IOTC_ERR_NOMEM;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        struct iotc_flushq_entry *l = realloc(q->list, cap * sizeof *l);
        if (!l)
            return IOTC_ERR_NOMEM;
        q->list = l;
        q->cap = cap;
    }
    q->list[q->n++] = (struct iotc_flushq_entry){fn, arg};
    if (q->n == 1)
        event_active(q->ev, EV_TIMEOUT, 0);
    return IOTC_OK;
}

void iotc_flushq_cancel(struct iotc_flushq *q, void *arg)
{
    for (size_t i = 0; i < q->n; i++)
        if (q->list[i].arg == arg)
            q->list[i].fn = NULL;
}
