/* The other front-door processes of serve --workers (see workers.h). */
#include "workers.h"
#include "wshared.h"
#include "lifecycle.h"
#include "common/err.h"
#include "common/jevents.h"
#include "common/spawn.h"
#include "harness/ready.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKERS_MAX          IOTC_ENDPOINT_WORKERS_MAX
#define WORKERS_ARGS         48
#define WORKERS_READY_MS     20000
#define WORKERS_POLL_MS      200
#define WORKERS_STOP_GRACE   3000
#define WORKERS_CONN_ID_SPAN 1000000000ull
#define WORKERS_CACHE_DIR    "workers.authz" /* in the parent's run directory */

struct iotc_ep_workers {
    int n;
    pid_t pid[WORKERS_MAX];
    unsigned restarts[WORKERS_MAX];
    char *const *base_argv;
    char map_path[4200];
    struct event *poll;
    bool stopping;
};

int iotc_ep_workers_prepare(struct iotc_endpoint *ep, const iotc_endpoint_opts *o,
                            iotc_errtext *err)
{
    if (o->worker_id > 0) {
        ep->reuse_port = ep->worker_child = true;
        ep->worker_id = o->worker_id;
        /* The journal's "conn" numbers must not repeat across workers: each counts in
         * its own billion (worker 0 as before from 1). */
        ep->next_conn_id = (uint64_t)o->worker_id * WORKERS_CONN_ID_SPAN;
        iotc_journal_share(ep->journal, o->journal_t0, o->worker_id);
        /* the cache directory is the parent's: this worker runs in RUN_DIR/worker-K */
        char cache[4200];
        const char *slash = strrchr(ep->run_dir, '/');
        snprintf(cache, sizeof cache, "%.*s/" WORKERS_CACHE_DIR,
                 (int)(slash ? slash - ep->run_dir : 1), slash ? ep->run_dir : ".");
        if (o->takeover_map && iotc_ep_shared_open(ep, o->takeover_map, cache, false) != IOTC_OK) {
            iotc_errtext_set(err, 0, "worker %d: cannot map %s: %s", o->worker_id, o->takeover_map,
                             strerror(errno));
            return IOTC_ERR_IO;
        }
        return IOTC_OK;
    }
    if (o->workers <= 1)
        return IOTC_OK;
    if (o->workers > WORKERS_MAX || !o->worker_argv || o->broker_url) {
        iotc_errtext_set(err, 0, "--workers: 1..%d, and only with serve's own broker", WORKERS_MAX);
        return IOTC_ERR_CONFIG;
    }
    struct iotc_ep_workers *w = calloc(1, sizeof *w);
    if (!w)
        return IOTC_ERR_NOMEM;
    ep->workers = w;
    w->n = o->workers;
    w->base_argv = o->worker_argv;
    for (int i = 0; i < WORKERS_MAX; i++)
        w->pid[i] = -1;
    ep->reuse_port = true;
    iotc_journal_share(ep->journal, iotc_journal_t0(ep->journal), 0);
    char cache[4200];
    snprintf(cache, sizeof cache, "%s/" WORKERS_CACHE_DIR, ep->run_dir);
    if (iotc_ep_shared_open(ep, NULL, cache, true) != IOTC_OK) {
        iotc_errtext_set(err, 0, "cannot create the workers' shared state (memfd): %s",
                         strerror(errno));
        return IOTC_ERR_IO;
    }
    snprintf(w->map_path, sizeof w->map_path, "%s", iotc_ep_shared_worker_path(ep));
    return IOTC_OK;
}

/* Spawns worker k and waits for its READY line (it listens then). */
static int workers__spawn(struct iotc_endpoint *ep, int k, iotc_errtext *err)
{
    struct iotc_ep_workers *w = ep->workers;
    char *argv[WORKERS_ARGS], ports[96], broker[200], secret[4200], run_dir[4200], id[16], t0[40];
    int a = 0;
    for (; w->base_argv[a] && a < WORKERS_ARGS - 20; a++)
        argv[a] = w->base_argv[a];
    const char *sock = iotc_broker_socket_path(ep->broker);
    snprintf(broker, sizeof broker, "unix:%s", sock ? sock : "");
    /* The secret sits next to the broker's socket (sim/broker/files.c). */
    snprintf(secret, sizeof secret, "%s/secret", ep->broker_dir[0] ? ep->broker_dir : ep->run_dir);
    snprintf(ports, sizeof ports, "8883=%d,8443=%d,443=%d", ep->bound_port[IOTC_PORT_8883],
             ep->bound_port[IOTC_PORT_8443], ep->bound_port[IOTC_PORT_443]);
    snprintf(run_dir, sizeof run_dir, "%s/worker-%d", ep->run_dir, k);
    snprintf(id, sizeof id, "%d", k);
    snprintf(t0, sizeof t0, "%.6f", iotc_journal_t0(ep->journal));
    const char *extra[] = {
        "--broker",     broker,  "--broker-secret", secret,           "--ports",     ports,
        "--run-dir",    run_dir, "--journal",       ep->journal_path, "--worker-id", id,
        "--journal-t0", t0,      "--shared-state",  w->map_path,      NULL};
    for (int i = 0; extra[i]; i++)
        argv[a++] = (char *)extra[i];
    argv[a] = NULL;
    iotc_spawn_opts sp = {
        .path = "/proc/self/exe",
        .argv = argv,
        .out = {IOTC_SPAWN_PIPE, -1, NULL},
        .deathsig = SIGTERM, /* no orphaned worker if the parent dies, even by SIGKILL */
        .ignore_sigint = true,
    };
    if (iotc_spawn(&sp, &w->pid[k]) != IOTC_OK) {
        iotc_errtext_set(err, 0, "cannot start worker %d: %s", k, strerror(errno));
        return IOTC_ERR_IO;
    }
    iotc_ready r = {0};
    int rc = iotc_ready_wait(sp.out.fd, WORKERS_READY_MS, NULL, &r, err);
    close(sp.out.fd); /* a worker prints READY once; later output would only be lost */
    iotc_ready_free(&r);
    if (rc != IOTC_OK) {
        iotc_errtext_prefix(err, 0, "worker %d did not become ready", k);
        iotc_spawn_stop(w->pid[k], WORKERS_STOP_GRACE, 0, false, NULL);
        w->pid[k] = -1;
        return rc;
    }
    return IOTC_OK;
}

/* The dead worker's sessions end as AWS ends a lost connection: presence/disconnected,
 * CONNECTION_LOST (DUPLICATE_CLIENTID where a newer connect had already claimed it). */
static void workers__orphan(void *arg, const struct iotc_ep_shared_session *s)
{
    struct iotc_endpoint *ep = arg;
    iotc_lifecycle_disconnected(ep->lifecycle, s->client_id, s->session_id, s->principal,
                                s->taken_over ? "DUPLICATE_CLIENTID" : "CONNECTION_LOST", false);
}

/* A worker that died is journaled and started again: its devices reconnect to any worker. */
static void workers__on_poll(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_endpoint *ep = arg;
    struct iotc_ep_workers *w = ep->workers;
    for (int k = 1; k < w->n && !w->stopping; k++) {
        int status = 0;
        if (w->pid[k] < 0 || iotc_spawn_reap(w->pid[k], &status) != 1)
            continue;
        iotc_errtext why;
        iotc_errtext_clear(&why);
        json_t *f = json_pack("{s:i, s:i, s:i, s:i}", "worker", k, "pid", (int)w->pid[k],
                              WIFSIGNALED(status) ? "signal" : "status",
                              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                              "restarts", (int)++w->restarts[k]);
        w->pid[k] = -1;
        size_t lost = iotc_ep_shared_orphans(ep, k, workers__orphan, ep);
        json_object_set_new(f, "sessions_lost", json_integer((json_int_t)lost));
        int rc = workers__spawn(ep, k, &why);
        json_object_set_new(f, "restarted", json_boolean(rc == IOTC_OK));
        if (rc != IOTC_OK)
            /* the journal field keeps its former 600-byte bound */
            json_object_set_new(f, "error", json_stringn(why.msg, strnlen(why.msg, 599)));
        else
            json_object_set_new(f, "new_pid", json_integer(w->pid[k]));
        iotc_journal_emit(ep->journal, IOTC_EV_ENDPOINT_WORKER_EXIT, f);
    }
}

int iotc_ep_workers_start(struct iotc_endpoint *ep, iotc_errtext *err)
{
    struct iotc_ep_workers *w = ep->workers;
    if (!w)
        return IOTC_OK;
    for (int k = 1; k < w->n; k++) {
        if (w->pid[k] > 0)
            continue; /* the broker restarted: the workers still run */
        int rc = workers__spawn(ep, k, err);
        if (rc != IOTC_OK)
            return rc;
    }
    if (!w->poll) {
        w->poll = event_new(ep->base, -1, EV_PERSIST, workers__on_poll, ep);
        struct timeval tv = {0, WORKERS_POLL_MS * 1000};
        if (!w->poll || event_add(w->poll, &tv) != 0) {
            iotc_errtext_set(err, 0, "out of memory");
            return IOTC_ERR_NOMEM;
        }
    }
    json_t *pids = json_array();
    json_array_append_new(pids, json_integer((int)getpid()));
    for (int k = 1; k < w->n; k++)
        json_array_append_new(pids, json_integer((int)w->pid[k]));
    iotc_journal_emit(ep->journal, IOTC_EV_ENDPOINT_WORKERS,
                      json_pack("{s:i, s:o}", "workers", w->n, "pids", pids));
    return IOTC_OK;
}

void iotc_ep_workers_stop(struct iotc_endpoint *ep)
{
    struct iotc_ep_workers *w = ep->workers;
    if (w) {
        w->stopping = true;
        /* SIGTERM to all first, then wait: they drain in parallel. */
        for (int k = 1; k < w->n; k++)
            if (w->pid[k] > 0)
                kill(w->pid[k], SIGTERM);
        for (int k = 1; k < w->n; k++)
            if (w->pid[k] > 0)
                iotc_spawn_stop(w->pid[k], WORKERS_STOP_GRACE, 0, false, NULL);
        if (w->poll)
            event_free(w->poll);
        unlink(w->map_path);
        free(w);
        ep->workers = NULL;
    }
    iotc_ep_shared_close(ep);
}
