/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sandbox.unit(5) and sandboxd.conf(5) against the parsers' key tables: every key the parser
 * takes is documented in its section, and every key the page documents is one the parser
 * takes, so the two cannot drift. A documented key is a "*Key=*" at the start of a line (or in
 * a list of them on that line) under "# [Section] SECTION". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conf-parser.h"

#define MAX_DOC 256

typedef struct Doc {
    char section[32], key[64];
} Doc;

static size_t read_doc(const char *page, Doc *docs) {
    char path[4096], line[4096], section[32] = "";
    size_t n = 0;
    snprintf(path, sizeof path, "%s/man/%s", SOURCE_ROOT, page);
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "# [%31[A-Za-z]] SECTION", section) == 1)
            continue;
        if (line[0] == '#')
            section[0] = 0; /* EXAMPLE, SEE ALSO... */
        if (line[0] != '*' || !section[0])
            continue;
        /* "*A=*, *B=*" */
        for (char *p = line; (p = strchr(p, '*'));) {
            char *eq = strstr(p + 1, "=*");
            char *next_star = strchr(p + 1, '*');
            if (!eq || next_star != eq + 1)
                break;
            assert_true(n < MAX_DOC);
            snprintf(docs[n].section, sizeof docs[n].section, "%s", section);
            snprintf(docs[n].key, sizeof docs[n].key, "%.*s", (int) (eq - p - 1), p + 1);
            n++;
            p = eq + 2;
        }
    }
    fclose(f);
    return n;
}

static bool documented(const Doc *docs, size_t n, const char *section, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(docs[i].section, section) == 0 && strcmp(docs[i].key, key) == 0)
            return true;
    return false;
}

static bool in_table(const ConfSyntax *syn, const char *section, const char *key) {
    for (size_t i = 0; i < syn->n_keys; i++)
        if (strcmp(syn->keys[i].section, section) == 0 && strcmp(syn->keys[i].key, key) == 0)
            return true;
    return false;
}

/* Keys the parser also takes in a second section, documented once in their first (the page
 * says where else they are accepted). */
static bool alias(const char *section, const char *key) {
    return strcmp(section, "Service") == 0 &&
           (strcmp(key, "StartLimitIntervalSec") == 0 || strcmp(key, "StartLimitBurst") == 0);
}

static void check(const char *page, const ConfSyntax *syn) {
    Doc docs[MAX_DOC];
    size_t n = read_doc(page, docs);
    int missing = 0, unknown = 0;
    assert_true(n > 0);
    for (size_t i = 0; i < syn->n_keys; i++)
        if (!alias(syn->keys[i].section, syn->keys[i].key) &&
            !documented(docs, n, syn->keys[i].section, syn->keys[i].key)) {
            print_error("%s: [%s] %s= is not documented\n", page, syn->keys[i].section,
                        syn->keys[i].key);
            missing++;
        }
    for (size_t i = 0; i < n; i++)
        if (!in_table(syn, docs[i].section, docs[i].key)) {
            print_error("%s: documents [%s] %s=, which the parser does not take\n", page,
                        docs[i].section, docs[i].key);
            unknown++;
        }
    assert_int_equal(missing, 0);
    assert_int_equal(unknown, 0);
}

static void test_unit_keys(void **state) {
    check("sandbox.unit.5.scd", unit_file_syntax());
}

static void test_daemon_config_keys(void **state) {
    check("sandboxd.conf.5.scd", daemon_config_syntax());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_keys),
        cmocka_unit_test(test_daemon_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
