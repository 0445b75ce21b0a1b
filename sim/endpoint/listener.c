/*
 * Listening sockets: every logical port on every bind address (IPv4 and IPv6).
 * With an ephemeral port the first address picks the number and the others bind
 * the same number, so one port means the same row on both families.
 */
#include "conn.h"
#include "common/err.h"
#include "common/jevents.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct listener__arg {
    struct iotc_endpoint *ep;
    enum iotc_lport lport;
};
static struct listener__arg listener__args[IOTC_PORT_COUNT];

/*
 * Out of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM), a listener's socket stays
 * readable: retrying at once spins the loop at full CPU and floods the journal. So an
 * episode pauses every listener and retries after a backoff (10 ms doubling to 500 ms),
 * and the journal gets one line when it starts and one when accepts work again.
 */
#define LISTENER_PAUSE_MIN_MS 10
#define LISTENER_PAUSE_MAX_MS 500

static struct {
    struct event *timer; /* re-enables the listeners */
    bool active;         /* an episode is under way (until an accept succeeds) */
    bool paused;
    int pause_ms;
    double started_ms;
    unsigned long failures;
} listener__ep;

static void listener__enable_all(struct iotc_endpoint *ep, bool on)
{
    for (int i = 0; i < IOTC_PORT_COUNT; i++)
        for (int b = 0; b < IOTC_MAX_BIND; b++)
            if (ep->listeners[i][b])
                (on ? evconnlistener_enable : evconnlistener_disable)(ep->listeners[i][b]);
    listener__ep.paused = !on;
}

static void listener__on_resume(evutil_socket_t fd, short what, void *arg)
{
    listener__enable_all(arg, true); /* a still-full table fails again and pauses longer */
}

static void listener__on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                                int salen, void *arg)
{
    struct listener__arg *a = arg;
    if (listener__ep.active) {
        listener__ep.active = false;
        iotc_journal_emit(a->ep->journal, IOTC_EV_ENDPOINT_ACCEPT_RESUMED,
                          json_pack("{s:f, s:I}", "paused_ms",
                                    iotc_mono_ms() - listener__ep.started_ms, "failures",
                                    (json_int_t)listener__ep.failures));
    }
    iotc_conn_accept(a->ep, fd, sa, salen, a->lport);
}

static void listener__on_error(struct evconnlistener *l, void *arg)
{
    struct listener__arg *a = arg;
    int e = EVUTIL_SOCKET_ERROR();
    if (!listener__ep.active) {
        listener__ep.active = true;
        listener__ep.pause_ms = LISTENER_PAUSE_MIN_MS;
        listener__ep.started_ms = iotc_mono_ms();
        listener__ep.failures = 0;
        iotc_journal_emit(a->ep->journal, IOTC_EV_ENDPOINT_ACCEPT_ERROR,
                          json_pack("{s:i, s:s, s:s}", "port", iotc_lport_number[a->lport], "error",
                                    evutil_socket_error_to_string(e), "action",
                                    "accepting paused until descriptors are free"));
    } else if (listener__ep.pause_ms < LISTENER_PAUSE_MAX_MS) {
        listener__ep.pause_ms *= 2;
        if (listener__ep.pause_ms > LISTENER_PAUSE_MAX_MS)
            listener__ep.pause_ms = LISTENER_PAUSE_MAX_MS;
    }
    listener__ep.failures++;
    if (listener__ep.paused || !listener__ep.timer)
        return;
    listener__enable_all(a->ep, false);
    struct timeval tv = {listener__ep.pause_ms / 1000, (listener__ep.pause_ms % 1000) * 1000};
    evtimer_add(listener__ep.timer, &tv);
}

static int listener__addr(const char *host, int port, struct sockaddr_storage *ss, int *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
        return IOTC_OK;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        return IOTC_OK;
    }
    return IOTC_ERR_CONFIG;
}

static int listener__bound_port(struct evconnlistener *l)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void listener__close_port(struct iotc_endpoint *ep, int i)
{
    for (int b = 0; b < IOTC_MAX_BIND; b++) {
        if (ep->listeners[i][b])
            evconnlistener_free(ep->listeners[i][b]);
        ep->listeners[i][b] = NULL;
    }
}

/*
 * SO_REUSEPORT (serve --workers) would let a second serve of the same user bind a fixed
 * port ours holds and silently take half its connections: the parent first binds each
 * fixed port without it, so a port in use is refused as it is with one process.
 */
static int listener__probe(const struct sockaddr_storage *ss, int len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;
    if (fd < 0)
        return 0; /* the real bind reports it */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)ss, (socklen_t)len) != 0)
        rc = errno;
    close(fd);
    return rc;
}

static int listener__open_port(struct iotc_endpoint *ep, int i, iotc_errtext *err)
{
    const struct iotc_profile *p = &ep->profile;
    unsigned flags = LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
                     (ep->reuse_port ? LEV_OPT_REUSEABLE_PORT : 0); /* serve --workers */
    for (int attempt = 0; attempt < 32; attempt++) {
        int port = p->ports[i];
        bool retry = false;
        for (size_t b = 0; b < p->bind_count && b < IOTC_MAX_BIND; b++) {
            struct sockaddr_storage ss;
            int len;
            if (listener__addr(p->bind[b], port, &ss, &len)) {
                iotc_errtext_set(err, 0, "%s: $.bind[%zu]: '%s' is not an IP address", p->file, b,
                                 p->bind[b]);
                return IOTC_ERR_CONFIG;
            }
            int busy =
                ep->reuse_port && !ep->worker_child && port != 0 ? listener__probe(&ss, len) : 0;
            if (busy) {
                iotc_errtext_set(err, 0, "cannot listen on [%s]:%d for logical port %d: %s",
                                 p->bind[b], port, iotc_lport_number[i], strerror(busy));
                listener__close_port(ep, i);
                return IOTC_ERR_IO;
            }
            /* "::" must not swallow IPv4: each family gets its own socket. */
            unsigned f = flags | (ss.ss_family == AF_INET6 ? LEV_OPT_BIND_IPV6ONLY : 0);
            struct evconnlistener *l =
                evconnlistener_new_bind(ep->base, listener__on_accept, &listener__args[i], f, 1024,
                                        (struct sockaddr *)&ss, len);
            if (!l) {
                int e = errno;
                if (p->ports[i] == 0 && b > 0 && e == EADDRINUSE) {
                    retry = true; /* the number our first family got is taken on this one */
                    break;
                }
                iotc_errtext_set(err, 0, "cannot listen on [%s]:%d for logical port %d: %s%s",
                                 p->bind[b], port, iotc_lport_number[i], strerror(e),
                                 e == EACCES
                                     ? " (ports below 1024 need privileges: use --port-base or "
                                       "--ports)"
                                     : "");
                listener__close_port(ep, i);
                return IOTC_ERR_IO;
            }
            evconnlistener_set_error_cb(l, listener__on_error);
            ep->listeners[i][b] = l;
            if (b == 0)
                port = listener__bound_port(l);
        }
        if (!retry) {
            ep->bound_port[i] = port;
            return IOTC_OK;
        }
        listener__close_port(ep, i);
    }
    iotc_errtext_set(err, 0, "could not find a free port shared by all bind addresses");
    return IOTC_ERR_IO;
}

int iotc_listeners_open(struct iotc_endpoint *ep, iotc_errtext *err)
{
    memset(&listener__ep, 0, sizeof listener__ep);
    listener__ep.timer = evtimer_new(ep->base, listener__on_resume, ep);
    if (!listener__ep.timer) {
        iotc_errtext_set(err, 0, "out of memory");
        return IOTC_ERR_NOMEM;
    }
    for (int i = 0; i < IOTC_PORT_COUNT; i++) {
        listener__args[i].ep = ep;
        listener__args[i].lport = (enum iotc_lport)i;
        int rc = listener__open_port(ep, i, err);
        if (rc) {
            iotc_listeners_close(ep);
            return rc;
        }
    }
    return IOTC_OK;
}

void iotc_listeners_close(struct iotc_endpoint *ep)
{
    for (int i = 0; i < IOTC_PORT_COUNT; i++)
        listener__close_port(ep, i);
    if (listener__ep.timer)
        event_free(listener__ep.timer);
    listener__ep.timer = NULL;
}
