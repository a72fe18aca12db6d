/*
 * surveys_validate.h - the end-of-call survey's shape and its checks.
 *
 * POST /api/v1/surveys carries the shape of Azure Communication
 * Services' end-of-call survey (SPEC.md, "End-of-call survey"): a call
 * id, an optional rating for each of four categories (overall, audio,
 * video, screenshare), free text and a report_issue flag. This module
 * turns the JSON body into a struct survey and refuses, with one clear
 * message, anything the store must not keep: a score outside its scale,
 * a scale out of bounds, an issue name that is not one of the
 * category's names, an unknown field. It knows nothing of HTTP or the
 * database, so the rules are tested exhaustively on their own.
 *
 * Scale rules: the default scale is 1..5 with low_threshold 2. A custom
 * scale has lower 0 or 1, upper greater than lower and at most 100, and
 * an optional low_threshold with lower <= low_threshold < upper; when
 * it is missing it defaults to lower + (upper - lower) / 4, which gives
 * the default's 2 on 1..5. A score at or below low_threshold is low.
 */
#ifndef SURVEYS_VALIDATE_H
#define SURVEYS_VALIDATE_H

#include <stddef.h>

typedef enum survey_category {
    SURVEY_OVERALL = 0,
    SURVEY_AUDIO = 1,
    SURVEY_VIDEO = 2,
    SURVEY_SCREENSHARE = 3,
    SURVEY_CATEGORY_COUNT = 4
} survey_category;

/* Bounds and defaults, shared with the stats code and the docs. */
#define SURVEY_DEFAULT_LOWER 1
#define SURVEY_DEFAULT_UPPER 5
#define SURVEY_DEFAULT_LOW_THRESHOLD 2
#define SURVEY_MAX_UPPER 100
#define SURVEY_MAX_CALL_ID 256
#define SURVEY_MAX_MORE_INFO 4096

/* One category's rating. issues is a bit set over the category's issue
 * names (bit i = surveys_issue_names(category)[i]). */
typedef struct survey_rating {
    int present;
    int score;
    int lower;
    int upper;
    int low_threshold;
    unsigned issues;
} survey_rating;

typedef struct survey {
    char *call_id;   /* owned */
    char *more_info; /* owned; NULL when absent */
    int report_issue;
    survey_rating ratings[SURVEY_CATEGORY_COUNT];
} survey;

/* "overall", "audio", "video", "screenshare"; NULL out of range. */
const char *surveys_category_name(survey_category category);

/* Parses a category name; returns the category or -1. */
int surveys_category_parse(const char *name);

/* The issue names of a category, exactly as SPEC.md's table (static
 * storage); *count gets their number. NULL out of range. */
const char *const *surveys_issue_names(survey_category category, size_t *count);

/* The index of issue name in category's list, or -1. Case-sensitive:
 * the names are an API contract, not prose. */
int surveys_issue_index(survey_category category, const char *name);

/* Parses and checks a survey body (len bytes of JSON, not necessarily
 * NUL-terminated). On success returns 0 and fills *out (the caller
 * releases it with surveys_clear). On bad input returns LOGSHARE_EINVAL,
 * writes a one-line reason to err (errlen bytes, always terminated when
 * errlen > 0) and leaves *out empty. LOGSHARE_ENOMEM when memory runs
 * out. */
int surveys_parse(const char *json, size_t len, survey *out, char *err, size_t errlen);

/* Frees what *s owns and zeroes it. NULL is a no-op. */
void surveys_clear(survey *s);

/* 1 when the rating's score is at or below its low threshold. */
int surveys_rating_is_low(const survey_rating *r);

#endif
