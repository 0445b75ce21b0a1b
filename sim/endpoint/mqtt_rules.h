/* AWS IoT MQTT limits (reference section 3): NULL when fine, else why not. */
#ifndef IOTC_ENDPOINT_MQTT_RULES_H
#define IOTC_ENDPOINT_MQTT_RULES_H

#include "common/buf.h"
#include "config/profile.h"

#include <stdint.h>

const char *iotc_rule_client_id(const struct iotc_limits *l, struct iotc_span id);
const char *iotc_rule_topic(const struct iotc_limits *l, struct iotc_span topic);
const char *iotc_rule_filter(const struct iotc_limits *l, struct iotc_span filter);
uint16_t iotc_rule_keepalive(const struct iotc_limits *l, uint16_t requested);

#endif
