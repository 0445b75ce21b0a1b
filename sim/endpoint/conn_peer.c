/* The client's address: kept as accept() gave it (20 bytes per connection, issue 13) and
 * written out only when the journal, a policy decision or a lifecycle event asks. */
#include "conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

void iotc_conn_peer_set(struct iotc_conn *c, const struct sockaddr *sa)
{
    struct iotc_conn_peer *p = &c->peer;
    memset(p, 0, sizeof *p);
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        memcpy(p->addr, &s6->sin6_addr, 16);
        p->port = ntohs(s6->sin6_port);
        p->v6 = true;
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        memcpy(p->addr, &s4->sin_addr, 4);
        p->port = ntohs(s4->sin_port);
    }
}

static bool peer__mapped(const struct iotc_conn_peer *p)
{
    struct in6_addr a;
    memcpy(&a, p->addr, sizeof a);
    return p->v6 && IN6_IS_ADDR_V4MAPPED(&a);
}

bool iotc_conn_peer_ipv6(const struct iotc_conn *c)
{
    return c->peer.v6 && !peer__mapped(&c->peer);
}

/* The address as the socket has it: IPv4-mapped addresses keep their ::ffff: form. */
const char *iotc_conn_peer_host(const struct iotc_conn *c, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    if (!inet_ntop(c->peer.v6 ? AF_INET6 : AF_INET, c->peer.addr, buf, (socklen_t)size))
        snprintf(buf, size, "?");
    return buf;
}

const char *iotc_conn_peer_ip(const struct iotc_conn *c, char *buf, size_t size)
{
    if (size == 0 || !peer__mapped(&c->peer))
        return iotc_conn_peer_host(c, buf, size);
    if (!inet_ntop(AF_INET, c->peer.addr + 12, buf, (socklen_t)size))
        snprintf(buf, size, "?");
    return buf;
}

const char *iotc_conn_peer_str(const struct iotc_conn *c, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    iotc_conn_peer_host(c, host, sizeof host);
    snprintf(buf, size, c->peer.v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)c->peer.port);
    return buf;
}
