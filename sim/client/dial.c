/* TCP dial with a connect timeout (see dial.h). */
#include "dial.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/err.h"

/* One address: 0 with the socket connected, else the errno that stopped it. */
static int dial__one(const struct addrinfo *ai, int timeout_ms, int *fd_out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int e = 0, flags;
    socklen_t len = sizeof(e);

    if (fd < 0)
        return errno;
    flags = fcntl(fd, F_GETFL);
    if (timeout_ms > 0 && flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        e = errno;
        if (e == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int n;
            do
                n = poll(&p, 1, timeout_ms);
            while (n < 0 && errno == EINTR);
            e = 0;
            if (n == 0)
                e = ETIMEDOUT;
            else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
                e = errno;
        }
    }
    if (e) {
        close(fd);
        return e;
    }
    if (timeout_ms > 0 && flags >= 0)
        fcntl(fd, F_SETFL, flags);
    *fd_out = fd;
    return 0;
}

int iotc_client_dial(const iotc_dial_opts *d, int *fd, iotc_errtext *err)
{
    struct addrinfo hints, *res = NULL;
    char port[16];
    int e = ENOENT;

    *fd = -1;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = d->family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = d->numeric ? AI_NUMERICHOST : 0;
    snprintf(port, sizeof(port), "%d", d->port);
    if (!d->host || getaddrinfo(d->host, port, &hints, &res) != 0 || !res) {
        iotc_errtext_set(err, 0, "no %s address to dial (\"%s\")",
                         d->family == AF_INET6  ? "IPv6"
                         : d->family == AF_INET ? "IPv4"
                                                : "network",
                         d->host ? d->host : "");
        if (res)
            freeaddrinfo(res);
        return IOTC_ERR_NOT_FOUND;
    }
    for (const struct addrinfo *ai = res; ai && *fd < 0; ai = ai->ai_next)
        e = dial__one(ai, d->connect_timeout_ms, fd);
    freeaddrinfo(res);
    if (*fd < 0) {
        iotc_errtext_set(err, 0, "connect to %s port %d: %s", d->host, d->port, strerror(e));
        return e == ETIMEDOUT ? IOTC_ERR_TIMEOUT : IOTC_ERR_IO;
    }
    if (d->io_timeout_ms > 0) {
        struct timeval tv = {d->io_timeout_ms / 1000, (d->io_timeout_ms % 1000) * 1000};
        setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(*fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if (d->nodelay) {
        int one = 1;
        setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return IOTC_OK;
}
