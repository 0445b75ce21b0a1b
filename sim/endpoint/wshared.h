/*
 * The state the workers of one `serve --workers N` share, so behaviour does not depend
 * on which worker a device lands on: a table in a sealed memfd of the parent's (workers
 * open it as /proc/PARENT/fd/N), mapped shared by every worker, under one lock (each operation is a
 * few loads and stores, once per CONNECT or per PUBLISH checked against the account's quota).
 *
 * - Takeover: mosquitto takes a session over by client ID and closes the older broker
 *   link, on MQTT 3.1.1 without a DISCONNECT, so the worker holding the older device
 *   cannot tell a takeover from another close by itself. Each connect stamps its
 *   client ID's entry with a new generation; a session whose generation is no longer
 *   there was taken over (AWS: DISCONNECT 0x8E on MQTT 5, lifecycle DUPLICATE_CLIENTID).
 * - Lifecycle versionNumber per client ID.
 * - Throttles: the account's CONNECT and PUBLISH buckets and each client ID's CONNECT
 *   bucket (per-connection buckets stay in the connection: it lives in one worker).
 *
 * Without a table (one process) every call answers "not handled" and the callers keep
 * their in-process state, exactly as before.
 */
#ifndef IOTC_ENDPOINT_WSHARED_H
#define IOTC_ENDPOINT_WSHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iotc_endpoint;

/* Creates (parent, create=true; path unused) or maps (worker: path is the parent's
 * iotc_ep_shared_worker_path) the table; cache_dir is the authorizer answer cache's
 * directory, made anew by the parent. An iotc_err code. */
int iotc_ep_shared_open(struct iotc_endpoint *ep, const char *path, const char *cache_dir,
                        bool create);
/* What a worker is given to map the parent's table (NULL without one). */
const char *iotc_ep_shared_worker_path(const struct iotc_endpoint *ep);
void iotc_ep_shared_close(struct iotc_endpoint *ep);
bool iotc_ep_shared_on(const struct iotc_endpoint *ep);

/* A connect of client_id reached the broker: its generation (0: no table, or no room). */
uint64_t iotc_ep_shared_claim(struct iotc_endpoint *ep, const char *client_id);
/* True when a newer connect of client_id (on any worker) replaced generation gen. */
bool iotc_ep_shared_lost(const struct iotc_endpoint *ep, const char *client_id, uint64_t gen);
/* Lifecycle versionNumber: the next (connected=true) or the current one, into *version;
 * false without a table (or room): the caller counts. */
bool iotc_ep_shared_version(struct iotc_endpoint *ep, const char *client_id, bool connected,
                            long long *version);
/* The shared CONNECT decision (throttle.c's order and token refund): NULL allowed, else
 * the limit's name; *handled false without a table. id_now: the per-client-ID bucket's
 * clock (the devices', throttle.c), now: the account bucket's. */
const char *iotc_ep_shared_connect(struct iotc_endpoint *ep, const char *client_id,
                                   double per_id_rate, double id_now, double account_rate,
                                   double now, bool *handled);
/* Scenario counters (withhold_connack N, disconnect_after_connack N) count across the
 * workers: takes one (true, *count = the new total) while below limit (< 0: none). */
enum { IOTC_EP_SHARED_CONNACKS_WITHHELD, IOTC_EP_SHARED_SESSIONS_CUT, IOTC_EP_SHARED_COUNTERS };
bool iotc_ep_shared_count(struct iotc_endpoint *ep, int which, long long limit, long long *count,
                          bool *handled);
/* Small answers all workers share, as files in a directory next to the table, one per key
 * (the key is stored in it and compared): custom authorizers' answers cached for HTTP
 * (enable_caching_for_http), and persistent sessions' subscription sets
 * (handle_subscribe.c). get: a malloc'ed response while now < its expiry, else NULL. */
void iotc_ep_shared_cache_put(struct iotc_endpoint *ep, const char *key, double expires,
                              const char *response);
char *iotc_ep_shared_cache_get(struct iotc_endpoint *ep, const char *key, double now);
/* The account's PUBLISH bucket: true when a token was taken; *handled as above. */
bool iotc_ep_shared_publish(struct iotc_endpoint *ep, double account_rate, double now,
                            bool *handled);

/* Live sessions by worker, so a worker's death is announced (lifecycle CONNECTION_LOST)
 * by the parent, as AWS announces every lost connection. hold: a session of client_id
 * (its claim's gen) is up on this worker; release: it ended here (ignored when a newer
 * session of the client ID holds the record). A client ID over IOTC_EP_SHARED_ID_MAX
 * bytes, or a full table, is not recorded; a longer principal is cut. */
#define IOTC_EP_SHARED_ID_MAX        128
#define IOTC_EP_SHARED_PRINCIPAL_MAX 159 /* auth.c cuts principals to as many */
void iotc_ep_shared_hold(struct iotc_endpoint *ep, const char *client_id, uint64_t gen,
                         const char *session_id, const char *principal);
void iotc_ep_shared_release(struct iotc_endpoint *ep, const char *client_id, uint64_t gen);
struct iotc_ep_shared_session {
    char client_id[IOTC_EP_SHARED_ID_MAX + 1];
    char session_id[37];
    char principal[IOTC_EP_SHARED_PRINCIPAL_MAX + 1];
    bool taken_over; /* a newer connect of the client ID had claimed it */
};
typedef void (*iotc_ep_shared_orphan_fn)(void *arg, const struct iotc_ep_shared_session *s);
/* Parent, once worker has died: each session it held, removed from the table, then given
 * to fn (outside the lock); their count. */
size_t iotc_ep_shared_orphans(struct iotc_endpoint *ep, int worker, iotc_ep_shared_orphan_fn fn,
                              void *arg);

#endif
