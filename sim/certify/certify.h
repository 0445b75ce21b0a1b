/* `iotconform certify`: certify a device or SDK against the emulated endpoint. */
#ifndef IOTC_CERTIFY_H
#define IOTC_CERTIFY_H

/* argv[0] is "certify". Exit code: 0 every case PASS or PASS_WITH_WARNINGS (or, with
 * --fail-on WARN, PASS only), 1 a case FAIL or ERROR, 2 usage / catalogue / adapter
 * errors, 130 interrupted. */
int iotc_certify_main(int argc, char **argv);

#endif
