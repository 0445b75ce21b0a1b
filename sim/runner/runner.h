/* `iotconform run`: the table-driven conformance runner. */
#ifndef IOTC_RUNNER_H
#define IOTC_RUNNER_H

/* argv[0] is "run". Returns the process exit code: 0 all passed, 1 a case failed
 * or errored (or the endpoint could not start), 2 usage or case-table errors,
 * 130 interrupted (SIGINT/SIGTERM; the endpoints are stopped either way). */
int iotc_runner_main(int argc, char **argv);

#endif
