/*
 * Matching one Resource pattern against the ARN of a request: variables are
 * substituted first, then the pattern is matched segment by segment.
 *
 * IAM matches ARNs per colon-separated segment, and lets a `*` at the end of a
 * segment run past colons. Here the first five segments (arn, partition, service,
 * region, account) are matched one against one, and the pattern's last segment
 * against the rest of the ARN: "arn:aws:iot:*" covers every region, account and
 * resource, while "arn:aws:iot:*:111:topic/x" can never match account 222 through a
 * topic that happens to contain ":111:topic/x".
 */
#include "policy_int.h"

#include <stdlib.h>
#include <string.h>

static const char *resource__var_value(enum iotc_policy__var v, const struct iotc_policy_ctx *ctx)
{
    if (!ctx)
        return NULL;
    switch (v) {
    case IOTC_POLICY__VAR_CLIENT_ID:
        return ctx->client_id;
    case IOTC_POLICY__VAR_THING_NAME:
        return ctx->thing_name;
    case IOTC_POLICY__VAR_CERT_CN:
        return ctx->cert_subject_cn;
    case IOTC_POLICY__VAR_CERT_ID:
        return ctx->cert_id;
    default:
        return NULL;
    }
}

/* Builds the pattern with every variable replaced by its value (as VLIT items).
 * Returns 1 on success, 0 when a variable has no value, -1 on allocation failure. */
int iotc_policy__expand(const struct iotc_policy__pattern *p, const struct iotc_policy_ctx *ctx,
                   struct iotc_policy__pattern *out)
{
    size_t total = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->items[i].kind != IOTC_POLICY__VAR) {
            total++;
            continue;
        }
        const char *v = resource__var_value(p->items[i].c, ctx);
        if (!v || !*v)
            return 0;
        size_t vl = strlen(v);
        if (vl > SIZE_MAX / 2 - total)
            return -1;
        total += vl;
    }
    out->items = malloc((total ? total : 1) * sizeof *out->items);
    if (!out->items)
        return -1;
    out->n = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->items[i].kind != IOTC_POLICY__VAR) {
            out->items[out->n++] = p->items[i];
            continue;
        }
        for (const char *v = resource__var_value(p->items[i].c, ctx); *v; v++) {
            out->items[out->n].kind = IOTC_POLICY__VLIT;
            out->items[out->n].c = (uint8_t)*v;
            out->n++;
        }
    }
    return 1;
}

bool iotc_policy__segments_match(const struct iotc_policy__pattern *p, const struct iotc_policy__arn *arn)
{
    size_t start = 0, seg = 0;
    for (size_t i = 0; i < p->n && seg < 5; i++) {
        if (p->items[i].kind != IOTC_POLICY__LIT || p->items[i].c != ':')
            continue;
        /* Target segments 0..4 never hold a colon: seg[k+1] - 1 is the colon after k. */
        size_t tlen = arn->seg[seg + 1] - 1 - arn->seg[seg];
        if (!iotc_policy__glob(p->items + start, i - start, arn->full + arn->seg[seg], tlen, false))
            return false;
        start = i + 1;
        seg++;
    }
    size_t off = arn->seg[seg];
    return iotc_policy__glob(p->items + start, p->n - start, arn->full + off, arn->len - off, false);
}

int iotc_policy__resource_match(const struct iotc_policy__pattern *p, const struct iotc_policy__arn *arn,
                           const struct iotc_policy_ctx *ctx, bool *unresolved)
{
    if (!p->has_var)
        return iotc_policy__segments_match(p, arn) ? 1 : 0;
    struct iotc_policy__pattern x = {0};
    int rc = iotc_policy__expand(p, ctx, &x);
    if (rc == 0)
        *unresolved = true;
    if (rc <= 0)
        return rc;
    rc = iotc_policy__segments_match(&x, arn) ? 1 : 0;
    free(x.items);
    return rc;
}
