/*
 * The registry: what an AWS account has registered (CAs, device certificates
 * with their status, things). Certificate files are resolved against the PKI
 * directory the build generates; a certificate's id is the SHA-256 of its DER,
 * as in AWS IoT.
 */
#ifndef IOTC_REGISTRY_H
#define IOTC_REGISTRY_H

#include "cfgjson.h"
#include "policy/policy.h"

#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

enum iotc_cert_status {
    IOTC_CERT_ACTIVE,
    IOTC_CERT_INACTIVE,
    IOTC_CERT_REVOKED,
    IOTC_CERT_PENDING_TRANSFER,
    IOTC_CERT_REGISTER_INACTIVE,
    IOTC_CERT_PENDING_ACTIVATION,
};

struct iotc_policy;

/* A named policy document, attached to certificates and credentials by name. */
struct iotc_reg_policy {
    char *name;
    char *file;
    struct iotc_policy *policy;
};

/* The attached policies of one principal, ready for iotc_policy_allows(). */
struct iotc_reg_policies {
    struct iotc_policy **list;
    size_t count;
};

struct iotc_reg_ca {
    char *id;
    char *file;
    enum iotc_cert_status status;
    X509 *cert;
};

/* iot:Certificate.* condition keys beyond CommonName and CertificateId, in this order:
 * the policy language's list (policy.h), whose values each certificate gets here. */
#define IOTC_CERT_COND_KEYS IOTC_POLICY_CERT_KEYS
#define iotc_cert_cond_keys iotc_policy_cert_keys

struct iotc_reg_cert {
    char *file;
    char id[65]; /* lower-case hex SHA-256 of the DER */
    uint8_t sha256[32];
    enum iotc_cert_status status;
    struct iotc_reg_ca *ca; /* NULL: registered without a CA */
    char *thing;
    /* AttachThingPrincipal's EXCLUSIVE_THING: the thing is this certificate's whatever
     * the client ID; false (AWS's default, NON_EXCLUSIVE_THING): only a client ID that
     * names the thing is that thing (developer guide, "Thing policy variables") */
    bool thing_exclusive;
    char *common_name;
    char *cond_vals[IOTC_CERT_COND_KEYS]; /* NULL: the certificate has no such field */
    X509 *cert;
    struct iotc_reg_policies policies;
};

/* A thing: its name, optional type and attributes (condition keys and policy variables). */
#define IOTC_THING_MAX_ATTRS 50
struct iotc_reg_thing {
    char *name;
    char *type; /* NULL: no thing type */
    char **attr_names, **attr_values;
    char **attr_keys; /* "iot:Connection.Thing.Attributes[<name>]" */
    size_t nattr;
};

/* SigV4 credentials (an IAM user's or an STS session's). */
struct iotc_reg_credential {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL: long-term credentials, no token expected */
    bool inactive;       /* IAM access key status "Inactive": every signature is refused */
    int64_t expires_at;  /* STS Expiration, seconds since the epoch; 0 = never */
    struct iotc_reg_policies policies;
};

/* A custom authorizer: a program that answers the AWS authorizer event. */
struct iotc_reg_authorizer {
    char *name;
    char **argv; /* NULL-terminated; argv[0] resolved against the registry's directory */
    char *token_key_name;
    bool signing_enabled;
    EVP_PKEY *public_key; /* when signing is enabled */
    bool is_default;
    bool active;
    bool caching_for_http; /* enableCachingForHttp: reuse answers across HTTP requests */
    int timeout_ms;
};

struct iotc_registry {
    char *file;
    struct iotc_reg_ca *cas;
    size_t ca_count;
    struct iotc_reg_cert *certs;
    size_t cert_count;
    char **things; /* names, in $.things order */
    size_t thing_count;
    struct iotc_reg_thing *thing_info; /* parallel to things */
    struct iotc_reg_policy *policies;
    size_t policy_count;
    struct iotc_reg_credential *credentials;
    size_t credential_count;
    struct iotc_reg_authorizer *authorizers;
    size_t authorizer_count;
    X509_STORE *ca_store; /* ACTIVE registered CAs */
};

int iotc_registry_load(const char *path, const char *pki_dir, struct iotc_registry *r,
                       iotc_errtext *err);
/* The registry file as a JSON object, for the clients that sign with its credentials
 * (the runner's door drivers, the fleet's identities) rather than verify them. */
json_t *iotc_registry_doc(const char *path, iotc_errtext *err);
void iotc_registry_free(struct iotc_registry *r);
const struct iotc_reg_cert *iotc_registry_find_cert(const struct iotc_registry *r,
                                                    const uint8_t sha256[32]);
const char *iotc_cert_status_name(enum iotc_cert_status s);
const struct iotc_reg_credential *iotc_registry_find_credential(const struct iotc_registry *r,
                                                                const char *access_key_id);
/* By name, or the default authorizer when name is NULL. */
const struct iotc_reg_authorizer *iotc_registry_find_authorizer(const struct iotc_registry *r,
                                                                const char *name);
/* Resolves a JSON array of policy names (may be NULL: none attached) against $.policies. */
int iotc_registry_attach(const char *file, const char *path, json_t *names,
                         const struct iotc_registry *r, struct iotc_reg_policies *out,
                         iotc_errtext *err);
/* The registered thing of that name, or NULL. */
const struct iotc_reg_thing *iotc_registry_find_thing(const struct iotc_registry *r,
                                                      const char *name);
/* SHA-256 of the DER encoding; hex is 65 bytes. */
int iotc_cert_fingerprint(X509 *cert, uint8_t sha256[32], char hex[65]);

#endif
