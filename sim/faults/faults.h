/*
 * Fault injection on loopback, for the fleet and the runner.
 *
 * Network faults live in a TCP proxy (127.0.0.1 / ::1, port 0) in front of one
 * endpoint port, driven by the caller's libevent loop. A fault is addressed by
 * the client's source port: a client knows its own port right after connect(),
 * and the proxy sees it at accept(), so a fault can be set on a connection that
 * the proxy has not accepted yet without any side channel in the byte stream.
 *
 * Process faults (endpoint restart, broker restart) act on a `serve` child: see
 * harness/serve_child.h.
 */
#ifndef IOTC_FAULTS_H
#define IOTC_FAULTS_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum iotc_fault_kind {
    IOTC_FAULT_NONE = 0,
    IOTC_FAULT_RESET,     /* RST both ways now (SO_LINGER 0) */
    IOTC_FAULT_BLACKHOLE, /* nothing forwarded either way; sockets stay open */
    IOTC_FAULT_DELAY,     /* delay_ms added per direction */
    IOTC_FAULT_BANDWIDTH, /* rate_bps per direction per connection */
    IOTC_FAULT_HALF_OPEN, /* one direction shut (FIN) and dropped; the other flows */
    IOTC_FAULT_ENDPOINT_RESTART,
    IOTC_FAULT_BROKER_RESTART,
    IOTC_FAULT_KIND_COUNT
};

enum iotc_fault_dir {
    IOTC_DIR_BOTH = 0,
    IOTC_DIR_UP,   /* client -> endpoint */
    IOTC_DIR_DOWN, /* endpoint -> client */
};

struct iotc_fault {
    enum iotc_fault_kind kind;
    enum iotc_fault_dir dir; /* delay, bandwidth, half-open */
    uint32_t delay_ms;
    uint32_t rate_bps;
};

const char *iotc_fault_name(enum iotc_fault_kind k);
/* "reset", "blackhole", ...; IOTC_FAULT_NONE when unknown. */
enum iotc_fault_kind iotc_fault_parse(const char *name);
const char *iotc_fault_dir_name(enum iotc_fault_dir d);
int iotc_fault_dir_parse(const char *name, enum iotc_fault_dir *out);
/* True for the faults the proxy applies (not the process ones). */
bool iotc_fault_is_network(enum iotc_fault_kind k);

/* ---- the proxy ---- */
struct iotc_proxy;
struct iotc_proxy_stats {
    uint64_t accepted, closed, resets, bytes_up, bytes_down;
    uint32_t open;
};

/* Listens on 127.0.0.1 and ::1 (port 0, one port number for both when possible)
 * and forwards to upstream_port on upstream_host (numeric, e.g. "127.0.0.1"). */
int iotc_proxy_new(struct event_base *base, const char *upstream_host, int upstream_port,
                   struct iotc_proxy **out);
void iotc_proxy_free(struct iotc_proxy *p);
int iotc_proxy_port(const struct iotc_proxy *p);    /* IPv4 listener port */
int iotc_proxy_port_v6(const struct iotc_proxy *p); /* 0 when ::1 is unavailable */
/* Later connections go to this upstream port (endpoint restarted elsewhere). */
void iotc_proxy_set_upstream_port(struct iotc_proxy *p, int port);
/*
 * Sets the fault on the connection from client_port (now, or when it is accepted:
 * the rule waits for it). A RESET on a connection not yet accepted resets it at
 * accept. IOTC_FAULT_NONE clears: a blackholed or delayed connection resumes.
 */
int iotc_proxy_fault_port(struct iotc_proxy *p, uint16_t client_port, const struct iotc_fault *f);
/* Default fault for every connection, current and future (NONE clears). */
int iotc_proxy_fault_all(struct iotc_proxy *p, const struct iotc_fault *f);
void iotc_proxy_stats(const struct iotc_proxy *p, struct iotc_proxy_stats *out);

#endif
