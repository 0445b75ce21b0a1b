/*
 * Custom authentication building blocks (AWS IoT custom authorizers):
 * credentials from an MQTT username or an HTTP request, the token signature
 * check, the authorizer request event and a strict check of its response, and
 * running an authorizer program on a libevent loop. Which authorizer applies,
 * and what to do with the answer, is the front door's business.
 */
#ifndef IOTC_AUTHZ_H
#define IOTC_AUTHZ_H

#include "http/http.h"
#include "common/errtext.h"

#include <openssl/evp.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#define IOTC_AUTHZ_NAME_KEY "x-amz-customauthorizer-name"
#define IOTC_AUTHZ_SIG_KEY  "x-amz-customauthorizer-signature"
/* More parameters than this in one username or query is refused (TOO_LARGE). */
#define IOTC_AUTHZ_MAX_PARAMS 64

/* ---- credentials ---------------------------------------------------------- */

struct iotc_authz_param {
    char *key;   /* percent-decoded */
    char *value; /* percent-decoded ('+' stays '+': signatures are base64) */
};

struct iotc_authz_creds {
    char *user;       /* MQTT: the username before '?', as sent; HTTP: NULL */
    char *authorizer; /* x-amz-customauthorizer-name, NULL if absent (default authorizer) */
    char *signature;  /* x-amz-customauthorizer-signature (base64 text), NULL if absent */
    /* Every parameter in order, the two above included, so the caller can pick
     * the token by its authorizer's token key name; SDK metrics parameters
     * (SDK=..&Version=..&Platform=..) just come along. */
    struct iotc_authz_param *params;
    size_t param_count;
};

/*
 * Parses `user?k=v&k=v...` (len bytes, need not be NUL-terminated). No '?'
 * means no parameters. Empty pieces ("a=1&&b=2", a trailing '&') are skipped;
 * a piece without '=' is a key with an empty value.
 * IOTC_ERR_MALFORMED: a NUL byte, a bad percent-escape or non-UTF-8 after
 * decoding, an empty key, a repeated key (ambiguous: which token counts?), or
 * an empty authorizer name or signature. IOTC_ERR_TOO_LARGE: more than
 * IOTC_AUTHZ_MAX_PARAMS parameters. why says which parameter and what.
 * out is always initialised (free it with iotc_authz_creds_free()).
 */
int iotc_authz_parse_username(const char *username, size_t len, struct iotc_authz_creds *out,
                              iotc_errtext *why);
/*
 * Same values from an HTTPS or WSS request: authorizer name and signature from
 * headers or query parameters (a header and a query parameter that disagree
 * are MALFORMED), params = the query parameters (same rules as the username).
 */
int iotc_authz_from_http(const struct iotc_http_req *req, struct iotc_authz_creds *out,
                         iotc_errtext *why);
/* Value of the first parameter called key, or NULL. */
const char *iotc_authz_creds_get(const struct iotc_authz_creds *c, const char *key);
/* HTTP token: the header named token_key (any case), else the query parameter. */
const char *iotc_authz_http_token(const struct iotc_http_req *req, const struct iotc_authz_creds *c,
                                  const char *token_key);
void iotc_authz_creds_free(struct iotc_authz_creds *c);

/* ---- token signature ------------------------------------------------------ */

#define IOTC_AUTHZ_MIN_RSA_BITS 2048

/* Loads a PEM public key ("PUBLIC KEY" or "RSA PUBLIC KEY"); IOTC_ERR_CONFIG
 * with a clear reason unless it is RSA of at least IOTC_AUTHZ_MIN_RSA_BITS. */
int iotc_authz_load_pubkey(const char *pem, size_t len, EVP_PKEY **out, iotc_errtext *why);
int iotc_authz_load_pubkey_file(const char *path, EVP_PKEY **out, iotc_errtext *why);
/*
 * RSA-SHA256 (PKCS#1 v1.5) over the token bytes, signature in base64.
 * IOTC_OK: valid. IOTC_ERR_DENIED: does not verify. IOTC_ERR_MALFORMED: the
 * signature is not base64. IOTC_ERR_INVALID: NULL argument or a key that
 * iotc_authz_load_pubkey() would refuse.
 */
int iotc_authz_verify_token(EVP_PKEY *key, const char *token, const char *sig_b64,
                            iotc_errtext *why);
/* The signing side, for the simulated fleet and tests: *sig_b64 is malloc'ed. */
int iotc_authz_sign_token(EVP_PKEY *priv, const char *token, char **sig_b64);

/* ---- authorizer request and response -------------------------------------- */

struct iotc_authz_request {
    const char *token; /* NULL: no "token" key */
    bool signature_verified;
    /* protocols[] and protocolData: only the parts that apply are written. */
    bool tls, http, mqtt;
    const char *server_name;         /* tls.serverName (SNI), NULL if none was sent */
    const struct iotc_http_req *req; /* http.headers + http.queryString */
    const char *mqtt_username;       /* NULL: omitted */
    const uint8_t *mqtt_password;    /* sent base64-encoded; NULL: omitted */
    size_t mqtt_password_len;
    const char *mqtt_client_id; /* NULL: omitted */
    const char *connection_id;  /* connectionMetadata.id (a UUID) */
};

/*
 * The JSON event sent to the authorizer (compact, malloc'ed), NULL on
 * allocation failure or a string that is not UTF-8 (JSON cannot carry it). HTTP header names are
 * the reader's lower-cased ones; repeated headers are joined with ", " (RFC 9110 5.3); queryString
 * is "?" + the raw query, as AWS shows it.
 */
char *iotc_authz_request_json(const struct iotc_authz_request *r);

struct iotc_authz_response {
    bool authenticated;
    char principal_id[129]; /* "" when absent (only allowed if not authenticated) */
    char **policies;        /* policy_count JSON texts, as received */
    size_t policy_count;
    int disconnect_after; /* seconds, 0 when absent */
    int refresh_after;    /* seconds, 0 when absent */
};

#define IOTC_AUTHZ_MAX_POLICIES     10
#define IOTC_AUTHZ_MAX_POLICY_CHARS 2048
#define IOTC_AUTHZ_MIN_TTL          300
#define IOTC_AUTHZ_MAX_TTL          86400

/*
 * Checks an authorizer's answer exactly. It must be one JSON object (duplicate
 * keys refused) with isAuthenticated (true/false). When it is true,
 * principalId ([a-zA-Z0-9]{1,128}), policyDocuments (array of at most 10
 * strings, each at most 2048 characters and itself a JSON object: syntax only,
 * the policy engine judges the content), disconnectAfterInSeconds and
 * refreshAfterInSeconds (integers 300..86400) are required; when false they
 * may be left out but are checked if present. Any other key is refused: a
 * typo ("principalID") would otherwise silently drop a field AWS requires, and
 * a conformance tool should say so. IOTC_ERR_MALFORMED with the reason.
 */
int iotc_authz_response_parse(const char *text, size_t len, struct iotc_authz_response *out,
                              iotc_errtext *why);
void iotc_authz_response_free(struct iotc_authz_response *r);

/* ---- running an authorizer program --------------------------------------- */

#define IOTC_AUTHZ_DEFAULT_TIMEOUT_MS 5000
#define IOTC_AUTHZ_MAX_OUTPUT         (64u * 1024u)

struct iotc_authz_job;

/*
 * rc: IOTC_OK (exit status 0; stdout_text is its output), IOTC_ERR_TIMEOUT
 * (killed after timeout_ms), IOTC_ERR_IO (non-zero exit, killed by a signal,
 * not executable), IOTC_ERR_TOO_LARGE (more than IOTC_AUTHZ_MAX_OUTPUT bytes
 * on stdout: killed). stdout_text is never NULL (what was read so far), why
 * says what happened. Both strings die when done() returns; the job is gone too.
 */
typedef void (*iotc_authz_done_fn)(void *arg, int rc, const char *stdout_text, const char *why);

/*
 * Starts argv[0] (a path; not searched in PATH) with request_json on stdin and
 * collects stdout, all on base's loop; stderr is inherited. The child gets its
 * own process group (a script's children are killed with it) and dies with
 * this process. timeout_ms <= 0 means IOTC_AUTHZ_DEFAULT_TIMEOUT_MS. done() is
 * called exactly once, from the loop, never from inside this call. Exits are
 * noticed through a libevent SIGCHLD event per job that reaps only this job's
 * pid (other parts have children too). *out may be NULL if no cancel is needed.
 */
int iotc_authz_run_program(struct event_base *base, char *const argv[], const char *request_json,
                           int timeout_ms, iotc_authz_done_fn done, void *arg,
                           struct iotc_authz_job **out);
/* Kills and reaps the child (briefly blocking for the reap), frees the job;
 * done() is not called. Not for use after done() ran. */
void iotc_authz_job_cancel(struct iotc_authz_job *job);

#endif
