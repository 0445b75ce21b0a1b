/*
 * Engine internals shared by the files of this folder (not part of the contract).
 * A pattern (an Action or Resource string) is compiled to one item per character so
 * that a literal `*` written as ${*} and a wildcard `*` can never be confused, and a
 * policy variable stays one item until a decision substitutes its value.
 */
#ifndef IOTC_POLICY_INT_H
#define IOTC_POLICY_INT_H

#include "policy.h"

#include <stdint.h>

enum policy__kind {
    POLICY__LIT,   /* a character written in the policy */
    POLICY__VLIT,  /* a character of a substituted variable value: never an ARN separator */
    POLICY__STAR,  /* `*`: any sequence, '/' and ':' included */
    POLICY__QMARK, /* `?`: one character (one UTF-8 code point) */
    POLICY__VAR,   /* a policy variable, resolved per decision */
};

enum policy__var {
    POLICY__VAR_CLIENT_ID,
    POLICY__VAR_THING_NAME,
    POLICY__VAR_CERT_CN,
    POLICY__VAR_CERT_ID,
    POLICY__VAR_UNKNOWN, /* syntactically fine, but no value the emulator knows: never resolves */
};

struct policy__item {
    uint8_t kind; /* enum policy__kind */
    uint8_t c;    /* the character for LIT / VLIT; the enum policy__var for VAR */
};

struct policy__pattern {
    struct policy__item *items;
    size_t n;
    bool has_var;
};

struct policy__list {
    struct policy__pattern *v;
    size_t n;
    bool negated; /* NotAction / NotResource */
};

struct policy__stmt {
    bool deny;
    char *sid; /* NULL when absent */
    struct policy__list actions;
    struct policy__list resources;
};

struct iotc_policy {
    struct policy__stmt *stmts;
    size_t n;
    char *name; /* set by the file loader */
};

/* Compiles an Action string (wildcards only, no variables). */
int policy__compile_action(const char *s, size_t len, struct policy__pattern *out);
/* Compiles a Resource string; with variables=false (Version 2008-10-17) `${` is literal.
 * On a syntax error returns IOTC_ERR_MALFORMED and writes a reason into why. */
int policy__compile_resource(const char *s, size_t len, bool variables, struct policy__pattern *out,
                             char *why, size_t whylen);
void policy__pattern_free(struct policy__pattern *p);

/* Glob match of items[0..n) against s[0..len): O(n * len) time, no recursion. LIT and
 * VLIT compare bytes (ASCII case-folded when fold is set); VAR items never match. */
bool policy__glob(const struct policy__item *items, size_t n, const char *s, size_t len, bool fold);

/* The ARN a decision is about, split into its six colon-separated segments. */
struct policy__arn {
    const char *full;
    size_t len;
    size_t seg[6]; /* start offset of each segment in full */
};

/* 1: the resource pattern matches the ARN; 0: it does not or a variable is unresolved
 * (*unresolved set); -1: out of memory. */
int policy__resource_match(const struct policy__pattern *p, const struct policy__arn *arn,
                           const struct iotc_policy_ctx *ctx, bool *unresolved);

#endif
