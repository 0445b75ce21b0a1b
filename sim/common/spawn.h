/*
 * The one way to run a child process: fork + exec (not posix_spawn, because the
 * child may have to set PR_SET_PDEATHSIG on itself), stdio wired to files, pipes or
 * given descriptors, optionally its own process group; and the one way to stop it:
 * SIGTERM, a grace period, SIGKILL, reap.
 *
 * Between fork and exec the child makes only async-signal-safe calls, so any thread
 * of a multi-threaded process may spawn. Files are opened and pipes made before the
 * fork, in the parent, with O_CLOEXEC.
 */
#ifndef IOTC_SPAWN_H
#define IOTC_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

enum iotc_spawn_io_kind {
    IOTC_SPAWN_INHERIT = 0, /* ours */
    IOTC_SPAWN_NULL,        /* /dev/null */
    IOTC_SPAWN_FD,          /* fd; the caller keeps (and closes) its copy */
    IOTC_SPAWN_FILE,        /* path, created or truncated */
    IOTC_SPAWN_APPEND,      /* path, created or appended to */
    IOTC_SPAWN_PIPE,   /* a new pipe; the parent's end (O_CLOEXEC, blocking) comes back in fd */
    IOTC_SPAWN_STDOUT, /* stderr only: wherever stdout goes */
};

typedef struct iotc_spawn_io {
    enum iotc_spawn_io_kind kind;
    int fd;
    const char *path;
} iotc_spawn_io;

typedef struct iotc_spawn_opts {
    const char *path; /* the program (no PATH search); NULL: argv[0] */
    char *const *argv;
    iotc_spawn_io in, out, err;
    bool pgroup;        /* lead a new process group, so stopping it stops its whole tree */
    int deathsig;       /* PR_SET_PDEATHSIG, 0 for none. It follows the death of the
                         * forking *thread*, not of the process. */
    bool reset_signals; /* default dispositions and an empty mask instead of ours */
    bool ignore_sigint; /* Ctrl-C at the terminal is ours to handle: we stop it ourselves */
    bool close_fds;     /* close every descriptor above 2 (ours are not all O_CLOEXEC) */
} iotc_spawn_opts;

/* Starts o->argv. On success *pid is the child and PIPE ends are in o->in/out/err.fd.
 * On failure nothing is left open or running, errno tells why, and the result is
 * IOTC_ERR_IO. A program that cannot be executed exits with status 127 after writing
 * "Error: cannot exec <path>" to its stderr. */
int iotc_spawn(iotc_spawn_opts *o, pid_t *pid);

/* Non-blocking reap: 1 (and *status) once pid has exited, 0 while it runs, -1 when it
 * is not (or no longer) our child. */
int iotc_spawn_reap(pid_t pid, int *status);

/* Blocking reap for a child that runs to completion (a recipe, not a service): 0 and
 * *status once pid has exited, -1 when it is not our child. */
int iotc_spawn_wait(pid_t pid, int *status);

/* Stops pid: SIGTERM (again every resend_ms when > 0: mosquitto 2.0.11 can lose one),
 * up to grace_ms for it to exit, then SIGKILL, and reaps it. With group, every signal
 * goes to its process group, SIGKILL goes in any case (members may outlive the leader),
 * and the members that are our children are reaped too. Returns 1 (and *status, may be
 * NULL) when pid was reaped here, 0 when it had been reaped before. */
int iotc_spawn_stop(pid_t pid, int grace_ms, int resend_ms, bool group, int *status);

/* Makes this process the reaper of its orphaned descendants (a device's helpers that
 * outlive their shell), so iotc_spawn_stop can reap them. */
int iotc_spawn_subreaper(void);

#endif
