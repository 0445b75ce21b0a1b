/* Where a case runs: the emulator or a --target file, and its identities. */
#include "env.h"

#include <stdio.h>
#include <sys/socket.h>

#include "common/err.h"

int iotc_env_port(const iotc_env *env, int logical)
{
    switch (logical) {
    case 8883:
        return env->port_8883;
    case 8443:
        return env->port_8443;
    case 443:
        return env->port_443;
    }
    return 0;
}

const char *iotc_env_addr(const iotc_env *env, int af)
{
    if (env->external)
        return af == AF_INET6 ? env->addr6 : env->addr4;
    return af == AF_INET6 ? "::1" : "127.0.0.1";
}

int iotc_env_identity(const iotc_env *env, const char *name, const char *key_name, char *cert,
                      size_t cert_len, char *key, size_t key_len)
{
    const char *kn = key_name ? key_name : name;
    if (!env->external) {
        snprintf(cert, cert_len, "%s/%s.crt", env->pki_dir, name);
        snprintf(key, key_len, "%s/%s.key", env->pki_dir, kn);
        return IOTC_OK;
    }
    const char *c =
        json_string_value(json_object_get(json_object_get(env->identities, name), "cert"));
    const char *k = json_string_value(json_object_get(json_object_get(env->identities, kn), "key"));
    if (!c || !k)
        return IOTC_ERR_NOT_FOUND;
    snprintf(cert, cert_len, "%s", c);
    snprintf(key, key_len, "%s", k);
    return IOTC_OK;
}

void iotc_env_tls_files(const iotc_env *env, iotc_tlsc_opts *o)
{
    o->ca_file[0] = o->cert_file[0] = o->key_file[0] = '\0';
    if (!env->external)
        return;
    snprintf(o->ca_file, sizeof(o->ca_file), "%s", env->ca_file ? env->ca_file : "");
    /* An unmapped identity was skipped before the driver ran; a missing file is
     * then an error the driver reports. */
    if (o->cert && iotc_env_identity(env, o->cert, o->key, o->cert_file, sizeof(o->cert_file),
                                     o->key_file, sizeof(o->key_file)) != IOTC_OK)
        snprintf(o->cert_file, sizeof(o->cert_file), "(identity %s not in the target file)",
                 o->cert);
}
