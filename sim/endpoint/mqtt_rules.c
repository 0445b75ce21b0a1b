/* AWS IoT Core MQTT limits (reference section 3), as pure checks the relay applies. */
#include "mqtt_rules.h"
#include "mqtt/mqtt.h"

#include <stdbool.h>
#include <string.h>

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
    if (!iotc_mqtt_topic_name_valid(topic))
        return "invalid topic name";
    if ((long long)topic.n > l->max_topic_bytes)
        return "topic longer than 256 bytes";
    if ((long long)rules__slashes(topic) > l->max_topic_slashes)
        return "topic has more than 7 forward slashes";
    return NULL;
}

const char *iotc_rule_filter(const struct iotc_limits *l, struct iotc_span filter)
{
    if (!iotc_mqtt_topic_filter_valid(filter))
        return "invalid topic filter";
    if ((long long)filter.n > l->max_topic_bytes)
        return "topic filter longer than 256 bytes";
    if ((long long)rules__slashes(filter) > l->max_topic_slashes)
        return "topic filter has more than 7 forward slashes";
    return NULL;
}

static bool rules__starts(struct iotc_span s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.n >= n && memcmp(s.p, prefix, n) == 0;
}

/*
 * The reserved topic families of AWS's "Reserved topics" page and the operations a
 * device may use on them; the page says anything else beginning with '$' is not
 * supported and that trying it can end the connection.
 */
static const struct {
    const char *prefix;
    bool publish, subscribe;
} rules__aws_topics[] = {
    {"$aws/events/", false, true},                /* lifecycle events: AWS publishes them */
    {"$aws/rules/", true, false},                 /* Basic Ingest */
    {"$aws/things/", true, true},                 /* shadow, jobs, Device Defender, tunnels */
    {"$aws/certificates/create", true, true},     /* fleet provisioning (create, -from-csr) */
    {"$aws/provisioning-templates/", true, true}, /* fleet provisioning */
    {"$aws/sitewise/", false, true},              /* asset model notifications */
    {"$aws/device_location/", true, true},        /* Device Location */
    {"$aws/commands/", true, true},               /* commands */
};

const char *iotc_rule_reserved(struct iotc_span name, enum iotc_reserved_op op)
{
    if (op == IOTC_RESERVED_SUBSCRIBE && rules__starts(name, "$share/")) {
        /* $share/<group>/<filter>: the shared filter obeys the same rule */
        const uint8_t *slash = name.n > 7 ? memchr(name.p + 7, '/', name.n - 7) : NULL;
        if (!slash)
            return "a shared subscription needs $share/<group>/<filter>";
        struct iotc_span inner = {slash + 1, name.n - (size_t)(slash + 1 - name.p)};
        if (rules__starts(inner, "$share/"))
            return "topics beginning with '$' are reserved for AWS IoT";
        name = inner;
    }
    if (name.n == 0 || name.p[0] != '$')
        return NULL;
    for (size_t i = 0; i < sizeof rules__aws_topics / sizeof rules__aws_topics[0]; i++) {
        if (!rules__starts(name, rules__aws_topics[i].prefix))
            continue;
        bool ok = op == IOTC_RESERVED_PUBLISH ? rules__aws_topics[i].publish
                                              : rules__aws_topics[i].subscribe;
        if (ok)
            return NULL;
        return op == IOTC_RESERVED_PUBLISH ? "only AWS IoT publishes to this reserved topic"
                                           : "this reserved topic is publish-only";
    }
    return "topics beginning with '$' are reserved for AWS IoT";
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
