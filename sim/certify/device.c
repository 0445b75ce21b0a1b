/*
 * The device under certification: `/bin/sh -c <filled template>` in its own process
 * group, so the whole tree (shell, SDK sample, helpers) is stopped together: SIGTERM to
 * the group, a grace period, SIGKILL to the group, then every member is reaped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cert_int.h"
#include "common/err.h"
#include "common/spawn.h"

int iotc_certify_device_start(iotc_certify_device *d, const char *command, const char *log_path,
                              iotc_errtext *err)
{
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    iotc_spawn_opts o = {
        .path = "/bin/sh",
        .argv = argv,
        .in = {IOTC_SPAWN_NULL, -1, NULL},
        .out = {IOTC_SPAWN_APPEND, -1, log_path},
        .err = {IOTC_SPAWN_STDOUT, -1, NULL},
        .pgroup = true,
        /* The runner ignores SIGPIPE and blocks nothing the device should see. */
        .reset_signals = true,
    };

    memset(d, 0, sizeof(*d));
    if (iotc_spawn(&o, &d->pid) != IOTC_OK) {
        iotc_errtext_set(err, 0, "cannot start /bin/sh for the device: %s", strerror(errno));
        d->pid = -1;
        return IOTC_ERR_IO;
    }
    d->started_ms = iotc_clock_ms();
    return IOTC_OK;
}

void iotc_certify_device_poll(iotc_certify_device *d)
{
    if (d->pid <= 0 || d->exited)
        return;
    if (iotc_spawn_reap(d->pid, &d->status) == 1) {
        d->exited = true;
        d->exited_ms = iotc_clock_ms();
    }
}

void iotc_certify_device_stop(iotc_certify_device *d, long grace_ms)
{
    if (d->pid <= 0)
        return;
    iotc_certify_device_poll(d);
    /* Even after the leader's exit: whatever is left of the group goes too. */
    if (iotc_spawn_stop(d->pid, d->exited ? 0 : (int)grace_ms, 0, true, &d->status) == 1) {
        d->exited = true;
        d->exited_ms = iotc_clock_ms();
    }
    d->pid = -d->pid; /* remember the id for descriptions, but never signal it again */
}

void iotc_certify_device_describe(const iotc_certify_device *d, char *out, size_t len)
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
