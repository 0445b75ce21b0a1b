/* The two MQTT 3.1.1 packets the raw probe needs; the real clients use libmosquitto. */
#ifndef IOTC_CLIENT_MQTT_WIRE_H
#define IOTC_CLIENT_MQTT_WIRE_H

#include <stddef.h>

/* Encodes CONNECT (clean session, keep-alive 60 s); returns its length, or
 * IOTC_ERR_TOO_LARGE when the id passes 100 bytes or out is too small (never -1,
 * which is IOTC_ERR_AGAIN, the "more bytes" of its sibling iotc_mqttw_connack). */
int iotc_mqttw_connect(const char *client_id, unsigned char *out, size_t outlen);

/* Parses a CONNACK at the start of buf: IOTC_OK with *rc set, IOTC_ERR_AGAIN if
 * more bytes are needed, IOTC_ERR_MALFORMED if it is something else. */
int iotc_mqttw_connack(const unsigned char *buf, size_t len, int *rc);

#endif
