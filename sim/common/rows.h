/* The protocol / authentication / port / ALPN matrix (reference section 1). */
#ifndef IOTC_COMMON_ROWS_H
#define IOTC_COMMON_ROWS_H

typedef enum iotc_proto {
    IOTC_PROTO_MQTT,
    IOTC_PROTO_HTTPS,
    IOTC_PROTO_WSS,
} iotc_proto;

typedef enum iotc_auth {
    IOTC_AUTH_X509,
    IOTC_AUTH_SIGV4,
    IOTC_AUTH_CUSTOM,
} iotc_auth;

typedef struct iotc_row {
    const char *id;
    iotc_proto proto;
    iotc_auth auth;
    int port;         /* logical port */
    const char *alpn; /* ALPN the row's clients send, NULL when none is needed */
} iotc_row;

const iotc_row *iotc_row_find(const char *id);
const iotc_row *iotc_row_at(int i); /* NULL past the end */
const char *iotc_proto_name(iotc_proto p);
const char *iotc_auth_name(iotc_auth a); /* "x509", "sigv4", "custom" */

#endif
