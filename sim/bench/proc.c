/* Child processes (serve through the harness), their CPU time, and free ports. */
#define _GNU_SOURCE
#include "bench.h"
#include "common/err.h"
#include "common/procstat.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROC_READY_TIMEOUT_MS 30000

double iotc_bench_loadavg(void)
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
    double s = pid >= 0 ? iotc_cpu_s(pid) : 0;
    return s < 0 ? 0 : s;
}

static bool proc__same_exe(pid_t a, pid_t b)
{
    char pa[64], pb[64], ea[1024], eb[1024];
    snprintf(pa, sizeof pa, "/proc/%d/exe", (int)a);
    snprintf(pb, sizeof pb, "/proc/%d/exe", (int)b);
    ssize_t na = readlink(pa, ea, sizeof ea - 1), nb = readlink(pb, eb, sizeof eb - 1);
    if (na <= 0 || nb <= 0)
        return false;
    ea[na] = eb[nb] = '\0';
    return strcmp(ea, eb) == 0;
}

/* Each child of parent (its threads' children lists name them) for which keep says so,
 * into out (at most max); the count. */
static int proc__children(pid_t parent, bool (*keep)(pid_t child, pid_t parent, const void *arg),
                          const void *arg, pid_t *out, int max)
{
    char path[96];
    int n = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)parent);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    while (n < max && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char cpath[512];
        snprintf(cpath, sizeof cpath, "%s/%s/children", path, e->d_name);
        FILE *f = fopen(cpath, "r");
        if (!f)
            continue;
        int child;
        while (n < max && fscanf(f, "%d", &child) == 1)
            if (keep(child, parent, arg))
                out[n++] = child;
        fclose(f);
    }
    closedir(d);
    return n;
}

static bool proc__same_exe_keep(pid_t child, pid_t parent, const void *arg)
{
    (void)arg;
    return proc__same_exe(child, parent);
}

/* serve --workers N: the parent's children running its own executable are the other
 * front-door processes (workers exec /proc/self/exe, so comm does not name them). */
int iotc_bench_front_door_pids(pid_t serve, pid_t *out, int max)
{
    if (serve <= 0 || max < 1)
        return 0;
    out[0] = serve;
    return 1 + proc__children(serve, proc__same_exe_keep, NULL, out + 1, max - 1);
}

double iotc_bench_front_door_cpu_s(pid_t serve)
{
    pid_t pids[IOTC_BENCH_MAX_WORKERS];
    int n = iotc_bench_front_door_pids(serve, pids, IOTC_BENCH_MAX_WORKERS);
    double s = 0;
    for (int i = 0; i < n; i++)
        s += proc__cpu_or_zero(pids[i]);
    return s;
}

/* Proportional set size: a page the workers share (their mapped state file, the
 * executable) counts once over all of them, where VmRSS would count it in each. */
static long proc__pss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return iotc_rss_kb(pid);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Pss:", 4) == 0) {
            kb = strtol(line + 4, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb >= 0 ? kb : iotc_rss_kb(pid);
}

long iotc_bench_front_door_mem_kb(pid_t serve)
{
    pid_t pids[IOTC_BENCH_MAX_WORKERS];
    int n = iotc_bench_front_door_pids(serve, pids, IOTC_BENCH_MAX_WORKERS);
    long kb = n > 0 ? 0 : -1;
    for (int i = 0; i < n; i++) {
        long one = proc__pss_kb(pids[i]);
        if (one < 0)
            return -1;
        kb += one;
    }
    return kb;
}

void iotc_bench_cpu_start(struct iotc_bench_cpu_probe *p)
{
    p->t0.client = proc__cpu_or_zero(0);
    p->t0.serve = p->serve > 0 ? iotc_bench_front_door_cpu_s(p->serve) : 0;
    p->t0.broker = p->broker > 0 ? proc__cpu_or_zero(p->broker) : 0;
}

void iotc_bench_cpu_stop(const struct iotc_bench_cpu_probe *p, struct iotc_bench_cpu *out)
{
    out->client = proc__cpu_or_zero(0) - p->t0.client;
    out->serve = p->serve > 0 ? iotc_bench_front_door_cpu_s(p->serve) - p->t0.serve : 0;
    out->broker = p->broker > 0 ? proc__cpu_or_zero(p->broker) - p->t0.broker : 0;
}

int iotc_bench_free_port(void)
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

static bool proc__comm_keep(pid_t child, pid_t parent, const void *name)
{
    (void)parent;
    return proc__comm_is(child, name);
}

/* The broker is serve's child. */
static pid_t proc__find_child(pid_t parent, const char *name)
{
    pid_t found = -1;
    return proc__children(parent, proc__comm_keep, name, &found, 1) == 1 ? found : -1;
}

int iotc_bench_serve_start(const char *serve_bin, const char *pki, const char *work_dir,
                           int workers, struct iotc_bench_serve *out, iotc_errtext *err)
{
    /* The benchmark measures the emulator's own capacity: AWS's publish and connect quotas
     * (README "throttling") are off, everything else is the default profile. */
    char profile[700];
    snprintf(profile, sizeof profile, "%s/bench-profile.json", work_dir);
    FILE *f = fopen(profile, "w");
    if (!f) {
        return iotc_errtext_set(err, IOTC_ERR_IO, "cannot write %.400s", profile);
    }
    fprintf(f, "{\"name\": \"bench\", \"security_policy\": "
               "\"IoTSecurityPolicy_TLS13_1_2_2022_10\", \"sni\": \"required\", "
               "\"endpoint_names\": [\"localhost\"], \"bind\": [\"127.0.0.1\"], "
               "\"limits\": {" IOTC_BENCH_NO_QUOTAS "}}\n");
    fclose(f);
    return iotc_bench_serve_start_profile(serve_bin, pki, work_dir, profile, workers, out, err);
}

int iotc_bench_serve_start_profile(const char *serve_bin, const char *pki, const char *work_dir,
                                   const char *profile_path, int workers,
                                   struct iotc_bench_serve *out, iotc_errtext *err)
{
    char log[600], nworkers[16];
    /* Always explicit, so $IOTCONFORM_SERVE_WORKERS cannot change what is measured. */
    snprintf(nworkers, sizeof nworkers, "%d", workers > 0 ? workers : 1);
    const char *extra[] = {"--workers", nworkers, NULL};
    /* A journal costs serve a JSON line per event: only when asked, to diagnose. */
    const char *journal = getenv("IOTC_BENCH_SERVE_JOURNAL");
    snprintf(log, sizeof log, "%s/serve.log", work_dir);
    iotc_serve_opts so = {.bin = serve_bin,
                          .pki_dir = pki,
                          .name = "bench",
                          .profile_path = profile_path,
                          .work_dir = work_dir,
                          .journal = journal && *journal ? journal : "/dev/null",
                          .stderr_log = log,
                          .append_logs = true,
                          .no_packet_journal = true,
                          .timeout_ms = PROC_READY_TIMEOUT_MS,
                          .extra = extra};
    out->broker_pid = -1;
    int rc = iotc_serve_start_opts(&out->proc, &so, err);
    if (rc != IOTC_OK)
        return rc;
    pid_t pid = out->proc.pid;
    for (int i = 0; i < 100 && out->broker_pid < 0; i++) {
        out->broker_pid = proc__find_child(pid, "mosquitto");
        if (out->broker_pid < 0)
            usleep(20000);
    }
    if (out->broker_pid < 0) {
        iotc_errtext_set(err, 0, "no mosquitto child under serve (pid %d)", (int)pid);
        iotc_bench_serve_stop(out);
        return IOTC_ERR_NOT_FOUND;
    }
    /* READY comes after every worker's READY: they are all there now. */
    pid_t pids[IOTC_BENCH_MAX_WORKERS];
    out->workers = iotc_bench_front_door_pids(pid, pids, IOTC_BENCH_MAX_WORKERS);
    if (out->workers != (workers > 0 ? workers : 1)) {
        iotc_errtext_set(err, 0, "serve --workers %d: %d front-door processes found", workers,
                         out->workers);
        iotc_bench_serve_stop(out);
        return IOTC_ERR_NOT_FOUND;
    }
    return IOTC_OK;
}

void iotc_bench_serve_stop(struct iotc_bench_serve *s)
{
    iotc_serve_stop(&s->proc, 10000);
}
