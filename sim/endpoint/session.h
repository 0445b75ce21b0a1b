/* The protocol sessions that run on an established TLS connection (conn.h). */
#ifndef IOTC_ENDPOINT_SESSION_H
#define IOTC_ENDPOINT_SESSION_H

#include "common/errtext.h"
#include "conn.h"

struct iotc_session_ops {
    const char *name;
    int (*start)(struct iotc_conn *c);
    void (*on_read)(struct iotc_conn *c);
    void (*on_close)(struct iotc_conn *c); /* release session state; conn is going away */
    void (*on_drain)(struct iotc_conn *c); /* output fell to the low watermark; may be NULL */
    /* The connection-duration limit fired: end the session with this lifecycle reason. */
    void (*on_expire)(struct iotc_conn *c, const char *reason);
};

extern const struct iotc_session_ops iotc_mqtt_session_ops;
extern const struct iotc_session_ops iotc_https_session_ops;
extern const struct iotc_session_ops iotc_door_session_ops;
/* Turns an upgraded WebSocket connection into an MQTT session (the door calls it after 101). */
int iotc_mqtt_session_start_wss(struct iotc_conn *c);

/* https_props.c: MQTT 5 properties of an HTTPS publish (query and x-amz-mqtt5-* headers) */
struct iotc_http_req;
struct iotc_buf;
/* why must come in empty (or NULL): a failure with no text of its own gets a generic one. */
int iotc_https_mqtt5_props(const struct iotc_http_req *q, struct iotc_buf *block,
                           iotc_errtext *why);

#endif
