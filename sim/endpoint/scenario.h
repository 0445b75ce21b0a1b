/*
 * Endpoint scenarios for device certification (reference device-certification.md):
 * what the front door does differently from a healthy AWS IoT endpoint while a
 * device is being judged. Loaded from JSON (`serve --scenario FILE|JSON`); unknown
 * keys are errors.
 */
#ifndef IOTC_SCENARIO_H
#define IOTC_SCENARIO_H

#include "config/cfgjson.h"

#include <stdbool.h>

struct iotc_scenario {
    char *name;
    long long withhold_connack;         /* the first N CONNECTs get no CONNACK (-1: all) */
    long long disconnect_after_connack; /* the first N sessions are closed right after CONNACK */
    bool withhold_puback;               /* PUBACKs to the device are swallowed */
    bool withhold_suback;
    bool withhold_pingresp;
    /* > 0: a connection whose PUBACK or SUBACK was withheld is closed this many ms (time
     * scale applied) after the first withheld ack, so the device's resend after the
     * reconnect (the only one MQTT 5 section 4.4 allows) can be observed */
    long long disconnect_after_withheld_ms;
    bool session_present_zero; /* CONNACK always says session-present 0 */
    char *server_cert;         /* NULL, or a PKI name: server-untrusted, server-expired, ... */
    /* After the device's first SUBSCRIBE is acknowledged, publish this to its filter's topic. */
    char *send_topic;     /* NULL: use the first subscribed filter if it has no wildcard */
    long long send_bytes; /* -1: nothing to send */
    long long send_qos;
};

int iotc_scenario_parse(const char *arg, struct iotc_scenario *s, iotc_errtext *err);
void iotc_scenario_defaults(struct iotc_scenario *s);
void iotc_scenario_free(struct iotc_scenario *s);

#endif
