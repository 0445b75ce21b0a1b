/* One `iotconform serve --ports 0` child per profile: start, READY line, stop. */
#ifndef IOTC_HARNESS_SERVE_H
#define IOTC_HARNESS_SERVE_H

#include <jansson.h>
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

/* Starts bin with `serve`, waits up to timeout_ms for the READY line. On failure
 * err holds the reason and the tail of the child's stderr; nothing is left running. */
int iotc_serve_start(iotc_serve *s, const char *bin, const char *pki_dir, const char *profile,
                     const char *profile_path, const char *work_dir, int timeout_ms, char *err,
                     size_t errlen);

/* Same, with extra serve arguments (NULL-terminated, may be NULL) appended, e.g.
 * {"--scenario", json, NULL} for certification or {"--ports", "8883=N,...", NULL},
 * which then replaces the default `--ports 0`. Used by `iotconform certify`. */
int iotc_serve_start_ex(iotc_serve *s, const char *bin, const char *pki_dir, const char *profile,
                        const char *profile_path, const char *work_dir, int timeout_ms,
                        const char *const *extra, char *err, size_t errlen);

/* 1 while the child runs. */
int iotc_serve_alive(iotc_serve *s);

/* Copies whatever the child printed since the last call to stdout_log. */
void iotc_serve_drain(iotc_serve *s);

/* SIGTERM, wait up to timeout_ms, then SIGKILL. Safe to call twice. */
void iotc_serve_stop(iotc_serve *s, int timeout_ms);

#endif
