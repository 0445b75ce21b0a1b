/*
 * Decisions: default deny, any matching Deny wins over every Allow, in whatever
 * policy or order they appear. Anything that cannot be evaluated is a deny.
 */
#include "policy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const eval__resource_type[IOTC_ACT_COUNT] = {
    [IOTC_ACT_CONNECT] = "client",        [IOTC_ACT_PUBLISH] = "topic",
    [IOTC_ACT_SUBSCRIBE] = "topicfilter", [IOTC_ACT_RECEIVE] = "topic",
    [IOTC_ACT_RETAIN_PUBLISH] = "topic",
};

const char *iotc_action_name(enum iotc_action a)
{
    static const char *const names[IOTC_ACT_COUNT] = {
        [IOTC_ACT_CONNECT] = "iot:Connect",
        [IOTC_ACT_PUBLISH] = "iot:Publish",
        [IOTC_ACT_SUBSCRIBE] = "iot:Subscribe",
        [IOTC_ACT_RECEIVE] = "iot:Receive",
        [IOTC_ACT_RETAIN_PUBLISH] = "iot:RetainPublish",
    };
    return (unsigned)a < IOTC_ACT_COUNT ? names[a] : "?";
}

/* A region or account becomes one ARN segment, so it must be non-empty and colon-free. */
static bool eval__segment_ok(const char *s)
{
    return s && *s && !strchr(s, ':');
}

/* arn:aws:iot:<region>:<account>:<type>/<resource>, with the segment offsets. */
static int eval__build_arn(enum iotc_action act, const char *resource,
                           const struct iotc_policy_ctx *ctx, struct iotc_policy__arn *arn)
{
    const char *type = eval__resource_type[act];
    size_t rl = strlen(ctx->region), al = strlen(ctx->account), tl = strlen(type);
    size_t sl = strlen(resource);
    size_t len = 12 + rl + 1 + al + 1 + tl + 1 + sl; /* "arn:aws:iot:" is 12 */
    char *full = malloc(len + 1);
    if (!full)
        return -1;
    snprintf(full, len + 1, "arn:aws:iot:%s:%s:%s/%s", ctx->region, ctx->account, type, resource);
    arn->full = full;
    arn->len = len;
    arn->seg[0] = 0;
    arn->seg[1] = 4;
    arn->seg[2] = 8;
    arn->seg[3] = 12;
    arn->seg[4] = 12 + rl + 1;
    arn->seg[5] = 12 + rl + 1 + al + 1;
    return 0;
}

/* 1 when the statement applies to the action, 0 when not. */
static int eval__action(const struct iotc_policy__list *l, const char *name)
{
    bool hit = false;
    for (size_t i = 0; i < l->n && !hit; i++)
        hit = iotc_policy__glob(l->v[i].items, l->v[i].n, name, strlen(name), true);
    return hit != l->negated;
}

/* 1 when the statement applies to the resource, 0 when not, -1 out of memory. */
static int eval__resource(const struct iotc_policy__list *l, const struct iotc_policy__arn *arn,
                          const struct iotc_policy_ctx *ctx)
{
    bool hit = false, unresolved = false;
    for (size_t i = 0; i < l->n && !hit; i++) {
        int rc = iotc_policy__resource_match(&l->v[i], arn, ctx, &unresolved);
        if (rc < 0)
            return -1;
        hit = rc == 1;
    }
    if (!l->negated)
        return hit;
    /* NotResource: a statement that cannot be fully evaluated does not apply at all,
     * as IAM ignores a statement whose variables cannot be resolved. */
    return !hit && !unresolved;
}

static void eval__why(iotc_errtext *why, const char *what, size_t pi, const struct iotc_policy *p,
                      size_t si)
{
    if (!why)
        return;
    const struct iotc_policy__stmt *s = &p->stmts[si];
    char name[96] = "", sid[96] = "";
    if (p->name)
        snprintf(name, sizeof name, " (%s)", p->name);
    if (s->sid)
        snprintf(sid, sizeof sid, " (Sid %s)", s->sid);
    iotc_errtext_set(why, 0, "%s policy %zu%s statement %zu%s", what, pi, name, si, sid);
}

static bool eval__refuse(iotc_errtext *why, const char *reason)
{
    if (why)
        iotc_errtext_set(why, 0, "%s", reason);
    return false;
}

bool iotc_policy_allows(struct iotc_policy *const *policies, size_t n, enum iotc_action act,
                        const char *resource, const struct iotc_policy_ctx *ctx, iotc_errtext *why)
{
    if ((unsigned)act >= IOTC_ACT_COUNT)
        return eval__refuse(why, "unknown action (deny)");
    if (!resource || !ctx || !eval__segment_ok(ctx->region) || !eval__segment_ok(ctx->account))
        return eval__refuse(why, "no resource, region or account to decide on (deny)");
    if (n && !policies)
        return eval__refuse(why, "no policy list (deny)");

    struct iotc_policy__arn arn;
    if (eval__build_arn(act, resource, ctx, &arn) < 0)
        return eval__refuse(why, "out of memory (deny)");
    const char *name = iotc_action_name(act);
    bool allowed = false, failed = false;
    size_t allow_p = 0, allow_s = 0;

    for (size_t pi = 0; pi < n && !failed; pi++) {
        const struct iotc_policy *p = policies[pi];
        for (size_t si = 0; p && si < p->n; si++) {
            const struct iotc_policy__stmt *s = &p->stmts[si];
            /* Once allowed, only a Deny can still change the outcome. */
            if ((allowed && !s->deny) || !eval__action(&s->actions, name))
                continue;
            int rc = eval__resource(&s->resources, &arn, ctx);
            if (rc < 0) {
                failed = true;
                break;
            }
            if (rc == 0)
                continue;
            rc = s->nconds ? iotc_policy__cond_eval(s->conds, s->nconds, ctx) : 1;
            if (rc < 0) {
                failed = true;
                break;
            }
            if (rc == 0)
                continue;
            if (s->deny) {
                eval__why(why, "explicit Deny in", pi, p, si);
                free((char *)arn.full);
                return false;
            }
            allowed = true;
            allow_p = pi;
            allow_s = si;
        }
    }
    free((char *)arn.full);
    if (failed)
        return eval__refuse(why, "out of memory (deny)");
    if (!allowed)
        return eval__refuse(why, "no Allow matched (default deny)");
    eval__why(why, "allowed by", allow_p, policies[allow_p], allow_s);
    return true;
}
