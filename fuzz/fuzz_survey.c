/*
 * fuzz_survey.c - fuzz harness for the server's survey validation
 * (src/server/api/surveys_validate.c), which parses the JSON a client
 * posts to POST /api/v1/surveys.
 *
 * Input layout: the bytes are the survey document. Invariants checked
 * on what is accepted: the limits docs/api.md states (a non-empty
 * call_id of at most SURVEY_MAX_CALL_ID printable characters,
 * more_info of at most SURVEY_MAX_MORE_INFO bytes, at least one rating,
 * each score inside its scale, each threshold inside the scale); on
 * what is refused: a non-empty, NUL-terminated message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "surveys_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rating(const survey_rating *r)
{
    if (r->lower < 0 || r->upper <= r->lower || r->upper > SURVEY_MAX_UPPER ||
        r->score < r->lower || r->score > r->upper || r->low_threshold < r->lower ||
        r->low_threshold >= r->upper)
        abort();
    (void)surveys_rating_is_low(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    survey s;
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = surveys_parse((const char *)data, size, &s, err, sizeof err);
    if (rc != 0) {
        if (!memchr(err, '\0', sizeof err) || err[0] == '\0')
            abort();
        return 0;
    }
    size_t n = s.call_id ? strlen(s.call_id) : 0;
    if (n == 0 || n > SURVEY_MAX_CALL_ID ||
        (s.more_info && strlen(s.more_info) > SURVEY_MAX_MORE_INFO))
        abort();
    int any = 0;
    for (int c = 0; c < SURVEY_CATEGORY_COUNT; c++)
        if (s.ratings[c].present) {
            check_rating(&s.ratings[c]);
            any = 1;
        }
    if (!any)
        abort();
    surveys_clear(&s);
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "fuzz_replay.h"
#endif
