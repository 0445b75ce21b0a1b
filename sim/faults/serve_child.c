/*
 * A `serve` child the faults act on: endpoint restart (SIGTERM, then a new serve
 * on the same real ports) and broker restart (SIGKILL mosquitto; serve's
 * supervisor starts a new one and logs broker.ready with the new pid).
 */
#define _GNU_SOURCE /* pipe2 */
#include "faults.h"
#include "common/err.h"

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

#define SC__READY "IOTCONFORM_READY "
static const int sc__lports[3] = {8883, 8443, 443};

static long sc__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sc__parse_ready(struct iotc_serve_child *c, const char *json, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *r = json_loads(json, 0, &jerr);
    json_t *ports = json_object_get(r, "ports");
    int rc = IOTC_OK;
    for (int i = 0; i < 3 && rc == IOTC_OK; i++) {
        char k[8];
        snprintf(k, sizeof k, "%d", sc__lports[i]);
        json_int_t v = json_integer_value(json_object_get(ports, k));
        if (v <= 0 || v > 65535)
            rc = IOTC_ERR_PROTOCOL;
        else
            c->ports[i] = (int)v;
    }
    if (rc != IOTC_OK)
        snprintf(err, errlen, "unreadable READY line: %.300s", json);
    json_decref(r);
    return rc;
}

static int sc__wait_ready(struct iotc_serve_child *c, int timeout_ms, char *err, size_t errlen)
{
    char buf[8192];
    size_t have = 0;
    long deadline = sc__now_ms() + timeout_ms;
    for (;;) {
        long left = deadline - sc__now_ms();
        if (left <= 0) {
            snprintf(err, errlen, "serve: no READY line within %d ms (log %s)", timeout_ms, c->log);
            return IOTC_ERR_TIMEOUT;
        }
        struct pollfd p = {c->out_fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)left);
        if (pr <= 0)
            continue;
        ssize_t n = read(c->out_fd, buf + have, sizeof buf - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "serve exited before READY (log %s)", c->log);
            return IOTC_ERR_IO;
        }
        have += (size_t)n;
        buf[have] = '\0';
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            if (strncmp(line, SC__READY, strlen(SC__READY)) == 0)
                return sc__parse_ready(c, line + strlen(SC__READY), err, errlen);
            line = nl + 1;
        }
        have = strlen(line);
        memmove(buf, line, have + 1);
        if (have >= sizeof buf - 1)
            have = 0;
    }
}

int iotc_serve_child_start(struct iotc_serve_child *c, int timeout_ms, char *err, size_t errlen)
{
    int pfd[2];
    char ports[96], journal[1100], run_dir[1100];
    if (c->ports[0] > 0)
        snprintf(ports, sizeof ports, "8883=%d,8443=%d,443=%d", c->ports[0], c->ports[1],
                 c->ports[2]);
    else
        snprintf(ports, sizeof ports, "0");
    /* Each incarnation gets its own journal and run directory: nothing is overwritten. */
    snprintf(journal, sizeof journal, "%s", c->journal);
    snprintf(run_dir, sizeof run_dir, "%s", c->run_dir);
    if (c->restarts) {
        snprintf(journal, sizeof journal, "%s.%u", c->journal, c->restarts);
        snprintf(run_dir, sizeof run_dir, "%s.%u", c->run_dir, c->restarts);
    }
    char *argv[16];
    int a = 0;
    argv[a++] = c->bin;
    argv[a++] = "serve";
    argv[a++] = "--pki";
    argv[a++] = c->pki;
    argv[a++] = "--ports";
    argv[a++] = ports;
    argv[a++] = "--journal";
    argv[a++] = journal;
    argv[a++] = "--run-dir";
    argv[a++] = run_dir;
    if (c->profile[0]) {
        argv[a++] = "--profile";
        argv[a++] = c->profile;
    }
    if (c->no_packet_journal)
        argv[a++] = "--no-packet-journal";
    argv[a] = NULL;
    c->broker_pid = -1;
    c->out_fd = -1;
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return IOTC_ERR_IO;
    }
    pid_t parent = getpid();
    fflush(NULL);
    c->pid = fork();
    if (c->pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return IOTC_ERR_IO;
    }
    if (c->pid == 0) {
        int efd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        /* No orphan endpoint if the fleet dies, even by SIGKILL. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        signal(SIGINT, SIG_IGN); /* Ctrl-C is the fleet's to handle: it stops us itself */
        dup2(pfd[1], STDOUT_FILENO);
        if (efd >= 0)
            dup2(efd, STDERR_FILENO);
        execv(c->bin, argv);
        fprintf(stderr, "exec %s: %s\n", c->bin, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    c->out_fd = pfd[0];
    int rc = sc__wait_ready(c, timeout_ms, err, errlen);
    if (rc != IOTC_OK) {
        iotc_serve_child_stop(c, 2000);
        return rc;
    }
    /* Remembered so a restart opens the same journal name family. */
    fcntl(c->out_fd, F_SETFL, fcntl(c->out_fd, F_GETFL) | O_NONBLOCK);
    for (int i = 0; i < 100 && iotc_serve_child_broker_pid(c) < 0; i++)
        usleep(20000);
    return IOTC_OK;
}

void iotc_serve_child_stop(struct iotc_serve_child *c, int timeout_ms)
{
    if (c->pid > 0) {
        long deadline = sc__now_ms() + timeout_ms;
        kill(c->pid, SIGTERM);
        for (;;) {
            pid_t w = waitpid(c->pid, NULL, WNOHANG);
            if (w == c->pid || (w < 0 && errno == ECHILD))
                break;
            if (sc__now_ms() >= deadline) {
                kill(c->pid, SIGKILL);
                waitpid(c->pid, NULL, 0);
                break;
            }
            usleep(10000);
        }
    }
    c->pid = -1;
    if (c->out_fd >= 0)
        close(c->out_fd);
    c->out_fd = -1;
}

int iotc_serve_child_restart(struct iotc_serve_child *c, int timeout_ms, char *err, size_t errlen)
{
    iotc_serve_child_stop(c, timeout_ms);
    c->restarts++;
    /* The old listeners are closed: the same numbers bind again (SO_REUSEADDR in serve). */
    int rc = IOTC_ERR_IO;
    for (int attempt = 0; attempt < 20; attempt++) {
        rc = iotc_serve_child_start(c, timeout_ms, err, errlen);
        if (rc == IOTC_OK)
            break;
        usleep(100000);
    }
    return rc;
}

pid_t iotc_serve_child_broker_pid(struct iotc_serve_child *c)
{
    char journal[1100], line[4096];
    snprintf(journal, sizeof journal, "%s", c->journal);
    if (c->restarts)
        snprintf(journal, sizeof journal, "%s.%u", c->journal, c->restarts);
    FILE *f = fopen(journal, "r");
    pid_t pid = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"broker.ready\""))
            continue;
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        json_int_t v = json_integer_value(json_object_get(o, "pid"));
        if (v > 0)
            pid = (pid_t)v;
        json_decref(o);
    }
    fclose(f);
    c->broker_pid = pid;
    return pid;
}

int iotc_serve_child_kill_broker(struct iotc_serve_child *c)
{
    pid_t pid = iotc_serve_child_broker_pid(c);
    if (pid <= 0)
        return IOTC_ERR_NOT_FOUND;
    if (kill(pid, SIGKILL) != 0)
        return IOTC_ERR_IO;
    return (int)pid;
}

int iotc_serve_child_port(const struct iotc_serve_child *c, int lport)
{
    for (int i = 0; i < 3; i++)
        if (sc__lports[i] == lport)
            return c->ports[i];
    return 0;
}
