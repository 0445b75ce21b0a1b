/* AWS IoT Core MQTT limits (reference section 3), as pure checks the relay applies. */
#include "mqtt_rules.h"
#include "mqtt/mqtt.h"

static size_t rules__slashes(struct iotc_span s)
{
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++)
        n += s.p[i] == '/';
    return n;
}

const char *iotc_rule_client_id(const struct iotc_limits *l, struct iotc_span id)
{
    if ((long long)id.n > l->max_client_id_bytes)
        return "client ID longer than 128 bytes";
    if (id.n > 0 && id.p[0] == '$')
        return "client IDs starting with '$' are reserved";
    return NULL;
}

const char *iotc_rule_topic(const struct iotc_limits *l, struct iotc_span topic)
{
    if (!mqtt_topic_name_valid(topic))
        return "invalid topic name";
    if ((long long)topic.n > l->max_topic_bytes)
        return "topic longer than 256 bytes";
    if ((long long)rules__slashes(topic) > l->max_topic_slashes)
        return "topic has more than 7 forward slashes";
    return NULL;
}

const char *iotc_rule_filter(const struct iotc_limits *l, struct iotc_span filter)
{
    if (!mqtt_topic_filter_valid(filter))
        return "invalid topic filter";
    if ((long long)filter.n > l->max_topic_bytes)
        return "topic filter longer than 256 bytes";
    if ((long long)rules__slashes(filter) > l->max_topic_slashes)
        return "topic filter has more than 7 forward slashes";
    return NULL;
}

uint16_t iotc_rule_keepalive(const struct iotc_limits *l, uint16_t requested)
{
    /* AWS: 0 (no keep-alive) or above the maximum means the maximum; below the minimum, the
     * minimum. */
    if (requested == 0 || requested > l->keepalive_max_s)
        return (uint16_t)l->keepalive_max_s;
    if (requested < l->keepalive_min_s)
        return (uint16_t)l->keepalive_min_s;
    return requested;
}
