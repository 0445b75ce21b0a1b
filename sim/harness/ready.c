#include "ready.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"

int iotc_ready_parse(const char *json, iotc_ready *r, iotc_errtext *err)
{
    json_error_t jerr;
    json_t *o = json_loads(json, 0, &jerr);
    json_t *ports = json_object_get(o, "ports");
    int *slot[3] = {&r->port_8883, &r->port_8443, &r->port_443};
    static const char *const key[3] = {"8883", "8443", "443"};

    memset(r, 0, sizeof(*r));
    if (!json_is_object(ports)) {
        iotc_errtext_set(err, 0, "unreadable READY line: %.300s", json);
        json_decref(o);
        return IOTC_ERR_PROTOCOL;
    }
    for (int i = 0; i < 3; i++) {
        json_int_t v = json_integer_value(json_object_get(ports, key[i]));
        if (v <= 0 || v > 65535) {
            iotc_errtext_set(err, 0, "READY line lacks port %s: %.300s", key[i], json);
            json_decref(o);
            return IOTC_ERR_PROTOCOL;
        }
        *slot[i] = (int)v;
    }
    r->obj = o;
    return IOTC_OK;
}

/* Consumes the finished lines in buf; 1 when one was the READY line (rc set). */
static int ready__scan(char *buf, size_t *have, iotc_ready *r, int *rc, iotc_errtext *err)
{
    char *line = buf, *nl;
    const size_t plen = strlen(IOTC_READY_PREFIX);
    while ((nl = memchr(line, '\n', *have - (size_t)(line - buf))) != NULL) {
        *nl = '\0';
        if (strncmp(line, IOTC_READY_PREFIX, plen) == 0) {
            *rc = iotc_ready_parse(line + plen, r, err);
            return 1;
        }
        line = nl + 1;
    }
    /* Keep the unfinished line. */
    *have -= (size_t)(line - buf);
    memmove(buf, line, *have);
    return 0;
}

int iotc_ready_wait(int fd, int timeout_ms, FILE *log, iotc_ready *r, iotc_errtext *err)
{
    char buf[8192];
    size_t have = 0;
    int64_t deadline = iotc_clock_ms() + timeout_ms;
    int rc = IOTC_OK;

    memset(r, 0, sizeof(*r));
    for (;;) {
        int64_t left = deadline - iotc_clock_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0) {
            return iotc_errtext_set(err, IOTC_ERR_TIMEOUT, "no READY line within %d ms",
                                    timeout_ms);
        }
        int pr = poll(&p, 1, (int)left);
        if (pr <= 0)
            continue; /* EINTR, or the deadline: checked above */
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            return iotc_errtext_set(err, IOTC_ERR_IO, "serve exited before printing READY");
        }
        if (log)
            fwrite(buf + have, 1, (size_t)n, log);
        have += (size_t)n;
        if (ready__scan(buf, &have, r, &rc, err))
            return rc;
        if (have == sizeof(buf))
            have = 0; /* an absurd line: drop it */
    }
}

void iotc_ready_free(iotc_ready *r)
{
    json_decref(r->obj);
    r->obj = NULL;
}
