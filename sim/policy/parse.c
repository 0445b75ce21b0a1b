/*
 * Policy documents: strict reading of the JSON (unknown keys are errors, every error
 * names its JSON path) and compilation of each statement's patterns.
 */
#include "policy_int.h"
#include "common/err.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parse__st {
    iotc_errtext *err;
    bool variables; /* Version 2012-10-17: ${...} are policy variables */
};

enum parse__what { PARSE__ACTION, PARSE__RESOURCE };

__attribute__((format(printf, 3, 4))) static int parse__fail(struct parse__st *st, const char *path,
                                                             const char *fmt, ...)
{
    if (!st->err)
        return IOTC_ERR_MALFORMED;
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    iotc_errtext_set(st->err, 0, "%s: %s", path, detail);
    return IOTC_ERR_MALFORMED;
}

/* Nesting is checked on the text before jansson sees it, so a hostile document
 * cannot make the parser recurse deeply (jansson alone would allow 2048 levels). */
static bool parse__depth_ok(const char *s, size_t len)
{
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if ((c == '{' || c == '[') && ++depth > IOTC_POLICY_MAX_DEPTH)
            return false;
        else if ((c == '}' || c == ']') && depth > 0)
            depth--;
    }
    return true;
}

static int parse__check_keys(struct parse__st *st, const char *path, json_t *obj,
                             const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s.%.60s", path, key);
            return parse__fail(st, sub, "unknown key");
        }
    }
    return IOTC_OK;
}

static bool parse__action_ok(const char *s, size_t len)
{
    if (strspn(s, "*") == len)
        return true;
    const char *colon = memchr(s, ':', len);
    if (!colon || colon == s || colon == s + len - 1)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ')
            return false;
    return true;
}

static int parse__pattern(struct parse__st *st, const char *path, json_t *v, enum parse__what what,
                          struct iotc_policy__pattern *out)
{
    if (!json_is_string(v))
        return parse__fail(st, path, "must be a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0)
        return parse__fail(st, path, "must not be empty");
    if (what == PARSE__ACTION) {
        if (!parse__action_ok(s, len))
            return parse__fail(st, path,
                               "'%s' is not an action (\"iot:Publish\", \"iot:*\", \"*\")", s);
        return iotc_policy__compile_action(s, len, out);
    }
    if (strspn(s, "*") != len && strncmp(s, "arn:", 4) != 0)
        return parse__fail(st, path, "'%s' is neither \"*\" nor an ARN", s);
    iotc_errtext why = {0};
    int rc = iotc_policy__compile_resource(s, len, st->variables, out, &why);
    if (rc == IOTC_ERR_MALFORMED)
        return parse__fail(st, path, "%s", why.msg);
    return rc;
}

/* A string or a non-empty array of strings. */
static int parse__list(struct parse__st *st, const char *path, json_t *v, enum parse__what what,
                       bool negated, struct iotc_policy__list *out)
{
    out->negated = negated;
    if (!json_is_string(v) && !json_is_array(v))
        return parse__fail(st, path, "must be a string or an array of strings");
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (n == 0)
        return parse__fail(st, path, "must not be an empty array");
    out->v = calloc(n, sizeof *out->v);
    if (!out->v)
        return IOTC_ERR_NOMEM;
    if (json_is_string(v)) {
        out->n = 1;
        return parse__pattern(st, path, v, what, &out->v[0]);
    }
    for (size_t i = 0; i < n; i++) {
        char sub[128]; /* path is at most 95 characters: see parse__either */
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        int rc = parse__pattern(st, sub, json_array_get(v, i), what, &out->v[i]);
        if (rc != IOTC_OK)
            return rc;
        out->n = i + 1;
    }
    return IOTC_OK;
}

/* Exactly one of `key` and `not_key`. */
static int parse__either(struct parse__st *st, const char *path, json_t *obj, const char *key,
                         const char *not_key, enum parse__what what, struct iotc_policy__list *out)
{
    json_t *pos = json_object_get(obj, key), *neg = json_object_get(obj, not_key);
    char sub[96];
    if (pos && neg)
        return parse__fail(st, path, "has both %s and %s", key, not_key);
    if (!pos && !neg)
        return parse__fail(st, path, "needs %s or %s", key, not_key);
    snprintf(sub, sizeof sub, "%s.%s", path, pos ? key : not_key);
    return parse__list(st, sub, pos ? pos : neg, what, neg != NULL, out);
}

static int parse__statement(struct parse__st *st, const char *path, json_t *obj,
                            struct iotc_policy__stmt *out)
{
    static const char *const keys[] = {"Sid",      "Effect",      "Action",    "NotAction",
                                       "Resource", "NotResource", "Condition", NULL};
    char sub[96];
    if (!json_is_object(obj))
        return parse__fail(st, path, "a statement must be an object");
    static const char *const principal[] = {"Principal", "NotPrincipal"};
    for (size_t i = 0; i < 2; i++) {
        if (json_object_get(obj, principal[i])) {
            snprintf(sub, sizeof sub, "%s.%s", path, principal[i]);
            return parse__fail(st, sub,
                               "not allowed in an AWS IoT policy (it is attached to "
                               "its principal)");
        }
    }
    int rc = parse__check_keys(st, path, obj, keys);
    if (rc != IOTC_OK)
        return rc;

    json_t *sid = json_object_get(obj, "Sid");
    if (sid) {
        snprintf(sub, sizeof sub, "%s.Sid", path);
        if (!json_is_string(sid))
            return parse__fail(st, sub, "must be a string");
        out->sid = strdup(json_string_value(sid));
        if (!out->sid)
            return IOTC_ERR_NOMEM;
    }
    json_t *effect = json_object_get(obj, "Effect");
    snprintf(sub, sizeof sub, "%s.Effect", path);
    if (!effect)
        return parse__fail(st, sub, "missing (\"Allow\" or \"Deny\")");
    if (json_is_string(effect) && strcmp(json_string_value(effect), "Deny") == 0)
        out->deny = true;
    else if (!json_is_string(effect) || strcmp(json_string_value(effect), "Allow") != 0)
        return parse__fail(st, sub, "must be \"Allow\" or \"Deny\"");

    rc = parse__either(st, path, obj, "Action", "NotAction", PARSE__ACTION, &out->actions);
    if (rc != IOTC_OK)
        return rc;
    rc = parse__either(st, path, obj, "Resource", "NotResource", PARSE__RESOURCE, &out->resources);
    json_t *cond = json_object_get(obj, "Condition");
    if (rc != IOTC_OK || !cond)
        return rc;
    snprintf(sub, sizeof sub, "%s.Condition", path);
    return iotc_policy__cond_parse(cond, sub, st->variables, &out->conds, &out->nconds, st->err);
}

static int parse__version(struct parse__st *st, json_t *root)
{
    json_t *v = json_object_get(root, "Version");
    if (!v)
        return parse__fail(st, "$.Version", "missing (use \"2012-10-17\")");
    if (json_is_string(v) && strcmp(json_string_value(v), "2012-10-17") == 0)
        st->variables = true;
    else if (json_is_string(v) && strcmp(json_string_value(v), "2008-10-17") == 0)
        st->variables = false;
    else
        return parse__fail(st, "$.Version", "must be \"2012-10-17\" or \"2008-10-17\"");
    return IOTC_OK;
}

static int parse__document(struct parse__st *st, json_t *root, struct iotc_policy *p)
{
    static const char *const keys[] = {"Version", "Id", "Statement", NULL};
    if (!json_is_object(root))
        return parse__fail(st, "$", "a policy must be a JSON object");
    int rc = parse__check_keys(st, "$", root, keys);
    if (rc != IOTC_OK)
        return rc;
    rc = parse__version(st, root);
    if (rc != IOTC_OK)
        return rc;
    json_t *id = json_object_get(root, "Id");
    if (id && !json_is_string(id))
        return parse__fail(st, "$.Id", "must be a string");

    json_t *stmts = json_object_get(root, "Statement");
    if (!stmts)
        return parse__fail(st, "$.Statement", "missing");
    if (!json_is_object(stmts) && !json_is_array(stmts))
        return parse__fail(st, "$.Statement", "must be an object or an array of objects");
    size_t n = json_is_array(stmts) ? json_array_size(stmts) : 1;
    if (n == 0)
        return parse__fail(st, "$.Statement", "must not be an empty array");
    p->stmts = calloc(n, sizeof *p->stmts);
    if (!p->stmts)
        return IOTC_ERR_NOMEM;
    p->n = n;
    if (json_is_object(stmts))
        return parse__statement(st, "$.Statement", stmts, &p->stmts[0]);
    for (size_t i = 0; i < n; i++) {
        char path[48];
        snprintf(path, sizeof path, "$.Statement[%zu]", i);
        rc = parse__statement(st, path, json_array_get(stmts, i), &p->stmts[i]);
        if (rc != IOTC_OK)
            return rc;
    }
    return IOTC_OK;
}

int iotc_policy_parse(const char *json_text, size_t len, struct iotc_policy **out,
                      iotc_errtext *err)
{
    struct parse__st st = {err, true};
    struct iotc_policy *p = NULL;
    json_t *root = NULL;
    int rc;

    if (err)
        iotc_errtext_clear(err);
    if (!out || (!json_text && len))
        return IOTC_ERR_INVALID;
    *out = NULL;
    if (len > IOTC_POLICY_MAX_BYTES) {
        parse__fail(&st, "$", "policy is %zu bytes, more than the %d accepted", len,
                    IOTC_POLICY_MAX_BYTES);
        return IOTC_ERR_TOO_LARGE;
    }
    if (!parse__depth_ok(json_text, len))
        return parse__fail(&st, "$", "JSON nested deeper than %d levels", IOTC_POLICY_MAX_DEPTH);
    json_error_t je;
    root = json_loadb(json_text ? json_text : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return parse__fail(&st, "$", "invalid JSON at line %d column %d: %s", je.line, je.column,
                           je.text);
    p = calloc(1, sizeof *p);
    if (!p) {
        rc = IOTC_ERR_NOMEM;
        goto cleanup;
    }
    rc = parse__document(&st, root, p);
    if (rc == IOTC_ERR_NOMEM)
        parse__fail(&st, "$", "out of memory");
cleanup:
    json_decref(root);
    if (rc != IOTC_OK) {
        iotc_policy_free(p);
        return rc;
    }
    *out = p;
    return IOTC_OK;
}

static void parse__list_free(struct iotc_policy__list *l)
{
    for (size_t i = 0; i < l->n; i++)
        iotc_policy__pattern_free(&l->v[i]);
    free(l->v);
}

void iotc_policy_free(struct iotc_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->stmts[i].sid);
        parse__list_free(&p->stmts[i].actions);
        parse__list_free(&p->stmts[i].resources);
        iotc_policy__cond_free(p->stmts[i].conds, p->stmts[i].nconds);
    }
    free(p->stmts);
    free(p->name);
    free(p);
}

const char *iotc_policy_name(const struct iotc_policy *p)
{
    return p ? p->name : NULL;
}
