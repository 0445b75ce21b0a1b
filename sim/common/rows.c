/* The matrix rows are fixed by the seeds (001, 002); case tables name them by id. */
#include "rows.h"

#include <string.h>

static const iotc_row rows__table[] = {
    {"wss-sigv4-443", IOTC_PROTO_WSS, IOTC_AUTH_SIGV4, 443, NULL},
    {"wss-custom-443", IOTC_PROTO_WSS, IOTC_AUTH_CUSTOM, 443, NULL},
    {"mqtt-x509-443", IOTC_PROTO_MQTT, IOTC_AUTH_X509, 443, "x-amzn-mqtt-ca"},
    {"mqtt-x509-8883", IOTC_PROTO_MQTT, IOTC_AUTH_X509, 8883, NULL},
    {"mqtt-custom-443", IOTC_PROTO_MQTT, IOTC_AUTH_CUSTOM, 443, "mqtt"},
    {"https-sigv4-443", IOTC_PROTO_HTTPS, IOTC_AUTH_SIGV4, 443, NULL},
    {"https-x509-443", IOTC_PROTO_HTTPS, IOTC_AUTH_X509, 443, "x-amzn-http-ca"},
    {"https-x509-8443", IOTC_PROTO_HTTPS, IOTC_AUTH_X509, 8443, NULL},
    {"https-custom-443", IOTC_PROTO_HTTPS, IOTC_AUTH_CUSTOM, 443, NULL},
};

#define ROWS__N (sizeof(rows__table) / sizeof(rows__table[0]))

const iotc_row *iotc_row_find(const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < ROWS__N; i++)
        if (strcmp(rows__table[i].id, id) == 0)
            return &rows__table[i];
    return NULL;
}

const iotc_row *iotc_row_at(int i)
{
    if (i < 0 || (size_t)i >= ROWS__N)
        return NULL;
    return &rows__table[i];
}

const char *iotc_proto_name(iotc_proto p)
{
    switch (p) {
    case IOTC_PROTO_MQTT:
        return "mqtt";
    case IOTC_PROTO_HTTPS:
        return "https";
    case IOTC_PROTO_WSS:
        return "wss";
    }
    return "?";
}

const char *iotc_auth_name(iotc_auth a)
{
    switch (a) {
    case IOTC_AUTH_X509:
        return "x509";
    case IOTC_AUTH_SIGV4:
        return "sigv4";
    case IOTC_AUTH_CUSTOM:
        return "custom";
    }
    return "?";
}
