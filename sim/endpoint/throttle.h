/*
 * AWS IoT Core's message-broker quotas, modelled as token buckets (README "Throttling"):
 * per connection (publish requests/s, inbound bytes/s), per client ID (CONNECT/s) and
 * per account (CONNECT/s, inbound publishes/s). A limit of 0 in the profile disables it.
 * Each bucket holds one second's worth of its rate: a burst up to the limit passes, the
 * sustained rate is the limit.
 */
#ifndef IOTC_ENDPOINT_THROTTLE_H
#define IOTC_ENDPOINT_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>

struct iotc_conn;
struct iotc_endpoint;

struct iotc_bucket {
    double tokens;
    double last_ms; /* monotonic ms of the last refill; 0 = never used (starts full) */
};

/* Takes cost tokens from b refilled at rate per second (capacity = rate, at least cost);
 * rate <= 0 = unlimited. False (and nothing taken) when the bucket is short. */
bool iotc_bucket_take(struct iotc_bucket *b, double rate, double cost, double now_ms);

/* The per-connection buckets, in the connection's session part. */
struct iotc_throttle_conn {
    struct iotc_bucket publish, bytes;
    struct iotc_bucket refused; /* refusals by the two above: limits.throttle_close_per_s */
};

/* Endpoint-wide state: the account's buckets and the per-client-ID CONNECT buckets (a map
 * bounded in size whose entries expire once their bucket is full again). */
struct iotc_throttle_ep;
struct iotc_throttle_ep *iotc_throttle_ep_new(void);
void iotc_throttle_ep_free(struct iotc_throttle_ep *t);

/* Which limit refused (also the journal's "limit" value); NULL = allowed. */
/* client_id: journaled with a refusal; NULL for HTTPS. */
const char *iotc_throttle_publish(struct iotc_conn *c, const char *client_id, size_t packet_bytes);
const char *iotc_throttle_connect(struct iotc_conn *c, const char *client_id);

/* After iotc_throttle_publish refused with `limit`: true when the connection goes on
 * publishing over its own quota persistently (more refusals than limits.throttle_close_per_s
 * allows, after a second's worth) and is to be closed with lifecycle reason THROTTLED. The
 * account's quota never closes a connection: it is everyone's, not this device's doing. */
bool iotc_throttle_closes(struct iotc_conn *c, const char *limit);

#endif
