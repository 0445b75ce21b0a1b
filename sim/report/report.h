/*
 * Report renderers: results.json (schema in reports/SCHEMA.md) -> merged
 * results.json, JUnit XML, Markdown summary and one self-contained HTML page.
 * Errors are negative iotc_err codes with a message naming the file in err.
 */
#ifndef IOTC_REPORT_H
#define IOTC_REPORT_H

#include "common/buf.h"
#include "common/errtext.h"

#include <jansson.h>
#include <stddef.h>

#define IOTC_REPORT_SCHEMA         "iotconform-results"
#define IOTC_REPORT_SCHEMA_VERSION 1
#define IOTC_REPORT_MAX_JOURNAL    50 /* entries per case */
#define IOTC_REPORT_DEFAULT_DIR    "iotconform-report"

/*
 * Loads and validates results.json files (schema, version, required fields, unique
 * ids), merges shards (refusing different schema versions with a message naming
 * both files), renders into out_dir (created if missing): results.json (merged),
 * junit.xml, summary.md, report.html. On error returns a negative code and writes
 * a message naming the file and what is wrong into err.
 */
int iotc_report_render(const char *const *paths, size_t n, const char *out_dir, iotc_errtext *err);
/* Same from an in-memory results object (the runner calls this at the end of a run).
 * results is not modified; totals are recomputed from the cases. */
int iotc_report_render_json(json_t *results, const char *out_dir, iotc_errtext *err);
/* `iotconform report [-o DIR] results.json...`: parses its own args (argv[0] is the
 * command name), prints the report path. Returns a process exit code (0, 1 error,
 * 2 usage). */
int iotc_report_main(int argc, char **argv);

/* The steps, for callers that need only one of them. */
/* Reads and parses one file (no schema checks). *out is a new reference. */
int iotc_report_load(const char *path, json_t **out, iotc_errtext *err);
/* Checks one results document against the schema; name is used in messages. */
int iotc_report_validate(json_t *results, const char *name, iotc_errtext *err);
/* Merges validated shards into a new document (*out, new reference): cases
 * concatenated, ids unique across shards, totals recomputed, "shards" lists the
 * sources when n > 1. */
int iotc_report_merge(json_t *const *docs, const char *const *names, size_t n, json_t **out,
                      iotc_errtext *err);
/* Renderers into a buffer (appended), for a validated document. */
int iotc_report_junit(json_t *results, struct iotc_buf *out);
int iotc_report_summary_md(json_t *results, struct iotc_buf *out);
int iotc_report_html(json_t *results, struct iotc_buf *out);

#endif
