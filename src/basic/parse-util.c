/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "parse-util.h"

int safe_atou64(const char *s, uint64_t *ret) {
    if (isempty(s) || !isdigit((unsigned char) *s))
        return -EINVAL; /* refuses "-1", " 1", "+1" which strtoull would take */
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (*end)
        return -EINVAL;
    *ret = v;
    return 0;
}

int safe_atou32(const char *s, uint32_t *ret) {
    uint64_t v;
    int r = safe_atou64(s, &v);
    if (r < 0)
        return r;
    if (v > UINT32_MAX)
        return -ERANGE;
    *ret = (uint32_t) v;
    return 0;
}

int parse_id(const char *s, uint32_t *ret) {
    uint32_t v;
    int r = safe_atou32(s, &v);
    if (r < 0)
        return r;
    if (v > ID_VALID_MAX)
        return -ERANGE;
    *ret = v;
    return 0;
}

int parse_boolean(const char *s) {
    static const char *const yes[] = {"1", "yes", "y", "true", "t", "on"};
    static const char *const no[] = {"0", "no", "n", "false", "f", "off"};
    for (size_t i = 0; i < ELEMENTSOF(yes); i++)
        if (strcasecmp(s, yes[i]) == 0)
            return 1;
    for (size_t i = 0; i < ELEMENTSOF(no); i++)
        if (strcasecmp(s, no[i]) == 0)
            return 0;
    return -EINVAL;
}

/* Reads "123" or "1.5" as a whole part and a fraction scaled to 1e9, without floating point so
 * that "1.1G" rounds the same everywhere. Advances *p past the digits. */
static int parse_decimal(const char **p, uint64_t *ret_whole, uint64_t *ret_frac_nano) {
    const char *s = *p;
    uint64_t whole = 0, frac = 0, scale = 100000000;
    if (!isdigit((unsigned char) *s) && !(*s == '.' && isdigit((unsigned char) s[1])))
        return -EINVAL;
    for (; isdigit((unsigned char) *s); s++) {
        if (whole > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        whole = whole * 10 + (uint64_t) (*s - '0');
    }
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char) *s))
            return -EINVAL;
        for (; isdigit((unsigned char) *s); s++) {
            frac += (uint64_t) (*s - '0') * scale;
            scale /= 10;
        }
    }
    *p = s;
    *ret_whole = whole;
    *ret_frac_nano = frac;
    return 0;
}

/* whole.frac * factor, checked for overflow. */
static int scale_decimal(uint64_t whole, uint64_t frac_nano, uint64_t factor, uint64_t *ret) {
    if (factor && whole > UINT64_MAX / factor)
        return -ERANGE;
    uint64_t a = whole * factor;
    /* frac_nano < 1e9, so split factor to avoid overflow of frac_nano * factor. */
    uint64_t b = (factor / 1000000000) * frac_nano + (factor % 1000000000) * frac_nano / 1000000000;
    if (a > UINT64_MAX - b)
        return -ERANGE;
    *ret = a + b;
    return 0;
}

/* K, M, G... as powers of base: 1024 for memory, 1000 for rates (as systemd's IO*Max=). */
int parse_size_base(const char *s, uint64_t base, uint64_t *ret) {
    static const char suffixes[] = "BKMGTPE";
    const char *p = s;
    uint64_t whole, frac, factor = 1, v;
    int r;

    if (isempty(s) || (base != 1000 && base != 1024))
        return -EINVAL;
    r = parse_decimal(&p, &whole, &frac);
    if (r < 0)
        return r;
    if (*p) {
        const char *x = strchr(suffixes, *p);
        if (!x || p[1])
            return -EINVAL;
        for (const char *i = suffixes; i < x; i++) /* "B" is 1, "K" base, ... */
            factor *= base;
    } else if (frac)
        return -EINVAL; /* "1.5" bytes makes no sense */
    r = scale_decimal(whole, frac, factor, &v);
    if (r < 0)
        return r;
    *ret = v;
    return 0;
}

int parse_size(const char *s, uint64_t *ret) {
    return parse_size_base(s, 1024, ret);
}

int parse_size_or_infinity(const char *s, uint64_t *ret) {
    if (s && streq(s, "infinity")) {
        *ret = UINT64_MAX;
        return 0;
    }
    return parse_size(s, ret);
}

int parse_timespan(const char *s, uint64_t *ret_usec) {
    static const struct {
        const char *suffix;
        uint64_t usec;
    } table[] = {
        /* longest first, so "ms" is not read as "m" + "s" */
        {"seconds", USEC_PER_SEC},
        {"second", USEC_PER_SEC},
        {"minutes", 60 * USEC_PER_SEC},
        {"minute", 60 * USEC_PER_SEC},
        {"months", 2629800 * USEC_PER_SEC},
        {"month", 2629800 * USEC_PER_SEC},
        {"hours", 3600 * USEC_PER_SEC},
        {"hour", 3600 * USEC_PER_SEC},
        {"weeks", 604800 * USEC_PER_SEC},
        {"week", 604800 * USEC_PER_SEC},
        {"years", 31557600 * USEC_PER_SEC},
        {"year", 31557600 * USEC_PER_SEC},
        {"days", 86400 * USEC_PER_SEC},
        {"day", 86400 * USEC_PER_SEC},
        {"msec", USEC_PER_MSEC},
        {"usec", 1},
        {"sec", USEC_PER_SEC},
        {"min", 60 * USEC_PER_SEC},
        {"hr", 3600 * USEC_PER_SEC},
        {"ms", USEC_PER_MSEC},
        {"us", 1},
        {"\xc2\xb5s", 1}, /* µs */
        {"s", USEC_PER_SEC},
        {"m", 60 * USEC_PER_SEC},
        {"h", 3600 * USEC_PER_SEC},
        {"d", 86400 * USEC_PER_SEC},
        {"w", 604800 * USEC_PER_SEC},
        {"M", 2629800 * USEC_PER_SEC},
        {"y", 31557600 * USEC_PER_SEC},
    };
    const char *p = s;
    uint64_t total = 0;
    bool any = false;

    if (!s)
        return -EINVAL;
    p += strspn(p, " \t");
    if (streq(p, "infinity")) {
        *ret_usec = USEC_INFINITY;
        return 0;
    }
    while (*p) {
        uint64_t whole, frac, factor = USEC_PER_SEC, v;
        int r = parse_decimal(&p, &whole, &frac);
        if (r < 0)
            return r;
        p += strspn(p, " \t");
        size_t i;
        for (i = 0; i < ELEMENTSOF(table); i++) {
            size_t n = strlen(table[i].suffix);
            /* a unit must end at a digit, blank or the end: "5sx" is wrong */
            if (strncmp(p, table[i].suffix, n) == 0 &&
                (!p[n] || isdigit((unsigned char) p[n]) || p[n] == ' ' || p[n] == '\t' ||
                 p[n] == '.'))
                break;
        }
        if (i < ELEMENTSOF(table)) {
            factor = table[i].usec;
            p += strlen(table[i].suffix);
        } else if (*p)
            return -EINVAL;
        r = scale_decimal(whole, frac, factor, &v);
        if (r < 0)
            return r;
        if (total > UINT64_MAX - 1 - v)
            return -ERANGE;
        total += v;
        any = true;
        p += strspn(p, " \t");
    }
    if (!any)
        return -EINVAL;
    *ret_usec = total;
    return 0;
}

int parse_percent_permyriad(const char *s, uint32_t *ret) {
    const char *p = s;
    uint64_t whole, frac, v;
    int r;

    if (isempty(s))
        return -EINVAL;
    r = parse_decimal(&p, &whole, &frac);
    if (r < 0)
        return r;
    if (!streq(p, "%"))
        return -EINVAL;
    if (frac % 10000000) /* more precision than 1/100 of a percent */
        return -EINVAL;
    r = scale_decimal(whole, frac, 100, &v);
    if (r < 0)
        return r;
    if (v > UINT32_MAX)
        return -ERANGE;
    *ret = (uint32_t) v;
    return 0;
}

static const char *const signal_names[] = {
    [SIGHUP] = "HUP",   [SIGINT] = "INT",   [SIGQUIT] = "QUIT",     [SIGILL] = "ILL",
    [SIGTRAP] = "TRAP", [SIGABRT] = "ABRT", [SIGBUS] = "BUS",       [SIGFPE] = "FPE",
    [SIGKILL] = "KILL", [SIGUSR1] = "USR1", [SIGSEGV] = "SEGV",     [SIGUSR2] = "USR2",
    [SIGPIPE] = "PIPE", [SIGALRM] = "ALRM", [SIGTERM] = "TERM",     [SIGSTKFLT] = "STKFLT",
    [SIGCHLD] = "CHLD", [SIGCONT] = "CONT", [SIGSTOP] = "STOP",     [SIGTSTP] = "TSTP",
    [SIGTTIN] = "TTIN", [SIGTTOU] = "TTOU", [SIGURG] = "URG",       [SIGXCPU] = "XCPU",
    [SIGXFSZ] = "XFSZ", [SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF", [SIGWINCH] = "WINCH",
    [SIGIO] = "IO",     [SIGPWR] = "PWR",   [SIGSYS] = "SYS",
};

int parse_signal(const char *s, int *ret) {
    uint32_t n;
    if (isempty(s))
        return -EINVAL;
    if (safe_atou32(s, &n) >= 0) {
        if (n < 1 || n >= (uint32_t) _NSIG)
            return -ERANGE;
        *ret = (int) n;
        return 0;
    }
    const char *name = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;
    for (size_t i = 1; i < ELEMENTSOF(signal_names); i++)
        if (signal_names[i] && streq(name, signal_names[i])) {
            *ret = (int) i;
            return 0;
        }
    return -EINVAL;
}

const char *signal_to_string(int sig) {
    static __thread char buf[16];
    if (sig > 0 && (size_t) sig < ELEMENTSOF(signal_names) && signal_names[sig]) {
        snprintf(buf, sizeof buf, "SIG%s", signal_names[sig]);
        return buf;
    }
    snprintf(buf, sizeof buf, "%d", sig);
    return buf;
}

static void cpu_set_add(CpuSet *c, unsigned cpu) {
    c->bits[cpu / 8] |= (uint8_t) (1u << (cpu % 8));
}

bool cpu_set_is_set(const CpuSet *c, unsigned cpu) {
    return cpu < CPU_SET_MAX && (c->bits[cpu / 8] & (1u << (cpu % 8)));
}

bool cpu_set_is_empty(const CpuSet *c) {
    for (size_t i = 0; i < sizeof c->bits; i++)
        if (c->bits[i])
            return false;
    return true;
}

int parse_cpu_set(const char *s, CpuSet *ret) {
    CpuSet c = {};
    const char *p = s;

    if (isempty(s))
        return -EINVAL;
    while (*p) {
        char *end;
        p += strspn(p, " \t,");
        if (!*p)
            break;
        if (!isdigit((unsigned char) *p))
            return -EINVAL;
        unsigned long a = strtoul(p, &end, 10), b = a;
        p = end;
        if (*p == '-') {
            p++;
            if (!isdigit((unsigned char) *p))
                return -EINVAL;
            b = strtoul(p, &end, 10);
            p = end;
        }
        if (*p && *p != ',' && *p != ' ' && *p != '\t')
            return -EINVAL;
        if (a > b)
            return -EINVAL;
        if (b >= CPU_SET_MAX)
            return -ERANGE;
        for (unsigned long i = a; i <= b; i++)
            cpu_set_add(&c, (unsigned) i);
    }
    if (cpu_set_is_empty(&c))
        return -EINVAL;
    *ret = c;
    return 0;
}

char *cpu_set_to_string(const CpuSet *c) {
    char *buf = malloc(CPU_SET_MAX * 10), *p = buf;
    if (!buf)
        return NULL;
    *p = 0;
    for (unsigned i = 0; i < CPU_SET_MAX; i++) {
        if (!cpu_set_is_set(c, i))
            continue;
        unsigned j = i;
        while (j + 1 < CPU_SET_MAX && cpu_set_is_set(c, j + 1))
            j++;
        p += sprintf(p, p == buf ? "%u" : ",%u", i);
        if (j > i)
            p += sprintf(p, "-%u", j);
        i = j;
    }
    return buf;
}

static char *format_timespan_internal(char buf[static 64], uint64_t usec, bool exact) {
    static const struct {
        const char *suffix;
        uint64_t usec;
    } table[] = {
        {"d", 86400 * USEC_PER_SEC}, {"h", 3600 * USEC_PER_SEC}, {"min", 60 * USEC_PER_SEC},
        {"s", USEC_PER_SEC},         {"ms", USEC_PER_MSEC},      {"us", 1},
    };
    char *p = buf;
    if (usec == USEC_INFINITY)
        return strcpy(buf, "infinity");
    if (usec == 0)
        return strcpy(buf, "0");
    *p = 0;
    for (size_t i = 0; i < ELEMENTSOF(table) && usec > 0; i++) {
        uint64_t n = usec / table[i].usec;
        if (!n)
            continue;
        p += snprintf(p, 64 - (size_t) (p - buf), "%s%" PRIu64 "%s", p == buf ? "" : " ", n,
                      table[i].suffix);
        usec %= table[i].usec;
        /* below a second, more digits say nothing useful in a status line */
        if (!exact && table[i].usec >= USEC_PER_SEC && p - buf > 0 && i >= 3)
            break;
    }
    return buf;
}

char *format_timespan(char buf[static 64], uint64_t usec) {
    return format_timespan_internal(buf, usec, false);
}

char *format_timespan_exact(char buf[static 64], uint64_t usec) {
    return format_timespan_internal(buf, usec, true);
}

char *format_bytes(char buf[static 64], uint64_t bytes) {
    static const char suffix[] = "BKMGTPE";
    if (bytes == UINT64_MAX)
        return strcpy(buf, "infinity");
    size_t i = 0;
    uint64_t whole = bytes, rest = 0;
    while (whole >= 1024 && i + 1 < sizeof suffix - 1) {
        rest = whole % 1024;
        whole /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(buf, 64, "%" PRIu64 "B", bytes);
    else
        snprintf(buf, 64, "%" PRIu64 ".%" PRIu64 "%c", whole, rest * 10 / 1024, suffix[i]);
    return buf;
}
