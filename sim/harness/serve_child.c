#include "serve_child.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"

static const int sc__lports[3] = {8883, 8443, 443};

int iotc_serve_child_start(struct iotc_serve_child *c, int timeout_ms, iotc_errtext *err)
{
    char ports[96], journal[1100], run_dir[1100];
    if (c->ports[0] > 0)
        snprintf(ports, sizeof ports, "8883=%d,8443=%d,443=%d", c->ports[0], c->ports[1],
                 c->ports[2]);
    else
        snprintf(ports, sizeof ports, "0");
    /* Each incarnation gets its own journal and run directory: nothing is overwritten. */
    snprintf(journal, sizeof journal, "%s", c->journal);
    snprintf(run_dir, sizeof run_dir, "%s", c->run_dir);
    if (c->restarts) {
        snprintf(journal, sizeof journal, "%s.%u", c->journal, c->restarts);
        snprintf(run_dir, sizeof run_dir, "%s.%u", c->run_dir, c->restarts);
    }
    iotc_serve_opts o = {.bin = c->bin,
                         .pki_dir = c->pki,
                         .name = "fleet",
                         .profile_path = c->profile[0] ? c->profile : NULL,
                         .journal = journal,
                         .run_dir = run_dir,
                         .stderr_log = c->log,
                         .stdout_log = c->log,
                         .append_logs = true,
                         .ports = ports,
                         .no_packet_journal = c->no_packet_journal,
                         .ignore_sigint = true,
                         .timeout_ms = timeout_ms};
    c->broker_pid = -1;
    int rc = iotc_serve_start_opts(&c->proc, &o, err);
    if (rc != IOTC_OK)
        return rc;
    c->ports[0] = c->proc.port_8883;
    c->ports[1] = c->proc.port_8443;
    c->ports[2] = c->proc.port_443;
    for (int i = 0; i < 100 && iotc_serve_child_broker_pid(c) < 0; i++)
        usleep(20000);
    return IOTC_OK;
}

void iotc_serve_child_stop(struct iotc_serve_child *c, int timeout_ms)
{
    iotc_serve_stop(&c->proc, timeout_ms);
}

int iotc_serve_child_restart(struct iotc_serve_child *c, int timeout_ms, iotc_errtext *err)
{
    iotc_serve_child_stop(c, timeout_ms);
    c->restarts++;
    /* The old listeners are closed: the same numbers bind again (SO_REUSEADDR in serve). */
    int rc = IOTC_ERR_IO;
    for (int attempt = 0; attempt < 20; attempt++) {
        rc = iotc_serve_child_start(c, timeout_ms, err);
        if (rc == IOTC_OK)
            break;
        usleep(100000);
    }
    return rc;
}

pid_t iotc_serve_child_broker_pid(struct iotc_serve_child *c)
{
    char journal[1100], line[4096];
    snprintf(journal, sizeof journal, "%s", c->journal);
    if (c->restarts)
        snprintf(journal, sizeof journal, "%s.%u", c->journal, c->restarts);
    FILE *f = fopen(journal, "r");
    pid_t pid = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"broker.ready\""))
            continue;
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        json_int_t v = json_integer_value(json_object_get(o, "pid"));
        if (v > 0)
            pid = (pid_t)v;
        json_decref(o);
    }
    fclose(f);
    c->broker_pid = pid;
    return pid;
}

int iotc_serve_child_kill_broker(struct iotc_serve_child *c)
{
    pid_t pid = iotc_serve_child_broker_pid(c);
    if (pid <= 0)
        return IOTC_ERR_NOT_FOUND;
    if (kill(pid, SIGKILL) != 0)
        return IOTC_ERR_IO;
    return (int)pid;
}

int iotc_serve_child_port(const struct iotc_serve_child *c, int lport)
{
    for (int i = 0; i < 3; i++)
        if (sc__lports[i] == lport)
            return c->ports[i];
    return 0;
}

int iotc_serve_child_worker_pids(struct iotc_serve_child *c, pid_t *out, int max)
{
    char journal[1100], line[4096];
    int n = 0;
    snprintf(journal, sizeof journal, "%s", c->journal);
    if (c->restarts)
        snprintf(journal, sizeof journal, "%s.%u", c->journal, c->restarts);
    FILE *f = fopen(journal, "r");
    while (f && fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"endpoint.workers\""))
            continue;
        json_t *o = json_loads(line, 0, NULL), *v;
        size_t i;
        n = 0; /* the latest event: workers restarted with the broker name new pids */
        json_array_foreach(json_object_get(o, "pids"), i, v)
        {
            if (n < max && json_integer_value(v) > 0)
                out[n++] = (pid_t)json_integer_value(v);
        }
        json_decref(o);
    }
    if (f)
        fclose(f);
    if (n == 0 && max > 0 && c->proc.pid > 0)
        out[n++] = c->proc.pid; /* one process: no event */
    return n;
}
