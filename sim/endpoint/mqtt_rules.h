/* AWS IoT MQTT limits (reference section 3): NULL when fine, else why not. */
#ifndef IOTC_ENDPOINT_MQTT_RULES_H
#define IOTC_ENDPOINT_MQTT_RULES_H

#include "common/buf.h"
#include "config/profile.h"

#include <stdint.h>

const char *iotc_rule_client_id(const struct iotc_limits *l, struct iotc_span id);
const char *iotc_rule_topic(const struct iotc_limits *l, struct iotc_span topic);
const char *iotc_rule_filter(const struct iotc_limits *l, struct iotc_span filter);
/* What a '$' topic is used for: publishing to it, or subscribing (and so receiving). */
enum iotc_reserved_op { IOTC_RESERVED_PUBLISH, IOTC_RESERVED_SUBSCRIBE };
/* AWS reserves every topic beginning with '$': only the $aws/ families it defines, for
 * the operations it allows; anything else, $SYS included, is refused. `name` is a topic
 * (publish) or a filter (subscribe, `$share/<group>/` stripped first). */
const char *iotc_rule_reserved(struct iotc_span name, enum iotc_reserved_op op);
/* The filter inside "$share/<group>/<filter>"; any other filter unchanged. */
struct iotc_span iotc_rule_share_inner(struct iotc_span filter);
uint16_t iotc_rule_keepalive(const struct iotc_limits *l, uint16_t requested);

#endif
