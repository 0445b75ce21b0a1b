/* `iotconform`: one binary, one subcommand per job. */
#include "cli/commands.h"

#include <openssl/opensslv.h>
#include <stdio.h>
#include <string.h>

/* IOTC_WITH_FLEET / IOTC_WITH_CERTIFY come from the CMake options of the same names. */

#ifndef IOTC_VERSION
#define IOTC_VERSION "0.0.0"
#endif

static int cli__version(int argc, char **argv)
{
    printf("iotconform %s\n%s\n", IOTC_VERSION, OPENSSL_VERSION_TEXT);
    return 0;
}

/* Only the parts this build has are listed, so --help tells the truth. */
static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *help;
} cli__commands[] = {
    {"serve", iotc_serve_main, "run the emulated endpoint (TLS front door + mosquitto)"},
    {"broker", iotc_broker_main,
     "run mosquitto for front doors on other machines (serve --broker)"},
    {"run", iotc_runner_main, "run the conformance case tables against an endpoint"},
#ifdef IOTC_WITH_FLEET
    {"fleet", iotc_fleet_main, "run a simulated fleet of devices against an endpoint"},
    {"fleet-merge", iotc_fleet_merge_main, "merge the JSON summaries of a sharded fleet run"},
#endif
#ifdef IOTC_WITH_CERTIFY
    {"certify", iotc_certify_main, "certify a device or SDK against the emulated endpoint"},
#endif
    {"report", iotc_report_main, "render JSON, JUnit, Markdown and HTML from results.json files"},
    {"version", cli__version, "print versions of the tool and the libraries it uses"},
};

static void cli__usage(FILE *out)
{
    fprintf(out,
            "iotconform %s: conformance suite and emulator for the AWS IoT Core device data plane\n"
            "\n"
            "usage: iotconform <command> [options]   (iotconform <command> --help for details)\n"
            "\n"
            "commands:\n",
            IOTC_VERSION);
    for (size_t i = 0; i < sizeof cli__commands / sizeof cli__commands[0]; i++)
        fprintf(out, "  %-9s %s\n", cli__commands[i].name, cli__commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli__usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    for (size_t i = 0; i < sizeof cli__commands / sizeof cli__commands[0]; i++)
        if (strcmp(cmd, cli__commands[i].name) == 0)
            return cli__commands[i].main(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0)
        return cli__version(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        cli__usage(stdout);
        return 0;
    }
    fprintf(stderr, "iotconform: unknown command '%s'\n\n", cmd);
    cli__usage(stderr);
    return 2;
}
