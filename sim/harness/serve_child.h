/*
 * A `serve` child the process faults act on: endpoint restart (SIGTERM, then a new
 * serve on the same real ports) and broker restart (SIGKILL mosquitto; serve's
 * supervisor starts a new one and logs broker.ready with the new pid). Used by fleet.
 */
#ifndef IOTC_HARNESS_SERVE_CHILD_H
#define IOTC_HARNESS_SERVE_CHILD_H

#include <stdbool.h>
#include "common/errtext.h"
#include <stddef.h>
#include <sys/types.h>

#include "serve.h"

struct iotc_serve_child {
    iotc_serve proc;
    pid_t broker_pid; /* from the journal's latest broker.ready, -1 when unknown */
    int ports[3];     /* real ports of logical 8883, 8443, 443 */
    char bin[1024], pki[1024], profile[1024], journal[1024], run_dir[1024], log[1024];
    bool no_packet_journal;
    unsigned restarts;
};
/* Starts `bin serve` (ports 0 unless c->ports are set) and waits for READY. Fill bin,
 * pki, profile (may be empty), journal, run_dir, log before calling. */
int iotc_serve_child_start(struct iotc_serve_child *c, int timeout_ms, iotc_errtext *err);
/* SIGTERM, wait (SIGKILL after timeout_ms). */
void iotc_serve_child_stop(struct iotc_serve_child *c, int timeout_ms);
/* Endpoint restart: stop, then start again on the same real ports. */
int iotc_serve_child_restart(struct iotc_serve_child *c, int timeout_ms, iotc_errtext *err);
/* Broker restart: SIGKILL the current mosquitto (serve's supervisor starts a new one).
 * Returns the pid killed, or a negative iotc_err. */
int iotc_serve_child_kill_broker(struct iotc_serve_child *c);
/* Re-reads the journal for the latest broker.ready pid. */
pid_t iotc_serve_child_broker_pid(struct iotc_serve_child *c);
/* The front-door processes (serve --workers: the parent first, from the journal's latest
 * endpoint.workers; else serve itself) into out; their count. */
int iotc_serve_child_worker_pids(struct iotc_serve_child *c, pid_t *out, int max);
int iotc_serve_child_port(const struct iotc_serve_child *c, int lport);

#endif
