/* The supervisor's life cycle: start, readiness, crash, backoff, restart, stop. */
#define _GNU_SOURCE
#include "broker_int.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/spawn.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void broker__schedule_restart(struct iotc_broker *b, bool was_ready, long uptime_ms,
                                     json_t *exit_fields);

void iotc_broker__emit(struct iotc_broker *b, const char *event, json_t *fields)
{
    if (!fields)
        fields = json_object(); /* e.g. a log line that was not UTF-8 */
    if (b->on_event && fields)
        b->on_event(b->arg, event, fields);
    json_decref(fields);
}

void iotc_broker__on_running(struct iotc_broker *b)
{
    b->ready = true;
    b->start_failures = 0;
    b->ready_ms = iotc_clock_ms();
    evtimer_del(b->start_timer);
    iotc_broker__emit(b, "broker.ready", json_pack("{s:i}", "pid", (int)b->pid));
    if (b->on_ready)
        b->on_ready(b->arg);
}

/* Starts one mosquitto. Files are rewritten each time so a restart heals a run dir
 * that was tampered with; the secret itself never changes during a run. */
static int broker__launch(struct iotc_broker *b)
{
    int fd = -1;
    int rc = iotc_broker__write_secret(b);
    if (rc == IOTC_OK)
        rc = iotc_broker__write_conf(b);
    if (rc == IOTC_OK)
        rc = iotc_broker__spawn(b, &fd);
    if (rc != IOTC_OK)
        return rc;
    b->ready = false;
    b->started_ms = iotc_clock_ms();
    rc = iotc_broker__log_attach(b, fd);
    if (rc != IOTC_OK) {
        /* Without its output there is no readiness signal: the start timer kills it. */
        iotc_broker__emit(b, "broker.log",
                          json_pack("{s:i, s:s, s:s}", "pid", (int)b->pid, "level", "error", "line",
                                    "cannot read mosquitto's output"));
    }
    struct timeval deadline = {IOTC_BROKER_START_TIMEOUT_S, 0};
    evtimer_add(b->start_timer, &deadline);
    iotc_broker__emit(b, "broker.start", json_pack("{s:i}", "pid", (int)b->pid));
    return IOTC_OK;
}

static void broker__on_restart_timer(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_broker *b = arg;
    int rc = broker__launch(b);
    if (rc == IOTC_OK)
        return;
    /* Could not even fork (or write the run dir): same treatment as a failed start. */
    json_t *f = json_pack("{s:s, s:s}", "status", "not_started", "reason", iotc_strerror(rc));
    broker__schedule_restart(b, false, 0, f);
}

static void broker__on_start_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_broker *b = arg;
    if (b->ready || b->pid <= 0)
        return;
    iotc_broker__emit(b, "broker.log",
                      json_pack("{s:i, s:s, s:s}", "pid", (int)b->pid, "level", "error", "line",
                                "mosquitto did not become ready in time; killing it"));
    kill(b->pid, SIGKILL); /* SIGCHLD then handles it as a failed start */
}

/* Decides the delay before the next start and emits broker.exit (plus broker.error
 * on the 5th failed start in a row). exit_fields is completed and consumed. */
static void broker__schedule_restart(struct iotc_broker *b, bool was_ready, long uptime_ms,
                                     json_t *exit_fields)
{
    if (was_ready && uptime_ms >= IOTC_BROKER_HEALTHY_MS)
        b->backoff_ms = IOTC_BROKER_BACKOFF_MIN_MS;
    if (!was_ready)
        b->start_failures++;

    unsigned delay = b->backoff_ms;
    if (b->start_failures >= IOTC_BROKER_START_FAILURES)
        delay = IOTC_BROKER_BACKOFF_MAX_MS;
    b->backoff_ms =
        b->backoff_ms * 2 > IOTC_BROKER_BACKOFF_MAX_MS ? IOTC_BROKER_BACKOFF_MAX_MS : b->backoff_ms * 2;

    if (exit_fields) {
        json_object_set_new(exit_fields, "ready", json_boolean(was_ready));
        json_object_set_new(exit_fields, "uptime_ms", json_integer(uptime_ms));
        json_object_set_new(exit_fields, "restart_in_ms", json_integer(delay));
    }
    iotc_broker__emit(b, "broker.exit", exit_fields);
    if (b->start_failures == IOTC_BROKER_START_FAILURES) {
        json_t *f = json_pack("{s:s, s:i}", "reason",
                              "mosquitto failed to start 5 times in a row; retrying every 5 s",
                              "failures", (int)b->start_failures);
        if (f && b->last_line[0])
            json_object_set_new(f, "last_line", json_string(b->last_line));
        iotc_broker__emit(b, "broker.error", f);
    }
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(b->restart_timer, &tv);
}

static void broker__on_exit(struct iotc_broker *b, pid_t pid, int status, bool lost)
{
    bool was_ready = b->ready;
    long uptime_ms = (long)(iotc_clock_ms() - b->started_ms);
    b->pid = 0;
    b->ready = false;
    evtimer_del(b->start_timer);
    iotc_broker__log_detach(b);

    json_t *f = json_pack("{s:i}", "pid", (int)pid);
    if (f && lost) {
        json_object_set_new(f, "status", json_string("lost")); /* reaped by someone else */
    } else if (f && WIFSIGNALED(status)) {
        json_object_set_new(f, "status", json_string("killed"));
        json_object_set_new(f, "signal", json_integer(WTERMSIG(status)));
    } else if (f) {
        json_object_set_new(f, "status", json_string("exited"));
        json_object_set_new(f, "code", json_integer(WEXITSTATUS(status)));
    }
    if (was_ready)
        uptime_ms = (long)(iotc_clock_ms() - b->ready_ms);
    broker__schedule_restart(b, was_ready, uptime_ms, f);
}

/* SIGCHLD is process-wide and other parts (authorizer programs) have children too:
 * reap only our own pid, never waitpid(-1). */
static void broker__on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    struct iotc_broker *b = arg;
    if (b->pid <= 0)
        return;
    int status = 0;
    pid_t pid = b->pid;
    int r = iotc_spawn_reap(pid, &status);
    if (r == 0)
        return;
    broker__on_exit(b, pid, status, r < 0);
}

static bool broker__path_ok(const char *p)
{
    if (!p || !p[0])
        return false;
    /* These go into mosquitto.conf, which splits on whitespace and lines. */
    for (const unsigned char *c = (const unsigned char *)p; *c; c++) {
        if (*c <= 0x20 || *c == 0x7f)
            return false;
    }
    return true;
}

static char *broker__join(const char *dir, const char *name)
{
    char *s = NULL;
    return asprintf(&s, "%s/%s", dir, name) < 0 ? NULL : s;
}

static void broker__free(struct iotc_broker *b)
{
    if (!b)
        return;
    if (b->log)
        bufferevent_free(b->log);
    if (b->sigchld)
        event_free(b->sigchld);
    if (b->restart_timer)
        event_free(b->restart_timer);
    if (b->start_timer)
        event_free(b->start_timer);
    OPENSSL_cleanse(b->secret, sizeof b->secret);
    free(b->run_dir);
    free(b->mosquitto_bin);
    free(b->plugin_path);
    free(b->conf_path);
    free(b->secret_path);
    free(b);
}

int iotc_broker_start(struct event_base *base, const struct iotc_broker_opts *o,
                      struct iotc_broker **out)
{
    struct iotc_broker *b = NULL;
    int rc = IOTC_ERR_INVALID;
    if (!out)
        return IOTC_ERR_INVALID;
    *out = NULL;
    if (!base || !o || !broker__path_ok(o->run_dir) || !broker__path_ok(o->plugin_path) ||
        !o->mosquitto_bin || !o->mosquitto_bin[0])
        return IOTC_ERR_INVALID;
    /* MQTT's own ceiling: 1 + 4 bytes of header + 268435455 bytes of remaining length. */
    if (o->max_packet > 268435460u)
        return IOTC_ERR_INVALID;
    if (access(o->mosquitto_bin, X_OK) != 0 || access(o->plugin_path, R_OK) != 0)
        return IOTC_ERR_NOT_FOUND;

    b = calloc(1, sizeof *b);
    if (!b)
        return IOTC_ERR_NOMEM;
    b->base = base;
    b->max_packet = o->max_packet;
    b->save_every_change = o->save_every_change;
    b->on_event = o->on_event;
    b->on_ready = o->on_ready;
    b->arg = o->arg;
    b->backoff_ms = IOTC_BROKER_BACKOFF_MIN_MS;
    rc = IOTC_ERR_NOMEM;
    b->run_dir = strdup(o->run_dir);
    b->mosquitto_bin = strdup(o->mosquitto_bin);
    b->plugin_path = strdup(o->plugin_path);
    b->conf_path = broker__join(o->run_dir, "mosquitto.conf");
    b->secret_path = broker__join(o->run_dir, "secret");
    if (!b->run_dir || !b->mosquitto_bin || !b->plugin_path || !b->conf_path || !b->secret_path)
        goto cleanup;
    int n = snprintf(b->sock_path, sizeof b->sock_path, "%s/broker.sock", o->run_dir);
    if (n < 0 || (size_t)n >= sizeof b->sock_path) {
        rc = IOTC_ERR_INVALID; /* sun_path is 108 bytes */
        goto cleanup;
    }
    rc = iotc_broker__prepare_dir(b);
    if (rc != IOTC_OK)
        goto cleanup;
    if (RAND_bytes(b->secret, sizeof b->secret) != 1) {
        rc = IOTC_ERR_CRYPTO;
        goto cleanup;
    }

    rc = IOTC_ERR_NOMEM;
    b->sigchld = evsignal_new(base, SIGCHLD, broker__on_sigchld, b);
    b->restart_timer = evtimer_new(base, broker__on_restart_timer, b);
    b->start_timer = evtimer_new(base, broker__on_start_timeout, b);
    if (!b->sigchld || !b->restart_timer || !b->start_timer)
        goto cleanup;
    /* Before the fork, so an immediate exit cannot slip past us. */
    if (evsignal_add(b->sigchld, NULL) != 0) {
        rc = IOTC_ERR_IO;
        goto cleanup;
    }
    rc = broker__launch(b);
    if (rc != IOTC_OK)
        goto cleanup;
    *out = b;
    return IOTC_OK;

cleanup:
    if (b && b->secret_path)
        iotc_broker__remove_files(b);
    broker__free(b);
    return rc;
}

const char *iotc_broker_socket_path(const struct iotc_broker *b)
{
    return b ? b->sock_path : NULL;
}

const uint8_t *iotc_broker_secret(const struct iotc_broker *b)
{
    return b ? b->secret : NULL;
}

bool iotc_broker_is_ready(const struct iotc_broker *b)
{
    return b && b->ready;
}

pid_t iotc_broker_pid(const struct iotc_broker *b)
{
    return b ? b->pid : 0;
}

int iotc_broker_kill(struct iotc_broker *b, int sig)
{
    if (!b || b->pid <= 0)
        return IOTC_ERR_NOT_FOUND;
    return kill(b->pid, sig) == 0 ? IOTC_OK : IOTC_ERR_IO;
}

void iotc_broker_stop(struct iotc_broker *b)
{
    if (!b)
        return;
    /* Events first: nothing may restart the broker while it is being stopped. */
    event_del(b->sigchld);
    evtimer_del(b->restart_timer);
    evtimer_del(b->start_timer);
    /* Teardown only: a short bounded wait is simpler and safer than re-entering the
     * loop (which may be the caller's, mid-shutdown). SIGTERM is repeated because
     * mosquitto 2.0.11 loses one that arrives right after its "running" line. */
    if (b->pid > 0)
        iotc_spawn_stop(b->pid, IOTC_BROKER_STOP_TIMEOUT_MS, 250, false, NULL);
    b->pid = 0;
    b->ready = false;
    iotc_broker__remove_files(b);
    broker__free(b);
}
