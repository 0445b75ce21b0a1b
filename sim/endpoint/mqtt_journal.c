/* Journal lines for MQTT packets, in both directions (mqtt.in / mqtt.out). */
#include "mqtt_session.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>

void iotc_ms_journal(struct iotc_endpoint_mqtt_sess *s, const char *event, const struct iotc_mqtt_frame *f,
                     const uint8_t *pkt, bool always)
{
    struct iotc_conn *c = s->c;
    if ((!always && !c->ep->journal_packets) || !iotc_journal_enabled(c->ep->journal))
        return;
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(iotc_mqtt_type_name(f->type)));
    json_object_set_new(o, "bytes", json_integer((json_int_t)f->total));
    if (s->client_id)
        json_object_set_new(o, "client_id", json_string(s->client_id));
    switch (f->type) {
    case IOTC_MQTT_PUBLISH: {
        struct iotc_mqtt_publish p;
        if (iotc_mqtt_publish_parse(pkt, f->total, s->version, &p) == IOTC_OK) {
            json_object_set_new(o, "topic", json_stringn((const char *)p.topic.p, p.topic.n));
            json_object_set_new(o, "qos", json_integer(p.qos));
            json_object_set_new(o, "retain", json_boolean(p.retain));
            json_object_set_new(o, "dup", json_boolean(p.dup));
            json_object_set_new(o, "packet_id", json_integer(p.packet_id));
            json_object_set_new(o, "payload_bytes", json_integer((json_int_t)p.payload.n));
            /* FNV-1a: lets certification tell a message sent again from a new one */
            uint32_t h = 2166136261u;
            char hex[9];
            for (size_t i = 0; i < p.payload.n; i++)
                h = (h ^ p.payload.p[i]) * 16777619u;
            snprintf(hex, sizeof hex, "%08x", h);
            json_object_set_new(o, "payload_fnv", json_string(hex));
        }
        break;
    }
    case IOTC_MQTT_PUBACK: {
        struct iotc_mqtt_ack a;
        if (iotc_mqtt_ack_parse(pkt, f->total, s->version, &a) == IOTC_OK) {
            json_object_set_new(o, "packet_id", json_integer(a.packet_id));
            json_object_set_new(o, "reason", json_integer(a.reason));
        }
        break;
    }
    case IOTC_MQTT_SUBSCRIBE:
    case IOTC_MQTT_UNSUBSCRIBE: {
        struct iotc_mqtt_subscribe *sub = malloc(sizeof *sub);
        int rc = !sub ? IOTC_ERR_NOMEM
                 : f->type == IOTC_MQTT_SUBSCRIBE
                     ? iotc_mqtt_subscribe_parse(pkt, f->total, s->version, sub)
                     : iotc_mqtt_unsubscribe_parse(pkt, f->total, s->version, sub);
        if (rc == IOTC_OK) {
            json_t *a = json_array();
            for (size_t i = 0; i < sub->count; i++)
                json_array_append_new(
                    a, json_pack("{s:s%, s:i}", "filter", (const char *)sub->filters[i].filter.p,
                                 sub->filters[i].filter.n, "options", sub->filters[i].options));
            json_object_set_new(o, "filters", a);
            json_object_set_new(o, "packet_id", json_integer(sub->packet_id));
        }
        free(sub);
        break;
    }
    case IOTC_MQTT_SUBACK: {
        struct iotc_mqtt_suback *sa = malloc(sizeof *sa);
        if (sa && iotc_mqtt_suback_parse(pkt, f->total, s->version, sa) == IOTC_OK) {
            json_t *a = json_array();
            for (size_t i = 0; i < sa->count; i++)
                json_array_append_new(a, json_integer(sa->codes[i]));
            json_object_set_new(o, "codes", a);
            json_object_set_new(o, "packet_id", json_integer(sa->packet_id));
        }
        free(sa);
        break;
    }
    case IOTC_MQTT_CONNACK: {
        struct iotc_mqtt_connack ca;
        if (iotc_mqtt_connack_parse(pkt, f->total, s->version, &ca) == IOTC_OK) {
            json_object_set_new(o, "code", json_integer(ca.code));
            json_object_set_new(o, "session_present", json_boolean(ca.session_present));
        }
        break;
    }
    case IOTC_MQTT_DISCONNECT: {
        struct iotc_mqtt_disconnect d;
        if (iotc_mqtt_disconnect_parse(pkt, f->total, s->version, &d) == IOTC_OK)
            json_object_set_new(o, "reason", json_integer(d.reason));
        break;
    }
    default:
        break;
    }
    iotc_conn_emit(c, event, o);
}
