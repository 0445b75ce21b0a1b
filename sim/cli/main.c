/* `iotconform`: one binary, one subcommand per job. */
#include "endpoint/endpoint.h"

#include <openssl/opensslv.h>
#include <stdio.h>
#include <string.h>

#if __has_include("runner/runner.h")
#include "runner/runner.h"
#define IOTC_HAVE_RUNNER 1
#endif
/* IOTC_HAVE_FLEET / IOTC_HAVE_CERTIFY come from CMake when those parts are built. */
#ifdef IOTC_HAVE_FLEET
#include "fleet/fleet.h"
#endif
#ifdef IOTC_HAVE_CERTIFY
#include "certify/certify.h"
#endif
#if __has_include("report.h")
#include "report.h"
#define IOTC_HAVE_REPORT 1
#endif

#ifndef IOTC_VERSION
#define IOTC_VERSION "0.0.0"
#endif

static void cli__usage(FILE *out)
{
    fprintf(out,
            "iotconform %s: conformance suite and emulator for the AWS IoT Core device data plane\n"
            "\n"
            "usage: iotconform <command> [options]   (iotconform <command> --help for details)\n"
            "\n"
            "commands:\n"
            "  serve     run the emulated endpoint (TLS front door + mosquitto)\n"
            "  run       run the conformance case tables against the emulated endpoint\n"
            "  fleet     run a simulated fleet of devices against an endpoint\n"
            "  certify   certify a device or SDK against the emulated endpoint\n"
            "  report    render JSON, JUnit, Markdown and HTML from results.json files\n"
            "  version   print versions of the tool and the libraries it uses\n",
            IOTC_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli__usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return iotc_serve_main(argc - 1, argv + 1);
#ifdef IOTC_HAVE_RUNNER
    if (strcmp(cmd, "run") == 0)
        return iotc_runner_main(argc - 1, argv + 1);
#endif
#ifdef IOTC_HAVE_FLEET
    if (strcmp(cmd, "fleet") == 0)
        return iotc_fleet_main(argc - 1, argv + 1);
#endif
#ifdef IOTC_HAVE_CERTIFY
    if (strcmp(cmd, "certify") == 0)
        return iotc_certify_main(argc - 1, argv + 1);
#endif
#ifdef IOTC_HAVE_REPORT
    if (strcmp(cmd, "report") == 0)
        return iotc_report_main(argc - 1, argv + 1);
#endif
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("iotconform %s\n%s\n", IOTC_VERSION, OPENSSL_VERSION_TEXT);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        cli__usage(stdout);
        return 0;
    }
    fprintf(stderr, "iotconform: unknown command '%s'\n\n", cmd);
    cli__usage(stderr);
    return 2;
}
