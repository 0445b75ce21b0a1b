/*
 * iotc_bench: throughput, handshake rate and idle memory of the front door,
 * measured by event-driven TLS clients on one libevent loop (no thread per
 * connection), with mosquitto's own TLS listener as the throughput reference.
 */
#ifndef IOTC_BENCH_H
#define IOTC_BENCH_H

#include "common/clock.h"
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

#define BENCH_ERR_LEN 512

/* ---- client.c: one MQTT-over-TLS client connection ---- */
struct bc;
struct bc_cbs {
    void (*on_tls)(struct bc *c); /* handshake complete */
    /* One whole packet. pkt is NULL for PUBLISH (counted and drained without a copy)
     * and for packets too large to copy; otherwise valid during the call only. */
    void (*on_packet)(struct bc *c, const struct mqtt_frame *f, const uint8_t *pkt);
    void (*on_drain)(struct bc *c);                  /* output fell to the low watermark */
    void (*on_close)(struct bc *c, const char *why); /* the connection is gone (bc_close done) */
};
struct bc {
    struct bufferevent *bev;
    const struct bc_cbs *cbs;
    void *arg;
    int idx;
    bool tls_up;
    bool closed;
    uint64_t rx_publish; /* PUBLISH packets received */
};

int bc_open(struct bc *c, struct event_base *base, SSL_CTX *ctx, const char *sni,
            const struct sockaddr_in *sa);
int bc_write(struct bc *c, const void *data, size_t len);
size_t bc_outlen(const struct bc *c);
void bc_set_write_low(struct bc *c, size_t low);
void bc_close(struct bc *c);
int bc_send_connect(struct bc *c, const char *client_id, uint16_t keepalive);
int bc_send_subscribe(struct bc *c, uint16_t packet_id, const char *filter);
/* "TLSv1.3 TLS_AES_128_GCM_SHA256" of an established connection. */
void bc_describe(const struct bc *c, char *out, size_t len);

/* ---- proc.c: child processes and /proc ---- */
struct bench_serve {
    iotc_serve proc; /* pid, port_8883, its stdout held open so a late write cannot fail */
    pid_t broker_pid;
};
/* Starts `serve --ports 0 ...` as our child (so it inherits our RLIMIT_NOFILE). */
/* Profile limits that switch AWS's message-broker quotas off (a JSON object's members). */
#define BENCH_NO_QUOTAS                                                                            \
    "\"publish_per_s\": 0, \"throughput_bytes_per_s\": 0, \"connect_per_s_per_client_id\": 0, "    \
    "\"account_connect_per_s\": 0, \"account_publish_per_s\": 0"
int bench_serve_start(const char *serve_bin, const char *pki, const char *work_dir,
                      struct bench_serve *out, char *err, size_t errlen);
/* The same with a profile file (NULL: serve's default profile). */
int bench_serve_start_profile(const char *serve_bin, const char *pki, const char *work_dir,
                              const char *profile_path, struct bench_serve *out, char *err,
                              size_t errlen);
void bench_serve_stop(struct bench_serve *s);
/* user + system CPU seconds of pid (0: this process), -1 when unknown */
double bench_cpu_s(pid_t pid);
double bench_loadavg(void); /* 1-minute load average: others' work skews every figure */
int bench_free_port(void);

/* ---- mosq_ref.c: a plain mosquitto with its own TLS listener ---- */
struct bench_mosq {
    pid_t pid;
    int port;
    char dir[512];
};
int bench_mosq_start(const char *mosquitto_bin, const char *pki, const char *work_dir,
                     struct bench_mosq *out, char *err, size_t errlen);
void bench_mosq_stop(struct bench_mosq *m);

/* CPU seconds spent by each side over a measured window. */
struct bench_cpu {
    double client, serve, broker;
};
struct bench_cpu_probe {
    pid_t serve, broker; /* -1 when not there (reference mosquitto: broker only) */
    struct bench_cpu t0;
};
void bench_cpu_start(struct bench_cpu_probe *p);
void bench_cpu_stop(const struct bench_cpu_probe *p, struct bench_cpu *out);

/* ---- load.c: QoS 0 fan-out throughput ---- */
struct load_cfg {
    int port;
    SSL_CTX *ctx;
    int publishers, subscribers;
    size_t payload;
    double warmup_s, measure_s;
    size_t window;               /* messages published but not yet delivered to every subscriber */
    const char *tag;             /* topic level that keeps runs apart */
    pid_t serve_pid, broker_pid; /* for CPU accounting; -1 when absent */
};
struct load_result {
    bool ok;
    char error[BENCH_ERR_LEN];
    double msgs_per_s;                  /* messages delivered to subscribers per second */
    uint64_t sent, delivered, expected; /* over the measured window */
    uint64_t lost; /* sent * subscribers - delivered, after a drain, whole run */
    double seconds;
    char tls[96];
    struct bench_cpu cpu;
    double loadavg;
};
int load_run(struct event_base *base, const struct load_cfg *cfg, struct load_result *out);

/* ---- handshake.c: full mTLS handshakes per second ---- */
struct hs_cfg {
    int port;
    SSL_CTX *ctx;
    int concurrency;
    double warmup_s, measure_s;
    pid_t serve_pid;
};
struct hs_result {
    bool ok;
    char error[BENCH_ERR_LEN];
    double per_s;
    uint64_t completed, failed;
    double seconds;
    char tls[96];
    struct bench_cpu cpu;
    double loadavg;
};
int hs_run(struct event_base *base, const struct hs_cfg *cfg, struct hs_result *out);

/* ---- memory.c: RSS per idle connected device ---- */
struct mem_cfg {
    int port;
    SSL_CTX *ctx;
    int devices;
    int warm_devices; /* connected before the baseline, so one-time setup is not counted */
    int concurrency;  /* connections being set up at once */
    pid_t serve_pid, broker_pid;
    double settle_s;
};
struct mem_result {
    bool ok;
    char error[BENCH_ERR_LEN];
    int connected;
    long serve_before_kb, serve_after_kb, broker_before_kb, broker_after_kb;
    double serve_kb, broker_kb, total_kb; /* per device */
    double setup_s;
    double loadavg;
};
int mem_run(struct event_base *base, const struct mem_cfg *cfg, struct mem_result *out);

/* ---- qos1.c: acknowledged QoS 1 throughput, durability on and off ---- */
struct qos1_cfg {
    int port;
    SSL_CTX *ctx;
    int publishers;
    size_t window; /* QoS 1 messages in flight per publisher */
    double warmup_s, measure_s;
    const char *tag;
    pid_t serve_pid, broker_pid;
};
struct qos1_result {
    bool ok;
    char error[BENCH_ERR_LEN];
    double acks_per_s;
    uint64_t acked;
    double seconds;
    struct bench_cpu cpu;
    double loadavg;
};
int qos1_run(struct event_base *base, const struct qos1_cfg *cfg, struct qos1_result *out);

/* ---- report.c ---- */
struct bench_report {
    bool quick;
    struct load_cfg load_cfg;
    struct load_result load_fd, load_mosq;
    struct hs_cfg hs_cfg;
    struct hs_result hs13, hs12;
    struct hs_result hs13_mosq; /* reference: mosquitto's own TLS listener, no goal */
    struct mem_cfg mem_cfg;
    struct mem_result mem;
    struct qos1_cfg qos1_cfg;
    struct qos1_result qos1_durable, qos1_fast; /* limits.qos1_durable 1 and 0 */
    long nofile;
    double loadavg;
};
#define BENCH_GOAL_RATIO 0.8
#define BENCH_GOAL_HS    2200.0
/* CPU per full mTLS handshake, each side (issue 13: ~0.26 ms of it is cryptography) */
#define BENCH_GOAL_HS_CPU_MS 0.40
#define BENCH_GOAL_MEM_KB    64.0
void bench_report_print(const struct bench_report *r);

/* Fires the timer ev in s seconds (fractions kept to the microsecond). */
void bench_arm(struct event *ev, double s);
int bench_report_json(const struct bench_report *r, const char *path);

#endif
