/*
 * AWS IoT lifecycle events: the front door publishes them into the broker on
 * $aws/events/presence/{connected,disconnected}/<clientId> and
 * $aws/events/subscriptions/{subscribed,unsubscribed}/<clientId>, over one
 * stamped system connection that follows the broker across restarts.
 */
#ifndef IOTC_LIFECYCLE_H
#define IOTC_LIFECYCLE_H

#include <jansson.h>
#include <stdbool.h>

struct iotc_endpoint;
struct iotc_lifecycle;

/* Client ID of the system connection: '$' is reserved, so no device can take it over. */
#define IOTC_SYSTEM_CLIENT_ID "$iotconform-system"

int iotc_lifecycle_new(struct iotc_endpoint *ep, struct iotc_lifecycle **out);
void iotc_lifecycle_free(struct iotc_lifecycle *lc);
/* The broker became ready (again): (re)open the system connection. */
void iotc_lifecycle_broker_ready(struct iotc_lifecycle *lc);

void iotc_lifecycle_connected(struct iotc_lifecycle *lc, const char *client_id,
                              const char *session_id, const char *principal, const char *ip);
void iotc_lifecycle_disconnected(struct iotc_lifecycle *lc, const char *client_id,
                                 const char *session_id, const char *principal, const char *reason,
                                 bool client_initiated);
/* topics is borrowed */
void iotc_lifecycle_subscriptions(struct iotc_lifecycle *lc, bool subscribed, const char *client_id,
                                  const char *session_id, const char *principal, json_t *topics);

/* With a broker shared by front doors (serve --broker tls://), the system connection
 * subscribes to every door's presence/connected events: the one of another session of a
 * client ID held here tells this door its session was taken over (mosquitto closes a
 * 3.1.1 link without saying why). Not with serve --workers: workers.shm says it there. */
bool iotc_lifecycle_watches_takeovers(const struct iotc_lifecycle *lc);

/* Publishes any message through the system connection (scenarios: a message to the device). */
void iotc_system_publish(struct iotc_lifecycle *lc, const char *topic, const void *payload,
                         size_t len, int qos);

#endif
