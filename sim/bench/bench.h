/*
 * iotc_bench: throughput, handshake rate and idle memory of the front door,
 * measured by event-driven TLS clients on one libevent loop (no thread per
 * connection), with mosquitto's own TLS listener as the throughput reference.
 */
#ifndef IOTC_BENCH_H
#define IOTC_BENCH_H

#include "common/clock.h"
#include "common/errtext.h"
#include "common/spawn.h"
#include "harness/serve.h"
#include "mqtt/mqtt.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define IOTC_BENCH_ERR_LEN 512

/* ---- client.c: one MQTT-over-TLS client connection ---- */
struct iotc_bench_conn;
struct iotc_bench_conn_cbs {
    void (*on_tls)(struct iotc_bench_conn *c); /* handshake complete */
    /* One whole packet. pkt is NULL for PUBLISH (counted and drained without a copy)
     * and for packets too large to copy; otherwise valid during the call only. */
    void (*on_packet)(struct iotc_bench_conn *c, const struct iotc_mqtt_frame *f,
                      const uint8_t *pkt);
    void (*on_drain)(struct iotc_bench_conn *c); /* output fell to the low watermark */
    void (*on_close)(struct iotc_bench_conn *c,
                     const char *why); /* the connection is gone (iotc_bench_conn_close done) */
};
struct iotc_bench_conn {
    struct bufferevent *bev;
    const struct iotc_bench_conn_cbs *cbs;
    void *arg;
    int idx;
    bool tls_up;
    bool closed;
    uint64_t rx_publish; /* PUBLISH packets received */
};

int iotc_bench_conn_open(struct iotc_bench_conn *c, struct event_base *base, SSL_CTX *ctx,
                         const char *sni, const struct sockaddr_in *sa);
int iotc_bench_conn_write(struct iotc_bench_conn *c, const void *data, size_t len);
size_t iotc_bench_conn_outlen(const struct iotc_bench_conn *c);
void iotc_bench_conn_set_write_low(struct iotc_bench_conn *c, size_t low);
void iotc_bench_conn_close(struct iotc_bench_conn *c);
int iotc_bench_conn_send_connect(struct iotc_bench_conn *c, const char *client_id,
                                 uint16_t keepalive);
int iotc_bench_conn_send_subscribe(struct iotc_bench_conn *c, uint16_t packet_id,
                                   const char *filter);
/* "TLSv1.3 TLS_AES_128_GCM_SHA256" of an established connection. */
void iotc_bench_conn_describe(const struct iotc_bench_conn *c, char *out, size_t len);

/* ---- proc.c: child processes and /proc ---- */
struct iotc_bench_serve {
    iotc_serve proc; /* pid, port_8883, its stdout held open so a late write cannot fail */
    pid_t broker_pid;
    int workers; /* front-door processes found (serve --workers) */
};
/* Front-door processes one serve may run (--workers), and worker counts one bench run
 * compares. */
#define IOTC_BENCH_MAX_WORKERS 64
#define IOTC_BENCH_MAX_RUNS    4
/* Starts `serve --ports 0 ...` as our child (so it inherits our RLIMIT_NOFILE). */
/* Profile limits that switch AWS's message-broker quotas off (a JSON object's members). */
#define IOTC_BENCH_NO_QUOTAS                                                                       \
    "\"publish_per_s\": 0, \"throughput_bytes_per_s\": 0, \"connect_per_s_per_client_id\": 0, "    \
    "\"account_connect_per_s\": 0, \"account_publish_per_s\": 0, \"inflight_qos1_max\": 0, "       \
    "\"throttle_close_per_s\": 0"
int iotc_bench_serve_start(const char *serve_bin, const char *pki, const char *work_dir,
                           int workers, struct iotc_bench_serve *out, iotc_errtext *err);
/* The same with a profile file (NULL: serve's default profile). */
int iotc_bench_serve_start_profile(const char *serve_bin, const char *pki, const char *work_dir,
                                   const char *profile_path, int workers,
                                   struct iotc_bench_serve *out, iotc_errtext *err);
void iotc_bench_serve_stop(struct iotc_bench_serve *s);
double iotc_bench_loadavg(void); /* 1-minute load average: others' work skews every figure */
/* serve's pid followed by its workers' (at most max); the count. */
int iotc_bench_front_door_pids(pid_t serve, pid_t *out, int max);
/* CPU seconds and memory (Pss, VmRSS where smaps_rollup is missing) of serve and all its
 * workers together (-1 memory when unknown). */
double iotc_bench_front_door_cpu_s(pid_t serve);
long iotc_bench_front_door_mem_kb(pid_t serve);
int iotc_bench_free_port(void);

/* ---- mosq_ref.c: a plain mosquitto with its own TLS listener ---- */
struct iotc_bench_mosq {
    pid_t pid;
    int port;
    char dir[512];
};
int iotc_bench_mosq_start(const char *mosquitto_bin, const char *pki, const char *work_dir,
                          struct iotc_bench_mosq *out, iotc_errtext *err);
void iotc_bench_mosq_stop(struct iotc_bench_mosq *m);

/* CPU seconds spent by each side over a measured window. */
struct iotc_bench_cpu {
    double client, serve, broker;
};
struct iotc_bench_cpu_probe {
    pid_t serve, broker; /* -1 when not there (reference mosquitto: broker only); serve
                          * counts its workers too */
    struct iotc_bench_cpu t0;
};
void iotc_bench_cpu_start(struct iotc_bench_cpu_probe *p);
void iotc_bench_cpu_stop(const struct iotc_bench_cpu_probe *p, struct iotc_bench_cpu *out);

/* ---- load.c: QoS 0 fan-out throughput ---- */
struct iotc_bench_load_cfg {
    int port;
    SSL_CTX *ctx;
    int publishers, subscribers;
    size_t payload;
    double warmup_s, measure_s;
    size_t window;               /* messages published but not yet delivered to every subscriber */
    const char *tag;             /* topic level that keeps runs apart */
    pid_t serve_pid, broker_pid; /* for CPU accounting; -1 when absent */
};
struct iotc_bench_load_result {
    bool ok;
    char error[IOTC_BENCH_ERR_LEN];
    double msgs_per_s;                  /* messages delivered to subscribers per second */
    uint64_t sent, delivered, expected; /* over the measured window */
    uint64_t lost; /* sent * subscribers - delivered, after a drain, whole run */
    double seconds;
    char tls[96];
    struct iotc_bench_cpu cpu;
    double loadavg;
};
int iotc_bench_load_run(struct event_base *base, const struct iotc_bench_load_cfg *cfg,
                        struct iotc_bench_load_result *out);

/* ---- handshake.c: full mTLS handshakes per second ---- */
struct iotc_bench_hs_cfg {
    int port;
    SSL_CTX *ctx;
    int concurrency;
    double warmup_s, measure_s;
    pid_t serve_pid;
};
struct iotc_bench_hs_result {
    bool ok;
    char error[IOTC_BENCH_ERR_LEN];
    double per_s;
    uint64_t completed, failed;
    double seconds;
    char tls[96];
    struct iotc_bench_cpu cpu;
    double loadavg;
};
int iotc_bench_hs_run(struct event_base *base, const struct iotc_bench_hs_cfg *cfg,
                      struct iotc_bench_hs_result *out);

/* ---- memory.c: RSS per idle connected device ---- */
struct iotc_bench_mem_cfg {
    int port;
    SSL_CTX *ctx;
    int devices;
    int warm_devices; /* connected before the baseline, so one-time setup is not counted */
    int concurrency;  /* connections being set up at once */
    pid_t serve_pid, broker_pid; /* serve_pid -1: the broker terminates TLS itself */
    double settle_s;
};
struct iotc_bench_mem_result {
    bool ok;
    char error[IOTC_BENCH_ERR_LEN];
    int connected;
    long serve_before_kb, serve_after_kb;   /* Pss summed over the front-door processes */
    long broker_before_kb, broker_after_kb; /* VmRSS */
    double serve_kb, broker_kb, total_kb;   /* per device */
    double setup_s;
    double loadavg;
};
int iotc_bench_mem_run(struct event_base *base, const struct iotc_bench_mem_cfg *cfg,
                       struct iotc_bench_mem_result *out);

/* ---- qos1.c: acknowledged QoS 1 throughput, durability on and off ---- */
struct iotc_bench_qos1_cfg {
    int port;
    SSL_CTX *ctx;
    int publishers;
    size_t window; /* QoS 1 messages in flight per publisher */
    double warmup_s, measure_s;
    const char *tag;
    pid_t serve_pid, broker_pid;
};
struct iotc_bench_qos1_result {
    bool ok;
    char error[IOTC_BENCH_ERR_LEN];
    double acks_per_s;
    uint64_t acked;
    double seconds;
    struct iotc_bench_cpu cpu;
    double loadavg;
};
int iotc_bench_qos1_run(struct event_base *base, const struct iotc_bench_qos1_cfg *cfg,
                        struct iotc_bench_qos1_result *out);

/* ---- report.c ---- */
/* Every front-door figure, for serve started with one worker count. */
struct iotc_bench_run {
    int workers;
    struct iotc_bench_load_result load;
    struct iotc_bench_hs_result hs13, hs12;
    struct iotc_bench_mem_result mem;
};
struct iotc_bench_report {
    bool quick;
    int ncpu;
    int nruns;
    struct iotc_bench_run runs[IOTC_BENCH_MAX_RUNS]; /* --workers LIST, in order */
    struct iotc_bench_load_cfg load_cfg;
    struct iotc_bench_load_result load_mosq;
    struct iotc_bench_hs_cfg hs_cfg;
    struct iotc_bench_hs_result hs13_mosq; /* reference: mosquitto's own TLS listener, no goal */
    struct iotc_bench_mem_cfg mem_cfg;
    struct iotc_bench_mem_result mem_mosq; /* reference: mosquitto's own TLS listener */
    struct iotc_bench_qos1_cfg qos1_cfg;
    int qos1_workers;                                      /* the first of --workers */
    struct iotc_bench_qos1_result qos1_durable, qos1_fast; /* limits.qos1_durable 1 and 0 */
    long nofile;
    double loadavg;
};
#define IOTC_BENCH_GOAL_RATIO 0.8
#define IOTC_BENCH_GOAL_HS    2200.0
/* CPU per full mTLS handshake, each side (issue 13: ~0.26 ms of it is cryptography) */
#define IOTC_BENCH_GOAL_HS_CPU_MS 0.40
/* RSS per idle connected device, front door + broker (issue 13) */
#define IOTC_BENCH_GOAL_MEM_KB 16.0
void iotc_bench_report_print(const struct iotc_bench_report *r);

/* Fires the timer ev in s seconds (fractions kept to the microsecond). */
void iotc_bench_arm(struct event *ev, double s);
int iotc_bench_report_json(const struct iotc_bench_report *r, const char *path);

#endif
