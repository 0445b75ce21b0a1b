/*
 * Case tables (suites/<name>.json, format "iotconform-cases/1"): loading, validation
 * (unknown keys are errors, reported with file and JSON path) and expansion of
 * templates over rows x IP family x TLS version (x variants).
 */
#ifndef IOTC_CASES_CASES_H
#define IOTC_CASES_CASES_H

#include <jansson.h>
#include <stddef.h>

#include "harness/diag.h"
#include "common/rows.h"

#define IOTC_CASES_FORMAT "iotconform-cases/1"

/* Which driver runs a case: client.driver, or for "auto" chosen by row and action. */
typedef enum iotc_case_driver {
    IOTC_CASE_DRV_PROBE,
    IOTC_CASE_DRV_HELLO,
    IOTC_CASE_DRV_MQTT,
    IOTC_CASE_DRV_HTTPS,
    IOTC_CASE_DRV_WSS,
    IOTC_CASE_DRV_SESSION,
} iotc_case_driver;

/* client.action; an absent action is a connect. */
typedef enum iotc_case_action {
    IOTC_CASE_ACT_CONNECT,
    IOTC_CASE_ACT_ROUNDTRIP,
    IOTC_CASE_ACT_PUBLISH_THEN_SUBSCRIBE,
    IOTC_CASE_ACT_SUBSCRIBE,
} iotc_case_action;

/* What the case's clients do (def.client), filled once at expansion from the merged,
 * schema-checked definition (cases_typed.c). Strings and JSON borrow from def, NULL
 * when absent, except alpn, which is owned. Defaults are resolved here, once. */
typedef struct iotc_case_client_def {
    iotc_case_driver driver;
    iotc_case_action action;
    const char *sni; /* as written: endpoint, none, wrong, ip or a profile's domain name */
    json_t *alpn;    /* the ALPN list offered: absent or "row" is the row's. Owned. */
    const char *cipher, *ciphersuites, *sigalgs;
    const char *cert; /* identity presented: absent is device-01 on X.509 rows, null none */
    const char *key;
    int qos;
    int retain;
    const char *client_id; /* the publisher's fixed client id */
    const char *query;     /* raw query parameters added after signing */
    const char *payload;
    const char *subscriber_cert;
    int timeout_ms; /* 3000 when absent or outside 1..60000 */
    int port;       /* logical port: the row's when absent */
    int repeat;     /* HTTPS: publishes sent (1 when absent; quota cases send more) */
    int keep_alive; /* HTTPS with repeat: all on one connection, else one each */
    json_t *auth, *subscriber_auth; /* door credentials, read by door_auth.c */
    json_t *steps;                  /* the session driver's script */
} iotc_case_client_def;

/* What drivers need to know of the expected outcome (def.expect) before judging it;
 * the judge itself compares def.expect with the observations. */
typedef struct iotc_case_expect_def {
    int delivered;       /* -1 not judged, 0 must not arrive, 1 must arrive */
    int judges_delivery; /* delivered, delivered_qos or retained is judged */
    json_t *journal_has; /* event names the journal excerpt must hold; borrowed */
} iotc_case_expect_def;

typedef struct iotc_case {
    char id[256];       /* <suite>.<case>[.<variant>].<row>.<ipv4|ipv6>.<tls12|tls13|...> */
    char template[160]; /* <suite>.<case>[.<variant>] */
    const iotc_row *row;
    int af;              /* AF_INET or AF_INET6 */
    char tls[8];         /* "1.0" "1.1" "1.2" "1.3" or "any" */
    const char *profile; /* borrowed from def */
    iotc_case_client_def client;
    iotc_case_expect_def expect;
    /* Resolved definition: suite, title, requirement, family, profile, labels,
     * client, expect, twin, file. Owned; results.json reports it as written. */
    json_t *def;
} iotc_case;

typedef struct iotc_caseset {
    iotc_case *v;
    size_t n, cap;
    /* The loaded tables' not_applicable cells: [{suite, family, row, reason}], or NULL. */
    json_t *not_applicable;
} iotc_caseset;

void iotc_caseset_free(iotc_caseset *set);

/* Validate one table and append its expanded cases; every problem goes to d.
 * Returns IOTC_OK or IOTC_ERR_CONFIG (nothing is appended then). */
int iotc_cases_load_file(const char *path, iotc_caseset *set, iotc_diag *d);

/* Validate a parsed table against the schema (exposed for the unit test). */
int iotc_cases_validate(json_t *table, const char *file, iotc_diag *d);

/* Fill the typed fields of k from k->def (after expansion merged and checked it), and
 * release them with def. */
int iotc_case_fill(iotc_case *k);
void iotc_case_clear(iotc_case *k);

/* Append a validated table's not_applicable declarations (one entry per row) to
 * set->not_applicable; cases [from, set->n) are the table's, checked not to fill a
 * declared cell. */
int iotc_cases_na_collect(json_t *table, const char *file, iotc_caseset *set, size_t from,
                          iotc_diag *d);

/* Expand a validated table. */
int iotc_cases_expand(json_t *table, const char *file, iotc_caseset *set, iotc_diag *d);

/* "x509" -> <dir>/x509.json, or *.json in <dir> whose "suite" is x509; a path is kept. */
int iotc_cases_resolve_suite(const char *name, const char *dir, char *out, size_t outlen);

/* 0 for a JSON document in the suites directory that says it is something else
 * (a top-level "schema" and no "format", e.g. the certification catalogue);
 * 1 otherwise, unreadable files included, so their errors are still reported. */
int iotc_cases_is_table(const char *path);

/* Every *.json table in dir, sorted. Caller frees the array and strings. */
int iotc_cases_list_dir(const char *dir, char ***paths, size_t *n);

/* GLOB against the id and each of its dot-suffixes ("mqtt-x509-8883*" matches
 * "x509.sni-missing.mqtt-x509-8883.ipv4.tls12"). */
int iotc_case_matches(const iotc_case *c, const char *glob);
int iotc_case_has_label(const iotc_case *c, const char *label);

const char *iotc_case_str(const iotc_case *c, const char *key);
json_t *iotc_case_client(const iotc_case *c);
json_t *iotc_case_expect(const iotc_case *c);
const char *iotc_af_name(int af);

#endif
