/* The fault proxy's listening side: loopback listeners, the port-addressed rules. */
#include "faults_int.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static void proxy__on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                             int salen, void *arg)
{
    struct iotc_proxy *p = arg;
    uint16_t port = 0;
    if (sa->sa_family == AF_INET)
        port = ntohs(((struct sockaddr_in *)sa)->sin_port);
    else if (sa->sa_family == AF_INET6)
        port = ntohs(((struct sockaddr_in6 *)sa)->sin6_port);
    struct iotc_faults_proxy_slot *s = &p->slots[port];
    const struct iotc_fault *f = s->has_rule ? &s->rule : &p->all;
    p->st.accepted++;
    if (iotc_faults__relay_open(p, fd, port, f) != IOTC_OK)
        evutil_closesocket(fd);
}

static struct evconnlistener *proxy__listen(struct iotc_proxy *p, int family, int port, int *bound)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        in6->sin6_addr = in6addr_loopback;
        len = sizeof *in6;
    }
    struct evconnlistener *l =
        evconnlistener_new_bind(p->base, proxy__on_accept, p,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                1024, (struct sockaddr *)&ss, (int)len);
    if (!l)
        return NULL;
    len = sizeof ss;
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len) == 0)
        *bound = family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                   : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return l;
}

int iotc_proxy_new(struct event_base *base, const char *upstream_host, int upstream_port,
                   struct iotc_proxy **out)
{
    int rc = IOTC_ERR_NOMEM;
    struct iotc_proxy *p = calloc(1, sizeof *p);
    if (!p)
        return IOTC_ERR_NOMEM;
    if (!upstream_host || strlen(upstream_host) >= sizeof p->up_host || upstream_port <= 0 ||
        upstream_port > 65535) {
        rc = IOTC_ERR_INVALID;
        goto cleanup;
    }
    p->base = base;
    snprintf(p->up_host, sizeof p->up_host, "%s", upstream_host);
    p->up_port = upstream_port;
    /* calloc: untouched pages of the table never become resident. */
    p->slots = calloc(IOTC_FAULTS_PROXY_PORTS, sizeof *p->slots);
    if (!p->slots)
        goto cleanup;
    p->lis[0] = proxy__listen(p, AF_INET, 0, &p->port);
    if (!p->lis[0]) {
        rc = IOTC_ERR_IO;
        goto cleanup;
    }
    /* Same number on ::1 when free, so one port serves both families; else any. */
    p->lis[1] = proxy__listen(p, AF_INET6, p->port, &p->port6);
    if (!p->lis[1])
        p->lis[1] = proxy__listen(p, AF_INET6, 0, &p->port6);
    *out = p;
    return IOTC_OK;
cleanup:
    iotc_proxy_free(p);
    return rc;
}

void iotc_proxy_free(struct iotc_proxy *p)
{
    if (!p)
        return;
    while (p->conns)
        iotc_faults__relay_free(p->conns, false);
    for (int i = 0; i < 2; i++)
        if (p->lis[i])
            evconnlistener_free(p->lis[i]);
    free(p->slots);
    free(p);
}

int iotc_proxy_port(const struct iotc_proxy *p)
{
    return p->port;
}

int iotc_proxy_port_v6(const struct iotc_proxy *p)
{
    return p->lis[1] ? p->port6 : 0;
}

void iotc_proxy_set_upstream_port(struct iotc_proxy *p, int port)
{
    if (port > 0 && port <= 65535)
        p->up_port = port;
}

int iotc_proxy_fault_port(struct iotc_proxy *p, uint16_t client_port, const struct iotc_fault *f)
{
    if (!f || (unsigned)f->kind >= IOTC_FAULT_KIND_COUNT ||
        (f->kind != IOTC_FAULT_NONE && !iotc_fault_is_network(f->kind)))
        return IOTC_ERR_INVALID;
    struct iotc_faults_proxy_slot *s = &p->slots[client_port];
    if (s->conn) {
        /* The rule lives with this connection: a later one reusing the port starts clean. */
        s->has_rule = f->kind != IOTC_FAULT_NONE;
        s->rule = *f;
        iotc_faults__relay_apply(s->conn, f);
        return IOTC_OK;
    }
    s->has_rule = f->kind != IOTC_FAULT_NONE;
    s->rule = *f;
    return IOTC_OK;
}

int iotc_proxy_fault_all(struct iotc_proxy *p, const struct iotc_fault *f)
{
    if (!f || (unsigned)f->kind >= IOTC_FAULT_KIND_COUNT ||
        (f->kind != IOTC_FAULT_NONE && !iotc_fault_is_network(f->kind)))
        return IOTC_ERR_INVALID;
    p->all = *f;
    if (f->kind == IOTC_FAULT_RESET)
        p->all.kind = IOTC_FAULT_NONE; /* a reset is an event, not a state */
    struct iotc_faults_pconn *next;
    for (struct iotc_faults_pconn *c = p->conns; c; c = next) {
        next = c->next;
        if (!p->slots[c->client_port].has_rule)
            iotc_faults__relay_apply(c, f);
    }
    return IOTC_OK;
}

void iotc_proxy_stats(const struct iotc_proxy *p, struct iotc_proxy_stats *out)
{
    *out = p->st;
}
