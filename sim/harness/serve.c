#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/spawn.h"
#include "diag.h"
#include "ready.h"

#define SERVE__MAX_EXTRA 8
#define SERVE__MAX_ARGS  (16 + SERVE__MAX_EXTRA + 1)

/* Fills argv (SERVE__MAX_ARGS slots); ports/journal/run_dir are already resolved. */
static int serve__argv(const iotc_serve_opts *o, const char *ports, const char *journal,
                       const char *run_dir, char **argv, iotc_errtext *err)
{
    int a = 0;
    argv[a++] = (char *)o->bin;
    argv[a++] = "serve";
    argv[a++] = "--pki";
    argv[a++] = (char *)o->pki_dir;
    if (o->profile_path) {
        argv[a++] = "--profile";
        argv[a++] = (char *)o->profile_path;
    }
    argv[a++] = "--ports";
    argv[a++] = (char *)ports;
    argv[a++] = "--journal";
    argv[a++] = (char *)journal;
    argv[a++] = "--run-dir";
    argv[a++] = (char *)run_dir;
    if (o->no_packet_journal)
        argv[a++] = "--no-packet-journal";
    /* getopt keeps the last --ports, so an extra one overrides the default. */
    for (size_t i = 0; o->extra && o->extra[i]; i++) {
        if (i >= SERVE__MAX_EXTRA) {
            return iotc_errtext_set(err, IOTC_ERR_INVALID, "too many extra serve arguments");
        }
        argv[a++] = (char *)o->extra[i];
    }
    argv[a] = NULL;
    return IOTC_OK;
}

static int serve__wait_ready(iotc_serve *s, const iotc_serve_opts *o, iotc_errtext *err)
{
    iotc_ready r;
    FILE *log = fopen(s->stdout_log, o->append_logs ? "a" : "w");
    int rc = iotc_ready_wait(s->out_fd, o->timeout_ms, log, &r, err);
    if (log)
        fclose(log);
    if (rc != IOTC_OK)
        return rc;
    s->port_8883 = r.port_8883;
    s->port_8443 = r.port_8443;
    s->port_443 = r.port_443;
    s->ready = r.obj;
    if (json_is_string(json_object_get(r.obj, "journal")))
        snprintf(s->journal, sizeof(s->journal), "%s",
                 json_string_value(json_object_get(r.obj, "journal")));
    return IOTC_OK;
}

int iotc_serve_start_opts(iotc_serve *s, const iotc_serve_opts *o, iotc_errtext *err)
{
    const char *name = o->name ? o->name : "serve";
    char run_dir[1024], *argv[SERVE__MAX_ARGS];
    int rc;

    memset(s, 0, sizeof(*s));
    s->pid = -1;
    s->out_fd = -1;
    snprintf(s->profile, sizeof(s->profile), "%s", name);
    if (o->journal)
        snprintf(s->journal, sizeof(s->journal), "%s", o->journal);
    else
        snprintf(s->journal, sizeof(s->journal), "%s/journal-%s.jsonl", o->work_dir, name);
    if (o->run_dir)
        snprintf(run_dir, sizeof(run_dir), "%s", o->run_dir);
    else
        snprintf(run_dir, sizeof(run_dir), "%s/serve-%s", o->work_dir, name);
    if (o->stdout_log)
        snprintf(s->stdout_log, sizeof(s->stdout_log), "%s", o->stdout_log);
    else
        snprintf(s->stdout_log, sizeof(s->stdout_log), "%s/serve-%s.stdout.log", o->work_dir, name);
    if (o->stderr_log)
        snprintf(s->stderr_log, sizeof(s->stderr_log), "%s", o->stderr_log);
    else
        snprintf(s->stderr_log, sizeof(s->stderr_log), "%s/serve-%s.stderr.log", o->work_dir, name);

    rc = serve__argv(o, o->ports ? o->ports : "0", s->journal, run_dir, argv, err);
    if (rc != IOTC_OK)
        return rc;
    iotc_spawn_opts sp = {
        .argv = argv,
        .out = {IOTC_SPAWN_PIPE, -1, NULL},
        .err = {o->append_logs ? IOTC_SPAWN_APPEND : IOTC_SPAWN_FILE, -1, s->stderr_log},
        /* No orphans: if we die, even by SIGKILL, the endpoint goes too. */
        .deathsig = SIGTERM,
        .ignore_sigint = o->ignore_sigint,
    };
    if (iotc_spawn(&sp, &s->pid) != IOTC_OK) {
        return iotc_errtext_set(err, IOTC_ERR_IO, "cannot start %s serve: %s", o->bin,
                                strerror(errno));
    }
    s->out_fd = sp.out.fd;
    rc = serve__wait_ready(s, o, err);
    if (rc != IOTC_OK) {
        char tail[1500];
        iotc_serve_stop(s, 2000);
        iotc_diag_file_tail(s->stderr_log, tail, sizeof(tail));
        iotc_errtext_append(err, rc, " (%s: %s serve --pki %s --profile %s)%s%s", name, o->bin,
                            o->pki_dir, o->profile_path ? o->profile_path : "(default)",
                            tail[0] ? "; its stderr ends with:\n" : "; its stderr is empty", tail);
        return rc;
    }
    fcntl(s->out_fd, F_SETFL, fcntl(s->out_fd, F_GETFL) | O_NONBLOCK);
    return IOTC_OK;
}

int iotc_serve_start(iotc_serve *s, const char *bin, const char *pki_dir, const char *profile,
                     const char *profile_path, const char *work_dir, int timeout_ms,
                     iotc_errtext *err)
{
    return iotc_serve_start_ex(s, bin, pki_dir, profile, profile_path, work_dir, timeout_ms, NULL,
                               err);
}

int iotc_serve_start_ex(iotc_serve *s, const char *bin, const char *pki_dir, const char *profile,
                        const char *profile_path, const char *work_dir, int timeout_ms,
                        const char *const *extra, iotc_errtext *err)
{
    iotc_serve_opts o = {.bin = bin,
                         .pki_dir = pki_dir,
                         .name = profile,
                         .profile_path = profile_path,
                         .work_dir = work_dir,
                         .timeout_ms = timeout_ms,
                         .extra = extra};
    return iotc_serve_start_opts(s, &o, err);
}

int iotc_serve_alive(iotc_serve *s)
{
    if (s->pid <= 0)
        return 0;
    if (iotc_spawn_reap(s->pid, NULL) == 1) {
        s->pid = -1;
        return 0;
    }
    return 1;
}

void iotc_serve_drain(iotc_serve *s)
{
    char buf[4096];
    ssize_t n;
    FILE *log;
    if (s->out_fd < 0)
        return;
    log = fopen(s->stdout_log, "a");
    while ((n = read(s->out_fd, buf, sizeof buf)) > 0)
        if (log)
            fwrite(buf, 1, (size_t)n, log);
    if (log)
        fclose(log);
}

void iotc_serve_stop(iotc_serve *s, int timeout_ms)
{
    if (s->pid > 0)
        iotc_spawn_stop(s->pid, timeout_ms, 0, false, NULL);
    s->pid = -1;
    if (s->out_fd >= 0) {
        iotc_serve_drain(s);
        close(s->out_fd);
        s->out_fd = -1;
    }
    json_decref(s->ready);
    s->ready = NULL;
}
