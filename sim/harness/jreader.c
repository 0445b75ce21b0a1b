#include "jreader.h"
#include "common/jevents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void iotc_jreader_init(iotc_jreader *j, const char *path)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->path, sizeof(j->path), "%s", path);
    j->lines = json_array();
}

static void journal__ix_free(iotc_jreader_index *ix)
{
    free(ix->by_conn);
    free(ix->by_port);
    memset(ix, 0, sizeof(*ix));
}

void iotc_jreader_free(iotc_jreader *j)
{
    journal__ix_free(&j->ix);
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

static int journal__hit_cmp(const void *a, const void *b)
{
    const iotc_jreader_ix_hit *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static int journal__size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

void iotc_jreader_index_build(iotc_jreader *j)
{
    size_t total = json_array_size(j->lines);
    iotc_jreader_index *ix = &j->ix;
    journal__ix_free(ix);
    ix->by_conn = calloc(total + 1, sizeof(*ix->by_conn));
    ix->by_port = calloc(total + 1, sizeof(*ix->by_port));
    if (!ix->by_conn || !ix->by_port) {
        journal__ix_free(ix); /* no index: excerpts scan, as before */
        return;
    }
    for (size_t i = 0; i < total; i++) {
        json_t *e = json_array_get(j->lines, i);
        json_t *pp = json_object_get(e, IOTC_JF_PEER_PORT);
        json_t *cn = json_object_get(e, IOTC_JF_CONN);
        if (!json_is_integer(cn))
            continue;
        ix->by_conn[ix->n_conn++] = (iotc_jreader_ix_hit){i, json_integer_value(cn), 0};
        if (json_is_integer(pp))
            ix->by_port[ix->n_port++] =
                (iotc_jreader_ix_hit){i, json_integer_value(pp), json_integer_value(cn)};
    }
    qsort(ix->by_conn, ix->n_conn, sizeof(*ix->by_conn), journal__hit_cmp);
    qsort(ix->by_port, ix->n_port, sizeof(*ix->by_port), journal__hit_cmp);
    ix->n_lines = total;
}

/* The first hit with key and line >= from (n when none). */
static size_t journal__ix_lower(const iotc_jreader_ix_hit *h, size_t n, json_int_t key, size_t from)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h[mid].key < key || (h[mid].key == key && h[mid].line < from))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The line numbers the scan in iotc_jreader_excerpt would visit for connection lines,
 * found through the index: connections first seen (by peer port, in line order, at most
 * 64) from `from` on, then all their lines from `from` on: *out (sorted, *n, freed by
 * the caller). -1 when out of memory. */
static int journal__ix_lines(const iotc_jreader *j, size_t from, const int *ports, size_t n_ports,
                             size_t **out, size_t *n)
{
    const iotc_jreader_index *ix = &j->ix;
    iotc_jreader_ix_hit *seen = NULL;
    size_t n_seen = 0, cap = 0, n_conns = 0, *lines = NULL, n_lines = 0, lcap = 0;
    json_int_t conns[64];

    *out = NULL;
    *n = 0;
    for (size_t p = 0; p < n_ports; p++)
        for (size_t k = journal__ix_lower(ix->by_port, ix->n_port, ports[p], from);
             k < ix->n_port && ix->by_port[k].key == ports[p]; k++) {
            if (n_seen == cap) {
                cap = cap ? cap * 2 : 16;
                iotc_jreader_ix_hit *g = realloc(seen, cap * sizeof(*seen));
                if (!g)
                    goto fail;
                seen = g;
            }
            /* sorted by line below: key becomes the line for journal__hit_cmp */
            seen[n_seen] = ix->by_port[k];
            seen[n_seen].key = (json_int_t)seen[n_seen].line;
            n_seen++;
        }
    if (n_seen)
        qsort(seen, n_seen, sizeof(*seen), journal__hit_cmp);
    for (size_t i = 0; i < n_seen && n_conns < 64; i++) {
        size_t k = 0;
        while (k < n_conns && conns[k] != seen[i].conn)
            k++;
        if (k == n_conns)
            conns[n_conns++] = seen[i].conn;
    }
    for (size_t c = 0; c < n_conns; c++)
        for (size_t k = journal__ix_lower(ix->by_conn, ix->n_conn, conns[c], from);
             k < ix->n_conn && ix->by_conn[k].key == conns[c]; k++) {
            if (n_lines == lcap) {
                lcap = lcap ? lcap * 2 : 64;
                size_t *g = realloc(lines, lcap * sizeof(*lines));
                if (!g)
                    goto fail;
                lines = g;
            }
            lines[n_lines++] = ix->by_conn[k].line;
        }
    free(seen);
    if (n_lines)
        qsort(lines, n_lines, sizeof(*lines), journal__size_cmp);
    *out = lines;
    *n = n_lines;
    return 0;
fail:
    free(seen);
    free(lines);
    return -1;
}

static int journal__endpoint_wide(json_t *e, size_t i, size_t until)
{
    const char *ev = json_string_value(json_object_get(e, IOTC_JF_EVENT));
    return !json_is_integer(json_object_get(e, IOTC_JF_CONN)) && ev && (until == 0 || i < until) &&
           (strncmp(ev, IOTC_EV_PREFIX_BROKER, sizeof(IOTC_EV_PREFIX_BROKER) - 1) == 0 ||
            strncmp(ev, IOTC_EV_PREFIX_ENDPOINT, sizeof(IOTC_EV_PREFIX_ENDPOINT) - 1) == 0 ||
            strcmp(ev, IOTC_EV_JOURNAL_UNPARSABLE) == 0);
}

static void journal__append(json_t *out, json_t *e)
{
    json_t *c = json_deep_copy(e);
    json_t *t = json_object_get(e, IOTC_JF_T);
    if (json_is_number(t))
        json_object_set_new(c, IOTC_JF_T_MS, json_real(json_number_value(t)));
    json_array_append_new(out, c);
}

/* The same excerpt as the scan, from the index: connection lines merged in line order
 * with the endpoint-wide lines of [from, until). Needs until > 0 (with none the scan
 * reads to the end anyway). NULL when out of memory (the caller scans). */
static json_t *journal__ix_excerpt(const iotc_jreader *j, size_t from, size_t until,
                                   const int *ports, size_t n_ports)
{
    size_t n = 0, total = json_array_size(j->lines), k = 0, *lines = NULL;
    json_t *out;
    if (journal__ix_lines(j, from, ports, n_ports, &lines, &n) != 0)
        return NULL;
    out = json_array();
    for (size_t i = from; json_array_size(out) < IOTC_JREADER_MAX_EXCERPT;) {
        size_t next_conn = k < n ? lines[k] : total;
        for (; i < next_conn && i < until && i < total &&
               json_array_size(out) < IOTC_JREADER_MAX_EXCERPT;
             i++) {
            json_t *e = json_array_get(j->lines, i);
            if (journal__endpoint_wide(e, i, until))
                journal__append(out, e);
        }
        if (k >= n || json_array_size(out) >= IOTC_JREADER_MAX_EXCERPT)
            break;
        journal__append(out, json_array_get(j->lines, lines[k]));
        i = lines[k] + 1;
        k++;
    }
    free(lines);
    return out;
}

json_t *iotc_jreader_excerpt(const iotc_jreader *j, size_t from, size_t until, const int *ports,
                             size_t n_ports)
{
    json_t *out = NULL;
    json_int_t conns[64];
    size_t n_conns = 0;
    size_t total = json_array_size(j->lines);

    if (until > 0 && j->ix.n_lines == total && total > 0)
        out = journal__ix_excerpt(j, from, until, ports, n_ports);
    if (out)
        return out;
    out = json_array();
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
        int take = 0;
        if (json_is_integer(cn)) {
            for (size_t k = 0; k < n_conns; k++)
                if (conns[k] == json_integer_value(cn))
                    take = 1;
        } else {
            take = journal__endpoint_wide(e, i, until);
        }
        if (take)
            journal__append(out, e);
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
