/*
 * Every `iotconform` subcommand's entry point, declared once (git's builtin.h model):
 * the CLI includes only this header, and each command part's main file includes it
 * too, so the compiler checks the definition against the declaration. `serve` and
 * `report` are also libraries with public headers of their own (the endpoint's
 * lifecycle API, report rendering), which declare their entry points; this header
 * takes them from there.
 */
#ifndef IOTC_CLI_COMMANDS_H
#define IOTC_CLI_COMMANDS_H

#include "endpoint/endpoint.h" /* iotc_serve_main */
#include "report/report.h"     /* iotc_report_main */

/* argv[0] is "run". Returns the process exit code: 0 all passed, 1 a case failed
 * or errored (or the endpoint could not start), 2 usage or case-table errors,
 * 130 interrupted (SIGINT/SIGTERM; the endpoints are stopped either way). */
int iotc_runner_main(int argc, char **argv);

/* argv[0] is "certify". Exit code: 0 every case PASS or PASS_WITH_WARNINGS (or, with
 * --fail-on WARN, PASS only), 1 a case FAIL or ERROR, 2 usage / catalogue / adapter
 * errors, 130 interrupted. */
int iotc_certify_main(int argc, char **argv);

/* argv[0] is "fleet". Exit status: 0 nothing lost and every device connected at the
 * end, 1 otherwise, 2 for usage, spec or setup errors. */
int iotc_fleet_main(int argc, char **argv);
/* `iotconform fleet-merge SHARD.json...`: exact fleet-wide totals of a sharded run. Exit
 * status: 0 nothing lost, 1 otherwise, 2 for missing, duplicated or foreign shards. */
int iotc_fleet_merge_main(int argc, char **argv);

#endif
