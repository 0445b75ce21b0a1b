/*
 * Runs an authorizer program without blocking the loop: request on stdin,
 * answer on stdout, a timer for the 5 s AWS limit, SIGCHLD for the exit.
 * stdin is a socketpair rather than a pipe so that writing to a program that
 * exited without reading gives EPIPE through MSG_NOSIGNAL, not a SIGPIPE that
 * would kill the whole endpoint.
 */
#define _GNU_SOURCE
#include "authz_int.h"
#include "common/err.h"
#include "common/spawn.h"

#include <event2/event.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct iotc_authz_job {
    pid_t pid;
    int status; /* waitpid status once reaped */
    bool reaped, eof, timed_out, too_large;
    int timeout_ms;
    int in_fd;  /* our end of the child's stdin, -1 once done */
    int out_fd; /* read end of the child's stdout, -1 at EOF */
    struct event *ev_in, *ev_out, *ev_timer, *ev_sig;
    char *req;
    size_t req_len, req_off;
    struct iotc_buf out;
    iotc_authz_done_fn done;
    void *arg;
};

static void runner__event_free(struct event *ev)
{
    if (ev) /* event_free(NULL) is not safe in libevent 2.1 */
        event_free(ev);
}

static void runner__free(struct iotc_authz_job *j)
{
    runner__event_free(j->ev_in);
    runner__event_free(j->ev_out);
    runner__event_free(j->ev_timer);
    runner__event_free(j->ev_sig);
    if (j->in_fd >= 0)
        close(j->in_fd);
    if (j->out_fd >= 0)
        close(j->out_fd);
    free(j->req);
    iotc_buf_free(&j->out);
    free(j);
}

static void runner__close_in(struct iotc_authz_job *j)
{
    if (j->in_fd < 0)
        return;
    event_del(j->ev_in);
    close(j->in_fd); /* the child reads EOF after the request */
    j->in_fd = -1;
}

static void runner__close_out(struct iotc_authz_job *j)
{
    j->eof = true;
    if (j->out_fd < 0)
        return;
    event_del(j->ev_out);
    close(j->out_fd);
    j->out_fd = -1;
}

/* Kills the child's whole process group: a script's own children go too,
 * even after the script itself exited (they may hold its stdout open). The
 * group id stays reserved while any member lives, so this hits no stranger. */
static void runner__kill(struct iotc_authz_job *j)
{
    kill(-j->pid, SIGKILL);
}

static void runner__try_reap(struct iotc_authz_job *j)
{
    if (j->reaped)
        return;
    if (iotc_spawn_reap(j->pid, &j->status) == 1)
        j->reaped = true;
}

/* Reports once the child is reaped and its output closed, then frees the job. */
static void runner__maybe_finish(struct iotc_authz_job *j)
{
    if (!j->reaped || !j->eof)
        return;
    char why[96] = "";
    int rc = IOTC_OK;
    if (j->timed_out) {
        rc = IOTC_ERR_TIMEOUT;
        snprintf(why, sizeof why, "authorizer did not answer within %d ms", j->timeout_ms);
    } else if (j->too_large) {
        rc = IOTC_ERR_TOO_LARGE;
        snprintf(why, sizeof why, "authorizer wrote more than %u bytes", IOTC_AUTHZ_MAX_OUTPUT);
    } else if (WIFSIGNALED(j->status)) {
        rc = IOTC_ERR_IO;
        snprintf(why, sizeof why, "authorizer killed by signal %d", WTERMSIG(j->status));
    } else if (WIFEXITED(j->status) && WEXITSTATUS(j->status) != 0) {
        rc = IOTC_ERR_IO;
        snprintf(why, sizeof why, "authorizer exited with status %d%s", WEXITSTATUS(j->status),
                 WEXITSTATUS(j->status) == 127 ? " (cannot execute?)" : "");
    }
    const char *text = "";
    if (iotc_buf_u8(&j->out, 0) == IOTC_OK)
        text = (const char *)j->out.p;
    runner__close_in(j);
    event_del(j->ev_timer);
    event_del(j->ev_sig);
    j->done(j->arg, rc, text, why);
    runner__free(j);
}

static void runner__on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    struct iotc_authz_job *j = arg;
    /* SIGCHLD is shared with the broker supervisor and other jobs, and several
     * exits may merge into one signal: every job checks its own pid. */
    runner__try_reap(j);
    runner__maybe_finish(j);
}

static void runner__on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_authz_job *j = arg;
    j->timed_out = true;
    runner__kill(j);
    runner__close_in(j);
    runner__close_out(j);
    runner__try_reap(j);
    runner__maybe_finish(j);
}

static void runner__on_write(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_authz_job *j = arg;
    while (j->req_off < j->req_len) {
        ssize_t n = send(fd, j->req + j->req_off, j->req_len - j->req_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0)
            break; /* EPIPE and the like: it stopped reading, its exit tells the rest */
        j->req_off += (size_t)n;
    }
    runner__close_in(j);
}

static void runner__on_read(evutil_socket_t fd, short what, void *arg)
{
    struct iotc_authz_job *j = arg;
    for (;;) {
        uint8_t buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0)
            break;
        if (j->out.len + (size_t)n > IOTC_AUTHZ_MAX_OUTPUT) {
            j->too_large = true;
            runner__kill(j);
            break;
        }
        if (iotc_buf_append(&j->out, buf, (size_t)n) != IOTC_OK) {
            j->too_large = true; /* cannot keep it: treat like too much */
            runner__kill(j);
            break;
        }
    }
    runner__close_out(j);
    runner__try_reap(j); /* usually the exit is already there: no need to wait for SIGCHLD */
    runner__maybe_finish(j);
}

static int runner__nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return (fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0) ? 0 : -1;
}

int iotc_authz_run_program(struct event_base *base, char *const argv[], const char *request_json,
                           int timeout_ms, iotc_authz_done_fn done, void *arg,
                           struct iotc_authz_job **out)
{
    if (out)
        *out = NULL;
    if (!base || !argv || !argv[0] || !done)
        return IOTC_ERR_INVALID;
    if (access(argv[0], X_OK) != 0)
        return IOTC_ERR_NOT_FOUND;
    struct iotc_authz_job *j = calloc(1, sizeof *j);
    if (!j)
        return IOTC_ERR_NOMEM;
    j->in_fd = j->out_fd = -1;
    j->done = done;
    j->arg = arg;
    j->timeout_ms = timeout_ms > 0 ? timeout_ms : IOTC_AUTHZ_DEFAULT_TIMEOUT_MS;
    int sv[2] = {-1, -1}, pp[2] = {-1, -1};
    int rc = IOTC_ERR_NOMEM;
    j->req_len = request_json ? strlen(request_json) : 0;
    if (!(j->req = strdup(request_json ? request_json : "")))
        goto cleanup;
    rc = IOTC_ERR_IO;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || pipe2(pp, O_CLOEXEC) != 0)
        goto cleanup;
    j->in_fd = sv[0];
    j->out_fd = pp[0];
    sv[0] = pp[0] = -1;
    if (runner__nonblock(j->in_fd) != 0 || runner__nonblock(j->out_fd) != 0)
        goto cleanup;
    rc = IOTC_ERR_NOMEM;
    j->ev_sig = evsignal_new(base, SIGCHLD, runner__on_sigchld, j);
    j->ev_timer = evtimer_new(base, runner__on_timeout, j);
    j->ev_in = event_new(base, j->in_fd, EV_WRITE | EV_PERSIST, runner__on_write, j);
    j->ev_out = event_new(base, j->out_fd, EV_READ | EV_PERSIST, runner__on_read, j);
    if (!j->ev_sig || !j->ev_timer || !j->ev_in || !j->ev_out)
        goto cleanup;
    /* Before fork: an exit that comes at once must not find no handler. */
    rc = IOTC_ERR_IO;
    if (evsignal_add(j->ev_sig, NULL) != 0)
        goto cleanup;
    iotc_spawn_opts so = {
        .argv = argv,
        .in = {IOTC_SPAWN_FD, sv[1], NULL},
        .out = {IOTC_SPAWN_FD, pp[1], NULL},
        .pgroup = true, /* see runner__kill */
        /* An authorizer must not outlive the endpoint that waits for it. */
        .deathsig = SIGKILL,
        .reset_signals = true,
        /* Not the endpoint's sockets, TLS keys or other children's pipes. */
        .close_fds = true,
    };
    if (iotc_spawn(&so, &j->pid) != IOTC_OK)
        goto cleanup;
    close(sv[1]);
    close(pp[1]);
    sv[1] = pp[1] = -1;
    struct timeval tv = {j->timeout_ms / 1000, (j->timeout_ms % 1000) * 1000};
    if (event_add(j->ev_timer, &tv) != 0 || event_add(j->ev_out, NULL) != 0 ||
        event_add(j->ev_in, NULL) != 0) {
        iotc_authz_job_cancel(j);
        return IOTC_ERR_IO;
    }
    if (out)
        *out = j;
    return IOTC_OK;
cleanup:
    for (int i = 0; i < 2; i++) {
        if (sv[i] >= 0)
            close(sv[i]);
        if (pp[i] >= 0)
            close(pp[i]);
    }
    runner__free(j);
    return rc;
}

void iotc_authz_job_cancel(struct iotc_authz_job *job)
{
    if (!job)
        return;
    runner__kill(job);
    if (!job->reaped) {
        /* SIGKILL cannot be caught: this wait is short, and it leaves no zombie. */
        int st;
        while (waitpid(job->pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    runner__free(job);
}
