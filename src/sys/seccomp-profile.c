/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Seccomp profiles as data: Docker/OCI JSON (json-c, the only user of it), rule conditions.
 * The input is a file an administrator names, but it is parsed as if hostile: bounded size
 * and depth, every field type-checked, unknown syscall names left to the compiler (Docker
 * skips them), unknown actions and operators refused. */

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path-util.h"
#include "seccomp-profile.h"
#include "strv.h"

#define JSON_DEPTH_MAX 16
#define SYSCALL_NAME_MAX 64

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free)

static void condition_done(SeccompCondition *c) {
    c->arches = strv_free(c->arches);
}

SeccompProfile *seccomp_profile_free(SeccompProfile *p) {
    if (!p)
        return NULL;
    strv_free(p->architectures);
    for (size_t i = 0; i < p->n_rules; i++) {
        strv_free(p->rules[i].names);
        condition_done(&p->rules[i].includes);
        condition_done(&p->rules[i].excludes);
    }
    free(p->rules);
    free(p);
    return NULL;
}

uint64_t seccomp_profile_caps_mask(const SeccompProfile *p) {
    uint64_t m = 0;
    for (size_t i = 0; i < p->n_rules; i++)
        m |= p->rules[i].includes.caps | p->rules[i].excludes.caps;
    return m;
}

const char *seccomp_native_arch_name(void) {
#if defined(__x86_64__) && defined(__ILP32__)
    return "x32";
#elif defined(__x86_64__)
    return "amd64";
#elif defined(__i386__)
    return "x86";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__arm__)
    return "arm";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "unknown";
#endif
}

/* libseccomp's name of the same, for Docker's archMap */
static const char *native_scmp_arch(void) {
#if defined(__x86_64__) && defined(__ILP32__)
    return "x32";
#elif defined(__x86_64__)
    return "x86_64";
#elif defined(__i386__)
    return "x86";
#elif defined(__aarch64__)
    return "aarch64";
#elif defined(__arm__)
    return "arm";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "unknown";
#endif
}

bool seccomp_rule_applies(const SeccompRule *r, uint64_t caps, unsigned kernel,
                          const char *arch) {
    const SeccompCondition *in = &r->includes, *ex = &r->excludes;
    if (in->unknown_cap || (in->caps & caps) != in->caps)
        return false;
    if (in->arches && !strv_contains(in->arches, arch))
        return false;
    if (in->min_kernel && kernel < in->min_kernel)
        return false;
    if (ex->caps & caps)
        return false;
    if (ex->arches && strv_contains(ex->arches, arch))
        return false;
    if (ex->min_kernel && kernel >= ex->min_kernel)
        return false;
    return true;
}

static int parse_small_uint(const char **s, unsigned *ret) {
    unsigned v = 0;
    const char *p = *s;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned) (*p - '0');
        if (v > 255)
            return -ERANGE;
    }
    *s = p;
    *ret = v;
    return 0;
}

int seccomp_parse_kernel_version(const char *release, unsigned *ret) {
    unsigned major, minor;
    const char *p = release;
    if (parse_small_uint(&p, &major) < 0 || *p++ != '.' || parse_small_uint(&p, &minor) < 0)
        return -EINVAL;
    if (major == 0 && minor == 0)
        return -EINVAL;
    *ret = SECCOMP_KERNEL(major, minor);
    return 0;
}

int seccomp_profile_read_file(const char *path, char **ret_text, size_t *ret_len,
                              SeccompError *e) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int r = -errno;
        snprintf(e->detail, sizeof e->detail, "%s", strerror(-r));
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int r = -errno;
        snprintf(e->detail, sizeof e->detail, "%s", strerror(-r));
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(e->detail, sizeof e->detail, "not a regular file");
        return -EBADFD;
    }
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = read_fd(fd, SECCOMP_PROFILE_MAX_SIZE, &text, &len);
    if (r == -EFBIG)
        snprintf(e->detail, sizeof e->detail, "larger than %d bytes", SECCOMP_PROFILE_MAX_SIZE);
    else if (r < 0)
        snprintf(e->detail, sizeof e->detail, "%s", strerror(-r));
    if (r < 0)
        return r;
    if (strlen(text) != len) {
        snprintf(e->detail, sizeof e->detail, "contains a NUL byte, not a JSON text");
        return -EINVAL;
    }
    *ret_text = TAKE_PTR(text);
    *ret_len = len;
    return 0;
}

/* ---- JSON ---- */

typedef struct Ctx {
    SeccompError *e;
    char where[96]; /* "syscalls[3].args[0]" */
} Ctx;

_printf_(2, 3) static int bad(Ctx *c, const char *fmt, ...) {
    char msg[150];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->where[0])
        snprintf(c->e->detail, sizeof c->e->detail, "%s: %s", c->where, msg);
    else
        snprintf(c->e->detail, sizeof c->e->detail, "%s", msg);
    return -EINVAL;
}

/* A field of an object; NULL (absent) and JSON null are the same, as for Go's decoder. */
static json_object *field(json_object *o, const char *key) {
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static int get_uint(Ctx *c, json_object *v, const char *key, uint64_t max, uint64_t *ret) {
    if (!json_object_is_type(v, json_type_int))
        return bad(c, "%s: expected a whole number", key);
    if (json_object_get_int64(v) < 0 || json_object_get_uint64(v) > max)
        return bad(c, "%s: %s out of range", key, json_object_get_string(v));
    *ret = json_object_get_uint64(v);
    return 0;
}

static int get_string(Ctx *c, json_object *v, const char *key, const char **ret) {
    if (!json_object_is_type(v, json_type_string))
        return bad(c, "%s: expected a string", key);
    if (strlen(json_object_get_string(v)) != (size_t) json_object_get_string_len(v))
        return bad(c, "%s: contains a NUL byte", key);
    *ret = json_object_get_string(v);
    return 0;
}

/* An array of strings (null: none). */
static int get_strv(Ctx *c, json_object *v, const char *key, char ***ret) {
    _cleanup_strv_free_ char **l = NULL;
    if (!v) {
        *ret = NULL;
        return 0;
    }
    if (!json_object_is_type(v, json_type_array))
        return bad(c, "%s: expected an array of strings", key);
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        const char *s;
        char k[64];
        snprintf(k, sizeof k, "%s[%zu]", key, i);
        int r = get_string(c, json_object_array_get_idx(v, i), k, &s);
        if (r < 0)
            return r;
        if (strv_extend(&l, s) < 0)
            return -ENOMEM;
    }
    *ret = TAKE_PTR(l);
    return 0;
}

static const struct {
    const char *name;
    SeccompActionType type;
} action_table[] = {
    {"SCMP_ACT_ALLOW", SECCOMP_ACTION_ALLOW},
    {"SCMP_ACT_ERRNO", SECCOMP_ACTION_ERRNO},
    {"SCMP_ACT_KILL", SECCOMP_ACTION_KILL_THREAD},
    {"SCMP_ACT_KILL_THREAD", SECCOMP_ACTION_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", SECCOMP_ACTION_KILL_PROCESS},
    {"SCMP_ACT_TRAP", SECCOMP_ACTION_TRAP},
    {"SCMP_ACT_TRACE", SECCOMP_ACTION_TRACE},
    {"SCMP_ACT_LOG", SECCOMP_ACTION_LOG},
};

/* action + its errno (errno_key: "defaultErrnoRet" or "errnoRet"), EPERM as runc's default */
static int get_action(Ctx *c, json_object *o, const char *key, const char *errno_key,
                      SeccompAction *ret) {
    const char *name;
    json_object *v = field(o, key);
    if (!v)
        return bad(c, "%s: missing", key);
    int r = get_string(c, v, key, &name);
    if (r < 0)
        return r;
    SeccompAction a = {.type = (SeccompActionType) -1};
    for (size_t i = 0; i < ELEMENTSOF(action_table); i++)
        if (streq(name, action_table[i].name))
            a.type = action_table[i].type;
    if (a.type == (SeccompActionType) -1) {
        if (streq(name, "SCMP_ACT_NOTIFY"))
            return bad(c, "%s: SCMP_ACT_NOTIFY is not supported (no seccomp agent)", key);
        return bad(c, "%s: unknown action \"%.40s\"", key, name);
    }
    uint64_t n = a.type == SECCOMP_ACTION_ERRNO ? EPERM : 0;
    if ((v = field(o, errno_key))) {
        /* errno values stop at 4095, the kernel's MAX_ERRNO */
        r = get_uint(c, v, errno_key, a.type == SECCOMP_ACTION_TRACE ? UINT16_MAX : 4095, &n);
        if (r < 0)
            return r;
    }
    a.data = (uint16_t) n;
    *ret = a;
    return 0;
}

static const char *const op_table[] = {
    [SECCOMP_OP_NE] = "SCMP_CMP_NE", [SECCOMP_OP_LT] = "SCMP_CMP_LT",
    [SECCOMP_OP_LE] = "SCMP_CMP_LE", [SECCOMP_OP_EQ] = "SCMP_CMP_EQ",
    [SECCOMP_OP_GE] = "SCMP_CMP_GE", [SECCOMP_OP_GT] = "SCMP_CMP_GT",
    [SECCOMP_OP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

static int parse_arg(Ctx *c, json_object *o, SeccompArg *ret) {
    uint64_t index, value = 0, value_two = 0;
    const char *op;
    json_object *v;
    if (!json_object_is_type(o, json_type_object))
        return bad(c, "expected an object");
    if (!(v = field(o, "index")))
        return bad(c, "index: missing");
    int r = get_uint(c, v, "index", SECCOMP_ARGS_MAX - 1, &index);
    if (r < 0)
        return r;
    if ((v = field(o, "value")) && (r = get_uint(c, v, "value", UINT64_MAX, &value)) < 0)
        return r;
    if ((v = field(o, "valueTwo")) &&
        (r = get_uint(c, v, "valueTwo", UINT64_MAX, &value_two)) < 0)
        return r;
    if (!(v = field(o, "op")))
        return bad(c, "op: missing");
    if ((r = get_string(c, v, "op", &op)) < 0)
        return r;
    for (size_t i = 0; i < ELEMENTSOF(op_table); i++)
        if (streq(op, op_table[i])) {
            *ret = (SeccompArg){(unsigned) index, (SeccompOp) i, value, value_two};
            return 0;
        }
    return bad(c, "op: unknown operator \"%.40s\"", op);
}

static int parse_condition(Ctx *c, json_object *o, const char *key, SeccompCondition *ret) {
    json_object *v;
    _cleanup_strv_free_ char **caps = NULL;
    int r;
    if (!o)
        return 0;
    if (!json_object_is_type(o, json_type_object))
        return bad(c, "%s: expected an object", key);
    if ((r = get_strv(c, field(o, "caps"), "caps", &caps)) < 0)
        return r;
    STRV_FOREACH(name, caps) {
        cap_value_t cap;
        /* Docker matches names as written: CAP_SYS_ADMIN, never sys_admin */
        if (strncmp(*name, "CAP_", 4) != 0 || cap_from_name(*name, &cap) < 0 || cap >= 64)
            ret->unknown_cap = true;
        else
            ret->caps |= 1ULL << cap;
    }
    if ((r = get_strv(c, field(o, "arches"), "arches", &ret->arches)) < 0)
        return r;
    if ((v = field(o, "minKernel"))) {
        const char *s;
        if ((r = get_string(c, v, "minKernel", &s)) < 0)
            return r;
        /* Docker's form is "<kernel>.<major>", nothing after it */
        const char *dot = strchr(s, '.');
        if (!dot || strchr(dot + 1, '.') || seccomp_parse_kernel_version(s, &ret->min_kernel) < 0 ||
            dot[1 + strspn(dot + 1, "0123456789")] != 0)
            return bad(c, "minKernel: expected \"<kernel>.<major>\" like \"4.8\", not \"%.40s\"",
                       s);
    }
    return 0;
}

static bool syscall_name_is_valid(const char *s) {
    size_t n = strlen(s);
    return n > 0 && n <= SYSCALL_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int parse_rule(Ctx *c, json_object *o, SeccompRule *ret) {
    json_object *v, *name = field(o, "name"), *names = field(o, "names");
    int r;
    if (!json_object_is_type(o, json_type_object))
        return bad(c, "expected an object");
    if (name && names)
        return bad(c, "both \"name\" and \"names\": use one of them");
    if (name) {
        const char *s;
        if ((r = get_string(c, name, "name", &s)) < 0)
            return r;
        if (strv_extend(&ret->names, s) < 0)
            return -ENOMEM;
    } else if ((r = get_strv(c, names, "names", &ret->names)) < 0)
        return r;
    if (!ret->names)
        return bad(c, "names: missing or empty");
    STRV_FOREACH(s, ret->names)
        if (!syscall_name_is_valid(*s))
            return bad(c, "names: \"%.40s\" is not a syscall name", *s);
    if ((r = get_action(c, o, "action", "errnoRet", &ret->action)) < 0)
        return r;
    if ((v = field(o, "args"))) {
        if (!json_object_is_type(v, json_type_array))
            return bad(c, "args: expected an array");
        if (json_object_array_length(v) > SECCOMP_ARGS_MAX)
            return bad(c, "args: at most %d", SECCOMP_ARGS_MAX);
        size_t base = strlen(c->where);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            snprintf(c->where + base, sizeof c->where - base, ".args[%zu]", i);
            if ((r = parse_arg(c, json_object_array_get_idx(v, i), &ret->args[i])) < 0)
                return r;
            ret->n_args++;
        }
        c->where[base] = 0;
    }
    if ((r = parse_condition(c, field(o, "includes"), "includes", &ret->includes)) < 0 ||
        (r = parse_condition(c, field(o, "excludes"), "excludes", &ret->excludes)) < 0)
        return r;
    return 0;
}

static int arch_name(Ctx *c, const char *scmp, char ***l) {
    /* "SCMP_ARCH_X86_64" -> libseccomp's "x86_64" */
    if (strncmp(scmp, "SCMP_ARCH_", 10) != 0 || !scmp[10] || strlen(scmp) > 40)
        return bad(c, "\"%.40s\" is not an architecture like SCMP_ARCH_X86_64", scmp);
    char lower[32];
    size_t n = 0;
    for (const char *p = scmp + 10; *p; p++)
        lower[n++] = (char) (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    lower[n] = 0;
    return strv_contains(*l, lower) ? 0 : strv_extend(l, lower);
}

static int parse_architectures(Ctx *c, json_object *root, SeccompProfile *p) {
    json_object *archs = field(root, "architectures"), *map = field(root, "archMap");
    _cleanup_strv_free_ char **l = NULL;
    int r;
    if (archs && map)
        return bad(c, "both \"architectures\" and \"archMap\": use one of them");
    if (archs) {
        if ((r = get_strv(c, archs, "architectures", &l)) < 0)
            return r;
        char **names = TAKE_PTR(l);
        STRV_FOREACH(a, names)
            if ((r = arch_name(c, *a, &l)) < 0) {
                strv_free(names);
                return r;
            }
        strv_free(names);
    } else if (map) {
        /* Docker's rule: the entry of the native architecture, with its sub-architectures */
        if (!json_object_is_type(map, json_type_array))
            return bad(c, "archMap: expected an array");
        for (size_t i = 0; i < json_object_array_length(map); i++) {
            json_object *e = json_object_array_get_idx(map, i);
            const char *a;
            _cleanup_strv_free_ char **sub = NULL;
            snprintf(c->where, sizeof c->where, "archMap[%zu]", i);
            if (!json_object_is_type(e, json_type_object))
                return bad(c, "expected an object");
            if ((r = get_string(c, field(e, "architecture"), "architecture", &a)) < 0 ||
                (r = get_strv(c, field(e, "subArchitectures"), "subArchitectures", &sub)) < 0)
                return r;
            _cleanup_strv_free_ char **one = NULL;
            if ((r = arch_name(c, a, &one)) < 0)
                return r;
            STRV_FOREACH(s, sub)
                if ((r = arch_name(c, *s, &one)) < 0)
                    return r;
            if (l || !streq(one[0], native_scmp_arch()))
                continue;
            l = TAKE_PTR(one);
        }
        c->where[0] = 0;
    }
    p->architectures = TAKE_PTR(l);
    return 0;
}

int seccomp_profile_parse_json(const char *text, size_t len, SeccompProfile **ret,
                               SeccompError *e) {
    Ctx c = {.e = e};
    _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(JSON_DEPTH_MAX);
    if (!tok)
        return -ENOMEM;
    if (len > SECCOMP_PROFILE_MAX_SIZE || strnlen(text, len) != len)
        return bad(&c, "not a JSON text of at most %d bytes", SECCOMP_PROFILE_MAX_SIZE);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    /* json-c clamps a number that overflows and says so only through errno */
    errno = 0;
    _cleanup_(json_object_putp) json_object *root = json_tokener_parse_ex(tok, text, (int) len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    if (je == json_tokener_continue)
        return bad(&c, "not valid JSON: the text ends early");
    if (je != json_tokener_success)
        return bad(&c, "not valid JSON at byte %zu: %s", json_tokener_get_parse_end(tok),
                   json_tokener_error_desc(je));
    if (errno == ERANGE)
        return bad(&c, "not valid JSON: a number is out of range");
    /* within len: the text need not be NUL-terminated */
    size_t end = json_tokener_get_parse_end(tok);
    for (size_t i = end; i < len; i++)
        if (!strchr(" \t\r\n", text[i]) || text[i] == 0)
            return bad(&c, "not valid JSON: text after the end at byte %zu", end);
    if (!json_object_is_type(root, json_type_object))
        return bad(&c, "expected a JSON object with \"defaultAction\" and \"syscalls\"");

    _cleanup_(seccomp_profile_freep) SeccompProfile *p = calloc(1, sizeof(SeccompProfile));
    if (!p)
        return -ENOMEM;
    int r = get_action(&c, root, "defaultAction", "defaultErrnoRet", &p->default_action);
    if (r < 0)
        return r;
    if ((r = parse_architectures(&c, root, p)) < 0)
        return r;
    json_object *calls = field(root, "syscalls");
    if (calls && !json_object_is_type(calls, json_type_array))
        return bad(&c, "syscalls: expected an array");
    size_t n = calls ? json_object_array_length(calls) : 0;
    if (n > 0 && !(p->rules = calloc(n, sizeof(SeccompRule))))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        snprintf(c.where, sizeof c.where, "syscalls[%zu]", i);
        p->n_rules++;
        if ((r = parse_rule(&c, json_object_array_get_idx(calls, i), &p->rules[i])) < 0)
            return r;
    }
    *ret = TAKE_PTR(p);
    return 0;
}
