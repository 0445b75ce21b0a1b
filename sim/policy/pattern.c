/* Compiling Action and Resource strings to items: wildcards, policy variables, escapes. */
#include "policy_int.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    enum iotc_policy__var var;
} policy__vars[] = {
    /* Names are case-sensitive: a misspelt variable then fails closed (denies) rather
     * than granting more than AWS might. */
    {"iot:ClientId", IOTC_POLICY__VAR_CLIENT_ID},
    {"iot:Connection.Thing.ThingName", IOTC_POLICY__VAR_THING_NAME},
    {"iot:Certificate.Subject.CommonName", IOTC_POLICY__VAR_CERT_CN},
    {"iot:CertificateId", IOTC_POLICY__VAR_CERT_ID},
};

static int policy__alloc(size_t len, struct iotc_policy__pattern *out)
{
    memset(out, 0, sizeof *out);
    out->items = calloc(len ? len : 1, sizeof *out->items);
    return out->items ? IOTC_OK : IOTC_ERR_NOMEM;
}

static void policy__push(struct iotc_policy__pattern *p, uint8_t kind, uint8_t c)
{
    p->items[p->n].kind = kind;
    p->items[p->n].c = c;
    p->n++;
}

static uint8_t policy__wild_kind(char c)
{
    if (c == '*')
        return IOTC_POLICY__STAR;
    if (c == '?')
        return IOTC_POLICY__QMARK;
    return IOTC_POLICY__LIT;
}

int iotc_policy__compile_action(const char *s, size_t len, struct iotc_policy__pattern *out)
{
    int rc = policy__alloc(len, out);
    if (rc != IOTC_OK)
        return rc;
    for (size_t i = 0; i < len; i++)
        policy__push(out, policy__wild_kind(s[i]), (uint8_t)s[i]);
    return IOTC_OK;
}

static enum iotc_policy__var policy__var_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof policy__vars / sizeof policy__vars[0]; i++)
        if (strlen(policy__vars[i].name) == len && memcmp(policy__vars[i].name, name, len) == 0)
            return policy__vars[i].var;
    return IOTC_POLICY__VAR_UNKNOWN;
}

int iotc_policy__compile_resource(const char *s, size_t len, bool variables,
                                  struct iotc_policy__pattern *out, iotc_errtext *why)
{
    /* Every item comes from at least one character, so len items always suffice. */
    int rc = policy__alloc(len, out);
    if (rc != IOTC_OK)
        return rc;
    size_t i = 0;
    while (i < len) {
        if (!variables || s[i] != '$' || i + 1 >= len || s[i + 1] != '{') {
            policy__push(out, policy__wild_kind(s[i]), (uint8_t)s[i]);
            i++;
            continue;
        }
        const char *name = s + i + 2;
        const char *end = memchr(name, '}', len - (i + 2));
        if (!end) {
            iotc_errtext_set(why, 0, "unterminated policy variable at offset %zu", i);
            goto fail;
        }
        size_t nlen = (size_t)(end - name);
        if (nlen == 0) {
            iotc_errtext_set(why, 0, "empty policy variable '${}' at offset %zu", i);
            goto fail;
        }
        if (nlen == 1 && (name[0] == '*' || name[0] == '?' || name[0] == '$')) {
            policy__push(out, IOTC_POLICY__LIT, (uint8_t)name[0]); /* ${*} ${?} ${$}: literal */
        } else {
            policy__push(out, IOTC_POLICY__VAR, (uint8_t)policy__var_lookup(name, nlen));
            out->has_var = true;
        }
        i += 2 + nlen + 1;
    }
    return IOTC_OK;
fail:
    iotc_policy__pattern_free(out);
    return IOTC_ERR_MALFORMED;
}

void iotc_policy__pattern_free(struct iotc_policy__pattern *p)
{
    free(p->items);
    memset(p, 0, sizeof *p);
}
