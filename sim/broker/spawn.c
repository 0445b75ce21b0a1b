/* Starting mosquitto, with its stdout and stderr on one pipe the supervisor reads. */
#include "broker_int.h"

#include "common/err.h"
#include "common/spawn.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

int iotc_broker__spawn(struct iotc_broker *b, int *log_fd)
{
    char *argv[] = {b->mosquitto_bin, "-c", b->conf_path, NULL};
    iotc_spawn_opts o = {
        .argv = argv,
        .in = {IOTC_SPAWN_NULL, -1, NULL},
        .out = {IOTC_SPAWN_PIPE, -1, NULL},
        .err = {IOTC_SPAWN_STDOUT, -1, NULL},
        /* SIGKILL, not SIGTERM: mosquitto 2.0.11 sets `run = 1` only after logging
         * "running", so a SIGTERM landing just then is lost and the broker would outlive
         * serve (seen in test_broker). With serve gone there is nothing to shut down
         * gracefully anyway (no persistence, its clients were serve's connections).
         * Caveat: the signal follows the death of the forking *thread*; serve forks from
         * its loop thread, which lives as long as the process. */
        .deathsig = SIGKILL,
        .reset_signals = true,
        /* The broker must not inherit the endpoint's listening sockets or TLS state. */
        .close_fds = true,
    };

    /* A broker killed with SIGKILL leaves its socket file behind. */
    if (unlink(b->sock_path) != 0 && errno != ENOENT)
        return IOTC_ERR_IO;
    pid_t pid;
    int rc = iotc_spawn(&o, &pid);
    if (rc != IOTC_OK)
        return rc;
    b->pid = pid;
    *log_fd = o.out.fd;
    return IOTC_OK;
}
