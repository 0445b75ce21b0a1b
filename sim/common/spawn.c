#define _GNU_SOURCE /* pipe2, close_range */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"

#define SPAWN__DUP_STDOUT (-2) /* stderr follows stdout */

/* What the child puts on one of 0/1/2 (-1: leave ours), what the parent closes after
 * the fork (the child's copy), and what it keeps (a pipe's other end). */
struct spawn__io {
    int child, close_after, keep;
};

static void spawn__close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int spawn__prepare(const iotc_spawn_io *io, int target, struct spawn__io *s)
{
    int p[2];
    s->child = s->close_after = s->keep = -1;
    switch (io->kind) {
    case IOTC_SPAWN_INHERIT:
        return 0;
    case IOTC_SPAWN_FD:
        s->child = io->fd;
        return io->fd >= 0 ? 0 : (errno = EBADF, -1);
    case IOTC_SPAWN_STDOUT:
        s->child = SPAWN__DUP_STDOUT;
        return target == STDERR_FILENO ? 0 : (errno = EINVAL, -1);
    case IOTC_SPAWN_NULL:
        s->child = s->close_after =
            open("/dev/null", (target == STDIN_FILENO ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
        return s->child >= 0 ? 0 : -1;
    case IOTC_SPAWN_FILE:
    case IOTC_SPAWN_APPEND:
        if (!io->path)
            return errno = EINVAL, -1;
        s->child = s->close_after = open(io->path,
                                         O_WRONLY | O_CREAT | O_CLOEXEC |
                                             (io->kind == IOTC_SPAWN_FILE ? O_TRUNC : O_APPEND),
                                         0644);
        return s->child >= 0 ? 0 : -1;
    case IOTC_SPAWN_PIPE:
        if (pipe2(p, O_CLOEXEC) != 0)
            return -1;
        /* stdin: the child reads p[0]; stdout/stderr: the child writes p[1]. */
        s->child = s->close_after = target == STDIN_FILENO ? p[0] : p[1];
        s->keep = target == STDIN_FILENO ? p[1] : p[0];
        return 0;
    }
    return errno = EINVAL, -1;
}

/* In the forked child of a possibly multi-threaded parent: only async-signal-safe
 * calls from here to execv. */
static void spawn__child(const iotc_spawn_opts *o, const struct spawn__io io[3], pid_t parent,
                         const char *msg, size_t msglen)
{
    if (o->deathsig && (prctl(PR_SET_PDEATHSIG, o->deathsig) != 0 || getppid() != parent))
        _exit(126); /* the parent is already gone: do not start an orphan */
    if (o->pgroup)
        setpgid(0, 0);
    if (o->reset_signals) {
        /* exec resets handlers, but ignored signals and the mask are inherited. */
        sigset_t none;
        struct sigaction dfl;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                sigaction(sig, &dfl, NULL);
    }
    if (o->ignore_sigint) {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigaction(SIGINT, &ign, NULL);
    }
    for (int i = 0; i < 3; i++) {
        if (io[i].child == SPAWN__DUP_STDOUT) {
            if (dup2(STDOUT_FILENO, i) < 0)
                _exit(126);
        } else if (io[i].child == i) {
            fcntl(i, F_SETFD, 0); /* already in place: only drop O_CLOEXEC */
        } else if (io[i].child >= 0 && dup2(io[i].child, i) < 0) {
            _exit(126);
        }
    }
    if (o->close_fds)
        close_range(3, ~0U, 0);
    execv(o->path ? o->path : o->argv[0], o->argv);
    ssize_t ignored = write(STDERR_FILENO, msg, msglen);
    (void)ignored;
    _exit(127);
}

int iotc_spawn(iotc_spawn_opts *o, pid_t *pid)
{
    struct spawn__io io[3] = {{-1, -1, -1}, {-1, -1, -1}, {-1, -1, -1}};
    iotc_spawn_io *want[3] = {&o->in, &o->out, &o->err};
    char msg[512];
    int saved;
    pid_t parent = getpid(), p = -1;

    *pid = -1;
    if (!o->argv || !o->argv[0]) {
        errno = EINVAL;
        return IOTC_ERR_IO;
    }
    for (int i = 0; i < 3; i++)
        if (spawn__prepare(want[i], i, &io[i]) != 0)
            goto fail;
    snprintf(msg, sizeof msg, "Error: cannot exec %s\n", o->path ? o->path : o->argv[0]);
    p = fork();
    if (p == 0)
        spawn__child(o, io, parent, msg, strlen(msg));
    if (p < 0)
        goto fail;
    if (o->pgroup)
        setpgid(p, p); /* also here, so signalling the group works before the child runs */
    for (int i = 0; i < 3; i++) {
        spawn__close(&io[i].close_after);
        if (io[i].keep >= 0)
            want[i]->fd = io[i].keep;
    }
    *pid = p;
    return IOTC_OK;
fail:
    saved = errno;
    for (int i = 0; i < 3; i++) {
        spawn__close(&io[i].close_after);
        spawn__close(&io[i].keep);
    }
    errno = saved;
    return IOTC_ERR_IO;
}

int iotc_spawn_reap(pid_t pid, int *status)
{
    int st = 0;
    pid_t r;
    do {
        r = waitpid(pid, &st, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r != pid)
        return -1;
    if (status)
        *status = st;
    return 1;
}

int iotc_spawn_wait(pid_t pid, int *status)
{
    int st = 0;
    pid_t r;
    do {
        r = waitpid(pid, &st, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid)
        return -1;
    if (status)
        *status = st;
    return 0;
}

static void spawn__nap(long ms)
{
    struct timespec ts = {0, ms * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* The group's members that are our children: the leader, and orphans handed to us
 * as their subreaper. */
static void spawn__reap_group(pid_t pgid)
{
    int st;
    while (waitpid(-pgid, &st, WNOHANG) > 0)
        ;
}

int iotc_spawn_stop(pid_t pid, int grace_ms, int resend_ms, bool group, int *status)
{
    pid_t target = group ? -pid : pid;
    int st = 0, r;
    if (pid <= 0)
        return 0;
    int64_t start = iotc_clock_ms(), term_at = start;
    kill(target, SIGTERM);
    while ((r = iotc_spawn_reap(pid, &st)) == 0) {
        int64_t now = iotc_clock_ms();
        if (now - start >= grace_ms)
            break;
        if (resend_ms > 0 && now - term_at >= resend_ms) {
            kill(target, SIGTERM);
            term_at = now;
        }
        spawn__nap(5);
    }
    if (group || r == 0)
        kill(target, SIGKILL);
    if (r == 0) {
        pid_t w;
        while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
            ;
        r = w == pid ? 1 : -1;
    }
    if (group) {
        for (int i = 0; i < 50 && kill(-pid, 0) == 0; i++) {
            spawn__reap_group(pid);
            spawn__nap(10);
        }
        spawn__reap_group(pid);
    }
    if (r == 1 && status)
        *status = st;
    return r == 1;
}

int iotc_spawn_subreaper(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 ? IOTC_OK : IOTC_ERR_IO;
}
