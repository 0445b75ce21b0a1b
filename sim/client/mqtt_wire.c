#include "mqtt_wire.h"

#include <string.h>

#include "common/err.h"

int iotc_mqttw_connect(const char *client_id, unsigned char *out, size_t outlen)
{
    size_t idlen = strlen(client_id);
    size_t rem = 10 + 2 + idlen;
    size_t p = 0;

    /* One remaining-length byte keeps the encoder trivial; ids are short. */
    if (idlen > 100 || outlen < 2 + rem)
        return IOTC_ERR_TOO_LARGE;
    out[p++] = 0x10;
    out[p++] = (unsigned char)rem;
    out[p++] = 0x00;
    out[p++] = 0x04;
    memcpy(out + p, "MQTT", 4);
    p += 4;
    out[p++] = 0x04; /* protocol level 3.1.1 */
    out[p++] = 0x02; /* clean session */
    out[p++] = 0x00;
    out[p++] = 60;
    out[p++] = (unsigned char)(idlen >> 8);
    out[p++] = (unsigned char)(idlen & 0xff);
    memcpy(out + p, client_id, idlen);
    p += idlen;
    return (int)p;
}

int iotc_mqttw_connack(const unsigned char *buf, size_t len, int *rc)
{
    if (len < 1)
        return IOTC_ERR_AGAIN;
    if (buf[0] != 0x20)
        return IOTC_ERR_MALFORMED;
    if (len < 2)
        return IOTC_ERR_AGAIN;
    if (buf[1] != 0x02)
        return IOTC_ERR_MALFORMED;
    if (len < 4)
        return IOTC_ERR_AGAIN;
    *rc = buf[3];
    return IOTC_OK;
}
