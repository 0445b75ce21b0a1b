/*
 * The throughput reference: a plain mosquitto terminating TLS itself, configured
 * like the broker behind the front door (same queue and in-flight limits), so the
 * ratio prices the front door's hop and nothing else.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "common/err.h"
#include "config/paths.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOSQ_READY_TIMEOUT_S 10.0

static int mosq__write_conf(const char *path, const char *pki, int port)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return IOTC_ERR_IO;
    fprintf(f, "# iotc_bench reference broker\n");
    /* As root mosquitto would drop to user "mosquitto", which cannot read the PKI. */
    if (geteuid() == 0)
        fprintf(f, "user root\n");
    fprintf(f, "per_listener_settings false\n");
    fprintf(f, "listener %d 127.0.0.1\n", port);
    fprintf(f, "cafile %s/" IOTC_PKI_CA_BUNDLE "\n", pki);
    fprintf(f, "certfile %s/server-ec.crt\n", pki);
    fprintf(f, "keyfile %s/server-ec.key\n", pki);
    fprintf(f, "require_certificate true\n");
    fprintf(f, "allow_anonymous true\n");
    fprintf(f, "persistence false\n");
    fprintf(f, "log_dest stderr\nlog_type error\nlog_type warning\n");
    /* The limits the front door's generated broker config uses. */
    fprintf(f, "max_keepalive 65535\n");
    fprintf(f, "max_inflight_messages 100\n");
    fprintf(f, "max_queued_messages 10000\n");
    fprintf(f, "set_tcp_nodelay true\n");
    return fclose(f) == 0 ? IOTC_OK : IOTC_ERR_IO;
}

static bool mosq__accepts(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

int iotc_bench_mosq_start(const char *mosquitto_bin, const char *pki, const char *work_dir,
                          struct iotc_bench_mosq *out, iotc_errtext *err)
{
    char conf[600], log[600];
    memset(out, 0, sizeof *out);
    out->pid = -1;
    snprintf(out->dir, sizeof out->dir, "%s", work_dir);
    snprintf(conf, sizeof conf, "%s/mosquitto-ref.conf", work_dir);
    snprintf(log, sizeof log, "%s/mosquitto-ref.log", work_dir);
    /* listener 0 means a unix socket to mosquitto, so take a free port and hand it over. */
    out->port = iotc_bench_free_port();
    if (out->port <= 0) {
        return iotc_errtext_set(err, IOTC_ERR_IO, "no free TCP port");
    }
    if (mosq__write_conf(conf, pki, out->port) != IOTC_OK) {
        return iotc_errtext_set(err, IOTC_ERR_IO, "cannot write %s: %s", conf, strerror(errno));
    }
    char *argv[] = {(char *)mosquitto_bin, "-c", conf, NULL};
    iotc_spawn_opts so = {
        .argv = argv, .out = {IOTC_SPAWN_APPEND, -1, log}, .err = {IOTC_SPAWN_STDOUT, -1, NULL}};
    if (iotc_spawn(&so, &out->pid) != IOTC_OK) {
        return iotc_errtext_set(err, IOTC_ERR_IO, "cannot start %s: %s", mosquitto_bin,
                                strerror(errno));
    }
    double deadline = iotc_clock_s() + MOSQ_READY_TIMEOUT_S;
    while (iotc_clock_s() < deadline) {
        if (iotc_spawn_reap(out->pid, NULL) == 1) {
            out->pid = -1;
            return iotc_errtext_set(err, IOTC_ERR_IO,
                                    "reference mosquitto exited at start (log: %s)", log);
        }
        if (mosq__accepts(out->port))
            return IOTC_OK;
        usleep(20000);
    }
    iotc_errtext_set(err, 0, "reference mosquitto not listening on %d (log: %s)", out->port, log);
    iotc_bench_mosq_stop(out);
    return IOTC_ERR_TIMEOUT;
}

void iotc_bench_mosq_stop(struct iotc_bench_mosq *m)
{
    iotc_spawn_stop(m->pid, 5000, 0, false, NULL);
    m->pid = -1;
}
