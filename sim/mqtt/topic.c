/* Topic names, topic filters, matching (MQTT 5 4.7) and MQTT's strict UTF-8 (1.5.4). */
#include "mqtt_int.h"

#include <string.h>

bool iotc_mqtt_utf8_valid(struct iotc_span s)
{
    size_t i = 0;

    while (i < s.n) {
        uint8_t c = s.p[i];
        uint32_t cp, min;
        size_t need;

        if (c == 0) /* [MQTT-1.5.4-2] */
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false; /* stray continuation byte, C0/C1 overlong lead, or > U+10FFFF */
        }
        if (s.n - i - 1 < need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            uint8_t cc = s.p[i + k];

            if ((cc & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) /* [MQTT-1.5.4-1] */
            return false;
        i += need + 1;
    }
    return true;
}

bool iotc_mqtt_topic_name_valid(struct iotc_span topic)
{
    if (topic.n == 0 || topic.n > 0xFFFF || !iotc_mqtt_utf8_valid(topic))
        return false;
    return !memchr(topic.p, '+', topic.n) && !memchr(topic.p, '#', topic.n);
}

/* End of the level starting at i: the index of the next '/' or s.n. */
static size_t mqtt__level_end(struct iotc_span s, size_t i)
{
    const uint8_t *slash = i < s.n ? memchr(s.p + i, '/', s.n - i) : NULL;

    return slash ? (size_t)(slash - s.p) : s.n;
}

bool iotc_mqtt_topic_filter_valid(struct iotc_span filter)
{
    size_t i = 0;

    if (filter.n == 0 || filter.n > 0xFFFF || !iotc_mqtt_utf8_valid(filter))
        return false;
    for (;;) {
        size_t end = mqtt__level_end(filter, i);
        size_t n = end - i;

        for (size_t k = i; k < end; k++) {
            if ((filter.p[k] == '+' || filter.p[k] == '#') && n != 1)
                return false;
        }
        if (n == 1 && filter.p[i] == '#' && end != filter.n)
            return false;
        if (end == filter.n)
            return true;
        i = end + 1;
    }
}

bool iotc_mqtt_topic_matches(struct iotc_span filter, struct iotc_span topic)
{
    size_t f = 0, t = 0;
    bool topic_done = false;

    if (filter.n == 0 || topic.n == 0)
        return false;
    /* [MQTT-4.7.2-1]: $-topics are for the server; leading wildcards must not reach them */
    if (topic.p[0] == '$' && (filter.p[0] == '+' || filter.p[0] == '#'))
        return false;
    for (;;) {
        size_t fe = mqtt__level_end(filter, f);
        size_t te;
        bool plus = fe - f == 1 && filter.p[f] == '+';

        /* '#' also matches the parent level: "a/#" matches "a" */
        if (fe - f == 1 && filter.p[f] == '#')
            return true;
        if (topic_done)
            return false;
        te = mqtt__level_end(topic, t);
        if (!plus && (fe - f != te - t || memcmp(filter.p + f, topic.p + t, fe - f) != 0))
            return false;
        if (fe == filter.n)
            return te == topic.n;
        f = fe + 1;
        if (te == topic.n)
            topic_done = true;
        else
            t = te + 1;
    }
}

bool iotc_mqtt_topic_matches_aws(struct iotc_span filter, struct iotc_span topic)
{
    if (!iotc_mqtt_topic_matches(filter, topic))
        return false;
    /* AWS IoT's '#' stands for one or more levels below the filter, never the parent
     * (AWS's "differences from MQTT specifications"): "a/#" matches "a/b", not "a". */
    if (filter.n >= 2 && filter.p[filter.n - 1] == '#' && filter.p[filter.n - 2] == '/') {
        struct iotc_span parent = {filter.p, filter.n - 2};
        if (parent.n > 0 && iotc_mqtt_topic_matches(parent, topic))
            return false;
    }
    return true;
}
