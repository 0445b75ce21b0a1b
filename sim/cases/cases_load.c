/* Reading table files from disk and selecting cases (filters, labels). */
#include "cases.h"

#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common/err.h"

void iotc_caseset_free(iotc_caseset *set)
{
    for (size_t i = 0; i < set->n; i++)
        iotc_case_clear(&set->v[i]);
    free(set->v);
    set->v = NULL;
    set->n = set->cap = 0;
    json_decref(set->not_applicable);
    set->not_applicable = NULL;
}

int iotc_cases_load_file(const char *path, iotc_caseset *set, iotc_diag *d)
{
    json_error_t jerr;
    json_t *table = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    size_t from = set->n;
    int rc;

    if (!table) {
        iotc_diag_add(d, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return IOTC_ERR_CONFIG;
    }
    rc = iotc_cases_validate(table, path, d);
    if (rc == IOTC_OK)
        rc = iotc_cases_expand(table, path, set, d);
    if (rc == IOTC_OK)
        rc = iotc_cases_na_collect(table, path, set, from, d);
    json_decref(table);
    return rc;
}

int iotc_cases_is_table(const char *path)
{
    json_t *doc = json_load_file(path, 0, NULL);
    int table = !doc || !json_object_get(doc, "schema") || json_object_get(doc, "format");
    json_decref(doc);
    return table;
}

static int load__is_json(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".json") == 0 && name[0] != '.';
}

static int load__cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int iotc_cases_list_dir(const char *dir, char ***paths, size_t *n)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = IOTC_OK;

    *paths = NULL;
    *n = 0;
    if (!dh)
        return IOTC_ERR_NOT_FOUND;
    while ((de = readdir(dh)) != NULL) {
        if (!load__is_json(de->d_name))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                rc = IOTC_ERR_NOMEM;
                goto cleanup;
            }
            v = nv;
            cap = nc;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        v[cnt] = malloc(len);
        if (!v[cnt]) {
            rc = IOTC_ERR_NOMEM;
            goto cleanup;
        }
        snprintf(v[cnt], len, "%s/%s", dir, de->d_name);
        cnt++;
    }
    qsort(v, cnt, sizeof(*v), load__cmp);
cleanup:
    closedir(dh);
    if (rc != IOTC_OK) {
        for (size_t i = 0; i < cnt; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    *paths = v;
    *n = cnt;
    return IOTC_OK;
}

int iotc_cases_resolve_suite(const char *name, const char *dir, char *out, size_t outlen)
{
    struct stat st;

    if (strchr(name, '/') || load__is_json(name)) {
        if (stat(name, &st) != 0)
            return IOTC_ERR_NOT_FOUND;
        snprintf(out, outlen, "%s", name);
        return IOTC_OK;
    }
    snprintf(out, outlen, "%s/%s.json", dir, name);
    if (stat(out, &st) == 0)
        return IOTC_OK;
    return IOTC_ERR_NOT_FOUND;
}

int iotc_case_matches(const iotc_case *c, const char *glob)
{
    const char *p = c->id;
    if (fnmatch(glob, p, 0) == 0)
        return 1;
    while ((p = strchr(p, '.')) != NULL) {
        p++;
        if (fnmatch(glob, p, 0) == 0)
            return 1;
    }
    return 0;
}

int iotc_case_has_label(const iotc_case *c, const char *label)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(c->def, "labels"), i, l)
    {
        if (json_is_string(l) && strcmp(json_string_value(l), label) == 0)
            return 1;
    }
    return 0;
}

const char *iotc_case_str(const iotc_case *c, const char *key)
{
    return json_string_value(json_object_get(c->def, key));
}

json_t *iotc_case_client(const iotc_case *c)
{
    return json_object_get(c->def, "client");
}

json_t *iotc_case_expect(const iotc_case *c)
{
    return json_object_get(c->def, "expect");
}

const char *iotc_af_name(int af)
{
    return af == AF_INET6 ? "ipv6" : "ipv4";
}
