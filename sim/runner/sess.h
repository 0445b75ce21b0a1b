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

typedef struct iotc_runner_sess_conn {
    char name[32];
    char client_id[200];
    int used;
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
int iotc_runner_sess_conn_open(iotc_runner_sess *s, iotc_runner_sess_conn *k, int observer, char *username, size_t ulen,
                   json_t *step_obs);

#endif
