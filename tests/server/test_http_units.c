/*
 * test_http_units.c - unit tests for the HTTP layer's small parts that
 * have rules of their own: route matching, token buckets, settings,
 * file-name safety and UTF-8 checks. The whole server is tested through
 * real HTTP by the scripts beside this file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "config/server_config.h"
#include "http/ratelimit.h"
#include "http/router.h"
#include "logshare.h"

static const http_route routes[] = {
    {"GET", "/api/v1/tickets", "list", 0, {0}},
    {"GET", "/api/v1/tickets/{id}", "get", 0, {0}},
    {"PATCH", "/api/v1/tickets/{id}", "patch", 0, {0}},
    {"GET", "/api/v1/tickets/{id}/attachments/{aid}", "att", 0, {0}},
    {"GET", "/ui/{*file}", "static", 0, {0}},
    {"GET", "/stream", "stream", HTTP_ROUTE_NO_HEAD, {0}},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static void router_matches_literals_and_placeholders(void **state)
{
    (void)state;
    http_request req;
    memset(&req, 0, sizeof req);
    const http_route *r = NULL;
    assert_int_equal(router_match(routes, NROUTES, "GET", "/api/v1/tickets", &req, &r),
                     ROUTER_FOUND);
    assert_string_equal(r->name, "list");
    assert_int_equal(
        router_match(routes, NROUTES, "GET", "/api/v1/tickets/tk_1/attachments/at_2", &req, &r),
        ROUTER_FOUND);
    assert_string_equal(r->name, "att");
    assert_int_equal(req.n_params, 2);
    assert_string_equal(req.params[0], "tk_1");
    assert_string_equal(req.params[1], "at_2");
    assert_int_equal(router_match(routes, NROUTES, "PATCH", "/api/v1/tickets/x", &req, &r),
                     ROUTER_FOUND);
    assert_string_equal(r->name, "patch");
    assert_int_equal(router_match(routes, NROUTES, "GET", "/ui/js/app.js", &req, &r), ROUTER_FOUND);
    assert_string_equal(r->name, "static");
    assert_string_equal(req.params[0], "js/app.js");
    assert_int_equal(router_match(routes, NROUTES, "GET", "/ui/", &req, &r), ROUTER_NO_PATH);
}

static void router_refuses_near_misses(void **state)
{
    (void)state;
    http_request req;
    memset(&req, 0, sizeof req);
    const http_route *r = NULL;
    assert_int_equal(router_match(routes, NROUTES, "DELETE", "/api/v1/tickets/x", &req, &r),
                     ROUTER_NO_METHOD);
    assert_int_equal(router_match(routes, NROUTES, "GET", "/api/v1/tickets/", &req, &r),
                     ROUTER_NO_PATH);
    assert_int_equal(
        router_match(routes, NROUTES, "GET", "/api/v1/tickets//attachments/a", &req, &r),
        ROUTER_NO_PATH);
    assert_int_equal(router_match(routes, NROUTES, "GET", "/api/v1/ticketsX", &req, &r),
                     ROUTER_NO_PATH);
    assert_int_equal(router_match(routes, NROUTES, "GET", "/api/v1/tickets/a/b", &req, &r),
                     ROUTER_NO_PATH);
    char longpath[2000] = "/api/v1/tickets/";
    memset(longpath + 16, 'a', 1500);
    assert_int_equal(router_match(routes, NROUTES, "GET", longpath, &req, &r), ROUTER_NO_PATH);
}

static void router_answers_head_with_get_and_lists_allowed_methods(void **state)
{
    (void)state;
    http_request req;
    memset(&req, 0, sizeof req);
    const http_route *r = NULL;
    assert_int_equal(
        router_match(routes, NROUTES, "HEAD", "/api/v1/tickets/tk_1/attachments/at_2", &req, &r),
        ROUTER_FOUND);
    assert_string_equal(r->name, "att");
    assert_int_equal(req.n_params, 2);
    assert_string_equal(req.params[0], "tk_1");
    assert_string_equal(req.params[1], "at_2");
    assert_int_equal(router_match(routes, NROUTES, "HEAD", "/api/v1/tickets/x", &req, &r),
                     ROUTER_FOUND);
    assert_string_equal(r->name, "get");
    assert_string_equal(req.params[0], "x");
    /* a stream does not answer HEAD */
    assert_int_equal(router_match(routes, NROUTES, "HEAD", "/stream", &req, &r), ROUTER_NO_METHOD);
    char allow[64];
    router_allowed(routes, NROUTES, "/api/v1/tickets/x", &req, allow, sizeof allow);
    assert_string_equal(allow, "GET, PATCH, HEAD");
    router_allowed(routes, NROUTES, "/stream", &req, allow, sizeof allow);
    assert_string_equal(allow, "GET");
    router_allowed(routes, NROUTES, "/api/v1/tickets/x", &req, allow, 8);
    assert_string_equal(allow, "GET"); /* what does not fit is left out */
    assert_int_equal(req.n_params, 0);
}

static void ratelimit_allows_burst_then_refills(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(2, 3, 64);
    assert_non_null(rl);
    int retry = 0;
    int64_t t = 1000000000LL;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_take(rl, "a", t, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "a", t, &retry), LOGSHARE_ERATELIMIT);
    assert_int_equal(retry, 1);
    assert_int_equal(ratelimit_take(rl, "b", t, &retry), 0); /* buckets are per key */
    assert_int_equal(ratelimit_take(rl, "a", t + 500000000LL, &retry),
                     0); /* 2/s: one back after 0.5 s */
    assert_int_equal(ratelimit_take(rl, "a", t + 500000000LL, &retry), LOGSHARE_ERATELIMIT);
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

static void ratelimit_memory_is_bounded(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(1, 1, 32);
    int retry;
    char key[32];
    for (int i = 0; i < 10000; i++) { /* many keys, few slots: no growth, no crash */
        snprintf(key, sizeof key, "k%d", i);
        ratelimit_take(rl, key, 1000, &retry);
    }
    ratelimit_free(rl);
}

static void config_sets_keys_by_every_spelling(void **state)
{
    (void)state;
    server_config c;
    assert_int_equal(server_config_defaults(&c), 0);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.data_dir, "./logshare-data");
    assert_int_equal(server_config_set(&c, "limits.max_body_bytes", "10M"), 0);
    assert_int_equal(c.max_body_bytes, 10 << 20);
    assert_int_equal(server_config_set(&c, "max-files", "3"), 0);
    assert_int_equal(c.max_files, 3);
    assert_int_equal(server_config_set(&c, "auth-issuer", "me"), 0);
    assert_string_equal(c.auth_issuer, "me");
    assert_int_equal(server_config_set(&c, "durable", "off"), 0);
    assert_int_equal(c.durable, 0);
    assert_int_equal(server_config_set(&c, "max-files", "-1"), LOGSHARE_EINVAL);
    assert_int_equal(server_config_set(&c, "max-files", "3x"), LOGSHARE_EINVAL);
    assert_int_equal(server_config_set(&c, "nope", "1"), LOGSHARE_ENOENT);
    /* size suffixes that would wrap past 63 bits are refused, the largest
     * that fit are kept exactly */
    assert_int_equal(server_config_set(&c, "max-body-bytes", "8589934591G"), 0);
    assert_true(c.max_body_bytes == 8589934591LL << 30);
    assert_int_equal(server_config_set(&c, "max-body-bytes", "8589934592G"), LOGSHARE_ETOOLARGE);
    assert_int_equal(server_config_set(&c, "max-body-bytes", "17179869184g"), LOGSHARE_ETOOLARGE);
    assert_int_equal(server_config_set(&c, "max-file-bytes", "9007199254740992k"),
                     LOGSHARE_ETOOLARGE);
    assert_int_equal(server_config_set(&c, "max-file-bytes", "8796093022208M"), LOGSHARE_ETOOLARGE);
    assert_int_equal(server_config_set(&c, "max-file-bytes", "99999999999999999999"),
                     LOGSHARE_ETOOLARGE);
    assert_true(c.max_body_bytes == 8589934591LL << 30); /* unchanged by the refusals */
    assert_int_equal(server_config_set(&c, "max-file-bytes", "-0"), LOGSHARE_EINVAL);
    /* the message says why, through every source */
    server_config big;
    char err[256] = "";
    char *argv[] = {"logshared", "--max-body-bytes", "16777216T"};
    assert_int_equal(server_config_load(&big, 3, argv, 1, err, sizeof err), LOGSHARE_EINVAL);
    assert_non_null(strstr(err, "bad value"));
    server_config_clear(&big);
    char *argv2[] = {"logshared", "--max-body-bytes", "8589934592G"};
    assert_int_equal(server_config_load(&big, 3, argv2, 1, err, sizeof err), LOGSHARE_EINVAL);
    assert_non_null(strstr(err, "too large"));
    assert_non_null(strstr(err, "--max-body-bytes"));
    server_config_clear(&big);
    server_config_clear(&c);
    server_config_clear(NULL);
}

static void filenames_are_made_safe(void **state)
{
    (void)state;
    char safe[256], ascii[256];
    api_filename_safe("../../etc/passwd", safe, sizeof safe, ascii, sizeof ascii);
    assert_string_equal(safe, "passwd");
    api_filename_safe("..\\..\\win\\a:b*c?.txt", safe, sizeof safe, ascii, sizeof ascii);
    assert_string_equal(safe, "a_b_c_.txt");
    api_filename_safe("..", safe, sizeof safe, NULL, 0);
    assert_string_equal(safe, "file");
    api_filename_safe("\xc3\xa9t\xc3\xa9.log", safe, sizeof safe, ascii, sizeof ascii);
    assert_string_equal(safe, "\xc3\xa9t\xc3\xa9.log");
    assert_string_equal(ascii, "__t__.log");
    /* A dropped invalid byte must not uncover leading dots (fuzz_strings). */
    api_filename_safe("\xff.htaccess", safe, sizeof safe, NULL, 0);
    assert_string_equal(safe, "htaccess");
    api_filename_safe("dir/ \x80 .. .bashrc", safe, sizeof safe, NULL, 0);
    assert_string_equal(safe, "bashrc");
    char longname[5000];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    api_filename_safe(longname, safe, sizeof safe, NULL, 0);
    assert_int_equal(strlen(safe), 200);
    char *kept = api_filename_preserve("a\x01\xff/../b");
    assert_string_equal(kept, "a\xef\xbf\xbd\xef\xbf\xbd/../b");
    free(kept);
}

static void utf8_validation(void **state)
{
    (void)state;
    assert_true(api_utf8_valid("h\xc3\xa9llo \xf0\x9f\x9a\x80", 11));
    assert_false(api_utf8_valid("\xc0\xaf", 2));     /* overlong */
    assert_false(api_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(api_utf8_valid("a\0b", 3));         /* NUL */
    assert_false(api_utf8_valid("\xe2\x82", 2));     /* truncated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(router_matches_literals_and_placeholders),
        cmocka_unit_test(router_refuses_near_misses),
        cmocka_unit_test(router_answers_head_with_get_and_lists_allowed_methods),
        cmocka_unit_test(ratelimit_allows_burst_then_refills),
        cmocka_unit_test(ratelimit_memory_is_bounded),
        cmocka_unit_test(config_sets_keys_by_every_spelling),
        cmocka_unit_test(filenames_are_made_safe),
        cmocka_unit_test(utf8_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
