#include "registry.h"
#include "common/err.h"
#include "policy/policy.h"

#include <libgen.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const registry__status_names[] = {
    [IOTC_CERT_ACTIVE] = "ACTIVE",
    [IOTC_CERT_INACTIVE] = "INACTIVE",
    [IOTC_CERT_REVOKED] = "REVOKED",
    [IOTC_CERT_PENDING_TRANSFER] = "PENDING_TRANSFER",
    [IOTC_CERT_REGISTER_INACTIVE] = "REGISTER_INACTIVE",
    [IOTC_CERT_PENDING_ACTIVATION] = "PENDING_ACTIVATION",
};

const char *iotc_cert_status_name(enum iotc_cert_status s)
{
    return (unsigned)s < sizeof registry__status_names / sizeof registry__status_names[0]
               ? registry__status_names[s]
               : "?";
}

static int registry__status(const char *file, const char *path, json_t *obj,
                            enum iotc_cert_status *out, iotc_errtext *err)
{
    json_t *v = json_object_get(obj, "status");
    if (!v) {
        *out = IOTC_CERT_ACTIVE;
        return IOTC_OK;
    }
    const char *s = json_string_value(v);
    for (size_t i = 0; s && i < sizeof registry__status_names / sizeof registry__status_names[0];
         i++)
        if (strcmp(s, registry__status_names[i]) == 0) {
            *out = (enum iotc_cert_status)i;
            return IOTC_OK;
        }
    return iotc_cfg_fail(err, file, path,
                         "status: must be one of ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, "
                         "REGISTER_INACTIVE, PENDING_ACTIVATION");
}

int iotc_cert_fingerprint(X509 *cert, uint8_t sha256[32], char hex[65])
{
    unsigned len = 0;
    if (!X509_digest(cert, EVP_sha256(), sha256, &len) || len != 32)
        return IOTC_ERR_CRYPTO;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", sha256[i]);
    return IOTC_OK;
}

static X509 *registry__read_pem(const char *file, const char *path, const char *pki_dir,
                                const char *name, iotc_errtext *err)
{
    char full[4096];
    if (name[0] == '/')
        snprintf(full, sizeof full, "%s", name);
    else
        snprintf(full, sizeof full, "%s/%s", pki_dir, name);
    FILE *f = fopen(full, "r");
    if (!f) {
        iotc_cfg_fail(err, file, path,
                      "file: cannot open certificate '%s' (is the PKI built? "
                      "run the build or pass --pki DIR)",
                      full);
        return NULL;
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x)
        iotc_cfg_fail(err, file, path, "file: '%s' is not a PEM certificate", full);
    return x;
}

static int registry__cas(const char *file, json_t *arr, const char *pki, struct iotc_registry *r,
                         iotc_errtext *err)
{
    static const char *const keys[] = {"id", "file", "status", "description", NULL};
    if (!arr)
        return IOTC_OK;
    if (!json_is_array(arr))
        return iotc_cfg_fail(err, file, "$.cas", "must be an array");
    r->cas = calloc(json_array_size(arr) + 1, sizeof *r->cas);
    if (!r->cas)
        return IOTC_ERR_NOMEM;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char path[64];
        snprintf(path, sizeof path, "$.cas[%zu]", i);
        struct iotc_reg_ca *ca = &r->cas[r->ca_count++];
        int rc;
        if (!json_is_object(e))
            return iotc_cfg_fail(err, file, path, "must be an object");
        if ((rc = iotc_cfg_check_keys(file, path, e, keys, err)) ||
            (rc = iotc_cfg_string(file, path, e, "id", NULL, &ca->id, err)) ||
            (rc = iotc_cfg_string(file, path, e, "file", NULL, &ca->file, err)) ||
            (rc = registry__status(file, path, e, &ca->status, err)))
            return rc;
        if (!ca->id || !ca->file)
            return iotc_cfg_fail(err, file, path, "id and file are required");
        for (size_t j = 0; j + 1 < r->ca_count; j++)
            if (strcmp(r->cas[j].id, ca->id) == 0)
                return iotc_cfg_fail(err, file, path, "duplicate CA id '%s'", ca->id);
        if (!(ca->cert = registry__read_pem(file, path, pki, ca->file, err)))
            return IOTC_ERR_CONFIG;
        if (ca->status == IOTC_CERT_ACTIVE && !X509_STORE_add_cert(r->ca_store, ca->cert))
            return iotc_cfg_fail(err, file, path, "cannot add CA to the trust store");
    }
    return IOTC_OK;
}

static int registry__policies(const char *file, json_t *arr, struct iotc_registry *r,
                              iotc_errtext *err)
{
    static const char *const keys[] = {"name", "file", "description", NULL};
    if (!arr)
        return IOTC_OK;
    if (!json_is_array(arr))
        return iotc_cfg_fail(err, file, "$.policies", "must be an array");
    r->policies = calloc(json_array_size(arr) + 1, sizeof *r->policies);
    if (!r->policies)
        return IOTC_ERR_NOMEM;
    char *copy = strdup(file);
    const char *dir = copy ? dirname(copy) : ".";
    int rc = IOTC_OK;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char path[64], full[4096];
        iotc_errtext why = {0};
        snprintf(path, sizeof path, "$.policies[%zu]", i);
        struct iotc_reg_policy *p = &r->policies[r->policy_count++];
        if (!json_is_object(e)) {
            rc = iotc_cfg_fail(err, file, path, "must be an object");
            break;
        }
        if ((rc = iotc_cfg_check_keys(file, path, e, keys, err)) ||
            (rc = iotc_cfg_string(file, path, e, "name", NULL, &p->name, err)) ||
            (rc = iotc_cfg_string(file, path, e, "file", NULL, &p->file, err)))
            break;
        if (!p->name || !p->file) {
            rc = iotc_cfg_fail(err, file, path, "name and file are required");
            break;
        }
        /* Policy files are fixtures: relative to the registry file, not the PKI. */
        snprintf(full, sizeof full, "%s/%s", p->file[0] == '/' ? "" : dir, p->file);
        if (iotc_policy_load_file(p->file[0] == '/' ? p->file : full, &p->policy, &why) !=
            IOTC_OK) {
            rc = iotc_cfg_fail(err, file, path, "file: %s", why.msg);
            break;
        }
        for (size_t j = 0; j + 1 < r->policy_count; j++)
            if (strcmp(r->policies[j].name, p->name) == 0) {
                rc = iotc_cfg_fail(err, file, path, "duplicate policy name '%s'", p->name);
                break;
            }
        if (rc)
            break;
    }
    free(copy);
    return rc;
}

int iotc_registry_attach(const char *file, const char *path, json_t *names,
                         const struct iotc_registry *r, struct iotc_reg_policies *out,
                         iotc_errtext *err)
{
    memset(out, 0, sizeof *out);
    if (!names)
        return IOTC_OK;
    if (!json_is_array(names))
        return iotc_cfg_fail(err, file, path, "policies: must be an array of policy names");
    out->list = calloc(json_array_size(names) + 1, sizeof *out->list);
    if (!out->list)
        return IOTC_ERR_NOMEM;
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        const char *name = json_string_value(v);
        struct iotc_policy *found = NULL;
        for (size_t j = 0; name && j < r->policy_count; j++)
            if (strcmp(r->policies[j].name, name) == 0)
                found = r->policies[j].policy;
        if (!found)
            return iotc_cfg_fail(err, file, path,
                                 "policies[%zu]: no policy named '%s' in $.policies", i,
                                 name ? name : "?");
        out->list[out->count++] = found;
    }
    return IOTC_OK;
}

static int registry__certs(const char *file, json_t *arr, const char *pki, struct iotc_registry *r,
                           iotc_errtext *err)
{
    static const char *const keys[] = {"file",     "status",      "ca", "thing", "thing_exclusive",
                                       "policies", "description", NULL};
    if (!arr)
        return IOTC_OK;
    if (!json_is_array(arr))
        return iotc_cfg_fail(err, file, "$.certificates", "must be an array");
    r->certs = calloc(json_array_size(arr) + 1, sizeof *r->certs);
    if (!r->certs)
        return IOTC_ERR_NOMEM;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char path[64];
        snprintf(path, sizeof path, "$.certificates[%zu]", i);
        struct iotc_reg_cert *c = &r->certs[r->cert_count++];
        char *ca_id = NULL;
        int rc;
        if (!json_is_object(e))
            return iotc_cfg_fail(err, file, path, "must be an object");
        if ((rc = iotc_cfg_check_keys(file, path, e, keys, err)) ||
            (rc = iotc_cfg_string(file, path, e, "file", NULL, &c->file, err)) ||
            (rc = iotc_cfg_string(file, path, e, "thing", NULL, &c->thing, err)) ||
            (rc = registry__status(file, path, e, &c->status, err)))
            return rc;
        json_t *exv = json_object_get(e, "thing_exclusive");
        if (exv && !json_is_boolean(exv))
            return iotc_cfg_fail(err, file, path, "thing_exclusive: must be true or false");
        c->thing_exclusive = json_is_true(exv);
        if (c->thing_exclusive && !c->thing)
            return iotc_cfg_fail(err, file, path, "thing_exclusive: needs a thing");
        json_t *cav = json_object_get(e, "ca");
        if (cav && !json_is_null(cav) && !json_is_string(cav))
            return iotc_cfg_fail(err, file, path, "ca: must be a CA id or null");
        ca_id = cav && json_is_string(cav) ? (char *)json_string_value(cav) : NULL;
        if (!c->file)
            return iotc_cfg_fail(err, file, path, "file is required");
        if (ca_id) {
            for (size_t j = 0; j < r->ca_count; j++)
                if (strcmp(r->cas[j].id, ca_id) == 0)
                    c->ca = &r->cas[j];
            if (!c->ca)
                return iotc_cfg_fail(err, file, path, "ca: no registered CA with id '%s'", ca_id);
        }
        if ((rc = iotc_registry_attach(file, path, json_object_get(e, "policies"), r, &c->policies,
                                       err)))
            return rc;
        if (!(c->cert = registry__read_pem(file, path, pki, c->file, err)))
            return IOTC_ERR_CONFIG;
        if (iotc_cert_fingerprint(c->cert, c->sha256, c->id))
            return iotc_cfg_fail(err, file, path, "cannot fingerprint certificate");
        char cn[256] = "";
        X509_NAME_get_text_by_NID(X509_get_subject_name(c->cert), NID_commonName, cn, sizeof cn);
        c->common_name = strdup(cn);
        for (size_t j = 0; j + 1 < r->cert_count; j++)
            if (memcmp(r->certs[j].sha256, c->sha256, 32) == 0)
                return iotc_cfg_fail(err, file, path, "certificate registered twice");
    }
    return IOTC_OK;
}

int iotc_registry__credentials(const char *file, json_t *arr, struct iotc_registry *r,
                               iotc_errtext *err);
int iotc_registry__authorizers(const char *file, json_t *arr, const char *pki,
                               struct iotc_registry *r, iotc_errtext *err);
void iotc_registry__free_auth(struct iotc_registry *r);
int iotc_registry__things(const char *file, json_t *arr, struct iotc_registry *r,
                          iotc_errtext *err);
void iotc_registry__free_things(struct iotc_registry *r);
void iotc_registry__cert_keys(struct iotc_reg_cert *c);
void iotc_registry__cert_keys_free(struct iotc_reg_cert *c);

int iotc_registry_load(const char *path, const char *pki_dir, struct iotc_registry *r,
                       iotc_errtext *err)
{
    static const char *const keys[] = {"cas",         "certificates", "things",      "policies",
                                       "credentials", "authorizers",  "description", NULL};
    memset(r, 0, sizeof *r);
    int rc;
    json_t *root = iotc_cfg_load(path, err);
    if (!root)
        return IOTC_ERR_CONFIG;
    r->file = strdup(path);
    r->ca_store = X509_STORE_new();
    if (!r->ca_store) {
        rc = IOTC_ERR_NOMEM;
        goto cleanup;
    }
    if ((rc = iotc_cfg_check_keys(path, "$", root, keys, err)) ||
        (rc = registry__policies(path, json_object_get(root, "policies"), r, err)) ||
        (rc = registry__cas(path, json_object_get(root, "cas"), pki_dir, r, err)) ||
        (rc = registry__certs(path, json_object_get(root, "certificates"), pki_dir, r, err)) ||
        (rc = iotc_registry__things(path, json_object_get(root, "things"), r, err)) ||
        (rc = iotc_registry__credentials(path, json_object_get(root, "credentials"), r, err)) ||
        (rc = iotc_registry__authorizers(path, json_object_get(root, "authorizers"), pki_dir, r,
                                         err)))
        goto cleanup;
    for (size_t i = 0; i < r->cert_count; i++) {
        iotc_registry__cert_keys(&r->certs[i]);
        const char *t = r->certs[i].thing;
        bool found = !t;
        for (size_t j = 0; t && j < r->thing_count; j++)
            found |= strcmp(r->things[j], t) == 0;
        if (!found) {
            char p[64];
            snprintf(p, sizeof p, "$.certificates[%zu]", i);
            rc = iotc_cfg_fail(err, path, p, "thing: '%s' is not in $.things", t);
            goto cleanup;
        }
    }
cleanup:
    json_decref(root);
    if (rc)
        iotc_registry_free(r);
    return rc;
}

void iotc_registry_free(struct iotc_registry *r)
{
    for (size_t i = 0; i < r->ca_count; i++) {
        free(r->cas[i].id);
        free(r->cas[i].file);
        X509_free(r->cas[i].cert);
    }
    for (size_t i = 0; i < r->cert_count; i++) {
        free(r->certs[i].file);
        free(r->certs[i].thing);
        free(r->certs[i].common_name);
        iotc_registry__cert_keys_free(&r->certs[i]);
        X509_free(r->certs[i].cert);
        free(r->certs[i].policies.list);
    }
    for (size_t i = 0; i < r->policy_count; i++) {
        free(r->policies[i].name);
        free(r->policies[i].file);
        iotc_policy_free(r->policies[i].policy);
    }
    free(r->policies);
    iotc_registry__free_auth(r);
    free(r->cas);
    free(r->certs);
    free(r->file);
    iotc_registry__free_things(r);
    iotc_cfg_strings_free(r->things, r->thing_count);
    X509_STORE_free(r->ca_store);
    memset(r, 0, sizeof *r);
}

const struct iotc_reg_cert *iotc_registry_find_cert(const struct iotc_registry *r,
                                                    const uint8_t sha256[32])
{
    for (size_t i = 0; i < r->cert_count; i++)
        if (memcmp(r->certs[i].sha256, sha256, 32) == 0)
            return &r->certs[i];
    return NULL;
}

json_t *iotc_registry_doc(const char *path, iotc_errtext *err)
{
    return iotc_cfg_load(path, err);
}
