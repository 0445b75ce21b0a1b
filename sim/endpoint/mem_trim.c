/*
 * Idle memory back to the system. Every full handshake borrows tens of kilobytes from
 * the heap (handshake buffers, key shares, chain checks) and frees them; glibc keeps the
 * freed pages resident between the connections' long-lived objects. Once no handshake is
 * in flight for a moment, malloc_trim returns them: an idle fleet is charged for what its
 * connections keep, not for the last burst of connects (issue 13, <= 16 KB per idle
 * device). A steady stream of handshakes never waits on it: it runs only when none is in
 * flight.
 */
#include "endpoint_int.h"

#include <event2/event.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define TRIM_QUIET_MS 300 /* no handshake in flight for this long */

static void trim__on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_endpoint *ep = arg;
    (void)fd;
    (void)what;
#ifdef __GLIBC__
    if (ep->handshaking == 0)
        malloc_trim(0);
#else
    (void)ep;
#endif
}

void iotc_ep_trim_handshake_start(struct iotc_endpoint *ep)
{
    ep->handshaking++;
}

void iotc_ep_trim_handshake_end(struct iotc_endpoint *ep)
{
    if (ep->handshaking > 0)
        ep->handshaking--;
    if (ep->handshaking > 0 || ep->trim_closed)
        return;
    if (!ep->trim_ev && !(ep->trim_ev = evtimer_new(ep->base, trim__on_timer, ep)))
        return;
    struct timeval tv = {0, TRIM_QUIET_MS * 1000};
    evtimer_add(ep->trim_ev, &tv);
}

void iotc_ep_trim_free(struct iotc_endpoint *ep)
{
    ep->trim_closed = true;
    if (ep->trim_ev)
        event_free(ep->trim_ev);
    ep->trim_ev = NULL;
}
