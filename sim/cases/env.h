/*
 * The environment a case runs in: the emulator's ports and PKI, or an external
 * endpoint's addresses, trust bundle, identities and credentials (a --target file).
 */
#ifndef IOTC_CASES_ENV_H
#define IOTC_CASES_ENV_H

#include <jansson.h>
#include <stddef.h>

#include "client/tlsc.h"

typedef struct iotc_env {
    const char *pki_dir;
    const char *endpoint; /* SNI / Host of the endpoint ("localhost") */
    int port_8883, port_8443, port_443;
    char run_tag[16];       /* unique per run: topics and client ids never collide */
    const json_t *registry; /* the endpoint's registry (SigV4 secrets), NULL if unread */
    /* An external endpoint (`run --target`); all unset for the emulator, whose
     * loopback addresses and test PKI are then used. */
    int external;
    char addr4[64], addr6[64];  /* literal addresses to dial, "" = the family is not served */
    const char *ca_file;        /* trust bundle instead of <pki>/IOTC_PKI_CA_BUNDLE */
    const json_t *identities;   /* PKI name -> {"cert": path, "key": path} */
    const char *signing_key;    /* custom-auth token signing key instead of the PKI's */
    const json_t *authorizers;  /* logical authorizer name -> the target's name */
    const json_t *tokens;       /* logical token -> the target's token */
    const json_t *domain_names; /* the tables' configured domain name -> the target's */
} iotc_env;

int iotc_env_port(const iotc_env *env, int logical);
/* The literal address dialled for a family ("127.0.0.1", "::1" on the emulator). */
const char *iotc_env_addr(const iotc_env *env, int af);
/* Certificate and key files of a PKI name (key_name NULL = the same name).
 * IOTC_ERR_NOT_FOUND when an external target does not map it. */
int iotc_env_identity(const iotc_env *env, const char *name, const char *key_name, char *cert,
                      size_t cert_len, char *key, size_t key_len);
/* Fills o->ca_file, o->cert_file, o->key_file from the env (after o->cert/key are set). */
void iotc_env_tls_files(const iotc_env *env, iotc_tlsc_opts *o);

#endif
