/*
 * The endpoint's broker, wherever it is: mosquitto of its own on a private unix socket
 * (the supervisor, sim/broker), or a remote one (`serve --broker tls://HOST:PORT`, run by
 * `iotconform broker`) reached over TCP with TLS. Everything that talks to the broker
 * (device sessions, HTTPS publishes, lifecycle events) goes through these, so a front
 * door is the same whether its broker is local or shared with other front doors.
 */
#ifndef IOTC_ENDPOINT_BROKER_REMOTE_H
#define IOTC_ENDPOINT_BROKER_REMOTE_H

#include "broker_link.h"
#include "endpoint_int.h"

bool iotc_ep_broker_ready(const struct iotc_endpoint *ep);
/* IOTC_STAMP_SECRET_LEN bytes. */
const uint8_t *iotc_ep_broker_secret(const struct iotc_endpoint *ep);
int iotc_ep_blink_open(struct iotc_endpoint *ep, const struct iotc_blink_cbs *cbs,
                       struct iotc_blink **out);
/* The client ID of the front door's own broker connection (lifecycle events): one per
 * front door with a shared broker, or they would take each other's session over. */
const char *iotc_ep_system_client_id(const struct iotc_endpoint *ep);

/* Parses o->broker_url, loads the secret and the CA, resolves the host; then
 * ready() is called from the loop, and again every second (to reopen the lifecycle link
 * after the broker restarted). */
int iotc_ep_remote_open(struct iotc_endpoint *ep, const iotc_endpoint_opts *o,
                        void (*ready)(void *arg), iotc_errtext *err);
void iotc_ep_remote_free(struct iotc_endpoint *ep);

#endif
