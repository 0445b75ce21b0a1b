/* One `iotconform serve` child: start, READY line, stop. Every command that starts an
 * endpoint of its own (run, certify, fleet, bench) starts it here. */
#ifndef IOTC_HARNESS_SERVE_H
#define IOTC_HARNESS_SERVE_H

#include <jansson.h>
#include "common/errtext.h"
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct iotc_serve {
    pid_t pid;
    int out_fd; /* the child's stdout; drained into stdout_log after READY */
    char profile[64];
    char journal[1024];
    char stdout_log[1024];
    char stderr_log[1024];
    int port_8883, port_8443, port_443;
    json_t *ready; /* the READY object */
} iotc_serve;

typedef struct iotc_serve_opts {
    const char *bin, *pki_dir;
    const char *name;         /* for messages and default file names, e.g. the profile */
    const char *profile_path; /* --profile; NULL: serve's default profile */
    const char *work_dir;     /* where the files below go unless given */
    const char *journal;      /* NULL: <work_dir>/journal-<name>.jsonl */
    const char *run_dir;      /* NULL: <work_dir>/serve-<name> */
    const char *stderr_log;   /* NULL: <work_dir>/serve-<name>.stderr.log */
    const char *stdout_log;   /* NULL: <work_dir>/serve-<name>.stdout.log */
    bool append_logs;         /* add to the logs instead of truncating them */
    const char *ports;        /* --ports; NULL: "0" (serve picks free ports) */
    bool no_packet_journal;   /* --no-packet-journal */
    bool ignore_sigint;       /* Ctrl-C is the caller's to handle: it stops serve itself */
    int timeout_ms;           /* for the READY line */
    const char *const *extra; /* more serve arguments, NULL-terminated, may be NULL */
} iotc_serve_opts;

/* Starts serve and waits for the READY line. On failure err holds the reason and the
 * tail of the child's stderr; nothing is left running. */
int iotc_serve_start_opts(iotc_serve *s, const iotc_serve_opts *o, iotc_errtext *err);

/* The usual start of `run` and `certify`: --ports 0, files under work_dir named after
 * profile, extra serve arguments (NULL-terminated, may be NULL) appended, e.g.
 * {"--scenario", json, NULL} or {"--ports", "8883=N,...", NULL}. */
int iotc_serve_start(iotc_serve *s, const char *bin, const char *pki_dir, const char *profile,
                     const char *profile_path, const char *work_dir, int timeout_ms,
                     iotc_errtext *err);
int iotc_serve_start_ex(iotc_serve *s, const char *bin, const char *pki_dir, const char *profile,
                        const char *profile_path, const char *work_dir, int timeout_ms,
                        const char *const *extra, iotc_errtext *err);

/* 1 while the child runs. */
int iotc_serve_alive(iotc_serve *s);

/* Copies whatever the child printed since the last call to stdout_log. */
void iotc_serve_drain(iotc_serve *s);

/* SIGTERM, wait up to timeout_ms, then SIGKILL. Safe to call twice. */
void iotc_serve_stop(iotc_serve *s, int timeout_ms);

#endif
