/*
 * surveys_validate.c - parses and checks an end-of-call survey body (see
 * surveys_validate.h for the rules). Every refusal names the field and
 * the reason, because the caller is an app developer reading a 400.
 */
#include "surveys_validate.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "logshare.h"

static const char *const category_names[SURVEY_CATEGORY_COUNT] = {"overall", "audio", "video",
                                                                  "screenshare"};

/* SPEC.md, "Survey issue names, per category (as in ACS's calling SDK)". */
static const char *const overall_issues[] = {"CallCannotJoin", "CallCannotInvite", "HadToRejoin",
                                             "CallEndedUnexpectedly", "OtherIssues"};
static const char *const audio_issues[] = {
    "NoLocalAudio",    "NoRemoteAudio",     "Echo",
    "AudioNoise",      "LowVolume",         "AudioStoppedUnexpectedly",
    "DistortedSpeech", "AudioInterruption", "OtherIssues"};
static const char *const video_issues[] = {
    "NoVideoReceived",     "NoVideoSent",       "LowQuality",          "Freezes",
    "StoppedUnexpectedly", "DarkVideoReceived", "AudioVideoOutOfSync", "OtherIssues"};
static const char *const screenshare_issues[] = {
    "NoContentLocal", "NoContentRemote",     "CannotPresent", "LowQuality",
    "Freezes",        "StoppedUnexpectedly", "LargeDelay",    "OtherIssues"};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *surveys_category_name(survey_category category)
{
    if ((int)category < 0 || category >= SURVEY_CATEGORY_COUNT)
        return NULL;
    return category_names[category];
}

int surveys_category_parse(const char *name)
{
    for (int c = 0; name && c < SURVEY_CATEGORY_COUNT; c++)
        if (strcmp(name, category_names[c]) == 0)
            return c;
    return -1;
}

const char *const *surveys_issue_names(survey_category category, size_t *count)
{
    switch (category) {
    case SURVEY_OVERALL:
        *count = COUNT_OF(overall_issues);
        return overall_issues;
    case SURVEY_AUDIO:
        *count = COUNT_OF(audio_issues);
        return audio_issues;
    case SURVEY_VIDEO:
        *count = COUNT_OF(video_issues);
        return video_issues;
    case SURVEY_SCREENSHARE:
        *count = COUNT_OF(screenshare_issues);
        return screenshare_issues;
    default:
        *count = 0;
        return NULL;
    }
}

int surveys_issue_index(survey_category category, const char *name)
{
    size_t n;
    const char *const *names = surveys_issue_names(category, &n);
    for (size_t i = 0; names && name && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

int surveys_rating_is_low(const survey_rating *r)
{
    return r->present && r->score <= r->low_threshold;
}

void surveys_clear(survey *s)
{
    if (!s)
        return;
    free(s->call_id);
    free(s->more_info);
    memset(s, 0, sizeof *s);
}

static int refuse(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return LOGSHARE_EINVAL;
}

/* Reads an integer field; floats, strings and booleans are refused so a
 * "score": "4" or 4.5 is an error rather than a guess. */
static int get_int(json_t *obj, const char *key, const char *where, int *value, int *found,
                   char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    *found = v != NULL;
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return refuse(err, errlen, "%s.%s must be an integer", where, key);
    json_int_t n = json_integer_value(v);
    if (n < -1000000 || n > 1000000)
        return refuse(err, errlen, "%s.%s %lld is out of range", where, key, (long long)n);
    *value = (int)n;
    return 0;
}

static int parse_scale(json_t *scale, const char *where, survey_rating *r, char *err, size_t errlen)
{
    if (!json_is_object(scale))
        return refuse(err, errlen, "%s.scale must be an object", where);
    const char *key;
    json_t *v;
    json_object_foreach(scale, key, v)
    {
        if (strcmp(key, "lower") && strcmp(key, "upper") && strcmp(key, "low_threshold"))
            return refuse(err, errlen, "%s.scale has an unknown field '%s'", where, key);
    }
    int found, rc;
    char sw[32];
    snprintf(sw, sizeof sw, "%s.scale", where);
    if ((rc = get_int(scale, "lower", sw, &r->lower, &found, err, errlen)))
        return rc;
    if (!found)
        return refuse(err, errlen, "%s.scale.lower is required", where);
    if ((rc = get_int(scale, "upper", sw, &r->upper, &found, err, errlen)))
        return rc;
    if (!found)
        return refuse(err, errlen, "%s.scale.upper is required", where);
    if (r->lower != 0 && r->lower != 1)
        return refuse(err, errlen, "%s.scale.lower must be 0 or 1, got %d", where, r->lower);
    if (r->upper <= r->lower || r->upper > SURVEY_MAX_UPPER)
        return refuse(err, errlen, "%s.scale.upper must be above lower and at most %d, got %d",
                      where, SURVEY_MAX_UPPER, r->upper);
    if ((rc = get_int(scale, "low_threshold", sw, &r->low_threshold, &found, err, errlen)))
        return rc;
    if (!found)
        r->low_threshold = r->lower + (r->upper - r->lower) / 4;
    else if (r->low_threshold < r->lower || r->low_threshold >= r->upper)
        return refuse(err, errlen,
                      "%s.scale.low_threshold must be from lower (%d) to below upper (%d), got %d",
                      where, r->lower, r->upper, r->low_threshold);
    return 0;
}

static int parse_rating(json_t *obj, survey_category cat, survey_rating *r, char *err,
                        size_t errlen)
{
    const char *where = category_names[cat];
    if (!json_is_object(obj))
        return refuse(err, errlen, "%s must be an object with a score", where);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "score") && strcmp(key, "scale") && strcmp(key, "issues"))
            return refuse(err, errlen, "%s has an unknown field '%s'", where, key);
    }
    r->lower = SURVEY_DEFAULT_LOWER;
    r->upper = SURVEY_DEFAULT_UPPER;
    r->low_threshold = SURVEY_DEFAULT_LOW_THRESHOLD;
    json_t *scale = json_object_get(obj, "scale");
    int rc;
    if (scale && !json_is_null(scale) && (rc = parse_scale(scale, where, r, err, errlen)))
        return rc;
    int found;
    if ((rc = get_int(obj, "score", where, &r->score, &found, err, errlen)))
        return rc;
    if (!found)
        return refuse(err, errlen, "%s.score is required", where);
    if (r->score < r->lower || r->score > r->upper)
        return refuse(err, errlen, "%s.score %d is outside the scale %d..%d", where, r->score,
                      r->lower, r->upper);
    json_t *issues = json_object_get(obj, "issues");
    if (issues && !json_is_null(issues)) {
        if (!json_is_array(issues))
            return refuse(err, errlen, "%s.issues must be an array of issue names", where);
        size_t i;
        json_array_foreach(issues, i, v)
        {
            if (!json_is_string(v))
                return refuse(err, errlen, "%s.issues[%zu] must be a string", where, i);
            int idx = surveys_issue_index(cat, json_string_value(v));
            if (idx < 0)
                return refuse(err, errlen, "%s.issues: '%.64s' is not a %s issue", where,
                              json_string_value(v), where);
            if (r->issues & (1u << idx))
                return refuse(err, errlen, "%s.issues: '%s' is listed twice", where,
                              json_string_value(v));
            r->issues |= 1u << idx;
        }
    }
    r->present = 1;
    return 0;
}

static int has_control_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int parse_object(json_t *root, survey *out, char *err, size_t errlen)
{
    if (!json_is_object(root))
        return refuse(err, errlen, "the survey must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (surveys_category_parse(key) < 0 && strcmp(key, "call_id") && strcmp(key, "more_info") &&
            strcmp(key, "report_issue"))
            return refuse(err, errlen, "unknown field '%.64s'", key);
    }
    json_t *call_id = json_object_get(root, "call_id");
    if (!json_is_string(call_id) || json_string_length(call_id) == 0)
        return refuse(err, errlen, "call_id is required (a non-empty string)");
    if (json_string_length(call_id) > SURVEY_MAX_CALL_ID ||
        strlen(json_string_value(call_id)) != json_string_length(call_id) ||
        has_control_chars(json_string_value(call_id)))
        return refuse(err, errlen, "call_id must be at most %d printable characters",
                      SURVEY_MAX_CALL_ID);
    int any = 0, rc;
    for (int c = 0; c < SURVEY_CATEGORY_COUNT; c++) {
        json_t *r = json_object_get(root, category_names[c]);
        if (!r || json_is_null(r))
            continue;
        if ((rc = parse_rating(r, (survey_category)c, &out->ratings[c], err, errlen)))
            return rc;
        any = 1;
    }
    if (!any)
        return refuse(err, errlen,
                      "a survey needs at least one of overall, audio, video, "
                      "screenshare");
    json_t *more = json_object_get(root, "more_info");
    if (more && !json_is_null(more)) {
        if (!json_is_string(more))
            return refuse(err, errlen, "more_info must be a string");
        if (json_string_length(more) > SURVEY_MAX_MORE_INFO ||
            strlen(json_string_value(more)) != json_string_length(more))
            return refuse(err, errlen, "more_info must be at most %d bytes of text",
                          SURVEY_MAX_MORE_INFO);
        if (!(out->more_info = strdup(json_string_value(more))))
            return LOGSHARE_ENOMEM;
    }
    json_t *report = json_object_get(root, "report_issue");
    if (report && !json_is_null(report)) {
        if (!json_is_boolean(report))
            return refuse(err, errlen, "report_issue must be true or false");
        out->report_issue = json_is_true(report);
    }
    if (!(out->call_id = strdup(json_string_value(call_id))))
        return LOGSHARE_ENOMEM;
    return 0;
}

int surveys_parse(const char *json, size_t len, survey *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (errlen > 0)
        err[0] = '\0';
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char why[160];
        api_json_error_describe(&jerr, why, sizeof why);
        return refuse(err, errlen, "the survey is not valid JSON: %s", why);
    }
    int rc = parse_object(root, out, err, errlen);
    json_decref(root);
    if (rc)
        surveys_clear(out);
    return rc;
}
