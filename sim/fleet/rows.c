/* The matrix rows a fleet drives. A new row is one more entry here plus, when its
 * transport is new, a driver beside device.c (MQTT), wss.c (MQTT over WebSocket) and
 * https.c (libcurl); how a door row authenticates is ident.c's and https_auth.c's. */
#include "fleet_int.h"

#include <string.h>

static const struct fleet_row_def rows__table[] = {
    {"mqtt-x509-8883", 8883, NULL, FLEET_PROTO_MQTT, FLEET_AUTH_X509},
    {"mqtt-x509-443", 443, "x-amzn-mqtt-ca", FLEET_PROTO_MQTT, FLEET_AUTH_X509},
    {"https-x509-8443", 8443, NULL, FLEET_PROTO_HTTPS, FLEET_AUTH_X509},
    {"https-x509-443", 443, "x-amzn-http-ca", FLEET_PROTO_HTTPS, FLEET_AUTH_X509},
    /* The door: no client certificate; WSS offers no ALPN, HTTPS libcurl's http/1.1. */
    {"wss-sigv4-443", 443, NULL, FLEET_PROTO_WSS, FLEET_AUTH_SIGV4},
    {"wss-custom-443", 443, NULL, FLEET_PROTO_WSS, FLEET_AUTH_CUSTOM},
    {"mqtt-custom-443", 443, "mqtt", FLEET_PROTO_MQTT, FLEET_AUTH_CUSTOM},
    {"https-sigv4-443", 443, NULL, FLEET_PROTO_HTTPS, FLEET_AUTH_SIGV4},
    {"https-custom-443", 443, NULL, FLEET_PROTO_HTTPS, FLEET_AUTH_CUSTOM},
};

const struct fleet_row_def *fleet_row_find(const char *name)
{
    for (size_t i = 0; i < fleet_row_count(); i++)
        if (name && strcmp(rows__table[i].name, name) == 0)
            return &rows__table[i];
    return NULL;
}

size_t fleet_row_count(void)
{
    return sizeof rows__table / sizeof rows__table[0];
}

const struct fleet_row_def *fleet_row_at(size_t i)
{
    return i < fleet_row_count() ? &rows__table[i] : NULL;
}

static const char *const rows__causes[CAUSE_COUNT] = {
    [CAUSE_NONE] = "none",
    [CAUSE_REFUSED] = "connection_refused",
    [CAUSE_TLS] = "tls_handshake",
    [CAUSE_CONNECT_TIMEOUT] = "connect_timeout",
    [CAUSE_CONNACK] = "connack_refused",
    [CAUSE_KEEPALIVE] = "keepalive_timeout",
    [CAUSE_CLOSED] = "closed_by_endpoint",
    [CAUSE_RESET] = "connection_reset",
    [CAUSE_SOCKET] = "socket_error",
    [CAUSE_PROTOCOL] = "protocol_error",
    [CAUSE_SUBACK] = "subscribe_refused",
    [CAUSE_HTTP_STATUS] = "http_status",
    [CAUSE_HTTP_TIMEOUT] = "http_timeout",
    [CAUSE_WS_REFUSED] = "ws_upgrade_refused",
};

const char *fleet_cause_name(int c)
{
    return c >= 0 && c < CAUSE_COUNT ? rows__causes[c] : "?";
}

const char *fleet_auth_name(int auth)
{
    switch (auth) {
    case FLEET_AUTH_X509:
        return "x509";
    case FLEET_AUTH_SIGV4:
        return "sigv4";
    case FLEET_AUTH_CUSTOM:
        return "custom";
    default:
        return "?";
    }
}
