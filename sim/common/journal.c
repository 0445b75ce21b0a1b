#include "journal.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

struct iotc_journal {
    FILE *f;
    int owned;
    double t0;
};

int iotc_journal_open(const char *path, struct iotc_journal **out)
{
    struct iotc_journal *j = calloc(1, sizeof *j);
    if (!j)
        return IOTC_ERR_NOMEM;
    j->t0 = iotc_mono_ms();
    if (!path || strcmp(path, "-") == 0) {
        j->f = stderr;
    } else if (path[0] == '\0') {
        j->f = NULL;
    } else {
        j->f = fopen(path, "a");
        if (!j->f) {
            free(j);
            return IOTC_ERR_IO;
        }
        j->owned = 1;
    }
    *out = j;
    return IOTC_OK;
}

void iotc_journal_close(struct iotc_journal *j)
{
    if (!j)
        return;
    if (j->owned && j->f)
        fclose(j->f);
    free(j);
}

bool iotc_journal_enabled(const struct iotc_journal *j)
{
    return j && j->f;
}

double iotc_journal_now_ms(const struct iotc_journal *j)
{
    return iotc_mono_ms() - j->t0;
}

void iotc_journal_emit(struct iotc_journal *j, const char *event, json_t *fields)
{
    if (!j || !j->f) {
        json_decref(fields);
        return;
    }
    json_t *o = json_object();
    char wall[40];
    iotc_clock_wall_iso(wall, sizeof wall);
    /* Round to microseconds so lines stay short but ordering stays exact. */
    double t = (double)(long long)(iotc_journal_now_ms(j) * 1000.0) / 1000.0;
    json_object_set_new(o, "t", json_real(t));
    json_object_set_new(o, "wall", json_string(wall));
    json_object_set_new(o, "event", json_string(event));
    if (fields)
        json_object_update(o, fields);
    json_decref(fields);
    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12));
    json_decref(o);
    if (line) {
        fputs(line, j->f);
        fputc('\n', j->f);
        fflush(j->f);
        free(line);
    }
}
