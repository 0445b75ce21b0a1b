/*
 * What every driver gets (the endpoint under test, the PKI, a case) and gives
 * back (an observed object judged against the case's expect, the local ports of
 * its connections so the journal can be correlated, or an error).
 */
#ifndef IOTC_RUNNER_DRIVER_H
#define IOTC_RUNNER_DRIVER_H

#include <jansson.h>
#include <stddef.h>

#include "cases/cases.h"
#include "cases/env.h"
#include "common/buf.h"
#include "common/clock.h"
#include "client/tlsc.h"

#define IOTC_DRV_MAX_PORTS 8

typedef struct iotc_drv_out {
    json_t *observed;
    int local_ports[IOTC_DRV_MAX_PORTS];
    size_t n_ports;
    char error[512]; /* non-empty: the case could not be run (status "error") */
} iotc_drv_out;

/* The logical port a case dials: client.port when set (custom auth tried on
 * 8443, ...), else its row's. */
int iotc_drv_logical_port(const iotc_case *c);
/* Blocking TCP connection to the case's port and family, with send/receive
 * timeouts; -1 with out->error set when it cannot connect. */
int iotc_drv_tcp(const iotc_env *env, const iotc_case *c, int timeout_ms, iotc_drv_out *out);
/* Same to another logical port and family (reference clients). */
int iotc_drv_tcp_to(const iotc_env *env, int af, int logical_port, int timeout_ms,
                    iotc_drv_out *out);
void iotc_drv_add_port(iotc_drv_out *out, int fd);
void iotc_drv_add_port_number(iotc_drv_out *out, int port);
int iotc_drv_timeout_ms(const iotc_case *c);
void iotc_drv_topic(const iotc_env *env, size_t idx, char *out, size_t len);
void iotc_drv_client_id(const iotc_env *env, size_t idx, const char *role, const iotc_case *c,
                        char *out, size_t len);

/* Raw OpenSSL client: handshake, then MQTT CONNECT/CONNACK or one HTTP publish. */
int iotc_drv_probe(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out);

/* What an HTTP publish sends (the probe's https path, the https driver). */
typedef struct iotc_pubspec {
    const char *topic;
    int qos;
    int retain;
    const char *payload;
    const char *query;   /* replaces "qos=..&retain=.." when set */
    const char *headers; /* extra request header lines ("Name: value\r\n"...), NULL none */
} iotc_pubspec;

/* The HTTP publish case c describes: its topic (iotc_drv_topic) into topic, and unless the
 * case gives a payload, {"case":"<id>"} into payload; ps points into both. */
void iotc_drv_pubspec(const iotc_env *env, const iotc_case *c, size_t idx, char *topic, size_t tlen,
                      char *payload, size_t plen, iotc_pubspec *ps);

/* The probe with an explicit publish; used by the https driver for port 443 +
 * x-amzn-http-ca, an ALPN name libcurl cannot send. */
int iotc_drv_probe_ex(const iotc_env *env, const iotc_case *c, size_t idx, const iotc_pubspec *ps,
                      iotc_drv_out *out);

/* Hand-built TLS 1.2 ClientHello offering client.cipher (names OpenSSL cannot
 * offer, e.g. DES-CBC3-SHA, RC4-SHA); observes the server's first answer only. */
int iotc_drv_hello(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out);

/* libmosquitto publisher + subscriber round trip (actions roundtrip / retained). */
int iotc_drv_mqtt(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out);

/* HTTPS publish (libcurl on 8443 and the door, the probe on 443 + x-amzn-http-ca)
 * proven by an MQTT subscriber. */
int iotc_drv_https(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out);

/* One HTTPS publish on the 443 door with the case's door credentials (libcurl), no
 * subscriber: the session driver's http_publish step on the door rows. */
int iotc_drv_https_door(const iotc_env *env, const iotc_case *c, const iotc_pubspec *ps,
                        iotc_drv_out *out);

/* MQTT over WebSocket on the 443 door (presigned SigV4 or custom auth). */
int iotc_drv_wss(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out);
/* The upgrade request's path (with query) and header lines for the case's credentials. */
int iotc_drv_wss_request(const iotc_env *env, const iotc_case *c, const char *host,
                         struct iotc_buf *path, struct iotc_buf *headers, iotc_drv_out *out);
/* The Host header of the 443 door: the endpoint name, with the port when not 443. */
void iotc_drv_wss_host(const iotc_env *env, const iotc_case *c, char *out, size_t len);

/* A scripted MQTT session (client.steps): several connections on the case's row or
 * as reference clients, limits, sessions, wills, lifecycle events, durations. */
int iotc_drv_session(const iotc_env *env, const iotc_case *c, size_t idx, iotc_drv_out *out);

/* MQTT subscriber used by the https driver: open + subscribe, then wait. */
typedef struct iotc_sub iotc_sub;
iotc_sub *iotc_sub_open(const iotc_env *env, const iotc_case *c, const char *topic, int qos,
                        const char *client_id, iotc_drv_out *out);
/* Waits until a message arrived or the deadline; 1 = received. */
int iotc_sub_wait(iotc_sub *s, long deadline_ms, int *qos, int *retained, char *payload,
                  size_t len);
void iotc_sub_close(iotc_sub *s);

/* A reference X.509 publisher (8883, device-01): connect, publish once, wait for
 * PUBACK at QoS 1, disconnect. Used when the device under test only subscribes. */
int iotc_pub_once(const iotc_env *env, const iotc_case *c, const char *topic, int qos,
                  const char *payload, const char *client_id, iotc_drv_out *out);

/* TLS options for a case (PKI names, versions, ciphers, SNI, ALPN). *alpn is a new
 * reference the caller releases. */
void iotc_drv_tls_opts(const iotc_env *env, const iotc_case *c, iotc_tlsc_opts *o, json_t **alpn);

#endif
