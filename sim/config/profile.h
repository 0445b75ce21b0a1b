/* The endpoint profile: how this emulated IoT Core endpoint behaves. */
#ifndef IOTC_PROFILE_H
#define IOTC_PROFILE_H

#include "cfgjson.h"

#include <stdbool.h>
#include <stddef.h>

enum iotc_tls_policy {
    IOTC_POLICY_TLS13_1_2, /* IoTSecurityPolicy_TLS13_1_2_2022_10: TLS 1.2 and 1.3 (default) */
    IOTC_POLICY_TLS13_1_3, /* IoTSecurityPolicy_TLS13_1_3_2022_10: TLS 1.3 only */
    IOTC_POLICY_TLS12_1_2, /* IoTSecurityPolicy_TLS12_1_2_2022_10: TLS 1.2 only */
};

/* Logical ports of the AWS matrix. */
enum iotc_lport { IOTC_PORT_8883, IOTC_PORT_8443, IOTC_PORT_443, IOTC_PORT_COUNT };
extern const int iotc_lport_number[IOTC_PORT_COUNT];

struct iotc_limits {
    long long max_client_id_bytes;
    long long max_topic_bytes;
    long long max_topic_slashes;
    long long max_payload_bytes;
    long long max_filters_per_subscribe;
    long long max_subscriptions; /* per connection */
    long long topic_alias_max;   /* MQTT 5 inbound topic aliases per connection (0 = none) */
    long long keepalive_min_s;
    long long keepalive_max_s;
    long long handshake_timeout_ms;
    long long connect_timeout_ms; /* TLS up, no CONNECT yet */
    long long http_idle_timeout_ms;
    long long max_connections;
    long long max_duration_x509_s;  /* seed 002: 1-2 weeks, not guaranteed */
    long long max_duration_sigv4_s; /* seed 002: WebSocket with SigV4, up to 24 hours */
    long long sigv4_skew_s;         /* accepted clock skew of X-Amz-Date */
    long long journal_max_bytes;    /* 0: no cap; at the cap one journal.truncated line */
    long long authz_max_concurrent; /* authorizer programs running at once */
    long long authz_queue_max;      /* connects waiting for an authorizer slot */
    long long authz_queue_wait_ms;  /* longest wait for a slot before the connect is refused */
    long long qos1_durable;         /* 1: the broker saves after every change (PUBACK = stored) */
    /* AWS IoT Core message-broker quotas (us-east-1 defaults), 0 = no limit: README "Throttling" */
    long long publish_per_s;               /* publish requests per second per connection */
    long long throughput_bytes_per_s;      /* inbound PUBLISH bytes per second per connection */
    long long connect_per_s_per_client_id; /* CONNECT requests per second per client ID */
    long long account_connect_per_s;       /* CONNECT requests per second per account */
    long long account_publish_per_s;       /* inbound publish requests per second per account */
};

struct iotc_profile {
    char *file;
    char *name;
    enum iotc_tls_policy policy;
    char *policy_name;
    bool sni_required;
    char **endpoint_names; /* endpointAddress equivalents */
    size_t endpoint_name_count;
    char **domain_names; /* domain configurations */
    size_t domain_name_count;
    char **bind; /* listen addresses */
    size_t bind_count;
    int ports[IOTC_PORT_COUNT]; /* real port per logical port; 0 = ephemeral */
    char *region;
    char *account;
    double time_scale; /* multiplies long timers (keep-alive, durations) */
    struct iotc_limits limits;
};

/* Loads and validates; on failure err names the file and key path. */
int iotc_profile_load(const char *path, struct iotc_profile *p, iotc_errtext *err);
void iotc_profile_free(struct iotc_profile *p);
const char *iotc_tls_policy_name(enum iotc_tls_policy p);
/* True when name (case-insensitive, as DNS) is an endpoint or domain name. */
bool iotc_profile_name_known(const struct iotc_profile *p, const char *name);

#endif
