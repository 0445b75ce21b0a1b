/*
 * One embedded event watching a socket for what its owner currently wants (conn_io.c,
 * broker_link_unix.c): one event instead of a read and a write event, because every idle
 * device holds two such sockets (issue 13's memory budget).
 */
#ifndef IOTC_ENDPOINT_EV_WATCH_H
#define IOTC_ENDPOINT_EV_WATCH_H

#include <event2/event.h>
#include <event2/event_struct.h>

/* Makes ev watch fd for want (EV_READ / EV_WRITE, 0: nothing); *have is what it watches
 * now and is updated. Nothing happens when want is unchanged. */
static inline void iotc_ev_watch(struct event *ev, short *have, short want, struct event_base *base,
                                 evutil_socket_t fd, event_callback_fn cb, void *arg)
{
    if (want == *have)
        return;
    if (*have)
        event_del(ev);
    *have = want;
    if (!want)
        return;
    /* Assigned again on every change: only a non-pending event may be assigned. */
    event_assign(ev, base, fd, want | EV_PERSIST, cb, arg);
    if (event_add(ev, NULL) != 0)
        *have = 0;
}

#endif
