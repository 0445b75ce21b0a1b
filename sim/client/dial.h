/*
 * The one TCP dial of the blocking clients: resolve (a literal only, or any name),
 * pick the family, connect without blocking longer than a timeout, then hand back
 * a blocking socket with optional send / receive timeouts and TCP_NODELAY.
 */
#ifndef IOTC_CLIENT_DIAL_H
#define IOTC_CLIENT_DIAL_H

#include <stddef.h>
#include "common/errtext.h"

typedef struct iotc_dial_opts {
    const char *host; /* a name, or a literal address */
    int port;
    int family;             /* AF_INET, AF_INET6, or AF_UNSPEC: every address in resolver order */
    int numeric;            /* host must be a literal address: no name lookup */
    int connect_timeout_ms; /* > 0: bound on each connect attempt */
    int io_timeout_ms;      /* > 0: SO_RCVTIMEO and SO_SNDTIMEO on the connected socket */
    int nodelay;            /* TCP_NODELAY: small packets are not held back */
} iotc_dial_opts;

/* IOTC_OK with *fd a connected blocking socket (close-on-exec). IOTC_ERR_NOT_FOUND:
 * no address of the family (err says so). IOTC_ERR_IO / IOTC_ERR_TIMEOUT: no
 * address accepted the connection (err: "connect to HOST port N: why", from the
 * last one tried). */
int iotc_client_dial(const iotc_dial_opts *d, int *fd, iotc_errtext *err);

#endif
