/*
 * The broker supervisor: runs mosquitto (with iotc_plugin) as a child listening on a
 * unix socket in a private directory, tells the front door when it is ready, and
 * restarts it with backoff when it dies. All work happens on the caller's libevent
 * loop; nothing blocks except iotc_broker_stop (bounded).
 *
 * Journal events passed to on_event (fields are borrowed: json_incref to keep):
 *   broker.start {pid}
 *   broker.ready {pid}
 *   broker.exit  {pid, status: "exited"|"killed"|"lost", code | signal, ready: bool,
 *                 uptime_ms, restart_in_ms}
 *   broker.log   {pid, level: "error"|"warning"|"plugin", line}   (not routine lines)
 *   broker.error {reason, failures, last_line?}  (once per streak of 5 failed starts)
 * Callbacks must not call iotc_broker_stop.
 */
#ifndef IOTC_BROKER_H
#define IOTC_BROKER_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct iotc_broker;

struct iotc_broker_opts {
    const char *run_dir;       /* private dir (created 0700 if missing; an existing one must
                                  be ours and not group/other-writable, its mode is never
                                  changed); holds broker.sock, mosquitto.conf, secret. No
                                  whitespace; short enough for a unix socket path. */
    const char *mosquitto_bin; /* path to mosquitto */
    const char *plugin_path;   /* path to iotc_plugin.so */
    size_t max_packet;         /* mosquitto max_packet_size; 0 = mosquitto's default */
    unsigned max_inflight;     /* unacknowledged QoS 1 deliveries per client (max_inflight_messages;
                                  0 = no limit) */
    bool save_every_change;    /* save after every stored message or subscription change, so
                                  an acknowledged QoS 1 message survives kill -9; false: every
                                  second (a crash loses up to the last second) */
    /* `iotconform broker`: also a TLS listener on TCP for front doors on other machines
     * (tcp_port > 0; tcp_bind: address, NULL = every one), with this server certificate
     * and key; the stamp secret is `secret` (IOTC_STAMP_SECRET_LEN bytes, the file the
     * front doors also get) instead of a random one. NULL/0: unix socket only. */
    int tcp_port;
    const char *tcp_bind, *tls_cert, *tls_key;
    const uint8_t *secret;
    void (*on_event)(void *arg, const char *event, json_t *fields); /* journal hook */
    void (*on_ready)(void *arg); /* each time the broker (re)becomes ready */
    void *arg;
};

/* Writes the secret and config, spawns mosquitto and returns at once (not yet ready).
 * IOTC_ERR_INVALID (bad options, run_dir unusable or too long), IOTC_ERR_NOT_FOUND
 * (binary or plugin missing), IOTC_ERR_IO, IOTC_ERR_CRYPTO, IOTC_ERR_NOMEM. */
int iotc_broker_start(struct event_base *base, const struct iotc_broker_opts *o,
                      struct iotc_broker **out);
const char *iotc_broker_socket_path(const struct iotc_broker *b);
/* IOTC_STAMP_SECRET_LEN bytes; constant for the lifetime of b (across restarts). */
const uint8_t *iotc_broker_secret(const struct iotc_broker *b);
bool iotc_broker_is_ready(const struct iotc_broker *b);
/* 0 while no mosquitto is running (between a crash and its restart). */
pid_t iotc_broker_pid(const struct iotc_broker *b);
/* Sends sig to the running mosquitto (fault injection, tests). IOTC_ERR_NOT_FOUND when
 * none is running; an exit it causes is handled like a crash (event + restart). */
int iotc_broker_kill(struct iotc_broker *b, int sig);
/* SIGTERM, wait up to 5 s (then SIGKILL), free, remove socket, secret and config. */
void iotc_broker_stop(struct iotc_broker *b);

#endif
