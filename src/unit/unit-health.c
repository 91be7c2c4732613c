/* SPDX-License-Identifier: GPL-2.0-or-later */
/* [Health]: the probe's keys (Exec= shares ExecStart='s parser) and the rules across them. */

#include <stdio.h>
#include <string.h>

#include "unit-internal.h"

static const char *const health_action_table[_HEALTH_ACTION_MAX] = {
    [HEALTH_ACTION_NONE] = "none",
    [HEALTH_ACTION_RESTART] = "restart",
    [HEALTH_ACTION_STOP] = "stop",
    [HEALTH_ACTION_KILL] = "kill",
};

const char *health_action_to_string(HealthAction a) {
    return a >= 0 && a < _HEALTH_ACTION_MAX ? health_action_table[a] : NULL;
}

int unit_parse_health_action(ConfParser *p, const char *v, void *field, uintptr_t d,
                             const char **why) {
    (void) p, (void) d;
    HealthAction a = HEALTH_ACTION_NONE;
    if (*v) {
        for (a = 0; a < _HEALTH_ACTION_MAX; a++)
            if (streq(v, health_action_table[a]))
                break;
        if (a == _HEALTH_ACTION_MAX) {
            *why = "expected none, restart, stop or kill";
            return -EINVAL;
        }
    }
    *(HealthAction *) field = a;
    return 0;
}

static int parse_port_number(const char *s, uint16_t *ret) {
    uint32_t v;
    if (safe_atou32(s, &v) < 0 || v == 0 || v > 65535)
        return -EINVAL;
    *ret = (uint16_t) v;
    return 0;
}

int unit_parse_health_tcp(ConfParser *p, const char *v, void *field, uintptr_t d,
                          const char **why) {
    (void) p, (void) d;
    uint16_t port = 0;
    if (*v && parse_port_number(v, &port) < 0) {
        *why = "expected the sandbox's port, 1 to 65535";
        return -EINVAL;
    }
    *(uint16_t *) field = port;
    return 0;
}

/* HTTP=PORT[/PATH]: the path goes into the request line as it is, so it must be one token of
 * printable ASCII */
int unit_parse_health_http(ConfParser *p, const char *v, void *field, uintptr_t d,
                           const char **why) {
    (void) field, (void) d;
    HealthCheck *h = &((UnitConfig *) p->target)->health;
    uint16_t port = 0;
    _cleanup_free_ char *num = strndup(v, strcspn(v, "/")), *path = NULL;
    const char *slash = strchr(v, '/');
    if (!num)
        return -ENOMEM;
    if (*v) {
        if (parse_port_number(num, &port) < 0) {
            *why = "expected PORT or PORT/PATH, like 8080/healthz";
            return -EINVAL;
        }
        if (!(path = strdup(slash ?: "/")))
            return -ENOMEM;
        if (strlen(path) > HEALTH_HTTP_PATH_MAX) {
            *why = "the path is longer than 1024 bytes";
            return -EINVAL;
        }
        for (const char *c = path; *c; c++)
            if (*c <= ' ' || *c >= 127) {
                *why = "the path must be printable ASCII without spaces (percent-encode the "
                       "rest)";
                return -EINVAL;
            }
    }
    h->http_port = port;
    free(h->http_path);
    h->http_path = TAKE_PTR(path);
    return 0;
}

void unit_validate_health(ConfParser *p, unsigned section_line) {
    UnitConfig *u = p->target;
    HealthCheck *h = &u->health;
    h->line = section_line;
    int kinds = !!h->exec + !!h->tcp_port + !!h->http_port;
    if (kinds > 1)
        conf_add_error(p, section_line, "[Health]: Exec=, TCP= and HTTP= are one probe each; "
                                        "give only one of them");
    if (!kinds && section_line &&
        (conf_line_of(p, "IntervalSec") || conf_line_of(p, "OnFailure") ||
         conf_line_of(p, "Startup") || conf_line_of(p, "Retries")))
        conf_add_error(p, section_line, "[Health]: no probe; give Exec=, TCP= or HTTP=");
    if (h->interval_usec == 0 || h->interval_usec == USEC_INFINITY)
        conf_add_error(p, conf_line_of(p, "IntervalSec") ?: section_line,
                       "IntervalSec=: must be a time span above 0");
    if (h->timeout_usec == 0 || h->timeout_usec == USEC_INFINITY)
        conf_add_error(p, conf_line_of(p, "TimeoutSec") ?: section_line,
                       "TimeoutSec=: must be a time span above 0 (a probe never outlives it)");
    if (h->retries == 0)
        conf_add_error(p, conf_line_of(p, "Retries") ?: section_line,
                       "Retries=: must be 1 or more");
}
