/* Why a device lost (or never got) its connection, by name, as the summary reports it. */
#include "fleet_int.h"

static const char *const causes__names[CAUSE_COUNT] = {
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
    return c >= 0 && c < CAUSE_COUNT ? causes__names[c] : "?";
}
