/*
 * The session driver's state: named MQTT connections (on the case's row, or
 * reference X.509 clients on 8883), each a client session (client/mqtt_session.h)
 * with its packet pump, inbox and what the server answered. Internal to the runner.
 */
#ifndef IOTC_RUNNER_SESS_H
#define IOTC_RUNNER_SESS_H

#include <jansson.h>

#include "client/mqtt_session.h"
#include "driver.h"

#define IOTC_RUNNER_SESS_MAX_CONNS 8
/* AWS's quota of 1 CONNECT per second per client ID ("AWS IoT Core message broker and
 * protocol limits and quotas"): a device that reconnects with the same ID waits this long
 * after the previous CONNECT was answered, plus a margin for clock granularity. */
#define IOTC_RUNNER_SESS_CONNECT_SPACING_MS 1000
#define IOTC_RUNNER_SESS_CONNECT_MARGIN_MS  20

typedef struct iotc_runner_sess_conn {
    char name[32];
    char client_id[200];
    int used;
    int64_t connect_ms; /* when its last CONNECT was answered (iotc_clock_ms), 0 = never */
    iotc_mqtt_session m;
} iotc_runner_sess_conn;

typedef struct iotc_runner_sess {
    const iotc_env *env;
    const iotc_case *c;
    size_t idx;
    iotc_drv_out *out;
    json_t *obs; /* observed.steps */
    char topic[128];
    iotc_runner_sess_conn conns[IOTC_RUNNER_SESS_MAX_CONNS];
} iotc_runner_sess;

/* The named connection; created (unopened) when create is set and there is room. */
iotc_runner_sess_conn *iotc_runner_sess_conn_get(iotc_runner_sess *s, const char *name, int create);

/* Opens the transport: the case's row (its TLS settings, certificate, ALPN, door
 * credentials, WebSocket upgrade) or, with observer set, a reference X.509
 * client on 8883. *username receives the MQTT username the row needs ("" none). */
int iotc_runner_sess_conn_open(iotc_runner_sess *s, iotc_runner_sess_conn *k, int observer,
                               char *username, size_t ulen, json_t *step_obs);

/* A template with {topic} and {cid:NAME} filled in (unknown placeholders stay). */
void iotc_runner_sess_fill(iotc_runner_sess *s, const char *in, char *out, size_t len);

/* A topic as the table writes it: the case's topic prefix becomes "{topic}" (so an
 * observed topic or response topic can be compared with the expected template). */
json_t *iotc_runner_sess_untemplate(const iotc_runner_sess *s, const char *topic);

/* MQTT 5 properties (sess_props.c): the CONNACK's as an object of named values (null when
 * absent); a received PUBLISH's user_properties ([[k, v], ...]), response_topic,
 * correlation_data, message_expiry and content_type set on o; a step's "properties"
 * encoded into out (templates filled into scratch, which must outlive out's use). */
json_t *iotc_runner_sess_props_connack(const struct iotc_buf *props);
void iotc_runner_sess_props_publish(const uint8_t *props, size_t len, json_t *o);
int iotc_runner_sess_props_build(iotc_runner_sess *s, json_t *spec, struct iotc_buf *out,
                                 char *scratch, size_t len);
/* The same properties on an HTTPS publish, as AWS maps them: query (qos, retain,
 * responseTopic, contentType, messageExpiry) and header lines
 * (x-amz-mqtt5-user-properties: base64 JSON [{k: v}, ...], x-amz-mqtt5-correlation-data:
 * base64). IOTC_ERR_CONFIG when either does not fit. */
/* `publish` with `count` (sess_burst.c): a windowed QoS 1 burst; observes sent,
 * acked_ok, quota_exceeded (PUBACK 0x97), refused_other, unacked, closed, burst_ms. */
int iotc_runner_sess_burst(iotc_runner_sess *s, json_t *step, iotc_mqtt_session *m, json_t *o);
int iotc_runner_sess_props_http(iotc_runner_sess *s, json_t *spec, int qos, int retain, char *query,
                                size_t qlen, char *headers, size_t hlen);

#endif
