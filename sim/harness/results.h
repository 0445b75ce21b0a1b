/* results.json (reports/SCHEMA.md, version 1) for `run` and `certify`: run identifiers,
 * directories and the atomic write that renders JUnit / Markdown / HTML beside it. */
#ifndef IOTC_HARNESS_RESULTS_H
#define IOTC_HARNESS_RESULTS_H

#include <jansson.h>
#include "common/errtext.h"
#include <stddef.h>

#include "common/clock.h" /* iotc_clock_wall_iso: the run's timestamps */

/* Run identifiers (shared by `run` and `certify`): 2*bytes hex digits (bytes <= 16)
 * into out, and a random UUID v4 (out holds 37 bytes). */
void iotc_random_hex(char *out, size_t bytes);
void iotc_uuid_v4(char *out);

/* The run's "tool_version" and "git_revision" (the commit the build was configured at,
 * "unknown" outside a git checkout). */
const char *iotc_results_tool_version(void);
const char *iotc_results_git_revision(void);

/* mkdir -p. */
int iotc_mkdirs(const char *dir);

/* Writes <out_dir>/results.json (atomically) and JUnit / Markdown / HTML next to it. *report gets
 * the path to print. */
int iotc_results_write(json_t *doc, const char *out_dir, char *report, size_t rlen,
                       iotc_errtext *err);

#endif
