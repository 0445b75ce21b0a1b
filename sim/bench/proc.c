/* Child processes (serve, reference mosquitto), their RSS, fds and free ports. */
#define _GNU_SOURCE
#include "bench.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROC_READY_TIMEOUT_S 30.0
#define PROC_READY_PREFIX    "IOTCONFORM_READY "

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/stat");
    else
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* comm may hold spaces and parentheses: fields count from the last ')'. */
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double bench_loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%lf", &l) != 1)
        l = -1;
    fclose(f);
    return l;
}

static double proc__cpu_or_zero(pid_t pid)
{
    double s = pid >= 0 ? bench_cpu_s(pid) : 0;
    return s < 0 ? 0 : s;
}

void bench_cpu_start(struct bench_cpu_probe *p)
{
    p->t0.client = proc__cpu_or_zero(0);
    p->t0.serve = p->serve > 0 ? proc__cpu_or_zero(p->serve) : 0;
    p->t0.broker = p->broker > 0 ? proc__cpu_or_zero(p->broker) : 0;
}

void bench_cpu_stop(const struct bench_cpu_probe *p, struct bench_cpu *out)
{
    out->client = proc__cpu_or_zero(0) - p->t0.client;
    out->serve = p->serve > 0 ? proc__cpu_or_zero(p->serve) - p->t0.serve : 0;
    out->broker = p->broker > 0 ? proc__cpu_or_zero(p->broker) - p->t0.broker : 0;
}

int bench_free_port(void)
{
    /* Bound then released: a small race with other tests, acceptable for a benchmark. */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int port = -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

void bench_stop_child(pid_t pid, double grace_s)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    double deadline = bench_now() + grace_s;
    while (bench_now() < deadline) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static bool proc__comm_is(pid_t pid, const char *name)
{
    char path[64], comm[64] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    if (!fgets(comm, sizeof comm, f))
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    return strcmp(comm, name) == 0;
}

/* The broker is serve's child; its threads' children lists name it. */
static pid_t proc__find_child(pid_t parent, const char *name)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task", (int)parent);
    DIR *d = opendir(path);
    pid_t found = -1;
    if (!d)
        return -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char cpath[512];
        snprintf(cpath, sizeof cpath, "%s/%s/children", path, e->d_name);
        FILE *f = fopen(cpath, "r");
        if (!f)
            continue;
        int child;
        while (found < 0 && fscanf(f, "%d", &child) == 1)
            if (proc__comm_is(child, name))
                found = child;
        fclose(f);
    }
    closedir(d);
    return found;
}

static int proc__parse_ready(const char *line, struct bench_serve *s)
{
    json_error_t jerr;
    json_t *o = json_loads(line + strlen(PROC_READY_PREFIX), 0, &jerr);
    json_int_t port = 0;
    int rc = IOTC_ERR_MALFORMED;
    if (o && json_unpack(o, "{s:{s:I}}", "ports", "8883", &port) == 0 && port > 0 && port < 65536) {
        s->port_8883 = (int)port;
        rc = IOTC_OK;
    }
    json_decref(o);
    return rc;
}

/* Reads serve's stdout until the READY line, without blocking past the deadline. */
static int proc__wait_ready(struct bench_serve *s, char *err, size_t errlen)
{
    char buf[4096];
    size_t have = 0;
    double deadline = bench_now() + PROC_READY_TIMEOUT_S;
    for (;;) {
        char *nl;
        while ((nl = memchr(buf, '\n', have))) {
            *nl = '\0';
            if (strncmp(buf, PROC_READY_PREFIX, strlen(PROC_READY_PREFIX)) == 0) {
                if (proc__parse_ready(buf, s) == IOTC_OK)
                    return IOTC_OK;
                snprintf(err, errlen, "cannot parse the READY line: %.200s", buf);
                return IOTC_ERR_MALFORMED;
            }
            size_t used = (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have - used);
            have -= used;
        }
        if (have == sizeof buf - 1)
            have = 0; /* an absurd line: drop it */
        double left = deadline - bench_now();
        if (left <= 0) {
            snprintf(err, errlen, "serve not ready after %.0f s (log: %s)", PROC_READY_TIMEOUT_S,
                     s->log_path);
            return IOTC_ERR_TIMEOUT;
        }
        struct pollfd p = {.fd = s->out_fd, .events = POLLIN};
        int n = poll(&p, 1, (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        ssize_t r = read(s->out_fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0) {
            snprintf(err, errlen, "serve exited before READY (log: %s)", s->log_path);
            return IOTC_ERR_IO;
        }
        have += (size_t)r;
    }
}

int bench_serve_start(const char *serve_bin, const char *pki, const char *work_dir,
                      struct bench_serve *out, char *err, size_t errlen)
{
    int pipefd[2];
    memset(out, 0, sizeof *out);
    out->pid = -1;
    out->broker_pid = -1;
    out->out_fd = -1;
    snprintf(out->log_path, sizeof out->log_path, "%s/serve.log", work_dir);
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return IOTC_ERR_IO;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        return IOTC_ERR_IO;
    }
    if (pid == 0) {
        int logfd = open(out->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(pipefd[1], STDOUT_FILENO);
        if (logfd >= 0)
            dup2(logfd, STDERR_FILENO);
        /* A journal costs serve a JSON line per event: only when asked, to diagnose. */
        const char *journal = getenv("IOTC_BENCH_SERVE_JOURNAL");
        char *const argv[] = {(char *)serve_bin,
                              "serve",
                              "--ports",
                              "0",
                              "--pki",
                              (char *)pki,
                              "--journal",
                              (char *)(journal && *journal ? journal : "/dev/null"),
                              "--no-packet-journal",
                              NULL};
        execv(serve_bin, argv);
        fprintf(stderr, "exec %s: %s\n", serve_bin, strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    out->pid = pid;
    out->out_fd = pipefd[0];
    int rc = proc__wait_ready(out, err, errlen);
    if (rc != IOTC_OK)
        goto fail;
    for (int i = 0; i < 100 && out->broker_pid < 0; i++) {
        out->broker_pid = proc__find_child(pid, "mosquitto");
        if (out->broker_pid < 0)
            usleep(20000);
    }
    if (out->broker_pid < 0) {
        snprintf(err, errlen, "no mosquitto child under serve (pid %d)", (int)pid);
        rc = IOTC_ERR_NOT_FOUND;
        goto fail;
    }
    return IOTC_OK;
fail:
    bench_serve_stop(out);
    return rc;
}

void bench_serve_stop(struct bench_serve *s)
{
    bench_stop_child(s->pid, 10.0);
    s->pid = -1;
    if (s->out_fd >= 0)
        close(s->out_fd);
    s->out_fd = -1;
}
