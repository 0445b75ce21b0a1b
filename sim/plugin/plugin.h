/*
 * iotc_plugin internals: the state shared by the plugin's event handlers.
 * One handler per mosquitto event, one file per handler; iotc_plugin.c registers
 * them from a table, so a policy (ACL) handler is one more file and one more row.
 */
#ifndef IOTC_PLUGIN_H
#define IOTC_PLUGIN_H

#include "common/stamp.h"

#include <stddef.h>
#include <stdint.h>

struct iotc_plugin {
    uint8_t secret[IOTC_STAMP_SECRET_LEN]; /* shared with the front door for this run */
};

/* MOSQ_EVT_BASIC_AUTH: accept only CONNECTs stamped by the front door. */
int iotc_plugin_basic_auth(int event, void *event_data, void *userdata);

/* Copies s into out (size n) with anything unprintable replaced, for log lines:
 * client ids and usernames are attacker-chosen bytes. Returns out. */
const char *iotc_plugin_printable(const char *s, char *out, size_t n);

#endif
