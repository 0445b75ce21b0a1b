/*
 * The endpoint's lifecycle: open (configuration, journal, TLS context, broker),
 * run (the loop; listeners open when the broker is first ready), stop, close.
 */
#include "endpoint_int.h"
#include "broker_remote.h"
#include "auth.h"
#include "conn.h"
#include "endpoint_fuzz.h"
#include "lifecycle.h"
#include "workers.h"
#include "common/err.h"
#include "common/x509_cache.h"
#include "common/jevents.h"
#include "common/strmap.h"
#include "config/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert((int)IOTC_ENDPOINT_8883 == (int)IOTC_PORT_8883 &&
                   (int)IOTC_ENDPOINT_443 == (int)IOTC_PORT_443 &&
                   (int)IOTC_ENDPOINT_NPORTS == (int)IOTC_PORT_COUNT,
               "public port indexes follow enum iotc_lport");

void iotc_endpoint_opts_init(iotc_endpoint_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < IOTC_ENDPOINT_NPORTS; i++)
        o->ports[i] = IOTC_ENDPOINT_PORT_PROFILE;
}

static void endpoint__on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct iotc_endpoint *ep = arg;
    iotc_journal_emit(ep->journal, IOTC_EV_ENDPOINT_STOP,
                      json_pack("{s:s}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    event_base_loopexit(ep->base, NULL);
}

static void endpoint__on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_endpoint *ep = arg;
    char drain[64];
    while (read(fd, drain, sizeof drain) > 0)
        ;
    iotc_journal_emit(ep->journal, IOTC_EV_ENDPOINT_STOP,
                      json_pack("{s:s}", "reason", "iotc_endpoint_stop"));
    event_base_loopexit(ep->base, NULL);
}

static void endpoint__on_broker_event(void *arg, const char *event, json_t *fields)
{
    struct iotc_endpoint *ep = arg;
    iotc_journal_emit(ep->journal, event, json_incref(fields));
}

static void endpoint__on_broker_ready(void *arg)
{
    struct iotc_endpoint *ep = arg;
    iotc_lifecycle_broker_ready(ep->lifecycle);
    if (ep->ready)
        return;
    if (iotc_listeners_open(ep, &ep->run_err) != IOTC_OK) {
        ep->run_rc = IOTC_ERR_IO;
        event_base_loopexit(ep->base, NULL);
        return;
    }
    if (iotc_ep_workers_start(ep, &ep->run_err) != IOTC_OK) {
        ep->run_rc = IOTC_ERR_IO;
        event_base_loopexit(ep->base, NULL);
        return;
    }
    json_t *ports = json_pack("{s:i, s:i, s:i}", "8883", ep->bound_port[IOTC_PORT_8883], "8443",
                              ep->bound_port[IOTC_PORT_8443], "443", ep->bound_port[IOTC_PORT_443]);
    ep->ready = json_pack("{s:O, s:s, s:i, s:s, s:s, s:s}", "ports", ports, "journal",
                          ep->journal_path, "pid", (int)getpid(), "profile", ep->profile.name,
                          "security_policy", ep->profile.policy_name, "pki", ep->pki_dir);
    iotc_journal_emit(ep->journal, IOTC_EV_ENDPOINT_READY,
                      json_pack("{s:O, s:s?}", "ports", ports, "scenario",
                                ep->has_scenario ? ep->scenario.name : NULL));
    json_decref(ports);
    if (ep->on_ready)
        ep->on_ready(ep, ep->arg);
}

/*
 * The run directory holds the broker's socket and secret, so it must be this serve's
 * alone. A directory serve creates is 0700. An existing one is used as it is and its
 * mode is never changed (--run-dir /tmp must not break /tmp): it must be a real
 * directory (not a symlink) owned by this user; if others may write in it (a shared
 * directory such as a 1777 /tmp) serve works in a private subdirectory it creates.
 * A lock file then refuses a second serve on the same directory, which would
 * otherwise take over the first one's broker socket and secret.
 */
static int endpoint__lock_run_dir(struct iotc_endpoint *ep, iotc_errtext *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/serve.lock", ep->run_dir);
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return iotc_errtext_set(err, IOTC_ERR_CONFIG,
                                    "run directory %s: cannot open its lock file: %s", ep->run_dir,
                                    strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char pid[32] = "";
            ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            close(fd);
            if (e == EWOULDBLOCK)
                return iotc_errtext_set(err, IOTC_ERR_CONFIG,
                                        "run directory %s is in use by another serve%s%s%s: give "
                                        "each serve its own --run-dir",
                                        ep->run_dir, pid[0] ? " (pid " : "", pid,
                                        pid[0] ? ")" : "");
            return iotc_errtext_set(err, IOTC_ERR_CONFIG, "run directory %s: lock: %s", ep->run_dir,
                                    strerror(e));
        }
        /* The holder before us may have removed the file between our open and our
         * lock: a lock on an unlinked file guards nothing, so check it is still there. */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev) {
            char pid[32];
            int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
            if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
                /* the pid is only for the message above: the lock itself holds */
            }
            ep->lock_fd = fd;
            return IOTC_OK;
        }
        close(fd);
    }
    return iotc_errtext_set(err, IOTC_ERR_CONFIG, "run directory %s: its lock file keeps changing",
                            ep->run_dir);
}

static int endpoint__run_dir(struct iotc_endpoint *ep, const char *dir, iotc_errtext *err)
{
    char tmpl[4096];
    if (dir) {
        struct stat st;
        if (mkdir(dir, 0700) == 0) {
            ep->own_run_dir = true;
            ep->run_dir = strdup(dir);
            goto lock;
        }
        if (errno != EEXIST)
            return iotc_errtext_set(err, IOTC_ERR_CONFIG, "cannot create run directory %s: %s", dir,
                                    strerror(errno));
        if (lstat(dir, &st) != 0)
            return iotc_errtext_set(err, IOTC_ERR_CONFIG, "run directory %s: %s", dir,
                                    strerror(errno));
        if (S_ISLNK(st.st_mode))
            return iotc_errtext_set(err, IOTC_ERR_CONFIG,
                                    "run directory %s is a symbolic link: give the directory it "
                                    "points to (a link could aim the broker socket and secret "
                                    "elsewhere)",
                                    dir);
        if (!S_ISDIR(st.st_mode))
            return iotc_errtext_set(err, IOTC_ERR_CONFIG,
                                    "run directory %s exists and is not a directory", dir);
        if (st.st_uid != geteuid())
            return iotc_errtext_set(
                err, IOTC_ERR_CONFIG,
                "run directory %s belongs to uid %u, not to this user (uid %u): "
                "give a directory you own",
                dir, (unsigned)st.st_uid, (unsigned)geteuid());
        if (!(st.st_mode & (S_IWGRP | S_IWOTH))) {
            ep->run_dir = strdup(dir);
            goto lock;
        }
        /* Shared: others may write here. Work in a private subdirectory. */
        snprintf(tmpl, sizeof tmpl, "%s/iotconform-XXXXXX", dir);
        if (!mkdtemp(tmpl))
            return iotc_errtext_set(err, IOTC_ERR_CONFIG,
                                    "run directory %s is shared (mode %04o) and a private "
                                    "subdirectory cannot be made in it: %s",
                                    dir, (unsigned)(st.st_mode & 07777), strerror(errno));
        fprintf(stderr,
                "iotconform serve: run directory %s is shared (mode %04o, left unchanged): "
                "using the private %s\n",
                dir, (unsigned)(st.st_mode & 07777), tmpl);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(tmpl, sizeof tmpl, "%s/iotconform-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpl))
            return iotc_errtext_set(err, IOTC_ERR_IO, "cannot create a run directory: %s",
                                    strerror(errno));
    }
    ep->own_run_dir = true;
    ep->run_dir = strdup(tmpl);
lock:
    if (!ep->run_dir)
        return IOTC_ERR_NOMEM;
    return endpoint__lock_run_dir(ep, err);
}

/* A journal that cannot be written stops serve: verdicts are judged from it. */
static void endpoint__on_journal_fail(void *arg, const char *why)
{
    struct iotc_endpoint *ep = arg;
    ep->run_rc = IOTC_ERR_IO;
    iotc_errtext_set(&ep->run_err, 0, "%s", why);
    if (ep->base)
        event_base_loopexit(ep->base, NULL);
}

static int endpoint__config(struct iotc_endpoint *ep, const iotc_endpoint_opts *o,
                            iotc_errtext *err)
{
    if (iotc_profile_load(o->profile_path, &ep->profile, err))
        return IOTC_ERR_CONFIG;
    for (int i = 0; i < IOTC_ENDPOINT_NPORTS; i++) {
        if (o->ports[i] == IOTC_ENDPOINT_PORT_PROFILE)
            continue;
        if (o->ports[i] < 0 || o->ports[i] > 65535)
            return iotc_errtext_set(err, IOTC_ERR_INVALID, "port %d out of range", o->ports[i]);
        ep->profile.ports[i] = o->ports[i];
    }
    if (o->device_time_scale < 0 || o->device_time_scale > 1000)
        return iotc_errtext_set(err, IOTC_ERR_INVALID, "device time scale %g out of (0, 1000]",
                                o->device_time_scale);
    ep->device_time_scale =
        o->device_time_scale > 0 ? o->device_time_scale : ep->profile.time_scale;
    iotc_scenario_defaults(&ep->scenario);
    ep->has_scenario = o->scenario != NULL;
    if (o->scenario && iotc_scenario_parse(o->scenario, &ep->scenario, err))
        return IOTC_ERR_CONFIG;
    if (iotc_registry_load(o->registry_path, ep->pki_dir, &ep->registry, err))
        return IOTC_ERR_CONFIG;
    return IOTC_OK;
}

/* The stop pipe: a write() from a signal handler or another thread wakes the loop. */
static int endpoint__stop_pipe(struct iotc_endpoint *ep)
{
    if (pipe(ep->stop_pipe) != 0)
        return IOTC_ERR_IO;
    for (int i = 0; i < 2; i++) {
        fcntl(ep->stop_pipe[i], F_SETFL, fcntl(ep->stop_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(ep->stop_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    ep->stop_ev =
        event_new(ep->base, ep->stop_pipe[0], EV_READ | EV_PERSIST, endpoint__on_stop, ep);
    if (!ep->stop_ev || event_add(ep->stop_ev, NULL) != 0)
        return IOTC_ERR_NOMEM;
    return IOTC_OK;
}

static int endpoint__start_broker(struct iotc_endpoint *ep, const iotc_endpoint_opts *o,
                                  iotc_errtext *err)
{
    /* The broker's unix socket path must fit in 108 bytes: a long run directory gets a
     * short private sibling for the broker. */
    if (strlen(ep->run_dir) > 80) {
        snprintf(ep->broker_dir, sizeof ep->broker_dir, "/tmp/iotc-broker-XXXXXX");
        if (!mkdtemp(ep->broker_dir)) {
            ep->broker_dir[0] = '\0';
            return iotc_errtext_set(err, IOTC_ERR_IO, "cannot create a broker directory: %s",
                                    strerror(errno));
        }
    }
    /* paths resolves IOTCONFORM_PLUGIN / IOTCONFORM_MOSQUITTO and the installed layout. */
    const char *plugin = o->plugin_path ? o->plugin_path : iotc_paths_plugin();
    const char *mosq = o->mosquitto_bin ? o->mosquitto_bin : iotc_paths_mosquitto();
    struct iotc_broker_opts bo = {
        .run_dir = ep->broker_dir[0] ? ep->broker_dir : ep->run_dir,
        .mosquitto_bin = mosq,
        .plugin_path = plugin,
        .max_packet = 0,
        .save_every_change = ep->profile.limits.qos1_durable != 0,
        .max_inflight = (unsigned)ep->profile.limits.inflight_qos1_max,
        .on_event = endpoint__on_broker_event,
        .on_ready = endpoint__on_broker_ready,
        .arg = ep,
    };
    if (iotc_broker_start(ep->base, &bo, &ep->broker) != IOTC_OK)
        return iotc_errtext_set(err, IOTC_ERR_IO, "cannot start mosquitto (%s)", bo.mosquitto_bin);
    return IOTC_OK;
}

int iotc_endpoint_open(const iotc_endpoint_opts *o, iotc_endpoint **out, iotc_errtext *err)
{
    *out = NULL;
    if (!o || !o->profile_path || !o->registry_path || !o->pki_dir)
        return iotc_errtext_set(err, IOTC_ERR_INVALID,
                                "options need a profile, a registry and a PKI directory");
    struct iotc_endpoint *ep = calloc(1, sizeof *ep);
    if (!ep)
        return iotc_errtext_set(err, IOTC_ERR_NOMEM, "out of memory");
    ep->stop_pipe[0] = ep->stop_pipe[1] = ep->lock_fd = -1;
    ep->on_ready = o->on_ready;
    ep->arg = o->arg;
    int rc = IOTC_ERR_NOMEM;
    ep->pki_dir = strdup(o->pki_dir);
    if (!ep->pki_dir)
        goto fail;
    signal(SIGPIPE, SIG_IGN);
    if ((rc = endpoint__config(ep, o, err)) || (rc = endpoint__run_dir(ep, o->run_dir, err)))
        goto fail;
    char path[4096];
    if (o->journal_path)
        snprintf(path, sizeof path, "%s", o->journal_path);
    else
        snprintf(path, sizeof path, "%s/journal.jsonl", ep->run_dir);
    ep->journal_path = strdup(path);
    if (!ep->journal_path || iotc_journal_open(path, &ep->journal)) {
        rc =
            iotc_errtext_set(err, IOTC_ERR_IO, "cannot open journal %s: %s", path, strerror(errno));
        goto fail;
    }
    iotc_journal_set_max_bytes(ep->journal, ep->profile.limits.journal_max_bytes);
    iotc_journal_on_fail(ep->journal, endpoint__on_journal_fail, ep);
    ep->journal_packets = !o->no_packet_journal;
    if ((rc = iotc_ep_workers_prepare(ep, o, err)))
        goto fail;
    ep->x509_gen = iotc_x509_memo_context();
    if ((rc = iotc_tls_ctx_new(ep, &ep->ctx, err)))
        goto fail;
    SSL_CTX_set_app_data(ep->ctx, ep);
    rc = IOTC_ERR_NOMEM;
    ep->base = event_base_new();
    iotc_deadlines_init(&ep->deadlines, ep->base);
    iotc_flushq_init(&ep->flushq, ep->base);
    ep->sessions = iotc_strmap_new();
    ep->throttle = iotc_throttle_ep_new();
    ep->authz_cache = json_object();
    ep->session_subs = json_object();
    if (!ep->base || !ep->sessions || !ep->throttle || !ep->authz_cache || !ep->session_subs ||
        iotc_lifecycle_new(ep, &ep->lifecycle) != IOTC_OK) {
        iotc_errtext_set(err, rc, "out of memory");
        goto fail;
    }
    if ((rc = endpoint__stop_pipe(ep))) {
        iotc_errtext_set(err, rc, "cannot create the stop pipe: %s", strerror(errno));
        goto fail;
    }
    if (o->stop_on_signals) {
        ep->sigint_ev = evsignal_new(ep->base, SIGINT, endpoint__on_signal, ep);
        ep->sigterm_ev = evsignal_new(ep->base, SIGTERM, endpoint__on_signal, ep);
        if (!ep->sigint_ev || !ep->sigterm_ev)
            goto fail;
        evsignal_add(ep->sigint_ev, NULL);
        evsignal_add(ep->sigterm_ev, NULL);
    }
    if (o->broker_url) /* a shared broker: a front door among several */
        rc = iotc_ep_remote_open(ep, o, endpoint__on_broker_ready, err);
    else
        rc = endpoint__start_broker(ep, o, err);
    if (rc)
        goto fail;
    *out = ep;
    return IOTC_OK;
fail:
    iotc_endpoint_close(ep);
    return rc;
}

int iotc_endpoint_run(iotc_endpoint *ep, iotc_errtext *err)
{
    if (iotc_journal_failed(ep->journal)) {
        /* It failed while opening (the broker's first events): run_err says how. */
        return iotc_errtext_set(err, IOTC_ERR_IO, "%s", ep->run_err.msg);
    }
    ep->run_rc = IOTC_OK;
    iotc_errtext_clear(&ep->run_err);
    event_base_dispatch(ep->base);
    if (ep->run_rc != IOTC_OK)
        iotc_errtext_set(err, 0, "%s", ep->run_err.msg);
    return ep->run_rc;
}

void iotc_endpoint_stop(iotc_endpoint *ep)
{
    int saved = errno; /* async-signal-safe: only write(2), errno preserved */
    if (ep && ep->stop_pipe[1] >= 0) {
        ssize_t n = write(ep->stop_pipe[1], "x", 1);
        (void)n; /* a full pipe already holds a stop request */
    }
    errno = saved;
}

void iotc_endpoint_close(iotc_endpoint *ep)
{
    if (!ep)
        return;
    iotc_ep_workers_stop(ep); /* theirs first: their devices go while the broker is up */
    iotc_conn_close_all(ep, "endpoint stopping");
    iotc_auth_gate_free(ep);
    iotc_listeners_close(ep);
    iotc_lifecycle_free(ep->lifecycle);
    iotc_strmap_free(ep->sessions);
    iotc_throttle_ep_free(ep->throttle);
    json_decref(ep->authz_cache);
    json_decref(ep->session_subs);
    ep->session_subs = NULL;
    if (ep->broker)
        iotc_broker_stop(ep->broker);
    iotc_ep_remote_free(ep);
    if (ep->broker_dir[0])
        rmdir(ep->broker_dir);
    if (ep->sigint_ev)
        event_free(ep->sigint_ev);
    if (ep->sigterm_ev)
        event_free(ep->sigterm_ev);
    if (ep->stop_ev)
        event_free(ep->stop_ev);
    iotc_ep_trim_free(ep);
    iotc_deadlines_free(&ep->deadlines);
    iotc_flushq_free(&ep->flushq);
    for (int i = 0; i < 2; i++)
        if (ep->stop_pipe[i] >= 0)
            close(ep->stop_pipe[i]);
    if (ep->base)
        event_base_free(ep->base);
    SSL_CTX_free(ep->ctx);
    iotc_registry_free(&ep->registry);
    iotc_profile_free(&ep->profile);
    iotc_scenario_free(&ep->scenario);
    iotc_journal_close(ep->journal);
    if (ep->lock_fd >= 0) {
        /* Unlinked while still held: a serve waiting on this file sees it gone and retries. */
        char lock[4200];
        snprintf(lock, sizeof lock, "%s/serve.lock", ep->run_dir);
        unlink(lock);
        close(ep->lock_fd);
    }
    if (ep->run_dir && ep->own_run_dir)
        rmdir(ep->run_dir); /* only if empty: the journal stays for the user */
    json_decref(ep->ready);
    free(ep->journal_path);
    free(ep->run_dir);
    free(ep->pki_dir);
    free(ep);
}

int iotc_endpoint_port(const iotc_endpoint *ep, int which)
{
    if (!ep || !ep->ready || which < 0 || which >= IOTC_ENDPOINT_NPORTS)
        return 0;
    return ep->bound_port[which];
}

json_t *iotc_endpoint_ready_json(const iotc_endpoint *ep)
{
    return ep && ep->ready ? json_deep_copy(ep->ready) : NULL;
}

const char *iotc_endpoint_journal_path(const iotc_endpoint *ep)
{
    return ep ? ep->journal_path : NULL;
}

const char *iotc_endpoint_run_dir(const iotc_endpoint *ep)
{
    return ep ? ep->run_dir : NULL;
}
