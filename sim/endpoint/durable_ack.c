/*
 * A device's QoS 1 PUBACK only once the broker has stored the message (issue 10 item 10).
 * mosquitto sends its PUBACK as it handles the PUBLISH and saves its database later in
 * the same loop turn (autosave_on_changes, see sim/broker/files.c): a kill -9 in between
 * loses a message the device was told is stored. So the front door holds the broker's
 * PUBACKs and sends it a PINGREQ: mosquitto answers that in a later loop turn, after the
 * save, and the PINGRESP releases every PUBACK held before the ping went out.
 *
 * The device's own PINGREQs go to the broker on the same link, so a FIFO of bits records
 * whose each outstanding ping is: a PINGRESP pops one, ours are swallowed, the device's
 * are relayed. At most one barrier ping is outstanding; PUBACKs that arrive meanwhile
 * wait for the next one.
 */
#include "mqtt_session.h"
#include "common/err.h"
#include "common/jevents.h"

#include <string.h>

#define DA_FIFO_MAX 64

static bool da__enabled(const struct iotc_endpoint_mqtt_sess *s)
{
    return s->c->ep->profile.limits.qos1_durable != 0;
}

static bool da__push(struct iotc_endpoint_mqtt_sess *s, bool ours)
{
    if (s->da.ping_n >= DA_FIFO_MAX)
        return false;
    if (ours)
        s->da.ping_bits |= (uint64_t)1 << s->da.ping_n;
    else
        s->da.ping_bits &= ~((uint64_t)1 << s->da.ping_n);
    s->da.ping_n++;
    return true;
}

static void da__send_barrier(struct iotc_endpoint_mqtt_sess *s)
{
    if (s->da.barrier_out || s->da.held_new.len == 0 || !da__push(s, true))
        return;
    static const uint8_t pingreq[2] = {0xC0, 0x00};
    iotc_ms_send_broker(s, pingreq, sizeof pingreq);
    s->da.barrier_out = true;
    /* What is held now is covered by this ping. */
    if (iotc_buf_append(&s->da.held_covered, s->da.held_new.p, s->da.held_new.len) == IOTC_OK)
        iotc_buf_reset(&s->da.held_new);
}

static void da__release(struct iotc_endpoint_mqtt_sess *s)
{
    size_t off = 0;
    while (off < s->da.held_covered.len) {
        struct iotc_mqtt_frame f;
        if (iotc_mqtt_frame_peek(s->da.held_covered.p + off, s->da.held_covered.len - off, 0, &f))
            break;
        const uint8_t *pkt = s->da.held_covered.p + off;
        iotc_ms_journal(s, IOTC_EV_MQTT_OUT, &f, pkt, false);
        iotc_ms_send_client(s, pkt, f.total);
        off += f.total;
    }
    iotc_buf_reset(&s->da.held_covered);
}

bool iotc_ms_da_device_ping(struct iotc_endpoint_mqtt_sess *s)
{
    if (!da__enabled(s))
        return true;
    return da__push(s, false);
}

bool iotc_ms_da_hold_puback(struct iotc_endpoint_mqtt_sess *s, const uint8_t *pkt, size_t len)
{
    if (!da__enabled(s))
        return false;
    if (iotc_buf_append(&s->da.held_new, pkt, len) != IOTC_OK)
        return false; /* cannot hold it: relay at once rather than lose it */
    da__send_barrier(s);
    return true;
}

bool iotc_ms_da_pingresp(struct iotc_endpoint_mqtt_sess *s)
{
    if (!da__enabled(s) || s->da.ping_n == 0)
        return false;
    bool ours = s->da.ping_bits & 1;
    s->da.ping_bits >>= 1;
    s->da.ping_n--;
    if (!ours)
        return false;
    s->da.barrier_out = false;
    da__release(s);
    da__send_barrier(s);
    return true;
}

void iotc_ms_da_free(struct iotc_endpoint_mqtt_sess *s)
{
    iotc_buf_free(&s->da.held_new);
    iotc_buf_free(&s->da.held_covered);
}
