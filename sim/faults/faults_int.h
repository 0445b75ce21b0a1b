/* Internals shared by the proxy's files: the listener side and one relayed connection. */
#ifndef IOTC_FAULTS_INT_H
#define IOTC_FAULTS_INT_H

#include "faults.h"
#include "common/clock.h"

#include <event2/bufferevent.h>
#include <event2/listener.h>

#define IOTC_FAULTS_PROXY_HIGH_WATER (256u * 1024u) /* per direction, before the source stops being read */
#define IOTC_FAULTS_PROXY_PORTS      65536

struct iotc_faults_pconn;

/* One queued chunk of a delayed direction. */
struct iotc_faults_dchunk {
    struct iotc_faults_dchunk *next;
    uint64_t due_ms;
    struct evbuffer *buf;
};
struct iotc_faults_delayq {
    struct iotc_faults_dchunk *head, *tail;
};

struct iotc_faults_pconn {
    struct iotc_proxy *p;
    struct bufferevent *side[2]; /* 0: client, 1: upstream; direction d reads side[d] */
    struct iotc_fault fault;
    uint16_t client_port;
    bool eof[2];  /* side[d] sent FIN: forward what is left, then shut the other way */
    bool shut[2]; /* direction d shut by a half-open fault */
    struct iotc_faults_delayq dq[2];
    struct event *delay_tm;
    struct ev_token_bucket_cfg *rate[2]; /* bandwidth fault, per direction */
    struct iotc_faults_pconn *prev, *next;
};

struct iotc_faults_proxy_slot {
    struct iotc_faults_pconn *conn;
    struct iotc_fault rule;
    bool has_rule;
};

struct iotc_proxy {
    struct event_base *base;
    struct evconnlistener *lis[2];
    int port, port6;
    char up_host[64];
    int up_port;
    struct iotc_fault all;
    struct iotc_faults_proxy_slot *slots; /* indexed by client port */
    struct iotc_faults_pconn *conns;
    struct iotc_proxy_stats st;
};

/* relay.c */
int iotc_faults__relay_open(struct iotc_proxy *p, evutil_socket_t fd, uint16_t client_port,
                const struct iotc_fault *f);
void iotc_faults__relay_apply(struct iotc_faults_pconn *c, const struct iotc_fault *f);
void iotc_faults__relay_free(struct iotc_faults_pconn *c, bool reset);

#endif
