/* Why a device lost (or never got) its connection, by name, as the summary reports it. */
#include "fleet_int.h"

static const char *const causes__names[IOTC_FLEET_CAUSE_COUNT] = {
    [IOTC_FLEET_CAUSE_NONE] = "none",
    [IOTC_FLEET_CAUSE_REFUSED] = "connection_refused",
    [IOTC_FLEET_CAUSE_TLS] = "tls_handshake",
    [IOTC_FLEET_CAUSE_CONNECT_TIMEOUT] = "connect_timeout",
    [IOTC_FLEET_CAUSE_CONNACK] = "connack_refused",
    [IOTC_FLEET_CAUSE_KEEPALIVE] = "keepalive_timeout",
    [IOTC_FLEET_CAUSE_CLOSED] = "closed_by_endpoint",
    [IOTC_FLEET_CAUSE_RESET] = "connection_reset",
    [IOTC_FLEET_CAUSE_SOCKET] = "socket_error",
    [IOTC_FLEET_CAUSE_PROTOCOL] = "protocol_error",
    [IOTC_FLEET_CAUSE_SUBACK] = "subscribe_refused",
    [IOTC_FLEET_CAUSE_HTTP_STATUS] = "http_status",
    [IOTC_FLEET_CAUSE_HTTP_TIMEOUT] = "http_timeout",
    [IOTC_FLEET_CAUSE_WS_REFUSED] = "ws_upgrade_refused",
};

const char *iotc_fleet_cause_name(int c)
{
    return c >= 0 && c < IOTC_FLEET_CAUSE_COUNT ? causes__names[c] : "?";
}
