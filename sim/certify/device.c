/*
 * The device under certification: `/bin/sh -c <filled template>` in its own process
 * group, so the whole tree (shell, SDK sample, helpers) is stopped together: SIGTERM to
 * the group, a grace period, SIGKILL to the group, then every member is reaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cert_int.h"
#include "common/err.h"

extern char **environ;

long cert_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cert_device_start(cert_device *d, const char *command, const char *log_path, char *err,
                      size_t errlen)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dflt;
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    int rc;

    memset(d, 0, sizeof(*d));
    d->pid = -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_path, O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    /* The runner ignores SIGPIPE and blocks nothing the device should see. */
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGHUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dflt);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(&d->pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start /bin/sh for the device: %s", strerror(rc));
        d->pid = -1;
        return IOTC_ERR_IO;
    }
    d->started_ms = cert_now_ms();
    return IOTC_OK;
}

void cert_device_poll(cert_device *d)
{
    int status;
    if (d->pid <= 0 || d->exited)
        return;
    if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
        d->exited = true;
        d->status = status;
        d->exited_ms = cert_now_ms();
    }
}

/* Reaps group members that are our children (the leader, and orphans handed to us
 * because the runner is a child subreaper). */
static void device__reap_group(pid_t pgid)
{
    int status;
    while (waitpid(-pgid, &status, WNOHANG) > 0)
        ;
}

void cert_device_stop(cert_device *d, long grace_ms)
{
    long deadline;
    if (d->pid <= 0)
        return;
    cert_device_poll(d);
    kill(-d->pid, SIGTERM);
    deadline = cert_now_ms() + grace_ms;
    while (!d->exited && cert_now_ms() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        cert_device_poll(d);
    }
    /* Whatever is left of the group (the leader or children it left behind) goes now. */
    kill(-d->pid, SIGKILL);
    if (!d->exited) {
        int status;
        if (waitpid(d->pid, &status, 0) == d->pid) {
            d->exited = true;
            d->status = status;
            d->exited_ms = cert_now_ms();
        }
    }
    for (int i = 0; i < 50 && kill(-d->pid, 0) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        device__reap_group(d->pid);
        nanosleep(&ts, NULL);
    }
    device__reap_group(d->pid);
    d->pid = -d->pid; /* remember the id for descriptions, but never signal it again */
}

void cert_device_describe(const cert_device *d, char *out, size_t len)
{
    if (!d->exited)
        snprintf(out, len, "still running");
    else if (WIFEXITED(d->status))
        snprintf(out, len, "exited with status %d after %ld ms", WEXITSTATUS(d->status),
                 d->exited_ms - d->started_ms);
    else if (WIFSIGNALED(d->status))
        snprintf(out, len, "killed by signal %d after %ld ms", WTERMSIG(d->status),
                 d->exited_ms - d->started_ms);
    else
        snprintf(out, len, "ended (status 0x%x)", d->status);
}
