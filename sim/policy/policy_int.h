/*
 * Engine internals shared by the files of this folder (not part of the contract).
 * A pattern (an Action or Resource string) is compiled to one item per character so
 * that a literal `*` written as ${*} and a wildcard `*` can never be confused, and a
 * policy variable stays one item until a decision substitutes its value.
 */
#ifndef IOTC_POLICY_INT_H
#define IOTC_POLICY_INT_H

#include "policy.h"
#include "common/errtext.h"

#include <stdint.h>

enum iotc_policy__kind {
    IOTC_POLICY__LIT,   /* a character written in the policy */
    IOTC_POLICY__VLIT,  /* a character of a substituted variable value: never an ARN separator */
    IOTC_POLICY__STAR,  /* `*`: any sequence, '/' and ':' included */
    IOTC_POLICY__QMARK, /* `?`: one character (one UTF-8 code point) */
    IOTC_POLICY__VAR,   /* a policy variable, resolved per decision */
};

enum iotc_policy__var {
    IOTC_POLICY__VAR_CLIENT_ID,
    IOTC_POLICY__VAR_THING_NAME,
    IOTC_POLICY__VAR_CERT_CN,
    IOTC_POLICY__VAR_CERT_ID,
    IOTC_POLICY__VAR_UNKNOWN, /* syntactically fine, but no value the emulator knows: never resolves
                               */
};

struct iotc_policy__item {
    uint8_t kind; /* enum iotc_policy__kind */
    uint8_t c;    /* the character for LIT / VLIT; the enum iotc_policy__var for VAR */
};

struct iotc_policy__pattern {
    struct iotc_policy__item *items;
    size_t n;
    bool has_var;
};

struct iotc_policy__list {
    struct iotc_policy__pattern *v;
    size_t n;
    bool negated; /* NotAction / NotResource */
};

/* Condition operators (cond_ops.c), decomposed: StringNotEqualsIgnoreCaseIfExists is
 * family STRING, comparison EQ, negated, fold, if_exists. */
enum iotc_policy__cfam {
    IOTC_POLICY__CF_STRING,
    IOTC_POLICY__CF_NUMERIC,
    IOTC_POLICY__CF_DATE,
    IOTC_POLICY__CF_BOOL,
    IOTC_POLICY__CF_IP,
    IOTC_POLICY__CF_ARN,
    IOTC_POLICY__CF_NULL
};
enum iotc_policy__ccmp {
    IOTC_POLICY__CC_EQ,
    IOTC_POLICY__CC_LT,
    IOTC_POLICY__CC_LE,
    IOTC_POLICY__CC_GT,
    IOTC_POLICY__CC_GE,
    IOTC_POLICY__CC_LIKE
};
enum iotc_policy__cset { IOTC_POLICY__SET_NONE, IOTC_POLICY__SET_ALL, IOTC_POLICY__SET_ANY };

struct iotc_policy__cop {
    uint8_t fam;    /* enum iotc_policy__cfam */
    uint8_t cmp;    /* enum iotc_policy__ccmp */
    uint8_t set;    /* enum iotc_policy__cset: ForAllValues: / ForAnyValue: */
    bool negated;   /* ...Not...: a request value matches when it equals no policy value */
    bool fold;      /* ...IgnoreCase */
    bool if_exists; /* ...IfExists: an absent key satisfies the condition */
};

/* One compiled policy value of a condition. */
struct iotc_policy__cval {
    struct iotc_policy__pattern pat; /* STRING, ARN: wildcards only for Like/ARN operators */
    double num;                      /* NUMERIC; DATE as seconds since the epoch */
    bool b;                          /* BOOL, NULL */
    uint8_t addr[16];                /* IP: network address (4 or 16 bytes used) */
    uint8_t alen, prefix;
};

struct iotc_policy__cond {
    struct iotc_policy__cop op;
    char *key;  /* canonical spelling of the condition key */
    bool multi; /* iot:ConnectAttributes: a set of values */
    struct iotc_policy__cval *v;
    size_t n;
};

struct iotc_policy__stmt {
    bool deny;
    char *sid; /* NULL when absent */
    struct iotc_policy__list actions;
    struct iotc_policy__list resources;
    struct iotc_policy__cond *conds; /* every one must hold (AND); NULL when no Condition */
    size_t nconds;
};

struct iotc_policy {
    struct iotc_policy__stmt *stmts;
    size_t n;
    char *name; /* set by the file loader */
};

/* Compiles an Action string (wildcards only, no variables). */
int iotc_policy__compile_action(const char *s, size_t len, struct iotc_policy__pattern *out);
/* Compiles a Resource string; with variables=false (Version 2008-10-17) `${` is literal.
 * On a syntax error returns IOTC_ERR_MALFORMED and writes a reason into why. */
int iotc_policy__compile_resource(const char *s, size_t len, bool variables,
                                  struct iotc_policy__pattern *out, iotc_errtext *why);
void iotc_policy__pattern_free(struct iotc_policy__pattern *p);

/* Glob match of items[0..n) against s[0..len): O(n * len) time, no recursion. LIT and
 * VLIT compare bytes (ASCII case-folded when fold is set); VAR items never match. */
bool iotc_policy__glob(const struct iotc_policy__item *items, size_t n, const char *s, size_t len,
                       bool fold);

/* The ARN a decision is about, split into its six colon-separated segments. */
struct iotc_policy__arn {
    const char *full;
    size_t len;
    size_t seg[6]; /* start offset of each segment in full */
};

/* 1: the resource pattern matches the ARN; 0: it does not or a variable is unresolved
 * (*unresolved set); -1: out of memory. */
int iotc_policy__resource_match(const struct iotc_policy__pattern *p,
                                const struct iotc_policy__arn *arn,
                                const struct iotc_policy_ctx *ctx, bool *unresolved);

/* Substitutes the pattern's variables (as VLIT items): 1 done, 0 a variable has no value,
 * -1 out of memory. out->items is the caller's to free when 1 is returned. */
int iotc_policy__expand(const struct iotc_policy__pattern *p, const struct iotc_policy_ctx *ctx,
                        struct iotc_policy__pattern *out);
/* The pattern against an ARN already split into segments (no variables left). */
bool iotc_policy__segments_match(const struct iotc_policy__pattern *p,
                                 const struct iotc_policy__arn *arn);

/* ---- conditions ---- */
/* Parses an operator name ("ForAnyValue:StringLikeIfExists"); false when unknown. */
bool iotc_policy__cop_parse(const char *name, struct iotc_policy__cop *out);
/* Compiles one policy value for op; IOTC_ERR_MALFORMED with why when it does not fit the
 * operator (a number for Numeric*, a date for Date*, a CIDR for IpAddress...). */
int iotc_policy__cval_compile(const struct iotc_policy__cop *op, const char *s, size_t len,
                              bool variables, struct iotc_policy__cval *out, iotc_errtext *why);
void iotc_policy__cval_free(struct iotc_policy__cval *v);
/* One request value against one policy value, ignoring op->negated: 1 equal/matches,
 * 0 not, -1 the request value cannot be compared (not a number, date, address, ARN),
 * -2 out of memory. */
int iotc_policy__cval_match(const struct iotc_policy__cop *op, const struct iotc_policy__cval *pv,
                            const char *value, const struct iotc_policy_ctx *ctx);

struct json_t;
/* Compiles a statement's Condition object; errors name the JSON path under path. */
int iotc_policy__cond_parse(struct json_t *obj, const char *path, bool variables,
                            struct iotc_policy__cond **out, size_t *n, iotc_errtext *err);
void iotc_policy__cond_free(struct iotc_policy__cond *c, size_t n);
/* 1 every condition holds, 0 one does not, -1 out of memory. */
int iotc_policy__cond_eval(const struct iotc_policy__cond *c, size_t n,
                           const struct iotc_policy_ctx *ctx);

#endif
