/* Starting mosquitto: fork + exec, because the child must set PR_SET_PDEATHSIG on
 * itself (posix_spawn cannot) so it never outlives serve. */
#define _GNU_SOURCE
#include "broker_int.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Runs in the forked child of a possibly multi-threaded parent: only
 * async-signal-safe calls from here to execv. */
static void spawn__child(const char *bin, char *const argv[], int out_fd, pid_t parent)
{
    static const char exec_failed[] = "Error: iotc broker supervisor: cannot exec mosquitto\n";

    /* SIGKILL, not SIGTERM: mosquitto 2.0.11 sets `run = 1` only after logging
     * "running", so a SIGTERM landing just then is lost and the broker would outlive
     * serve (seen in test_broker). With serve gone there is nothing to shut down
     * gracefully anyway (no persistence, its clients were serve's connections).
     * Caveat: the signal follows the death of the forking *thread*; serve forks from
     * its loop thread, which lives as long as the process. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(126); /* parent already gone: do not start an orphan */

    /* Handlers are reset by exec, but ignored signals and the mask are inherited. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
    }

    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
        dup2(out_fd, STDERR_FILENO) < 0)
        _exit(126);
    /* The broker must not inherit the endpoint's listening sockets or TLS state. */
    close_range(3, ~0U, 0);

    execv(bin, argv);
    ssize_t ignored = write(STDERR_FILENO, exec_failed, sizeof exec_failed - 1);
    (void)ignored;
    _exit(127);
}

int iotc_broker__spawn(struct iotc_broker *b, int *log_fd)
{
    int fds[2];
    char *argv[] = {b->mosquitto_bin, "-c", b->conf_path, NULL};

    /* A broker killed with SIGKILL leaves its socket file behind. */
    if (unlink(b->sock_path) != 0 && errno != ENOENT)
        return IOTC_ERR_IO;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return IOTC_ERR_IO;

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return IOTC_ERR_IO;
    }
    if (pid == 0)
        spawn__child(b->mosquitto_bin, argv, fds[1], parent);

    close(fds[1]);
    b->pid = pid;
    *log_fd = fds[0];
    return IOTC_OK;
}
