/*
 * Duplicate client ID takeover across `serve --workers` processes. mosquitto takes a
 * session over by client ID and closes the older broker link, on MQTT 3.1.1 without a
 * DISCONNECT, so the worker holding the older device cannot tell a takeover from any
 * other close by itself. A small file in the parent's run directory, mapped shared by
 * every worker, holds per client-ID hash the generation of the newest connect: a
 * session whose generation is no longer there was taken over (AWS: DISCONNECT 0x8E on
 * MQTT 5, lifecycle DUPLICATE_CLIENTID). One process (no map) keeps the session table.
 */
#ifndef IOTC_ENDPOINT_TAKEOVER_H
#define IOTC_ENDPOINT_TAKEOVER_H

#include <stdbool.h>
#include <stdint.h>

struct iotc_endpoint;

/* Creates (parent, create=true) or maps (worker) the table at path; IOTC_OK or an error. */
int iotc_ep_takeover_open(struct iotc_endpoint *ep, const char *path, bool create);
void iotc_ep_takeover_close(struct iotc_endpoint *ep);
/* A connect of client_id reached the broker: its generation (0 without a table). */
uint64_t iotc_ep_takeover_claim(struct iotc_endpoint *ep, const char *client_id);
/* True when a newer connect of client_id (any worker) replaced generation gen. */
bool iotc_ep_takeover_lost(const struct iotc_endpoint *ep, const char *client_id, uint64_t gen);

#endif
