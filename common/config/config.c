/*
 * Declarative configuration (see config.h). Values are collected from the
 * default, then the environment, then the flags, remembering where each came
 * from; only then is every value validated, so the message names the exact
 * variable or flag the operator has to fix.
 */
#include "config/config.h"

#include "log/log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SECRET_FILE_MAX (64 * 1024)

typedef enum { SRC_UNSET, SRC_DEFAULT, SRC_ENV, SRC_FLAG, SRC_FILE } cfg_source;

struct cfg_value {
    cfg_source src;
    char *text;       /* normalised text, owned; NULL when unset */
    char origin[256]; /* "CAMPSYNC_X", "--x", "CAMPSYNC_X_FILE", "default" */
    int64_t num;      /* CFG_INT, CFG_DURATION_MS, CFG_BOOL, CFG_ENUM index */
    char *host;       /* CFG_ADDR, owned */
    int port;
};

struct cfg {
    const cfg_option *opts;
    size_t n;
    struct cfg_value *v;
};

static void set_err(cfg_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(cfg_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

/* "redis-addr" -> "CAMPSYNC_REDIS_ADDR" (+ suffix), unless the option names
 * its variable itself. */
static void env_name(const cfg_option *o, const char *suffix, char *buf, size_t n)
{
    if (o->env) {
        snprintf(buf, n, "%s%s", o->env, suffix ? suffix : "");
        return;
    }
    size_t w = (size_t)snprintf(buf, n, "CAMPSYNC_");
    for (const char *p = o->name; *p && w + 1 < n; p++)
        buf[w++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    buf[w < n ? w : n - 1] = '\0';
    if (suffix)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s", suffix);
}

static size_t count_opts(const cfg_option *opts)
{
    size_t n = 0;
    while (opts[n].name)
        n++;
    return n;
}

static void clear_value(struct cfg_value *v)
{
    free(v->text);
    free(v->host);
    memset(v, 0, sizeof *v);
}

static int assign(struct cfg_value *v, cfg_source src, const char *origin, const char *text,
                  size_t len, cfg_error *err)
{
    char *copy = strndup(text, len);
    if (!copy) {
        set_err(err, "%s: out of memory", origin);
        return -1;
    }
    free(v->text);
    v->text = copy;
    v->src = src;
    snprintf(v->origin, sizeof v->origin, "%s", origin);
    return 0;
}

/* Reads a secret file; the content never appears in any message. */
static int read_secret(struct cfg_value *v, cfg_source src, const char *origin, const char *path,
                       cfg_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, "%s: cannot open secret file %s: %s", origin, path, strerror(errno));
        return -1;
    }
    char *buf = malloc(SECRET_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        set_err(err, "%s: out of memory", origin);
        return -1;
    }
    size_t len = fread(buf, 1, SECRET_FILE_MAX + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || len > SECRET_FILE_MAX) {
        free(buf);
        set_err(err, "%s: secret file %s is %s", origin, path,
                failed ? "unreadable" : "larger than 64 KiB");
        return -1;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (memchr(buf, '\0', len)) {
        free(buf);
        set_err(err, "%s: secret file %s contains a NUL byte", origin, path);
        return -1;
    }
    char o[256];
    snprintf(o, sizeof o, "%s (file %s)", origin, path);
    int rc = assign(v, src, o, buf, len, err);
    explicit_bzero(buf, SECRET_FILE_MAX + 1);
    free(buf);
    return rc;
}

static int parse_int(const char *s, int64_t *out)
{
    if (!*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int64_t *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* "1h30m", "250ms", "5s", or a bare number of milliseconds. */
static int parse_duration(const char *s, int64_t *out)
{
    int64_t bare;
    if (parse_int(s, &bare) == 0) {
        if (bare < 0)
            return -1;
        *out = bare;
        return 0;
    }
    int64_t total = 0;
    const char *p = s;
    if (!*p)
        return -1;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t num = 0;
        while (isdigit((unsigned char)*p)) {
            if (num > INT64_MAX / 10)
                return -1;
            num = num * 10 + (*p++ - '0');
        }
        int64_t mult;
        if (strncmp(p, "ms", 2) == 0) {
            mult = 1;
            p += 2;
        } else if (*p == 's') {
            mult = 1000;
            p++;
        } else if (*p == 'm') {
            mult = 60 * 1000;
            p++;
        } else if (*p == 'h') {
            mult = 3600 * 1000;
            p++;
        } else {
            return -1;
        }
        if (num > (INT64_MAX - total) / mult)
            return -1;
        total += num * mult;
    }
    *out = total;
    return 0;
}

static int parse_addr(const char *s, char **host, int *port)
{
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen))
            return -1; /* bare IPv6 needs brackets */
    }
    if (hlen == 0)
        return -1;
    int64_t p;
    if (parse_int(colon + 1, &p) || p < 0 || p > 65535)
        return -1;
    for (size_t i = 0; i < hlen; i++)
        if (isspace((unsigned char)h[i]) || h[i] == '/')
            return -1;
    *host = strndup(h, hlen);
    if (!*host)
        return -1;
    *port = (int)p;
    return 0;
}

static int check_url(char *s)
{
    const char *rest;
    if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return -1;
    if (!*rest || *rest == '/' || *rest == ':')
        return -1;
    for (const char *p = s; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return -1;
    size_t len = strlen(s);
    while (len > (size_t)(rest - s) && s[len - 1] == '/')
        s[--len] = '\0';
    return 0;
}

static void choices_text(const cfg_option *o, char *buf, size_t n)
{
    size_t w = 0;
    buf[0] = '\0';
    for (size_t i = 0; o->choices && o->choices[i] && w < n; i++)
        w += (size_t)snprintf(buf + w, n - w, "%s%s", i ? ", " : "", o->choices[i]);
}

/* Validates and converts one collected value. */
static int validate(const cfg_option *o, struct cfg_value *v, cfg_error *err)
{
    if (!v->text) {
        if (o->flags & CFG_REQUIRED) {
            char env[96];
            env_name(o, NULL, env, sizeof env);
            if (o->flags & CFG_SECRET)
                set_err(err, "%s (or %s_FILE, --%s, --%s-file) is required: %s", env, env, o->name,
                        o->name, o->help ? o->help : "");
            else
                set_err(err, "%s (or --%s) is required: %s", env, o->name, o->help ? o->help : "");
            return -1;
        }
        if (o->type == CFG_ENUM)
            v->num = -1;
        return 0;
    }
    const char *s = v->text;
    const char *shown = (o->flags & CFG_SECRET) ? "[redacted]" : s;
    if (*s == '\0' && (o->flags & CFG_REQUIRED)) {
        set_err(err, "%s: must not be empty", v->origin);
        return -1;
    }
    switch (o->type) {
    case CFG_STRING:
        return 0;
    case CFG_INT:
        if (parse_int(s, &v->num)) {
            set_err(err, "%s: expected an integer, got \"%s\"", v->origin, shown);
            return -1;
        }
        if ((o->min || o->max) && (v->num < o->min || v->num > o->max)) {
            set_err(err, "%s: %" PRId64 " is out of range, expected %" PRId64 "..%" PRId64,
                    v->origin, v->num, o->min, o->max);
            return -1;
        }
        return 0;
    case CFG_BOOL:
        if (parse_bool(s, &v->num)) {
            set_err(err, "%s: expected true or false, got \"%s\"", v->origin, shown);
            return -1;
        }
        return 0;
    case CFG_DURATION_MS:
        if (parse_duration(s, &v->num)) {
            set_err(err,
                    "%s: expected a duration like 250ms, 5s, 2m, 1h30m (bare number = ms), "
                    "got \"%s\"",
                    v->origin, shown);
            return -1;
        }
        return 0;
    case CFG_ENUM:
        for (size_t i = 0; o->choices && o->choices[i]; i++) {
            if (strcmp(s, o->choices[i]) == 0) {
                v->num = (int64_t)i;
                return 0;
            }
        }
        {
            char list[256];
            choices_text(o, list, sizeof list);
            set_err(err, "%s: expected one of %s, got \"%s\"", v->origin, list, shown);
        }
        return -1;
    case CFG_ADDR:
        free(v->host);
        v->host = NULL;
        if (parse_addr(s, &v->host, &v->port)) {
            set_err(err, "%s: expected host:port (port 0-65535, IPv6 as [addr]:port), got \"%s\"",
                    v->origin, shown);
            return -1;
        }
        return 0;
    case CFG_URL:
        if (check_url(v->text)) {
            set_err(err, "%s: expected an http:// or https:// URL with a host, got \"%s\"",
                    v->origin, shown);
            return -1;
        }
        return 0;
    }
    return 0;
}

static const char *type_text(cfg_type t)
{
    switch (t) {
    case CFG_STRING:
        return "string";
    case CFG_INT:
        return "integer";
    case CFG_BOOL:
        return "bool";
    case CFG_DURATION_MS:
        return "duration";
    case CFG_ENUM:
        return "enum";
    case CFG_ADDR:
        return "host:port";
    case CFG_URL:
        return "url";
    }
    return "?";
}

/* Finds the option a flag name refers to; *is_file set for --x-file. */
static long find_flag(const cfg_option *opts, size_t n, const char *flag, size_t flen, int *is_file)
{
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(opts[i].name);
        if (flen == nl && strncmp(flag, opts[i].name, nl) == 0) {
            *is_file = 0;
            return (long)i;
        }
        if ((opts[i].flags & CFG_SECRET) && flen == nl + 5 &&
            strncmp(flag, opts[i].name, nl) == 0 && strncmp(flag + nl, "-file", 5) == 0) {
            *is_file = 1;
            return (long)i;
        }
    }
    return -1;
}

static int load_env(struct cfg *c, cfg_error *err)
{
    for (size_t i = 0; i < c->n; i++) {
        const cfg_option *o = &c->opts[i];
        char env[96], envf[96];
        env_name(o, NULL, env, sizeof env);
        env_name(o, "_FILE", envf, sizeof envf);
        const char *val = getenv(env);
        const char *file = (o->flags & CFG_SECRET) ? getenv(envf) : NULL;
        /* Kubernetes renders unset optional values as "": treat as unset. */
        if (val && !*val)
            val = NULL;
        if (file && !*file)
            file = NULL;
        if (val && file) {
            set_err(err, "%s and %s are both set: give only one", env, envf);
            return -1;
        }
        if (val && assign(&c->v[i], SRC_ENV, env, val, strlen(val), err))
            return -1;
        if (file && read_secret(&c->v[i], SRC_FILE, envf, file, err))
            return -1;
    }
    return 0;
}

static int load_flags(struct cfg *c, int argc, char **argv, cfg_error *err)
{
    /* Flags seen on the command line, to refuse --x together with --x-file. */
    unsigned char *seen = calloc(c->n ? c->n : 1, 1);
    if (!seen) {
        set_err(err, "out of memory");
        return -1;
    }
    int rc = -1;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            set_err(err, "unexpected argument \"%s\" (options are --name=value; see --help)", arg);
            goto out;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t flen = eq ? (size_t)(eq - name) : strlen(name);
        int is_file = 0;
        long i = find_flag(c->opts, c->n, name, flen, &is_file);
        if (i < 0) {
            set_err(err, "unknown flag --%.*s (see --help)", (int)flen, name);
            goto out;
        }
        const cfg_option *o = &c->opts[i];
        char origin[96];
        snprintf(origin, sizeof origin, "--%s%s", o->name, is_file ? "-file" : "");
        const char *val;
        if (eq) {
            val = eq + 1;
        } else if (o->type == CFG_BOOL && !is_file) {
            val = "true";
        } else if (a + 1 < argc) {
            val = argv[++a];
        } else {
            set_err(err, "%s: missing value", origin);
            goto out;
        }
        if (seen[i]) {
            set_err(err, "%s: option %s given more than once", origin, o->name);
            goto out;
        }
        seen[i] = 1;
        if (is_file) {
            if (read_secret(&c->v[i], SRC_FILE, origin, val, err))
                goto out;
        } else if (assign(&c->v[i], SRC_FLAG, origin, val, strlen(val), err)) {
            goto out;
        }
    }
    rc = 0;
out:
    free(seen);
    return rc;
}

static int wants_help(int argc, char **argv)
{
    for (int a = 1; a < argc; a++)
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0)
            return 1;
    return 0;
}

int cfg_load(const cfg_option *opts, int argc, char **argv, cfg **out, cfg_error *err)
{
    *out = NULL;
    if (wants_help(argc, argv))
        return CFG_HELP;
    struct cfg *c = calloc(1, sizeof *c);
    size_t n = count_opts(opts);
    if (!c || !(c->v = calloc(n ? n : 1, sizeof *c->v))) {
        free(c);
        set_err(err, "out of memory");
        return -1;
    }
    c->opts = opts;
    c->n = n;
    for (size_t i = 0; i < n; i++)
        if (opts[i].def &&
            assign(&c->v[i], SRC_DEFAULT, "default", opts[i].def, strlen(opts[i].def), err))
            goto fail;
    if (load_env(c, err) || load_flags(c, argc, argv, err))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (validate(&opts[i], &c->v[i], err)) {
            if (c->v[i].src == SRC_DEFAULT) {
                /* A bad default is the programmer's bug: say so. */
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                set_err(err, "built-in default of --%s is invalid: %s", opts[i].name, msg);
            }
            goto fail;
        }
    }
    *out = c;
    return 0;
fail:
    cfg_free(c);
    return -1;
}

void cfg_free(cfg *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].text)
            explicit_bzero(c->v[i].text, strlen(c->v[i].text));
        clear_value(&c->v[i]);
    }
    free(c->v);
    free(c);
}

void cfg_help(FILE *f, const char *prog, const cfg_option *opts)
{
    fprintf(f, "usage: %s [--option=value ...]\n\n", prog ? prog : "campsync");
    fprintf(f, "Every option can also be set by environment variable; flags win.\n\n");
    for (size_t i = 0; opts[i].name; i++) {
        const cfg_option *o = &opts[i];
        char env[96];
        env_name(o, NULL, env, sizeof env);
        fprintf(f, "  --%s=%s  (env %s)\n", o->name, type_text(o->type), env);
        if (o->help)
            fprintf(f, "      %s\n", o->help);
        if (o->type == CFG_INT && (o->min || o->max))
            fprintf(f, "      range: %" PRId64 "..%" PRId64 "\n", o->min, o->max);
        if (o->type == CFG_ENUM) {
            char list[256];
            choices_text(o, list, sizeof list);
            fprintf(f, "      one of: %s\n", list);
        }
        if (o->flags & CFG_SECRET)
            fprintf(f, "      secret: or read from the file named by --%s-file / %s_FILE\n",
                    o->name, env);
        if (o->flags & CFG_REQUIRED)
            fprintf(f, "      required\n");
        else
            fprintf(f, "      default: %s\n", o->def ? o->def : "(unset)");
    }
}

static long lookup(const cfg *c, const char *name, int type)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->opts[i].name, name) == 0) {
            if (type >= 0 && (int)c->opts[i].type != type) {
                fprintf(stderr, "config: option %s is not of the type asked for\n", name);
                abort();
            }
            return (long)i;
        }
    }
    fprintf(stderr, "config: no option named %s\n", name);
    abort();
}

const char *cfg_str(const cfg *c, const char *name)
{
    return c->v[lookup(c, name, -1)].text;
}

int cfg_is_set(const cfg *c, const char *name)
{
    return c->v[lookup(c, name, -1)].text != NULL;
}

int64_t cfg_int(const cfg *c, const char *name)
{
    return c->v[lookup(c, name, CFG_INT)].num;
}

int cfg_bool(const cfg *c, const char *name)
{
    return c->v[lookup(c, name, CFG_BOOL)].num != 0;
}

int64_t cfg_duration_ms(const cfg *c, const char *name)
{
    return c->v[lookup(c, name, CFG_DURATION_MS)].num;
}

int cfg_enum(const cfg *c, const char *name)
{
    return (int)c->v[lookup(c, name, CFG_ENUM)].num;
}

int cfg_addr(const cfg *c, const char *name, const char **host, int *port)
{
    const struct cfg_value *v = &c->v[lookup(c, name, CFG_ADDR)];
    if (!v->host)
        return -1;
    *host = v->host;
    *port = v->port;
    return 0;
}

static const char *source_text(cfg_source s)
{
    static const char *const names[] = {"unset", "default", "env", "flag", "file"};
    return names[s];
}

/* Copies value into buf with the password of a URL's user info
 * ("redis://user:secret@host") replaced, so connection strings can be logged. */
static void copy_without_url_password(const char *value, char *buf, size_t n)
{
    const char *scheme = strstr(value, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (!at || (slash && slash < at) || !colon || colon > at) {
        snprintf(buf, n, "%s", value);
        return;
    }
    snprintf(buf, n, "%.*s:[redacted]%s", (int)(colon - value), value, at);
}

const char *cfg_display(const cfg *c, const char *name, char *buf, size_t n)
{
    long i = lookup(c, name, -1);
    const struct cfg_value *v = &c->v[i];
    if (!v->text)
        snprintf(buf, n, "%s", "");
    else if ((c->opts[i].flags & CFG_SECRET) || log_key_is_secret(c->opts[i].name))
        snprintf(buf, n, "%s", "[redacted]");
    else
        copy_without_url_password(v->text, buf, n);
    return source_text(v->src);
}

void cfg_log(const cfg *c)
{
    for (size_t i = 0; i < c->n; i++) {
        char val[512];
        const char *src = cfg_display(c, c->opts[i].name, val, sizeof val);
        log_kv(LOG_INFO, "config", "option", c->opts[i].name, "value", val, "source", src, NULL);
    }
}
