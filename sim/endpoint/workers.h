/*
 * serve --workers N: this process (worker 0, which also supervises mosquitto) starts
 * N-1 more front-door processes that listen on the same ports (SO_REUSEPORT, so the
 * kernel spreads new connections over all of them, each with its own descriptor budget)
 * and reach the same broker over its private unix socket. The parent waits for every
 * worker's READY before its own, restarts a worker that dies (and journals it), and
 * stops them all when it stops.
 */
#ifndef IOTC_ENDPOINT_WORKERS_H
#define IOTC_ENDPOINT_WORKERS_H

#include "endpoint_int.h"

/* Prepares the shared journal and takeover table (parent or worker); before listening. */
int iotc_ep_workers_prepare(struct iotc_endpoint *ep, const iotc_endpoint_opts *o,
                            iotc_errtext *err);
/* Parent, listeners bound: start the other workers and wait for their READY lines. */
int iotc_ep_workers_start(struct iotc_endpoint *ep, iotc_errtext *err);
/* Stops every worker (SIGTERM, grace, SIGKILL) and frees. */
void iotc_ep_workers_stop(struct iotc_endpoint *ep);

#endif
