/*
 * The AWS IoT policy engine: parses policy documents and decides iot:Connect,
 * iot:Publish, iot:Subscribe, iot:Receive and iot:RetainPublish requests the way
 * AWS IoT Core does (default deny, explicit Deny wins, `*` and `?` wildcards,
 * MQTT `+` and `#` literal, policy variables substituted before matching).
 *
 * Choices where AWS documentation is not explicit are listed in POLICY.md.
 */
#ifndef IOTC_POLICY_H
#define IOTC_POLICY_H

#include <stdbool.h>
#include "common/errtext.h"
#include <stddef.h>

/* Largest policy text accepted (AWS caps IoT policies at 2048 non-blank characters and
 * authorizer responses at their own limits; callers enforce those, this is a sanity cap). */
#define IOTC_POLICY_MAX_BYTES 20480
/* Deepest JSON nesting accepted; a valid policy needs 4 ($ { Statement [ { Action [ ). */
#define IOTC_POLICY_MAX_DEPTH 8

/* The iot:Certificate.* condition keys beyond CommonName and CertificateId, in this order
 * (the registry gives each certificate a value per key, in the same order). */
#define IOTC_POLICY_CERT_KEYS 12
extern const char *const iotc_policy_cert_keys[IOTC_POLICY_CERT_KEYS];

enum iotc_action {
    IOTC_ACT_CONNECT,        /* resource: client/<client id> */
    IOTC_ACT_PUBLISH,        /* resource: topic/<topic> */
    IOTC_ACT_SUBSCRIBE,      /* resource: topicfilter/<filter> */
    IOTC_ACT_RECEIVE,        /* resource: topic/<topic of the delivered message> */
    IOTC_ACT_RETAIN_PUBLISH, /* resource: topic/<topic>; AWS also requires iot:Publish */
    IOTC_ACT_COUNT
};

/* One compiled policy document (immutable after parsing; safe to share between threads). */
struct iotc_policy;

/*
 * Parses and validates an AWS IoT policy document: Version "2012-10-17" (or the legacy
 * "2008-10-17", where `${...}` is literal text), Statement object or array, each with
 * Effect Allow|Deny, Action|NotAction string or array, Resource|NotResource string or
 * array ("*" or an ARN), optional Sid and Condition (condition.c: IAM operators over the
 * AWS IoT condition keys; an operator or key the engine does not know is an error).
 * Principal and NotPrincipal are refused with an error rather than ignored; unknown keys
 * are errors. Every error names the JSON path ("$.Statement[1].Effect: ...").
 * Returns IOTC_OK, IOTC_ERR_MALFORMED (err says why), IOTC_ERR_TOO_LARGE (text longer
 * than IOTC_POLICY_MAX_BYTES), IOTC_ERR_INVALID (NULL arguments) or IOTC_ERR_NOMEM.
 * json_text needs no NUL terminator; err may be NULL.
 */
int iotc_policy_parse(const char *json_text, size_t len, struct iotc_policy **out,
                      iotc_errtext *err);
/* Reads and parses a policy file; errors start with the file name. The policy's name is
 * the file's base name without ".json". */
int iotc_policy_load_file(const char *path, struct iotc_policy **out, iotc_errtext *err);
void iotc_policy_free(struct iotc_policy *p);
/* The name given by iotc_policy_load_file, or NULL. */
const char *iotc_policy_name(const struct iotc_policy *p);

/*
 * The values of policy variables for one decision. NULL or "" leaves a variable
 * unresolved: a Resource entry that uses it matches nothing (and a NotResource entry
 * that uses it makes its statement not apply). Values are substituted literally: a
 * `*` in a client id is not a wildcard.
 */
/*
 * One condition key's values for a decision, e.g. {"aws:SourceIp", {"127.0.0.1"}, 1} or
 * {"iot:ConnectAttributes", {"LastWill", "PersistentConnect"}, 2}. A key that is not in
 * the table, or has n == 0, is absent from the request (IfExists and Null see that).
 * Key names compare case-insensitively, except a thing attribute's name inside [...].
 */
struct iotc_policy_kv {
    const char *key;
    const char *const *values;
    size_t n;
};

struct iotc_policy_ctx {
    const char *region;          /* required, e.g. "us-east-1" (no ':') */
    const char *account;         /* required, e.g. "123456789012" (no ':') */
    const char *client_id;       /* ${iot:ClientId} */
    const char *thing_name;      /* ${iot:Connection.Thing.ThingName} */
    const char *cert_subject_cn; /* ${iot:Certificate.Subject.CommonName} */
    const char *cert_id;         /* ${iot:CertificateId} */
    /* Condition keys beyond the four above (which are also the condition keys of the
     * same names). aws:CurrentTime and aws:EpochTime default to the wall clock. */
    const struct iotc_policy_kv *keys;
    size_t nkeys;
};

/*
 * Decides act on resource over the principal's attached policies (NULL entries are
 * skipped): a statement matches when its action, resource and every condition match;
 * any matching Deny wins, else any matching Allow, else default deny.
 * resource is the suffix for the action (client id, topic or topic filter); the
 * engine builds arn:aws:iot:<region>:<account>:client/<id> etc. Anything the engine
 * cannot evaluate (missing region, out of memory) is a deny. If why != NULL it gets
 * a short explanation: "explicit Deny in policy 2 statement 1", "no Allow matched
 * (default deny)", "allowed by policy 1 statement 0" (plus the policy name and Sid
 * when known).
 */
bool iotc_policy_allows(struct iotc_policy *const *policies, size_t n, enum iotc_action act,
                        const char *resource, const struct iotc_policy_ctx *ctx, iotc_errtext *why);

/* "iot:Connect", "iot:Publish", ...; "?" when out of range. */
const char *iotc_action_name(enum iotc_action a);

#endif
