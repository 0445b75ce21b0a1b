#include "jreader.h"
#include "common/jevents.h"

#include <stdio.h>
#include <string.h>

void iotc_jreader_init(iotc_jreader *j, const char *path)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->path, sizeof(j->path), "%s", path);
    j->lines = json_array();
}

void iotc_jreader_free(iotc_jreader *j)
{
    json_decref(j->lines);
    j->lines = NULL;
}

static void journal__line(iotc_jreader *j, const char *line)
{
    json_t *v;
    if (!*line)
        return;
    v = json_loads(line, 0, NULL);
    /* A malformed line is the endpoint's defect; keep it visible, not fatal. */
    if (!json_is_object(v)) {
        json_decref(v);
        v = json_pack("{s:s, s:s}", IOTC_JF_EVENT, IOTC_EV_JOURNAL_UNPARSABLE, IOTC_JF_LINE, line);
    }
    json_array_append_new(j->lines, v);
}

void iotc_jreader_poll(iotc_jreader *j)
{
    FILE *f = fopen(j->path, "r");
    char buf[8192];
    size_t n;

    if (!f)
        return;
    if (fseek(f, j->offset, SEEK_SET) != 0) {
        fclose(f);
        return;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        j->offset += (long)n;
        for (size_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                j->partial[j->partial_len] = '\0';
                journal__line(j, j->partial);
                j->partial_len = 0;
            } else if (j->partial_len + 1 < sizeof(j->partial)) {
                j->partial[j->partial_len++] = buf[i];
            }
        }
    }
    fclose(f);
}

size_t iotc_jreader_count(const iotc_jreader *j)
{
    return json_array_size(j->lines);
}

static int journal__has_port(const int *ports, size_t n, json_int_t p)
{
    for (size_t i = 0; i < n; i++)
        if (ports[i] == p)
            return 1;
    return 0;
}

json_t *iotc_jreader_excerpt(const iotc_jreader *j, size_t from, size_t until, const int *ports,
                             size_t n_ports)
{
    json_t *out = json_array();
    json_int_t conns[64];
    size_t n_conns = 0;
    size_t total = json_array_size(j->lines);

    for (size_t i = from; i < total && n_conns < 64; i++) {
        json_t *e = json_array_get(j->lines, i);
        json_t *pp = json_object_get(e, IOTC_JF_PEER_PORT);
        json_t *cn = json_object_get(e, IOTC_JF_CONN);
        if (json_is_integer(pp) && json_is_integer(cn) &&
            journal__has_port(ports, n_ports, json_integer_value(pp))) {
            json_int_t c = json_integer_value(cn);
            size_t k = 0;
            while (k < n_conns && conns[k] != c)
                k++;
            if (k == n_conns)
                conns[n_conns++] = c;
        }
    }
    for (size_t i = from; i < total && json_array_size(out) < IOTC_JREADER_MAX_EXCERPT; i++) {
        json_t *e = json_array_get(j->lines, i);
        json_t *cn = json_object_get(e, IOTC_JF_CONN);
        const char *ev = json_string_value(json_object_get(e, IOTC_JF_EVENT));
        int take = 0;
        if (json_is_integer(cn)) {
            for (size_t k = 0; k < n_conns; k++)
                if (conns[k] == json_integer_value(cn))
                    take = 1;
        } else if (ev && (until == 0 || i < until) &&
                   (strncmp(ev, IOTC_EV_PREFIX_BROKER, sizeof(IOTC_EV_PREFIX_BROKER) - 1) == 0 ||
                    strncmp(ev, IOTC_EV_PREFIX_ENDPOINT, sizeof(IOTC_EV_PREFIX_ENDPOINT) - 1) ==
                        0 ||
                    strcmp(ev, IOTC_EV_JOURNAL_UNPARSABLE) == 0)) {
            take = 1;
        }
        if (!take)
            continue;
        json_t *c = json_deep_copy(e);
        json_t *t = json_object_get(e, IOTC_JF_T);
        if (json_is_number(t))
            json_object_set_new(c, IOTC_JF_T_MS, json_real(json_number_value(t)));
        json_array_append_new(out, c);
    }
    return out;
}

int iotc_jreader_has(json_t *events, json_t *name)
{
    size_t i;
    json_t *have;
    json_array_foreach(events, i, have) if (json_equal(have, name)) return 1;
    return 0;
}

json_t *iotc_jreader_events(json_t *excerpt)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(excerpt, i, e)
    {
        json_t *ev = json_object_get(e, IOTC_JF_EVENT);
        if (json_is_string(ev) && !iotc_jreader_has(out, ev))
            json_array_append(out, ev);
    }
    return out;
}
