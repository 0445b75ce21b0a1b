#define _GNU_SOURCE /* pipe2 */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

#define SERVE__READY "IOTCONFORM_READY "

static long serve__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void serve__tail(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    long size;
    size_t n;
    out[0] = '\0';
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    if (size > (long)len - 1)
        fseek(f, size - (long)len + 1, SEEK_SET);
    else
        fseek(f, 0, SEEK_SET);
    n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void serve__child(const char *bin, char *const argv[], int out_w, const char *stderr_log,
                         pid_t parent)
{
    int efd = open(stderr_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    /* No orphans: if the runner dies, even by SIGKILL, the endpoint goes too. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
    dup2(out_w, STDOUT_FILENO);
    if (efd >= 0)
        dup2(efd, STDERR_FILENO);
    execv(bin, argv);
    fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
    _exit(127);
}

static int serve__parse_ready(iotc_serve *s, const char *json, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *r = json_loads(json, 0, &jerr);
    json_t *ports = json_object_get(r, "ports");
    if (!r || !json_is_object(ports)) {
        snprintf(err, errlen, "unreadable READY line: %s", json);
        json_decref(r);
        return IOTC_ERR_PROTOCOL;
    }
    s->port_8883 = (int)json_integer_value(json_object_get(ports, "8883"));
    s->port_8443 = (int)json_integer_value(json_object_get(ports, "8443"));
    s->port_443 = (int)json_integer_value(json_object_get(ports, "443"));
    if (json_is_string(json_object_get(r, "journal")))
        snprintf(s->journal, sizeof(s->journal), "%s",
                 json_string_value(json_object_get(r, "journal")));
    s->ready = r;
    if (s->port_8883 <= 0 || s->port_8443 <= 0 || s->port_443 <= 0) {
        snprintf(err, errlen, "READY line lacks a port: %s", json);
        return IOTC_ERR_PROTOCOL;
    }
    return IOTC_OK;
}

/* Reads lines until READY, the deadline, or the child's end. */
static int serve__wait_ready(iotc_serve *s, int timeout_ms, char *err, size_t errlen)
{
    char buf[8192];
    size_t have = 0;
    long deadline = serve__now_ms() + timeout_ms;
    FILE *log = fopen(s->stdout_log, "w");

    for (;;) {
        long left = deadline - serve__now_ms();
        struct pollfd p = {s->out_fd, POLLIN, 0};
        if (left <= 0) {
            snprintf(err, errlen, "no READY line within %d ms", timeout_ms);
            break;
        }
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        ssize_t n = read(s->out_fd, buf + have, sizeof(buf) - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "serve exited before printing READY");
            break;
        }
        if (log)
            fwrite(buf + have, 1, (size_t)n, log);
        have += (size_t)n;
        buf[have] = '\0';
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = '\0';
            if (strncmp(line, SERVE__READY, strlen(SERVE__READY)) == 0) {
                int rc = serve__parse_ready(s, line + strlen(SERVE__READY), err, errlen);
                if (log)
                    fclose(log);
                return rc;
            }
            line = nl + 1;
        }
        /* Keep the unfinished line; drop finished ones. */
        have = strlen(line);
        memmove(buf, line, have + 1);
        if (have >= sizeof(buf) - 1) {
            snprintf(err, errlen, "serve printed an over-long line");
            break;
        }
    }
    if (log)
        fclose(log);
    return IOTC_ERR_TIMEOUT;
}

int iotc_serve_start(iotc_serve *s, const char *bin, const char *pki_dir, const char *profile,
                     const char *profile_path, const char *work_dir, int timeout_ms, char *err,
                     size_t errlen)
{
    return iotc_serve_start_ex(s, bin, pki_dir, profile, profile_path, work_dir, timeout_ms, NULL,
                               err, errlen);
}

#define SERVE__MAX_EXTRA 8

int iotc_serve_start_ex(iotc_serve *s, const char *bin, const char *pki_dir, const char *profile,
                        const char *profile_path, const char *work_dir, int timeout_ms,
                        const char *const *extra, char *err, size_t errlen)
{
    int pfd[2];
    char run_dir[1024], journal[1024];
    pid_t parent = getpid();
    int rc;

    memset(s, 0, sizeof(*s));
    s->pid = -1;
    s->out_fd = -1;
    snprintf(s->profile, sizeof(s->profile), "%s", profile);
    snprintf(journal, sizeof(journal), "%s/journal-%s.jsonl", work_dir, profile);
    snprintf(run_dir, sizeof(run_dir), "%s/serve-%s", work_dir, profile);
    snprintf(s->stdout_log, sizeof(s->stdout_log), "%s/serve-%s.stdout.log", work_dir, profile);
    snprintf(s->stderr_log, sizeof(s->stderr_log), "%s/serve-%s.stderr.log", work_dir, profile);
    snprintf(s->journal, sizeof(s->journal), "%s", journal);

    char *argv[14 + SERVE__MAX_EXTRA] = {
        (char *)bin,          "serve",   "--pki", (char *)pki_dir, "--profile",
        (char *)profile_path, "--ports", "0",     "--journal",     journal,
        "--run-dir",          run_dir,   NULL};
    /* getopt keeps the last --ports, so an extra one overrides the default. */
    for (size_t i = 0; extra && extra[i]; i++) {
        if (i >= SERVE__MAX_EXTRA) {
            snprintf(err, errlen, "too many extra serve arguments");
            return IOTC_ERR_INVALID;
        }
        argv[12 + i] = (char *)extra[i];
        argv[13 + i] = NULL;
    }
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return IOTC_ERR_IO;
    }
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return IOTC_ERR_IO;
    }
    if (s->pid == 0)
        serve__child(bin, argv, pfd[1], s->stderr_log, parent);
    close(pfd[1]);
    s->out_fd = pfd[0];
    rc = serve__wait_ready(s, timeout_ms, err, errlen);
    if (rc != IOTC_OK) {
        char tail[1500];
        size_t used = strlen(err);
        iotc_serve_stop(s, 2000);
        serve__tail(s->stderr_log, tail, sizeof(tail));
        snprintf(err + used, errlen - used, " (profile %s, %s serve --pki %s --profile %s)%s%s",
                 profile, bin, pki_dir, profile_path,
                 tail[0] ? "; its stderr ends with:\n" : "; its stderr is empty", tail);
        return rc;
    }
    fcntl(s->out_fd, F_SETFL, fcntl(s->out_fd, F_GETFL) | O_NONBLOCK);
    return IOTC_OK;
}

int iotc_serve_alive(iotc_serve *s)
{
    int status;
    if (s->pid <= 0)
        return 0;
    if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
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
    while ((n = read(s->out_fd, buf, sizeof(buf))) > 0)
        if (log)
            fwrite(buf, 1, (size_t)n, log);
    if (log)
        fclose(log);
}

void iotc_serve_stop(iotc_serve *s, int timeout_ms)
{
    if (s->pid > 0) {
        long deadline = serve__now_ms() + timeout_ms;
        int status;
        kill(s->pid, SIGTERM);
        for (;;) {
            pid_t w = waitpid(s->pid, &status, WNOHANG);
            if (w == s->pid || (w < 0 && errno == ECHILD))
                break;
            if (serve__now_ms() >= deadline) {
                kill(s->pid, SIGKILL);
                waitpid(s->pid, &status, 0);
                break;
            }
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        s->pid = -1;
    }
    if (s->out_fd >= 0) {
        iotc_serve_drain(s);
        close(s->out_fd);
        s->out_fd = -1;
    }
    json_decref(s->ready);
    s->ready = NULL;
}
