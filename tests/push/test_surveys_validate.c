/*
 * test_surveys_validate.c - the survey checks in
 * src/server/api/surveys_validate.c: issue names exactly as SPEC.md's
 * table, every score against its scale, custom scale bounds, thresholds
 * and every kind of malformed body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "logshare.h"
#include "surveys_validate.h"

static int parse(const char *json, survey *s, char *err)
{
    return surveys_parse(json, strlen(json), s, err, 256);
}

/* Parses a body that must be refused; checks the message names the
 * problem. */
static void expect_refused(const char *json, const char *needle)
{
    survey s;
    char err[256];
    int rc = parse(json, &s, err);
    if (rc != LOGSHARE_EINVAL || !strstr(err, needle)) {
        print_error("body %s: rc %d, message '%s', expected '%s'\n", json, rc, err, needle);
        fail();
    }
    assert_null(s.call_id);
    assert_int_equal(s.ratings[0].present, 0);
}

static void issue_names_match_the_spec_table(void **state)
{
    (void)state;
    /* Copied from SPEC.md by hand: the table is the contract. */
    static const char *want[SURVEY_CATEGORY_COUNT] = {
        "CallCannotJoin CallCannotInvite HadToRejoin CallEndedUnexpectedly OtherIssues",
        "NoLocalAudio NoRemoteAudio Echo AudioNoise LowVolume AudioStoppedUnexpectedly "
        "DistortedSpeech AudioInterruption OtherIssues",
        "NoVideoReceived NoVideoSent LowQuality Freezes StoppedUnexpectedly DarkVideoReceived "
        "AudioVideoOutOfSync OtherIssues",
        "NoContentLocal NoContentRemote CannotPresent LowQuality Freezes StoppedUnexpectedly "
        "LargeDelay OtherIssues"};
    for (int c = 0; c < SURVEY_CATEGORY_COUNT; c++) {
        size_t n;
        const char *const *names = surveys_issue_names((survey_category)c, &n);
        char joined[512] = "";
        for (size_t i = 0; i < n; i++) {
            if (i)
                strcat(joined, " ");
            strcat(joined, names[i]);
            assert_int_equal(surveys_issue_index((survey_category)c, names[i]), (int)i);
        }
        assert_string_equal(joined, want[c]);
        assert_int_equal(surveys_category_parse(surveys_category_name((survey_category)c)), c);
    }
    assert_int_equal(surveys_category_parse("Overall"), -1);
    assert_null(surveys_category_name(SURVEY_CATEGORY_COUNT));
    assert_int_equal(surveys_issue_index(SURVEY_AUDIO, "echo"), -1);
}

static void every_issue_is_accepted_in_its_own_category_only(void **state)
{
    (void)state;
    for (int c = 0; c < SURVEY_CATEGORY_COUNT; c++) {
        size_t n;
        const char *const *names = surveys_issue_names((survey_category)c, &n);
        for (size_t i = 0; i < n; i++) {
            for (int d = 0; d < SURVEY_CATEGORY_COUNT; d++) {
                char body[256];
                snprintf(body, sizeof body,
                         "{\"call_id\":\"c1\",\"%s\":{\"score\":3,\"issues\":[\"%s\"]}}",
                         surveys_category_name((survey_category)d), names[i]);
                survey s;
                char err[256];
                int rc = parse(body, &s, err);
                int belongs = surveys_issue_index((survey_category)d, names[i]) >= 0;
                assert_int_equal(rc, belongs ? 0 : LOGSHARE_EINVAL);
                if (belongs)
                    assert_int_equal(s.ratings[d].issues,
                                     1u << surveys_issue_index((survey_category)d, names[i]));
                else
                    assert_non_null(strstr(err, "is not a"));
                surveys_clear(&s);
            }
        }
    }
}

static void default_scale_accepts_one_to_five_and_nothing_else(void **state)
{
    (void)state;
    for (int score = -2; score <= 8; score++) {
        for (int c = 0; c < SURVEY_CATEGORY_COUNT; c++) {
            char body[128];
            snprintf(body, sizeof body, "{\"call_id\":\"c\",\"%s\":{\"score\":%d}}",
                     surveys_category_name((survey_category)c), score);
            survey s;
            char err[256];
            int rc = parse(body, &s, err);
            if (score >= 1 && score <= 5) {
                assert_int_equal(rc, 0);
                const survey_rating *r = &s.ratings[c];
                assert_true(r->present);
                assert_int_equal(r->score, score);
                assert_int_equal(r->lower, 1);
                assert_int_equal(r->upper, 5);
                assert_int_equal(r->low_threshold, 2);
                assert_int_equal(surveys_rating_is_low(r), score <= 2);
            } else {
                assert_int_equal(rc, LOGSHARE_EINVAL);
                assert_non_null(strstr(err, "outside the scale 1..5"));
            }
            surveys_clear(&s);
        }
    }
}

static void custom_scales_bound_lower_upper_and_threshold(void **state)
{
    (void)state;
    for (int lower = -1; lower <= 2; lower++) {
        for (int upper = -1; upper <= 102; upper++) {
            char body[200];
            snprintf(body, sizeof body,
                     "{\"call_id\":\"c\",\"video\":{\"score\":%d,\"scale\":{\"lower\":%d,"
                     "\"upper\":%d}}}",
                     upper, lower, upper);
            survey s;
            char err[256];
            int rc = parse(body, &s, err);
            int ok = (lower == 0 || lower == 1) && upper > lower && upper <= 100;
            assert_int_equal(rc, ok ? 0 : LOGSHARE_EINVAL);
            if (ok) {
                assert_int_equal(s.ratings[SURVEY_VIDEO].lower, lower);
                assert_int_equal(s.ratings[SURVEY_VIDEO].upper, upper);
                assert_int_equal(s.ratings[SURVEY_VIDEO].low_threshold,
                                 lower + (upper - lower) / 4);
            } else {
                assert_non_null(strstr(err, "scale."));
            }
            surveys_clear(&s);
        }
    }
}

static void scores_are_checked_against_a_custom_scale(void **state)
{
    (void)state;
    survey s;
    char err[256];
    const char *ok0 = "{\"call_id\":\"c\",\"audio\":{\"score\":0,\"scale\":{\"lower\":0,"
                      "\"upper\":10,\"low_threshold\":4}}}";
    assert_int_equal(parse(ok0, &s, err), 0);
    assert_int_equal(s.ratings[SURVEY_AUDIO].low_threshold, 4);
    assert_true(surveys_rating_is_low(&s.ratings[SURVEY_AUDIO]));
    surveys_clear(&s);
    const char *ok100 = "{\"call_id\":\"c\",\"audio\":{\"score\":100,\"scale\":{\"lower\":1,"
                        "\"upper\":100,\"low_threshold\":99}}}";
    assert_int_equal(parse(ok100, &s, err), 0);
    assert_false(surveys_rating_is_low(&s.ratings[SURVEY_AUDIO]));
    surveys_clear(&s);
    expect_refused("{\"call_id\":\"c\",\"audio\":{\"score\":11,\"scale\":{\"lower\":0,"
                   "\"upper\":10}}}",
                   "audio.score 11 is outside the scale 0..10");
    expect_refused("{\"call_id\":\"c\",\"audio\":{\"score\":0,\"scale\":{\"lower\":1,"
                   "\"upper\":10}}}",
                   "outside the scale 1..10");
    expect_refused("{\"call_id\":\"c\",\"audio\":{\"score\":3,\"scale\":{\"lower\":1,"
                   "\"upper\":5,\"low_threshold\":5}}}",
                   "low_threshold");
    expect_refused("{\"call_id\":\"c\",\"audio\":{\"score\":3,\"scale\":{\"lower\":1,"
                   "\"upper\":5,\"low_threshold\":0}}}",
                   "low_threshold");
    expect_refused("{\"call_id\":\"c\",\"audio\":{\"score\":3,\"scale\":{\"upper\":5}}}",
                   "scale.lower is required");
    expect_refused("{\"call_id\":\"c\",\"audio\":{\"score\":3,\"scale\":{\"lower\":1}}}",
                   "scale.upper is required");
    expect_refused("{\"call_id\":\"c\",\"audio\":{\"score\":3,\"scale\":{\"lower\":1,"
                   "\"upper\":5,\"step\":1}}}",
                   "unknown field 'step'");
    expect_refused("{\"call_id\":\"c\",\"audio\":{\"score\":3,\"scale\":[1,5]}}",
                   "scale must be an object");
    expect_refused("{\"call_id\":\"c\",\"audio\":{\"score\":3,\"scale\":{\"lower\":1.0,"
                   "\"upper\":5}}}",
                   "lower must be an integer");
}

static void a_full_survey_keeps_every_field(void **state)
{
    (void)state;
    const char *body =
        "{\"call_id\":\"call-42\",\"overall\":{\"score\":2,\"issues\":[\"HadToRejoin\"]},"
        "\"audio\":{\"score\":1,\"issues\":[\"Echo\",\"LowVolume\"]},"
        "\"video\":null,"
        "\"screenshare\":{\"score\":5,\"scale\":{\"lower\":1,\"upper\":5,\"low_threshold\":1}},"
        "\"more_info\":\"echo when the other side spoke\",\"report_issue\":true}";
    survey s;
    char err[256];
    assert_int_equal(parse(body, &s, err), 0);
    assert_string_equal(s.call_id, "call-42");
    assert_string_equal(s.more_info, "echo when the other side spoke");
    assert_true(s.report_issue);
    assert_true(s.ratings[SURVEY_OVERALL].present);
    assert_int_equal(s.ratings[SURVEY_OVERALL].issues,
                     1u << surveys_issue_index(SURVEY_OVERALL, "HadToRejoin"));
    assert_int_equal(s.ratings[SURVEY_AUDIO].issues,
                     (1u << surveys_issue_index(SURVEY_AUDIO, "Echo")) |
                         (1u << surveys_issue_index(SURVEY_AUDIO, "LowVolume")));
    assert_false(s.ratings[SURVEY_VIDEO].present);
    assert_int_equal(s.ratings[SURVEY_SCREENSHARE].low_threshold, 1);
    assert_false(surveys_rating_is_low(&s.ratings[SURVEY_SCREENSHARE]));
    assert_true(surveys_rating_is_low(&s.ratings[SURVEY_OVERALL]));
    surveys_clear(&s);
    surveys_clear(&s); /* cleared twice is harmless */
    surveys_clear(NULL);
}

static void malformed_bodies_are_refused_with_a_reason(void **state)
{
    (void)state;
    expect_refused("", "not valid JSON");
    expect_refused("{\"call_id\":", "not valid JSON");
    expect_refused("[1,2]", "must be a JSON object");
    expect_refused("{\"overall\":{\"score\":3}}", "call_id is required");
    expect_refused("{\"call_id\":\"\",\"overall\":{\"score\":3}}", "call_id is required");
    expect_refused("{\"call_id\":7,\"overall\":{\"score\":3}}", "call_id is required");
    expect_refused("{\"call_id\":\"a\\nb\",\"overall\":{\"score\":3}}", "printable");
    expect_refused("{\"call_id\":\"a\\u0000b\",\"overall\":{\"score\":3}}", "not valid JSON");
    expect_refused("{\"call_id\":\"c\"}", "at least one of");
    expect_refused("{\"call_id\":\"c\",\"overall\":null}", "at least one of");
    expect_refused("{\"call_id\":\"c\",\"overal\":{\"score\":3}}", "unknown field 'overal'");
    expect_refused("{\"call_id\":\"c\",\"overall\":{\"score\":3},\"call_id\":\"d\"}",
                   "not valid JSON");
    expect_refused("{\"call_id\":\"c\",\"overall\":3}", "overall must be an object");
    expect_refused("{\"call_id\":\"c\",\"overall\":{}}", "overall.score is required");
    expect_refused("{\"call_id\":\"c\",\"overall\":{\"score\":\"4\"}}", "must be an integer");
    expect_refused("{\"call_id\":\"c\",\"overall\":{\"score\":4.5}}", "must be an integer");
    expect_refused("{\"call_id\":\"c\",\"overall\":{\"score\":true}}", "must be an integer");
    expect_refused("{\"call_id\":\"c\",\"overall\":{\"score\":99999999999}}", "out of range");
    expect_refused("{\"call_id\":\"c\",\"overall\":{\"score\":3,\"rating\":1}}",
                   "unknown field 'rating'");
    expect_refused("{\"call_id\":\"c\",\"overall\":{\"score\":3,\"issues\":\"Echo\"}}",
                   "must be an array");
    expect_refused("{\"call_id\":\"c\",\"overall\":{\"score\":3,\"issues\":[3]}}",
                   "must be a string");
    expect_refused("{\"call_id\":\"c\",\"overall\":{\"score\":3,\"issues\":[\"OtherIssues\","
                   "\"OtherIssues\"]}}",
                   "listed twice");
    expect_refused("{\"call_id\":\"c\",\"audio\":{\"score\":3,\"issues\":[\"echo\"]}}",
                   "'echo' is not a audio issue");
    expect_refused("{\"call_id\":\"c\",\"overall\":{\"score\":3},\"more_info\":5}",
                   "more_info must be a string");
    expect_refused("{\"call_id\":\"c\",\"overall\":{\"score\":3},\"report_issue\":\"yes\"}",
                   "report_issue must be true or false");

    char big[SURVEY_MAX_MORE_INFO + 200];
    int n = snprintf(big, sizeof big,
                     "{\"call_id\":\"c\",\"overall\":{\"score\":3},"
                     "\"more_info\":\"");
    memset(big + n, 'x', SURVEY_MAX_MORE_INFO + 1);
    strcpy(big + n + SURVEY_MAX_MORE_INFO + 1, "\"}");
    expect_refused(big, "more_info must be at most");
    big[n + SURVEY_MAX_MORE_INFO] = '"';
    strcpy(big + n + SURVEY_MAX_MORE_INFO + 1, "}");
    survey s;
    char err[256];
    assert_int_equal(parse(big, &s, err), 0);
    assert_int_equal(strlen(s.more_info), SURVEY_MAX_MORE_INFO);
    surveys_clear(&s);
}

static void a_body_that_is_not_nul_terminated_is_read_to_its_length(void **state)
{
    (void)state;
    const char text[] = "{\"call_id\":\"c\",\"overall\":{\"score\":4}}GARBAGE";
    survey s;
    char err[8];
    assert_int_equal(surveys_parse(text, sizeof text - 1 - 7, &s, err, sizeof err), 0);
    assert_int_equal(s.ratings[SURVEY_OVERALL].score, 4);
    surveys_clear(&s);
    /* a short error buffer still gets a terminated message */
    assert_int_equal(surveys_parse(text, sizeof text - 1, &s, err, sizeof err), LOGSHARE_EINVAL);
    assert_true(strlen(err) < sizeof err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(issue_names_match_the_spec_table),
        cmocka_unit_test(every_issue_is_accepted_in_its_own_category_only),
        cmocka_unit_test(default_scale_accepts_one_to_five_and_nothing_else),
        cmocka_unit_test(custom_scales_bound_lower_upper_and_threshold),
        cmocka_unit_test(scores_are_checked_against_a_custom_scale),
        cmocka_unit_test(a_full_survey_keeps_every_field),
        cmocka_unit_test(malformed_bodies_are_refused_with_a_reason),
        cmocka_unit_test(a_body_that_is_not_nul_terminated_is_read_to_its_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
