/* The one READY-line reader (harness/ready) and the one child-process spawn and stop
 * (common/spawn), driven with /bin/sh children. */
#include "common/clock.h"
#include "common/err.h"
#include "common/spawn.h"
#include "harness/ready.h"

#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define READY_OK "{\"ports\":{\"8883\":1001,\"8443\":1002,\"443\":1003},\"journal\":\"j\"}"

static void test_ready_parse(void)
{
    iotc_ready r;
    iotc_errtext err = {0};
    CU_ASSERT_EQUAL(iotc_ready_parse(READY_OK, &r, &err), IOTC_OK);
    CU_ASSERT_EQUAL(r.port_8883, 1001);
    CU_ASSERT_EQUAL(r.port_8443, 1002);
    CU_ASSERT_EQUAL(r.port_443, 1003);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.obj, "journal")), "j");
    iotc_ready_free(&r);
    CU_ASSERT_EQUAL(iotc_ready_parse("{\"ports\":{\"8883\":1,\"8443\":2}}", &r, &err),
                    IOTC_ERR_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "443"));
    CU_ASSERT_EQUAL(iotc_ready_parse("{\"ports\":{\"8883\":70000,\"8443\":2,\"443\":3}}", &r, &err),
                    IOTC_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(iotc_ready_parse("not json", &r, &err), IOTC_ERR_PROTOCOL);
    CU_ASSERT_PTR_NULL(r.obj);
}

/* Runs `sh -c script` with its stdout on a pipe; returns the pid, *fd the pipe. */
static pid_t sh_pipe(const char *script, int *fd)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    iotc_spawn_opts o = {.path = "/bin/sh", .argv = argv, .out = {IOTC_SPAWN_PIPE, -1, NULL}};
    pid_t pid = -1;
    CU_ASSERT_EQUAL_FATAL(iotc_spawn(&o, &pid), IOTC_OK);
    *fd = o.out.fd;
    return pid;
}

static void test_ready_wait(void)
{
    iotc_ready r;
    char logbuf[512] = "";
    iotc_errtext err = {0};
    int fd, status = -1;
    /* Noise first, the line split across writes. */
    pid_t pid = sh_pipe("echo starting; printf 'IOTCONFORM_READY {\"ports\":{\"8883\":5,'; "
                        "sleep 0.1; echo '\"8443\":6,\"443\":7}}'; sleep 5",
                        &fd);
    FILE *log = fmemopen(logbuf, sizeof logbuf, "w");
    CU_ASSERT_EQUAL(iotc_ready_wait(fd, 5000, log, &r, &err), IOTC_OK);
    fclose(log);
    CU_ASSERT_EQUAL(r.port_8883, 5);
    CU_ASSERT_EQUAL(r.port_443, 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(logbuf, "starting"));
    iotc_ready_free(&r);
    CU_ASSERT_EQUAL(iotc_spawn_stop(pid, 2000, 0, false, &status), 1);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    close(fd);

    pid = sh_pipe("echo no ready here", &fd);
    CU_ASSERT_EQUAL(iotc_ready_wait(fd, 5000, NULL, &r, &err), IOTC_ERR_IO);
    CU_ASSERT_EQUAL(iotc_spawn_stop(pid, 2000, 0, false, NULL), 1);
    close(fd);

    pid = sh_pipe("sleep 5", &fd);
    int64_t t0 = iotc_clock_ms();
    CU_ASSERT_EQUAL(iotc_ready_wait(fd, 200, NULL, &r, &err), IOTC_ERR_TIMEOUT);
    CU_ASSERT(iotc_clock_ms() - t0 >= 200);
    CU_ASSERT(iotc_clock_ms() - t0 < 3000);
    iotc_spawn_stop(pid, 2000, 0, false, NULL);
    close(fd);
}

static void test_spawn_exit_and_missing(void)
{
    char *argv[] = {"/nonexistent/program", NULL};
    iotc_spawn_opts o = {.argv = argv, .err = {IOTC_SPAWN_NULL, -1, NULL}};
    pid_t pid;
    int status = -1;
    CU_ASSERT_EQUAL_FATAL(iotc_spawn(&o, &pid), IOTC_OK);
    while (iotc_spawn_reap(pid, &status) == 0)
        usleep(5000);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 127);
    CU_ASSERT_EQUAL(iotc_spawn_reap(pid, &status), -1); /* gone: not ours any more */
    CU_ASSERT_EQUAL(iotc_spawn_stop(pid, 100, 0, false, NULL), 0);

    char *bad[] = {"/bin/true", NULL};
    iotc_spawn_opts b = {.argv = bad, .out = {IOTC_SPAWN_FILE, -1, "/nonexistent/dir/log"}};
    CU_ASSERT_EQUAL(iotc_spawn(&b, &pid), IOTC_ERR_IO);
    CU_ASSERT_EQUAL(pid, -1);
}

static void test_spawn_files(void)
{
    char path[] = "/tmp/iotc-test-spawn-XXXXXX", buf[128] = "";
    int tmp = mkstemp(path);
    CU_ASSERT_FATAL(tmp >= 0);
    close(tmp);
    char *argv[] = {"sh", "-c", "echo out; echo err >&2", NULL};
    iotc_spawn_opts o = {.path = "/bin/sh",
                         .argv = argv,
                         .out = {IOTC_SPAWN_APPEND, -1, path},
                         .err = {IOTC_SPAWN_STDOUT, -1, NULL}};
    pid_t pid;
    int status = -1;
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL_FATAL(iotc_spawn(&o, &pid), IOTC_OK);
        CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    }
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    CU_ASSERT_STRING_EQUAL(buf, "out\nerr\nout\nerr\n");
    unlink(path);
}

/* A group whose leader ignores SIGTERM and whose member outlives it: SIGKILL after the
 * grace period, and nothing of the group is left (the orphaned member is reaped by us
 * as its subreaper). */
static void test_spawn_stop_group(void)
{
    char *argv[] = {"sh", "-c", "trap '' TERM; sleep 30 & sleep 30; wait", NULL};
    iotc_spawn_opts o = {.path = "/bin/sh", .argv = argv, .pgroup = true};
    pid_t pid;
    int status = -1;
    CU_ASSERT_EQUAL_FATAL(iotc_spawn_subreaper(), IOTC_OK);
    CU_ASSERT_EQUAL_FATAL(iotc_spawn(&o, &pid), IOTC_OK);
    CU_ASSERT_EQUAL(getpgid(pid), pid);
    usleep(200000);
    int64_t t0 = iotc_clock_ms();
    CU_ASSERT_EQUAL(iotc_spawn_stop(pid, 300, 0, true, &status), 1);
    CU_ASSERT(iotc_clock_ms() - t0 >= 300);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CU_ASSERT_EQUAL(kill(-pid, 0), -1);                /* no member left */
    CU_ASSERT_EQUAL(waitpid(-pid, NULL, WNOHANG), -1); /* and no zombie of ours */
}

int iotc_register_tests(void)
{
    CU_pSuite s = CU_add_suite("harness", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "READY line parse", test_ready_parse);
    CU_add_test(s, "READY line wait", test_ready_wait);
    CU_add_test(s, "spawn: exit status, missing program, bad file", test_spawn_exit_and_missing);
    CU_add_test(s, "spawn: files, stderr on stdout", test_spawn_files);
    CU_add_test(s, "spawn: stop a group", test_spawn_stop_group);
    return 0;
}
