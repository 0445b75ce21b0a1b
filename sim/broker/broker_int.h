/* Internals shared by the broker supervisor's files (not part of the API). */
#ifndef IOTC_BROKER_INT_H
#define IOTC_BROKER_INT_H

#include "broker.h"
#include "common/stamp.h"

#include <sys/un.h>

#define IOTC_BROKER_BACKOFF_MIN_MS  100
#define IOTC_BROKER_BACKOFF_MAX_MS  5000
#define IOTC_BROKER_HEALTHY_MS      30000 /* uptime after which the backoff starts over */
#define IOTC_BROKER_START_FAILURES  5     /* failed starts in a row before broker.error */
#define IOTC_BROKER_START_TIMEOUT_S 10    /* no "running" line by then counts as a failed start */
#define IOTC_BROKER_STOP_TIMEOUT_MS 5000
#define IOTC_BROKER_LOG_LINE_MAX    4096

struct iotc_broker {
    struct event_base *base;
    char *run_dir;
    char *mosquitto_bin;
    char *plugin_path;
    size_t max_packet;
    bool save_every_change;
    void (*on_event)(void *arg, const char *event, json_t *fields);
    void (*on_ready)(void *arg);
    void *arg;

    char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char *conf_path;
    char *secret_path;
    uint8_t secret[IOTC_STAMP_SECRET_LEN];
    bool created_run_dir;

    pid_t pid; /* running child, or 0 */
    bool ready;
    int64_t started_ms; /* iotc_clock_ms() */
    int64_t ready_ms;
    struct bufferevent *log; /* child's stdout+stderr */
    struct event *sigchld;
    struct event *restart_timer;
    struct event *start_timer; /* deadline for the "running" line */
    unsigned backoff_ms;       /* delay before the next restart */
    unsigned start_failures;   /* exits before ready, in a row */
    char last_line[256];       /* last error/warning line, for broker.error */
};

/* files.c */
int iotc_broker__prepare_dir(struct iotc_broker *b);
int iotc_broker__write_secret(const struct iotc_broker *b);
int iotc_broker__write_conf(const struct iotc_broker *b);
void iotc_broker__remove_files(const struct iotc_broker *b);

/* spawn.c: forks and execs mosquitto; *log_fd gets the read end of its output. */
int iotc_broker__spawn(struct iotc_broker *b, int *log_fd);

/* logpipe.c */
int iotc_broker__log_attach(struct iotc_broker *b, int fd);
/* Reads what the (dead) child left in the pipe, then closes it. */
void iotc_broker__log_detach(struct iotc_broker *b);

/* broker.c */
void iotc_broker__emit(struct iotc_broker *b, const char *event, json_t *fields);
void iotc_broker__on_running(struct iotc_broker *b);

#endif
