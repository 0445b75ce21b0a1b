#define _GNU_SOURCE
#include "journal.h"
#include "err.h"
#include "jevents.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct iotc_journal {
    int fd; /* -1: disabled */
    int owned;
    double t0;
    long long max_bytes; /* 0: no cap */
    long long written;   /* bytes this journal wrote */
    bool capped;         /* the cap was reached: the marker is written, nothing else */
    bool failed;         /* a write failed: nothing more is written */
    bool shared;         /* serve --workers: other processes append to the same file */
    int worker;          /* with shared: this process's worker number, stamped on each line */
    iotc_journal_fail_fn on_fail;
    void *fail_arg;
    char *path;
};

/* Room kept under the cap for the journal.truncated marker line. */
#define JOURNAL_MARKER_ROOM 256

int iotc_journal_open(const char *path, struct iotc_journal **out)
{
    struct iotc_journal *j = calloc(1, sizeof *j);
    if (!j)
        return IOTC_ERR_NOMEM;
    j->t0 = iotc_mono_ms();
    j->fd = -1;
    if (!path || strcmp(path, "-") == 0) {
        j->fd = STDERR_FILENO;
    } else if (path[0] != '\0') {
        /* O_APPEND: each line is one write(2) at the end, never interleaved with itself. */
        j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (j->fd < 0) {
            free(j);
            return IOTC_ERR_IO;
        }
        j->owned = 1;
    }
    j->path = strdup(path ? path : "-");
    if (!j->path) {
        iotc_journal_close(j);
        return IOTC_ERR_NOMEM;
    }
    *out = j;
    return IOTC_OK;
}

void iotc_journal_set_max_bytes(struct iotc_journal *j, long long max_bytes)
{
    if (j)
        j->max_bytes = max_bytes > JOURNAL_MARKER_ROOM ? max_bytes : 0;
}

void iotc_journal_share(struct iotc_journal *j, double t0, int worker)
{
    if (!j)
        return;
    j->t0 = t0;
    j->worker = worker;
    j->shared = true;
}

double iotc_journal_t0(const struct iotc_journal *j)
{
    return j ? j->t0 : 0;
}

void iotc_journal_on_fail(struct iotc_journal *j, iotc_journal_fail_fn fn, void *arg)
{
    if (!j)
        return;
    j->on_fail = fn;
    j->fail_arg = arg;
}

bool iotc_journal_failed(const struct iotc_journal *j)
{
    return j && j->failed;
}

void iotc_journal_close(struct iotc_journal *j)
{
    if (!j)
        return;
    if (j->owned && j->fd >= 0)
        close(j->fd);
    free(j->path);
    free(j);
}

bool iotc_journal_enabled(const struct iotc_journal *j)
{
    return j && j->fd >= 0 && !j->failed && !j->capped;
}

double iotc_journal_now_ms(const struct iotc_journal *j)
{
    return iotc_mono_ms() - j->t0;
}

/*
 * One line in one write(2). A short write (a disk that fills mid-line) is cut back
 * to the line's start on a regular file, so a reader never sees half a JSON object;
 * then the journal stops and says why, loudly: the runner judges from this file, and
 * a journal that silently lost lines would turn into wrong verdicts.
 */
static int journal__write(struct iotc_journal *j, const char *line, size_t len)
{
    off_t start = lseek(j->fd, 0, SEEK_END); /* -1 on a pipe or a tty: nothing to cut back */
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(j->fd, line + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            if (off > 0 && start >= 0 && ftruncate(j->fd, start) != 0)
                e = errno;
            return e;
        }
        off += (size_t)n;
    }
    return 0;
}

static void journal__fail(struct iotc_journal *j, int e)
{
    j->failed = true;
    char why[512];
    snprintf(why, sizeof why, "journal %s: write failed: %s; no further events can be recorded",
             j->path, strerror(e));
    /* stderr even when the journal is stderr: this line is for a person. */
    fprintf(stderr, "iotconform: %s\n", why);
    if (j->on_fail)
        j->on_fail(j->fail_arg, why);
}

static char *journal__line(struct iotc_journal *j, const char *event, json_t *fields)
{
    json_t *o = json_object();
    char wall[40];
    iotc_clock_wall_iso(wall, sizeof wall);
    /* Round to microseconds so lines stay short but ordering stays exact. */
    double t = (double)(long long)(iotc_journal_now_ms(j) * 1000.0) / 1000.0;
    json_object_set_new(o, "t", json_real(t));
    json_object_set_new(o, "wall", json_string(wall));
    json_object_set_new(o, "event", json_string(event));
    if (j->shared)
        json_object_set_new(o, "worker", json_integer(j->worker));
    if (fields)
        json_object_update(o, fields);
    json_decref(fields);
    char *body = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12));
    json_decref(o);
    char *line = NULL;
    if (body && asprintf(&line, "%s\n", body) < 0)
        line = NULL;
    free(body);
    return line;
}

void iotc_journal_emit(struct iotc_journal *j, const char *event, json_t *fields)
{
    if (!iotc_journal_enabled(j)) {
        json_decref(fields);
        return;
    }
    /* Shared by workers: the time is taken and the line written under one lock, so the
     * file is in "t" order whichever process wrote each line. */
    if (j->shared)
        flock(j->fd, LOCK_EX);
    char *line = journal__line(j, event, fields);
    if (!line) {
        if (j->shared)
            flock(j->fd, LOCK_UN);
        return;
    }
    size_t len = strlen(line);
    if (j->shared && j->max_bytes) {
        /* Every worker appends here: the cap counts the file, not this process's lines. */
        struct stat st;
        if (fstat(j->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > j->written)
            j->written = (long long)st.st_size;
    }
    if (j->max_bytes && j->written + (long long)len > j->max_bytes - JOURNAL_MARKER_ROOM) {
        /* The cap: one marker that says so, then nothing. Readers see a complete file
         * that ends with the reason it ends. */
        free(line);
        j->capped = true;
        line = journal__line(j, IOTC_EV_JOURNAL_TRUNCATED,
                             json_pack("{s:I, s:I, s:s}", "max_bytes", (json_int_t)j->max_bytes,
                                       "written", (json_int_t)j->written, "dropped_from", event));
        if (!line) {
            if (j->shared)
                flock(j->fd, LOCK_UN);
            return;
        }
        len = strlen(line);
        fprintf(stderr,
                "iotconform: journal %s reached its cap of %lld bytes: later events are "
                "not recorded (profile limits.journal_max_bytes)\n",
                j->path, j->max_bytes);
    }
    int e = journal__write(j, line, len);
    if (j->shared)
        flock(j->fd, LOCK_UN);
    free(line);
    if (e)
        journal__fail(j, e);
    else
        j->written += (long long)len;
}
