/*
 * The journal's vocabulary, defined once: every event name and the field keys
 * that readers key on. The endpoint writes them (common/journal.h), the harness's
 * journal reader, the runner's judges and certify's observations read them, and
 * sim/endpoint/JOURNAL.md documents them. A new event or key is added here first.
 */
#ifndef IOTC_COMMON_JEVENTS_H
#define IOTC_COMMON_JEVENTS_H

/* Endpoint-wide events (no connection). */
#define IOTC_EV_ENDPOINT_READY        "endpoint.ready"
#define IOTC_EV_ENDPOINT_STOP         "endpoint.stop"
#define IOTC_EV_ENDPOINT_WORKERS      "endpoint.workers"
#define IOTC_EV_ENDPOINT_WORKER_EXIT  "endpoint.worker_exit"
#define IOTC_EV_ENDPOINT_REFUSED      "endpoint.refused"
#define IOTC_EV_ENDPOINT_ACCEPT_ERROR "endpoint.accept_error"
#define IOTC_EV_BROKER_START          "broker.start"
#define IOTC_EV_BROKER_READY          "broker.ready"
#define IOTC_EV_BROKER_EXIT           "broker.exit"
#define IOTC_EV_BROKER_LOG            "broker.log"
#define IOTC_EV_BROKER_ERROR          "broker.error"
#define IOTC_EV_LIFECYCLE_ERROR       "lifecycle.error"
#define IOTC_EV_JOURNAL_TRUNCATED     "journal.truncated"

/* Resource exhaustion: one line when an episode starts (accept_error), one when it ends. */
#define IOTC_EV_ENDPOINT_ACCEPT_RESUMED "endpoint.accept_resumed"

/* Per-connection events (carry IOTC_JF_CONN and the peer keys). */
#define IOTC_EV_CONN_ACCEPT         "conn.accept"
#define IOTC_EV_CONN_CLOSE          "conn.close"
#define IOTC_EV_CONN_DURATION_LIMIT "conn.duration_limit"
#define IOTC_EV_TLS_CLIENT_HELLO    "tls.client_hello"
#define IOTC_EV_TLS_HANDSHAKE       "tls.handshake"
#define IOTC_EV_TLS_REFUSED         "tls.refused"
#define IOTC_EV_AUTH                "auth"
#define IOTC_EV_AUTH_REFRESH        "auth.refresh"
#define IOTC_EV_AUTHZ_QUEUE         "authz.queue"
#define IOTC_EV_POLICY_DENY         "policy.deny"
#define IOTC_EV_MQTT_IN             "mqtt.in"
#define IOTC_EV_MQTT_OUT            "mqtt.out"
#define IOTC_EV_MQTT_REFUSED        "mqtt.refused"
#define IOTC_EV_MQTT_WITHHELD       "mqtt.withheld"
#define IOTC_EV_MQTT_THROTTLED      "mqtt.throttled" /* a quota refused a request */
#define IOTC_EV_MQTT_DISCONNECT     "mqtt.disconnect"
#define IOTC_EV_HTTP_REQUEST        "http.request"
#define IOTC_EV_HTTP_RESPONSE       "http.response"
#define IOTC_EV_HTTP_REFUSED        "http.refused"
#define IOTC_EV_WS_UPGRADE          "ws.upgrade"
#define IOTC_EV_WS_CLOSE            "ws.close"
#define IOTC_EV_SCENARIO_WITHHELD   "scenario.withheld"
#define IOTC_EV_SCENARIO_SEND       "scenario.send"
#define IOTC_EV_SCENARIO_DISCONNECT "scenario.disconnect"

/* Keys every line has. */
#define IOTC_JF_T     "t"
#define IOTC_JF_WALL  "wall"
#define IOTC_JF_EVENT "event"
/* Keys of per-connection events. */
#define IOTC_JF_CONN      "conn"
#define IOTC_JF_LIMIT     "limit" /* mqtt.throttled: the profile limit that refused */
#define IOTC_JF_PORT      "port"
#define IOTC_JF_PEER      "peer"
#define IOTC_JF_PEER_PORT "peer_port"
#define IOTC_JF_FAMILY    "family"
/* Keys that judges and observations read. */
#define IOTC_JF_TYPE            "type"
#define IOTC_JF_CLIENT_ID       "client_id"
#define IOTC_JF_VERSION         "version"
#define IOTC_JF_KEEPALIVE       "keepalive"
#define IOTC_JF_CLEAN           "clean"
#define IOTC_JF_QOS             "qos"
#define IOTC_JF_TOPIC           "topic"
#define IOTC_JF_PACKET_ID       "packet_id"
#define IOTC_JF_RETAIN          "retain"
#define IOTC_JF_DUP             "dup"
#define IOTC_JF_REASON          "reason"
#define IOTC_JF_CODE            "code"
#define IOTC_JF_CODES           "codes"
#define IOTC_JF_SESSION_PRESENT "session_present"
#define IOTC_JF_RESULT          "result"
#define IOTC_JF_STAGE           "stage"
#define IOTC_JF_ALERT           "alert"
#define IOTC_JF_SNI             "sni"
#define IOTC_JF_ALPN            "alpn"
#define IOTC_JF_CIPHER          "cipher"
#define IOTC_JF_BY              "by"
#define IOTC_JF_STATUS          "status"
/* mqtt.in CONNECT: the keep-alive the endpoint enforces; MQTT 5 session expiry (0 if absent) */
#define IOTC_JF_KEEPALIVE_EFFECTIVE "keepalive_effective"
#define IOTC_JF_SESSION_EXPIRY      "session_expiry"
#define IOTC_JF_PAYLOAD_FNV         "payload_fnv" /* mqtt.in/out PUBLISH: FNV-1a of the payload */

/* Keys of particular events that judges and observations read (JOURNAL.md lists them). */
#define IOTC_JF_FILTERS       "filters" /* mqtt.in SUBSCRIBE: [{filter, qos}] */
#define IOTC_JF_FILTER        "filter"
#define IOTC_JF_CIPHERS       "ciphers"  /* tls.client_hello */
#define IOTC_JF_VERSIONS      "versions" /* tls.client_hello */
#define IOTC_JF_BYTES         "bytes"
#define IOTC_JF_PAYLOAD_BYTES "payload_bytes" /* mqtt.out PUBLISH */
#define IOTC_JF_RULE          "rule"          /* mqtt.refused */
#define IOTC_JF_PID           "pid"           /* broker.* */
#define IOTC_JF_LEVEL         "level"         /* broker.log */
#define IOTC_JF_LINE          "line"          /* broker.log, journal.unparsable */

/* Name prefixes of the endpoint-wide events a case's journal excerpt keeps. */
#define IOTC_EV_PREFIX_BROKER   "broker."
#define IOTC_EV_PREFIX_ENDPOINT "endpoint."

/* Entries the readers add themselves, never written by the endpoint. */
#define IOTC_EV_JOURNAL_UNPARSABLE "journal.unparsable" /* {line}: a line that is not JSON */
#define IOTC_EV_CERTIFY_OUTAGE     "certify.outage"     /* {t, until}: certify cut the endpoint */
#define IOTC_JF_UNTIL              "until"
#define IOTC_JF_T_MS               "t_ms" /* excerpts: t copied as a float */

#endif
