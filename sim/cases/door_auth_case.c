/* client.auth of a case resolved into the client layer's door credentials (see
 * door_auth_case.h). */
#include "door_auth_case.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"

static void door__copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

static json_t *door__credential(const iotc_env *env, const char *access_key)
{
    size_t i;
    json_t *cr;
    json_array_foreach(json_object_get(env->registry, "credentials"), i, cr)
    {
        const char *id = json_string_value(json_object_get(cr, "access_key_id"));
        if (id && strcmp(id, access_key) == 0)
            return cr;
    }
    return NULL;
}

static int door__sigv4(const iotc_env *env, const iotc_case *c, json_t *s, iotc_door_auth *a,
                       iotc_errtext *err)
{
    const char *ak = json_string_value(json_object_get(s, "access_key"));
    const char *secret = json_string_value(json_object_get(s, "secret"));
    const char *signer = json_string_value(json_object_get(s, "signer"));
    json_t *token = json_object_get(s, "token");
    json_t *cred;

    a->kind = IOTC_DA_SIGV4;
    if (!ak) {
        return iotc_errtext_set(err, IOTC_ERR_CONFIG, "client.auth.sigv4.access_key is required");
    }
    cred = door__credential(env, ak);
    if (!secret && !cred) {
        return iotc_errtext_set(
            err, IOTC_ERR_CONFIG,
            "access key %s is not in the registry: give client.auth.sigv4.secret", ak);
    }
    /* An external target's file maps the tables' key names to its own keys. */
    door__copy(a->access_key, sizeof(a->access_key),
               json_is_string(json_object_get(cred, "send_as"))
                   ? json_string_value(json_object_get(cred, "send_as"))
                   : ak);
    door__copy(a->secret, sizeof(a->secret),
               secret ? secret : json_string_value(json_object_get(cred, "secret_access_key")));
    door__copy(a->region, sizeof(a->region), json_string_value(json_object_get(s, "region")));
    if (!a->region[0])
        door__copy(a->region, sizeof(a->region),
                   json_is_string(json_object_get(env->registry, "region"))
                       ? json_string_value(json_object_get(env->registry, "region"))
                       : "us-east-1");
    door__copy(a->service, sizeof(a->service), json_string_value(json_object_get(s, "service")));
    if (!a->service[0]) /* the SDKs' signing names: iotdata for publish, the gateway for WSS */
        door__copy(a->service, sizeof(a->service),
                   c->row->proto == IOTC_PROTO_WSS ? "iotdevicegateway" : "iotdata");
    if (json_is_true(token)) {
        const char *t = json_string_value(json_object_get(cred, "session_token"));
        if (!t) {
            return iotc_errtext_set(err, IOTC_ERR_CONFIG,
                                    "access key %s has no session_token in the registry", ak);
        }
        door__copy(a->token, sizeof(a->token), t);
    } else if (json_is_string(token)) {
        door__copy(a->token, sizeof(a->token), json_string_value(token));
    }
    door__copy(a->tamper, sizeof(a->tamper), json_string_value(json_object_get(s, "tamper")));
    a->expires = json_is_integer(json_object_get(s, "expires"))
                     ? (long)json_integer_value(json_object_get(s, "expires"))
                     : 86400;
    a->date_offset_s = (long)json_integer_value(json_object_get(s, "date_offset_s"));
    /* WSS is always presigned here; HTTPS defaults to libcurl, the independent signer. */
    a->own_signer = c->row->proto == IOTC_PROTO_WSS || (signer && strcmp(signer, "own") == 0);
    if (!a->own_signer && (a->tamper[0] || a->date_offset_s)) {
        return iotc_errtext_set(err, IOTC_ERR_CONFIG,
                                "tamper and date_offset_s need \"signer\": \"own\" "
                                "(libcurl signs the current time, untampered)");
    }
    return IOTC_OK;
}

static int door__custom(const iotc_env *env, json_t *s, iotc_door_auth *a, iotc_errtext *err)
{
    json_t *sign = json_object_get(s, "sign");
    const char *token = json_string_value(json_object_get(s, "token"));
    const char *via = json_string_value(json_object_get(s, "via"));

    a->kind = IOTC_DA_CUSTOM;
    door__copy(a->authorizer, sizeof(a->authorizer),
               json_string_value(json_object_get(s, "authorizer")));
    /* External targets name their own authorizers and tokens. */
    if (env->authorizers && json_is_string(json_object_get(env->authorizers, a->authorizer)))
        door__copy(a->authorizer, sizeof(a->authorizer),
                   json_string_value(json_object_get(env->authorizers, a->authorizer)));
    if (token && env->tokens && json_is_string(json_object_get(env->tokens, token)))
        token = json_string_value(json_object_get(env->tokens, token));
    door__copy(a->token_key, sizeof(a->token_key),
               json_string_value(json_object_get(s, "token_key")));
    if (!a->token_key[0])
        door__copy(a->token_key, sizeof(a->token_key), "token");
    a->has_ctoken = token != NULL;
    door__copy(a->ctoken, sizeof(a->ctoken), token);
    a->via_query = via && strcmp(via, "query") == 0;
    if (json_is_true(sign) || json_is_string(sign)) {
        /* "bad": a well-formed signature, but over another token. */
        char other[sizeof(a->ctoken) + 8];
        snprintf(other, sizeof(other), "%s%s", a->ctoken, json_is_string(sign) ? "-other" : "");
        char path[1024];
        if (env->signing_key)
            snprintf(path, sizeof(path), "%s", env->signing_key);
        else
            snprintf(path, sizeof(path), "%s/authorizer-signing.key", env->pki_dir);
        return iotc_door_auth_sign_token(path, other, a->signature, sizeof(a->signature), err);
    }
    return IOTC_OK;
}

int iotc_door_auth_resolve(const iotc_env *env, const iotc_case *c, iotc_door_auth *a,
                           iotc_errtext *err)
{
    return iotc_door_auth_from(env, c, json_object_get(iotc_case_client(c), "auth"), a, err);
}

int iotc_door_auth_from(const iotc_env *env, const iotc_case *c, json_t *auth, iotc_door_auth *a,
                        iotc_errtext *err)
{
    memset(a, 0, sizeof(*a));
    if (!auth)
        return IOTC_OK;
    if (!env->registry && json_object_get(auth, "sigv4")) {
        return iotc_errtext_set(err, IOTC_ERR_CONFIG,
                                "no registry loaded (IOTCONFORM_REGISTRY): SigV4 secrets unknown");
    }
    if (json_object_get(auth, "sigv4"))
        return door__sigv4(env, c, json_object_get(auth, "sigv4"), a, err);
    if (json_object_get(auth, "custom"))
        return door__custom(env, json_object_get(auth, "custom"), a, err);
    return IOTC_OK;
}
