/*
 * Reading and checking results.json. Every message starts with the file name so
 * a CI log points straight at the shard that is wrong.
 */
#include "report_internal.h"
#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Results files are a few MB at most; this only stops a wrong path (a device file,
 * a huge log) from being read whole. */
#define LOAD_MAX_BYTES (512u * 1024u * 1024u)

int iotc_report_load(const char *path, json_t **out, iotc_errtext *err)
{
    FILE *f = NULL;
    char *data = NULL;
    size_t len = 0, cap = 0;
    int rc = IOTC_OK;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f) {
        iotc_report_err(err, "%s: cannot open: %s", path, strerror(errno));
        rc = IOTC_ERR_IO;
        goto cleanup;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= LOAD_MAX_BYTES) {
                iotc_report_err(err, "%s: larger than %u bytes", path, LOAD_MAX_BYTES);
                rc = IOTC_ERR_TOO_LARGE;
                goto cleanup;
            }
            cap = cap ? cap * 2 : 64 * 1024;
            char *p = realloc(data, cap);
            if (!p) {
                iotc_report_err(err, "%s: out of memory", path);
                rc = IOTC_ERR_NOMEM;
                goto cleanup;
            }
            data = p;
        }
        size_t n = fread(data + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    if (ferror(f)) {
        iotc_report_err(err, "%s: read error: %s", path, strerror(errno));
        rc = IOTC_ERR_IO;
        goto cleanup;
    }
    if (len == 0) {
        iotc_report_err(err, "%s: file is empty", path);
        rc = IOTC_ERR_MALFORMED;
        goto cleanup;
    }
    json_error_t je;
    *out = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out) {
        iotc_report_err(err, "%s:%d:%d: not valid JSON: %s", path, je.line, je.column, je.text);
        rc = IOTC_ERR_MALFORMED;
        goto cleanup;
    }
cleanup:
    if (f)
        fclose(f);
    free(data);
    return rc;
}

struct check {
    const char *name;
    iotc_errtext *err;
};

static int load__bad(struct check *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int load__bad(struct check *k, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    iotc_report_err(k->err, "%s: %s", k->name, what);
    return IOTC_ERR_MALFORMED;
}

/* Field must be a string (required) or absent/string (optional). */
static int load__string(struct check *k, json_t *obj, const char *where, const char *key,
                        bool required)
{
    json_t *v = json_object_get(obj, key);
    if (!v && !required)
        return IOTC_OK;
    if (!json_is_string(v) || (required && json_string_length(v) == 0))
        return load__bad(k,
                         required ? "%s: missing or empty required string \"%s\""
                                  : "%s: \"%s\" must be a string",
                         where, key);
    return IOTC_OK;
}

static int load__object(struct check *k, json_t *obj, const char *where, const char *key,
                        bool required)
{
    json_t *v = json_object_get(obj, key);
    if (!v && !required)
        return IOTC_OK;
    if (!json_is_object(v))
        return load__bad(
            k, required ? "%s: missing required object \"%s\"" : "%s: \"%s\" must be an object",
            where, key);
    return IOTC_OK;
}

static int load__case(struct check *k, json_t *c, size_t idx, json_t *seen)
{
    char where[300];
    const char *id = iotc_report_str(c, "id");
    if (id)
        snprintf(where, sizeof where, "cases[%zu] (id \"%.200s\")", idx, id);
    else
        snprintf(where, sizeof where, "cases[%zu]", idx);
    if (!json_is_object(c))
        return load__bad(k, "%s: must be an object", where);

    static const char *const required[] = {"id", "title", "suite", "row", "status"};
    static const char *const optional[] = {"template", "family", "ip_family", "tls_version",
                                           "verdict",  "reason", "started_at"};
    int rc;
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if ((rc = load__string(k, c, where, required[i], true)) != IOTC_OK)
            return rc;
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++)
        if ((rc = load__string(k, c, where, optional[i], false)) != IOTC_OK)
            return rc;
    if (iotc_report_status_parse(iotc_report_str(c, "status")) < 0)
        return load__bad(k, "%s: status \"%s\" is not one of passed, failed, skipped, error", where,
                         iotc_report_str(c, "status"));
    if ((rc = load__object(k, c, where, "requirement", false)) != IOTC_OK)
        return rc;
    json_t *req = json_object_get(c, "requirement");
    if (req && ((rc = load__string(k, req, where, "source", false)) != IOTC_OK ||
                (rc = load__string(k, req, where, "text", false)) != IOTC_OK))
        return rc;
    json_t *d = json_object_get(c, "duration_ms");
    if (d && (!json_is_number(d) || json_number_value(d) < 0))
        return load__bad(k, "%s: \"duration_ms\" must be a number >= 0", where);

    json_t *mm = json_object_get(c, "mismatches");
    if (mm) {
        size_t i;
        json_t *m;
        if (!json_is_array(mm))
            return load__bad(k, "%s: \"mismatches\" must be an array", where);
        json_array_foreach(mm, i, m)
        {
            if (!json_is_object(m) || !json_is_string(json_object_get(m, "field")))
                return load__bad(k, "%s: every mismatch needs a string \"field\"", where);
        }
    }
    json_t *j = json_object_get(c, "journal");
    if (j) {
        if (!json_is_array(j))
            return load__bad(k, "%s: \"journal\" must be an array", where);
        if (json_array_size(j) > IOTC_REPORT_MAX_JOURNAL)
            return load__bad(k, "%s: \"journal\" holds more than 50 entries", where);
    }
    if (json_object_get(seen, id))
        return load__bad(k, "duplicate case id \"%s\" (%s)", id, where);
    if (json_object_set_new(seen, id, json_true()) != 0) {
        iotc_report_err(k->err, "%s: out of memory", k->name);
        return IOTC_ERR_NOMEM;
    }
    return IOTC_OK;
}

/* Totals are derived data: if a file carries them they must agree with its cases. Since
 * passed_with_warnings and inconclusive exist, passed and errored leave those out; a file
 * without either key comes from an older writer and counts plain statuses. */
static int load__totals(struct check *k, json_t *doc)
{
    json_t *t = json_object_get(doc, "totals");
    if (!t)
        return IOTC_OK;
    if (!json_is_object(t))
        return load__bad(k, "\"totals\" must be an object");
    struct iotc_report_counts n;
    size_t i;
    json_t *c;
    memset(&n, 0, sizeof n);
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        iotc_report_counts_add(&n, c);
    }
    bool split = json_object_get(t, "passed_with_warnings") || json_object_get(t, "inconclusive");
    const struct {
        const char *key;
        size_t want;
    } keys[] = {
        {"total", n.total},
        {"passed", split ? iotc_report_counts_passed(&n) : n.n[IOTC_REPORT_PASSED]},
        {"passed_with_warnings", n.warned},
        {"failed", n.n[IOTC_REPORT_FAILED]},
        {"skipped", n.n[IOTC_REPORT_SKIPPED]},
        {"errored", split ? iotc_report_counts_errored(&n) : n.n[IOTC_REPORT_ERROR]},
        {"inconclusive", n.inconclusive},
    };
    for (size_t s = 0; s < sizeof keys / sizeof keys[0]; s++) {
        json_t *v = json_object_get(t, keys[s].key);
        if (v && (!json_is_integer(v) || json_integer_value(v) != (json_int_t)keys[s].want))
            return load__bad(k, "totals.%s does not match the cases (they count %zu)", keys[s].key,
                             keys[s].want);
    }
    return IOTC_OK;
}

int iotc_report_validate(json_t *doc, const char *name, iotc_errtext *err)
{
    struct check k = {name ? name : "results", err};
    json_t *seen = NULL;
    int rc;

    if (!json_is_object(doc))
        return load__bad(&k, "top level must be a JSON object");
    const char *schema = iotc_report_str(doc, "schema");
    if (!schema || strcmp(schema, IOTC_REPORT_SCHEMA) != 0)
        return load__bad(&k, "not an iotconform results file (\"schema\" must be \"%s\")",
                         IOTC_REPORT_SCHEMA);
    json_t *ver = json_object_get(doc, "schema_version");
    if (!json_is_integer(ver))
        return load__bad(&k, "missing integer \"schema_version\"");
    if (json_integer_value(ver) != IOTC_REPORT_SCHEMA_VERSION) {
        iotc_report_err(err,
                        "%s: unsupported schema_version %" JSON_INTEGER_FORMAT
                        " (this build reads version %d)",
                        k.name, json_integer_value(ver), IOTC_REPORT_SCHEMA_VERSION);
        return IOTC_ERR_UNSUPPORTED;
    }
    if ((rc = load__object(&k, doc, "top level", "run", true)) != IOTC_OK)
        return rc;
    json_t *run = json_object_get(doc, "run");
    static const char *const run_required[] = {"id", "kind", "tool_version"};
    static const char *const run_optional[] = {"git_revision", "started_at", "finished_at", "host",
                                               "command"};
    for (size_t i = 0; i < sizeof run_required / sizeof run_required[0]; i++)
        if ((rc = load__string(&k, run, "run", run_required[i], true)) != IOTC_OK)
            return rc;
    for (size_t i = 0; i < sizeof run_optional / sizeof run_optional[0]; i++)
        if ((rc = load__string(&k, run, "run", run_optional[i], false)) != IOTC_OK)
            return rc;
    if ((rc = load__object(&k, doc, "top level", "environment", false)) != IOTC_OK ||
        (rc = load__object(&k, doc, "top level", "target", false)) != IOTC_OK)
        return rc;
    json_t *cases = json_object_get(doc, "cases");
    if (!json_is_array(cases))
        return load__bad(&k, "missing required array \"cases\"");

    seen = json_object();
    if (!seen)
        return IOTC_ERR_NOMEM;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        if ((rc = load__case(&k, c, i, seen)) != IOTC_OK)
            goto cleanup;
    }
    rc = load__totals(&k, doc);
cleanup:
    json_decref(seen);
    return rc;
}
