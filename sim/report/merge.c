/*
 * Merging shards (one results.json per CI job or per runner process) into one
 * document. Shards must come from the same schema version: fields of different
 * versions cannot be mixed safely.
 */
#include "report_internal.h"
#include "common/err.h"

#include <string.h>

static const char *merge__name(const char *const *names, size_t i)
{
    return names && names[i] ? names[i] : "results";
}

/* Earliest/latest of ISO 8601 UTC timestamps of the same shape: they sort as text. */
static void merge__time(json_t *run, json_t *shard_run, const char *key, bool later)
{
    const char *mine = iotc_report_str(run, key);
    const char *theirs = iotc_report_str(shard_run, key);
    if (!theirs)
        return;
    if (!mine || (later ? strcmp(theirs, mine) > 0 : strcmp(theirs, mine) < 0))
        json_object_set_new(run, key, json_string(theirs));
}

static int merge__counts(json_t *cases, struct iotc_report_counts *c)
{
    size_t i;
    json_t *k;
    memset(c, 0, sizeof *c);
    json_array_foreach(cases, i, k)
    {
        iotc_report_counts_add(c, k);
    }
    return IOTC_OK;
}

/* Certification documents also count by verdict ("verdicts"): derived data like totals,
 * so it is recounted over the merged cases instead of kept from the first shard. */
static json_t *merge__verdicts(json_t *cases)
{
    static const char *const names[] = {"PASS",    "PASS_WITH_WARNINGS", "FAIL", "ERROR",
                                        "SKIPPED", "INCONCLUSIVE"};
    json_t *v = json_object(), *k;
    size_t i;
    for (size_t n = 0; n < sizeof names / sizeof names[0]; n++)
        json_object_set_new(v, names[n], json_integer(0));
    json_array_foreach(cases, i, k)
    {
        const char *name = iotc_report_str(k, "verdict");
        json_t *cur = name ? json_object_get(v, name) : NULL;
        if (cur)
            json_integer_set(cur, json_integer_value(cur) + 1);
    }
    return v;
}

/* `run --shard K/N` documents (run.shard): either every input is a shard or none is; all
 * shards split the same selection into the same N; each K once; all N present, so the
 * merged totals are those of the whole selection. */
static int merge__shards(json_t *const *docs, const char *const *names, size_t n, iotc_errtext *err)
{
    size_t first = n, have = 0;
    json_int_t count = 0;
    const char *sel = NULL;
    json_t *by_index = json_object(); /* "K" -> input index */
    char key[24], missing[256] = "";
    int rc = IOTC_ERR_MALFORMED;

    if (!by_index)
        return IOTC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        have += json_is_object(json_object_get(json_object_get(docs[i], "run"), "shard"));
    if (have == 0) {
        rc = IOTC_OK;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *sh = json_object_get(json_object_get(docs[i], "run"), "shard");
        json_int_t k = json_integer_value(json_object_get(sh, "index"));
        json_int_t c = json_integer_value(json_object_get(sh, "count"));
        const char *s = iotc_report_str(sh, "selection");
        if (!json_is_object(sh)) {
            iotc_report_err(
                err,
                "%s is a whole run but the other inputs are shards (run --shard): merge "
                "either the shards of one run or whole runs",
                merge__name(names, i));
            goto cleanup;
        }
        if (c < 1 || k < 1 || k > c || !s) {
            iotc_report_err(err, "%s: run.shard needs index 1..count, count and selection",
                            merge__name(names, i));
            goto cleanup;
        }
        if (first == n) {
            first = i;
            count = c;
            sel = s;
        } else if (c != count || strcmp(s, sel) != 0) {
            iotc_report_err(err,
                            "%s (one of %" JSON_INTEGER_FORMAT
                            " shards of selection %.19s...) and %s "
                            "(one of %" JSON_INTEGER_FORMAT " shards of selection %.19s...) split "
                            "different selections or counts: they cannot be merged",
                            merge__name(names, first), count, sel, merge__name(names, i), c, s);
            goto cleanup;
        }
        snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, k);
        json_t *prev = json_object_get(by_index, key);
        if (prev) {
            iotc_report_err(err,
                            "%s and %s are both shard %" JSON_INTEGER_FORMAT
                            "/%" JSON_INTEGER_FORMAT ": the same shard given twice",
                            merge__name(names, (size_t)json_integer_value(prev)),
                            merge__name(names, i), k, c);
            goto cleanup;
        }
        json_object_set_new(by_index, key, json_integer((json_int_t)i));
    }
    if ((json_int_t)json_object_size(by_index) != count) {
        size_t used = 0;
        for (json_int_t k = 1; k <= count && used + 16 < sizeof missing; k++) {
            snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, k);
            if (!json_object_get(by_index, key))
                used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%s",
                                         used ? ", " : "", key);
        }
        iotc_report_err(err,
                        "shard(s) %s of %" JSON_INTEGER_FORMAT
                        " missing: the merged totals would not "
                        "be those of the whole selection",
                        missing, count);
        goto cleanup;
    }
    rc = IOTC_OK;
cleanup:
    json_decref(by_index);
    return rc;
}

int iotc_report_merge(json_t *const *docs, const char *const *names, size_t n, json_t **out,
                      iotc_errtext *err)
{
    json_t *doc = NULL, *cases = NULL, *seen = NULL, *shards = NULL, *run = NULL;
    int rc = IOTC_ERR_NOMEM;

    *out = NULL;
    if (n == 0 || !docs) {
        iotc_report_err(err, "no results files given");
        return IOTC_ERR_INVALID;
    }
    json_int_t v0 = json_integer_value(json_object_get(docs[0], "schema_version"));
    for (size_t i = 1; i < n; i++) {
        json_int_t vi = json_integer_value(json_object_get(docs[i], "schema_version"));
        if (vi != v0) {
            iotc_report_err(
                err,
                "%s has schema_version %" JSON_INTEGER_FORMAT " but %s has schema_version "
                "%" JSON_INTEGER_FORMAT ": shards of different versions cannot be merged",
                merge__name(names, i), vi, merge__name(names, 0), v0);
            return IOTC_ERR_UNSUPPORTED;
        }
    }

    if (n > 1 && (rc = merge__shards(docs, names, n, err)) != IOTC_OK) {
        if (rc == IOTC_ERR_NOMEM)
            iotc_report_err(err, "out of memory while merging results");
        return rc;
    }
    rc = IOTC_ERR_NOMEM;

    /* Shallow copy of the first shard keeps keys this version does not know. */
    doc = json_copy(docs[0]);
    cases = json_array();
    seen = json_object(); /* id -> index of the shard that had it */
    run = json_deep_copy(json_object_get(docs[0], "run"));
    if (!doc || !cases || !seen || !run)
        goto cleanup;
    if (n > 1 && !(shards = json_array()))
        goto cleanup;

    for (size_t i = 0; i < n; i++) {
        size_t j;
        json_t *c;
        json_array_foreach(json_object_get(docs[i], "cases"), j, c)
        {
            const char *id = iotc_report_str(c, "id");
            json_t *prev = json_object_get(seen, id);
            if (prev) {
                iotc_report_err(err, "%s: duplicate case id \"%s\" (also in %s)",
                                merge__name(names, i), id,
                                merge__name(names, (size_t)json_integer_value(prev)));
                rc = IOTC_ERR_MALFORMED;
                goto cleanup;
            }
            if (json_object_set_new(seen, id, json_integer((json_int_t)i)) != 0 ||
                json_array_append(cases, c) != 0)
                goto cleanup;
        }
        json_t *srun = json_object_get(docs[i], "run");
        if (i > 0) {
            merge__time(run, srun, "started_at", false);
            merge__time(run, srun, "finished_at", true);
            /* Shards usually run in parallel: the run took as long as the longest one. */
            json_t *d = json_object_get(srun, "duration_ms");
            json_t *md = json_object_get(run, "duration_ms");
            if (json_is_number(d) && (!md || json_number_value(d) > json_number_value(md)))
                json_object_set(run, "duration_ms", d);
        }
        if (shards) {
            json_t *s =
                json_pack("{s:s, s:O?, s:O?, s:O?, s:I}", "file", merge__name(names, i), "run_id",
                          json_object_get(srun, "id"), "host", json_object_get(srun, "host"),
                          "started_at", json_object_get(srun, "started_at"), "cases",
                          (json_int_t)json_array_size(json_object_get(docs[i], "cases")));
            json_t *sh = json_object_get(srun, "shard");
            if (s && sh) {
                json_object_set(s, "index", json_object_get(sh, "index"));
                json_object_set(s, "count", json_object_get(sh, "count"));
            }
            if (!s || json_array_append_new(shards, s) != 0)
                goto cleanup;
        }
    }

    /* The merged document is the whole selection, not the first shard. */
    if (shards)
        json_object_del(run, "shard");
    struct iotc_report_counts counts;
    merge__counts(cases, &counts);
    json_t *env = json_object_get(docs[0], "environment");
    json_t *target = json_object_get(docs[0], "target");
    if (json_object_set_new(doc, "schema", json_string(IOTC_REPORT_SCHEMA)) != 0 ||
        json_object_set_new(doc, "schema_version", json_integer(v0)) != 0 ||
        json_object_set(doc, "run", run) != 0 ||
        (env && json_object_set_new(doc, "environment", json_deep_copy(env)) != 0) ||
        (target && json_object_set_new(doc, "target", json_deep_copy(target)) != 0) ||
        json_object_set_new(doc, "totals", iotc_report_totals_json(&counts)) != 0 ||
        (shards && json_object_set(doc, "shards", shards) != 0) ||
        (json_object_get(doc, "verdicts") &&
         json_object_set_new(doc, "verdicts", merge__verdicts(cases)) != 0) ||
        json_object_set(doc, "cases", cases) != 0)
        goto cleanup;
    *out = doc;
    doc = NULL;
    rc = IOTC_OK;
cleanup:
    if (rc == IOTC_ERR_NOMEM)
        iotc_report_err(err, "out of memory while merging results");
    json_decref(doc);
    json_decref(cases);
    json_decref(seen);
    json_decref(shards);
    json_decref(run);
    return rc;
}
