/* Internals of `iotconform certify`, shared by its files. */
#ifndef IOTC_CERTIFY_INT_H
#define IOTC_CERTIFY_INT_H

#include <jansson.h>
#include "common/errtext.h"
#include "harness/diag.h"
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "backoff.h"
#include "common/clock.h"

/* ---- verdicts ---- */
typedef enum iotc_certify_verdict {
    IOTC_CERTIFY_PASS,
    IOTC_CERTIFY_WARN, /* PASS_WITH_WARNINGS */
    IOTC_CERTIFY_FAIL,
    IOTC_CERTIFY_ERROR,
    IOTC_CERTIFY_SKIPPED,
    IOTC_CERTIFY_INCONCLUSIVE, /* the budget ended before the evidence supported any verdict */
    IOTC_CERTIFY_UNDECIDED,    /* a judge before the budget ends: keep the case running */
} iotc_certify_verdict;

const char *iotc_certify_verdict_name(iotc_certify_verdict v); /* PASS, PASS_WITH_WARNINGS, ... */
const char *
iotc_certify_verdict_status(iotc_certify_verdict v); /* results.json status: passed, ... */

#define IOTC_CERTIFY_MAX_SERIES 5

/* Why a series stopped observing: what reasons may say about the device. */
typedef enum iotc_certify_end {
    IOTC_CERTIFY_END_RUNNING,   /* not over yet (judges asked during the run) */
    IOTC_CERTIFY_END_DEVICE,    /* the device exited by itself */
    IOTC_CERTIFY_END_BUDGET,    /* the budget ended; the runner stopped a device still running */
    IOTC_CERTIFY_END_VERDICT,   /* the judge had seen enough; the runner stopped the device */
    IOTC_CERTIFY_END_INTERRUPT, /* the run was interrupted */
} iotc_certify_end;

const char *
iotc_certify_end_name(iotc_certify_end e); /* results.json: running, device, budget, ... */

/* ---- the catalogue (suites/certification.json) ---- */
typedef struct iotc_certify_case {
    const char *id, *title, *judge, *family, *profile;
    bool qualification;
    json_t *def;      /* the whole entry (borrowed from the catalogue root) */
    json_t *scenario; /* object or NULL: handed to `serve --scenario` */
    json_t *device;   /* placeholder values for this case (object, may be empty) */
    json_t *params;   /* judge parameters (object, may be empty) */
    json_t *actions;  /* array of runner actions (may be empty) */
    long budget_ms;   /* at time scale 1 */
    long min_budget_ms;
    int repeat; /* independent series (fresh endpoint + device each) */
    /* What must be seen before a verdict: the device's reconnects (connections with a
     * CONNECT after its first). Until then an early verdict does not stop the case; a
     * PASS at the end without them is INCONCLUSIVE. */
    int observe_reconnects;
    /* Retry delays each series must show before a verdict (backoff judges): until then the
     * case runs; when the budget ends first, the judge decides on the delays seen if they
     * support a verdict, else INCONCLUSIVE says why. */
    int observe_delays;
} iotc_certify_case;

typedef struct iotc_certify_catalogue {
    json_t *root;
    iotc_certify_case *v;
    size_t n;
    json_t *suites; /* name -> array of ids */
} iotc_certify_catalogue;

/* Strict loader: unknown keys, unknown judges or judge parameters, duplicate ids and
 * suites naming unknown cases are errors (every problem is reported in err). */
/* Every problem of the catalogue at once (a table is fixed in one pass), into d. */
int iotc_certify_catalogue_load(const char *path, iotc_certify_catalogue *cat, iotc_diag *d);
void iotc_certify_catalogue_free(iotc_certify_catalogue *cat);
const iotc_certify_case *iotc_certify_catalogue_find(const iotc_certify_catalogue *cat,
                                                     const char *id);
/* Resolves --suite (qualification | full | a suite name | comma-separated ids) into
 * indexes; returns the count or -1 with err. */
int iotc_certify_catalogue_select(const iotc_certify_catalogue *cat, const char *suite, size_t *idx,
                                  size_t max, iotc_errtext *err);

/* ---- adapters (fixtures/adapters/NAME.json) ---- */
typedef struct iotc_certify_adapter {
    json_t *root;
    const char *name;
    const char *command;  /* default template */
    json_t *commands;     /* case id -> template overrides (object or NULL) */
    json_t *cases;        /* array of ids it can take part in, or NULL = all */
    json_t *skip_reasons; /* case id -> why not (object or NULL) */
    bool time_scale;      /* honours {time_scale}: budgets may be compressed */
} iotc_certify_adapter;

int iotc_certify_adapter_load(const char *name_or_path, const char *dir, iotc_certify_adapter *a,
                              iotc_errtext *err);
void iotc_certify_adapter_free(iotc_certify_adapter *a);
/* NULL when the adapter takes part in the case, else a reason. */
const char *iotc_certify_adapter_excludes(const iotc_certify_adapter *a, const char *case_id,
                                          char *buf, size_t len);

/* ---- placeholders ---- */
/* Known placeholder names, for --help and validation (NULL-terminated). */
extern const char *const iotc_certify_placeholders[];
/* Fills {name} with the shell-quoted value of vars[name], {name?TEXT} with TEXT and
 * {name+TEXT} with TEXT followed by the quoted value, both only when the value is
 * non-empty (else nothing). {{ and }} are literal braces. Unknown names
 * and unbalanced braces are errors. Returns 0 or -1 with err. */
int iotc_certify_template_fill(const char *tpl, json_t *vars, char *out, size_t outlen,
                               iotc_errtext *err);
/* Single-quotes s for /bin/sh into out. */
int iotc_certify_shell_quote(const char *s, char *out, size_t outlen);

/* ---- the device process ---- */
typedef struct iotc_certify_device {
    pid_t pid; /* also the process group id */
    bool exited;
    int status; /* waitpid status once exited */
    long started_ms, exited_ms;
} iotc_certify_device;

/* Starts `/bin/sh -c command` in its own process group, stdin /dev/null, stdout and
 * stderr appended to log_path. */
int iotc_certify_device_start(iotc_certify_device *d, const char *command, const char *log_path,
                              iotc_errtext *err);
/* Non-blocking: notes the leader's exit. */
void iotc_certify_device_poll(iotc_certify_device *d);
/* SIGTERM to the group, up to grace_ms for the leader, then SIGKILL to the group, and
 * reaps every member that is our child. Safe to call twice. */
void iotc_certify_device_stop(iotc_certify_device *d, long grace_ms);
/* "exited with status 3", "killed by signal 9", "still running" */
void iotc_certify_device_describe(const iotc_certify_device *d, char *out, size_t len);

/* ---- observations: the journal, cut into connections ---- */
typedef struct iotc_certify_conn {
    long id;
    long peer_port;
    double t_accept, t_close; /* ms on the series' clock; -1 when absent */
    json_t *hello, *handshake, *refused, *close, *connect, *connack; /* borrowed */
    json_t *events; /* this connection's entries in order (new reference) */
    bool connack_withheld, scenario_cut;
    bool runner; /* a connection the certify runner made itself (actions) */
} iotc_certify_conn;

typedef struct iotc_certify_obs {
    json_t *lines; /* the series' journal entries (borrowed) */
    iotc_certify_conn *c;
    size_t n;
    double t_end; /* last journal time */
    double now_t; /* the journal clock now (when observing stopped, at the end): a quiet
                   * device does not advance t_end, so a judge waiting for the device to do
                   * something within a time measures it against this */
    const iotc_certify_device *dev;
    double dev_exit_t;      /* device exit on the journal clock, -1 if it did not exit */
    double stop_t;          /* when the runner stopped the device (journal clock), -1 if not yet:
                             * a close after it is the runner's doing, not the device's */
    iotc_certify_end ended; /* why the series ended (IOTC_CERTIFY_END_RUNNING while it runs) */
    long budget_ms;         /* the series' budget in real ms (0: unknown) */
    char log_tail[1024];
} iotc_certify_obs;

/* How a series ended, for reasons ("the device exited with status 2 after 3120 ms", "the
 * 240 s budget ended while the device was still running"): a device the runner stopped
 * is never said to have stopped or exited by itself. */
void iotc_certify_end_describe(const iotc_certify_obs *o, char *out, size_t len);

/* Builds the connections of a journal (lines) ignoring the runner's own peer ports. */
int iotc_certify_obs_build(iotc_certify_obs *o, json_t *lines, const long *runner_ports,
                           size_t n_runner);
void iotc_certify_obs_free(iotc_certify_obs *o);
/* The device's connections (not the runner's), in accept order. */
size_t iotc_certify_obs_device_conns(const iotc_certify_obs *o, const iotc_certify_conn **out,
                                     size_t max);
/* Entries of conn c with this event name and (if type) mqtt type; i-th match or NULL. */
json_t *iotc_certify_conn_find(const iotc_certify_conn *c, const char *event, const char *type,
                               size_t nth);
size_t iotc_certify_conn_count(const iotc_certify_conn *c, const char *event, const char *type);
double iotc_certify_entry_t(json_t *e);
/* What the device's CONNECT on c says (c->connect may be NULL: MQTT 3.1.1 defaults).
 * version: 5 or 4 (3.1.1). keeps_session: the session outlives the connection (3.1.1
 * clean session 0; MQTT 5 session expiry > 0, whatever clean start says). keepalive: the
 * one the device must honour (MQTT 5: the Server Keep Alive the CONNACK carried when the
 * endpoint changed it, section 3.2.2.3.14; 3.1.1: its own). */
int iotc_certify_conn_version(const iotc_certify_conn *c);
bool iotc_certify_conn_keeps_session(const iotc_certify_conn *c);
long iotc_certify_conn_keepalive(const iotc_certify_conn *c);
/* "MQTT 5" or "MQTT 3.1.1" */
const char *iotc_certify_conn_version_name(const iotc_certify_conn *c);
/* NULL when the CONNECT on c keeps a persistent session as its version says it must,
 * else why not. first: the device's first connection, where MQTT 5 clean start 1 with a
 * session expiry creates the session (section 3.1.2.4); on a reconnect clean start 1
 * (or 3.1.1 clean session 1, section 3.1.2.4) discards it. */
const char *iotc_certify_conn_session_fault(const iotc_certify_conn *c, bool first);

/* ---- judges ---- */
typedef struct iotc_certify_ctx {
    const iotc_certify_case *c;
    const iotc_certify_obs *obs; /* one per series */
    size_t n_series;
    double scale;       /* the run's time scale (real-time thresholds are multiplied) */
    bool final;         /* the budget is over: decide */
    bool window_closed; /* set by a judge: what the case observes can no longer be seen
                         * (e.g. no reconnect long after the close), so its verdict stands
                         * before the window is met */
    json_t *observed;   /* judges add what they measured */
    char reason[2048];
    iotc_certify_verdict v;
} iotc_certify_ctx;

typedef iotc_certify_verdict (*iotc_certify_judge_fn)(iotc_certify_ctx *x);

typedef struct iotc_certify_judge {
    const char *name;
    iotc_certify_judge_fn fn;
    const char *const *params; /* allowed parameter names (NULL-terminated), NULL = none */
    bool needs_delays;         /* its cases must declare observe.delays */
} iotc_certify_judge;

const iotc_certify_judge *iotc_certify_judge_find(const char *name);
/* Runs the judge with the common preconditions (device never connected, exited at
 * once, ...). Returns the verdict also stored in x->v. */
iotc_certify_verdict iotc_certify_judge_run(iotc_certify_ctx *x);

/* Verdict helpers: set (replace reason), add a warning (PASS -> WARN, reason appended),
 * append a note to the reason whatever the verdict. */
iotc_certify_verdict iotc_certify_set(iotc_certify_ctx *x, iotc_certify_verdict v, const char *fmt,
                                      ...) __attribute__((format(printf, 3, 4)));
void iotc_certify_warn(iotc_certify_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void iotc_certify_note(iotc_certify_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
double iotc_certify_param_num(const iotc_certify_ctx *x, const char *name, double dflt);
const char *iotc_certify_param_str(const iotc_certify_ctx *x, const char *name, const char *dflt);
/* Formats seconds as "1.0, 2.1, 3.9" into out. */
void iotc_certify_fmt_series(const double *d, size_t n, char *out, size_t len);

/* Judge families (judge_*.c). */
extern const iotc_certify_judge iotc_certify_judges_tls[];
extern const iotc_certify_judge iotc_certify_judges_connect[];
extern const iotc_certify_judge iotc_certify_judges_backoff[];
extern const iotc_certify_judge iotc_certify_judges_pubsub[];
extern const iotc_certify_judge iotc_certify_judges_session[];
extern const iotc_certify_judge iotc_certify_judges_long[];

/* ---- runner actions (cert_action.c) ---- */
typedef struct iotc_certify_endpoint {
    const char *pki_dir;
    const char *host; /* SNI / name the device uses */
    int port_8883, port_8443, port_443;
    double time_scale; /* the run's: the per-client-ID CONNECT quota's second (serve) */
} iotc_certify_endpoint;

typedef struct iotc_certify_action_state {
    bool done[8];
    long long due_ms[8]; /* iotc_clock_ms() from which a triggered action may run; 0: unset */
    long runner_ports[16];
    size_t n_runner_ports;
    char note[512];
} iotc_certify_action_state;

/* Runs the actions of the case whose trigger the journal now shows (once each). */
void iotc_certify_actions_step(const iotc_certify_case *c, const iotc_certify_endpoint *ep,
                               json_t *lines, iotc_certify_action_state *st);
/* Validates one action definition (catalogue loading). */
int iotc_certify_action_check(json_t *action, iotc_errtext *err);

/* ---- running cases (run.c) ---- */
typedef struct iotc_certify_run {
    const char *serve_bin, *pki_dir, *out_dir, *refdevice, *adapter_dir;
    const char *device_cert; /* PKI name of the device's certificate */
    const char *device_template;
    const iotc_certify_adapter *adapter;
    double scale; /* applied to budgets, device timers and real-time thresholds */
    unsigned long long seed;
} iotc_certify_run;

/* What the report shows of one series' device: how it ended and where its output is. */
typedef struct iotc_certify_series_info {
    iotc_certify_end ended;
    int exit_status; /* -1: did not exit normally */
    int signal;      /* 0: none */
    long ran_ms;     /* from the device's start to the end of the observation */
    char log[1100];  /* device.log */
} iotc_certify_series_info;

typedef struct iotc_certify_outcome {
    const iotc_certify_case *c;
    iotc_certify_verdict v;
    char reason[2048];
    json_t *observed;
    json_t *journal;
    char started_at[32];
    long duration_ms;
    char command[4096];
    char case_dir[1024];
    char device_exit[320];
    char note[512];
    long budget_ms; /* per series, real ms (time scale applied) */
    size_t n_series;
    iotc_certify_series_info series[IOTC_CERTIFY_MAX_SERIES];
} iotc_certify_outcome;

extern volatile int iotc_certify_interrupted;

/* Runs one case (all its series) and fills out. */
void iotc_certify_case_run(const iotc_certify_run *r, const iotc_certify_case *c, size_t index,
                           iotc_certify_outcome *out);
/* The template for a case: the adapter's per-case command, else --device / the adapter's. */
const char *iotc_certify_case_template(const iotc_certify_run *r, const iotc_certify_case *c);
/* Placeholder values for a case (new object). */
json_t *iotc_certify_case_vars(const iotc_certify_run *r, const iotc_certify_case *c,
                               const char *case_dir, int port_8883, int port_443,
                               unsigned long long seed, long budget_ms);

#endif
