/*
 * push_db_surveys.c - stores end-of-call surveys (one row per survey,
 * per rated category and per reported issue) and computes the stats
 * GET /api/v1/surveys/stats serves. A survey is stored in one
 * transaction; a retry with the same idempotency key stores nothing and
 * answers with the first survey, because the client's outbox resends
 * until it hears back.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "ls_time.h"
#include "push_db_internal.h"

void survey_record_clear(struct survey_record *r)
{
    if (!r)
        return;
    free(r->ticket_id);
    free(r->call_id);
    memset(r, 0, sizeof *r);
}

static int find_by_key_locked(struct push_db *db, const char *user_id, const char *key,
                              struct survey_record *out)
{
    sqlite3_stmt *st;
    int rc = push_db_prepare(db,
                             "SELECT id, created_at, ticket_id, call_id, report_issue FROM surveys"
                             " WHERE user_id = ? AND idempotency_key = ?",
                             &st);
    if (rc)
        return rc;
    push_db_bind_text(st, 1, user_id);
    push_db_bind_text(st, 2, key);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        int oom = 0;
        snprintf(out->id, sizeof out->id, "%s", (const char *)sqlite3_column_text(st, 0));
        out->created_at = sqlite3_column_int64(st, 1);
        out->ticket_id = push_db_column_strdup(st, 2, &oom);
        out->call_id = push_db_column_strdup(st, 3, &oom);
        out->report_issue = sqlite3_column_int(st, 4);
        out->replayed = 1;
        rc = oom ? LOGSHARE_ENOMEM : 0;
    } else {
        rc = s == SQLITE_DONE ? LOGSHARE_ENOENT : push_db_error(s);
    }
    sqlite3_finalize(st);
    return rc;
}

static int insert_rows_locked(struct push_db *db, const char *id, const char *user_id,
                              const survey *s, const char *ticket_id, const char *key, int64_t now)
{
    sqlite3_stmt *st;
    int rc = push_db_prepare(db,
                             "INSERT INTO surveys (id, user_id, call_id, more_info, report_issue,"
                             " ticket_id, idempotency_key, created_at) VALUES (?,?,?,?,?,?,?,?)",
                             &st);
    if (rc)
        return rc;
    push_db_bind_text(st, 1, id);
    push_db_bind_text(st, 2, user_id);
    push_db_bind_text(st, 3, s->call_id);
    push_db_bind_text(st, 4, s->more_info);
    sqlite3_bind_int(st, 5, s->report_issue ? 1 : 0);
    push_db_bind_text(st, 6, ticket_id);
    push_db_bind_text(st, 7, key);
    sqlite3_bind_int64(st, 8, now);
    rc = push_db_error(sqlite3_step(st));
    sqlite3_finalize(st);
    for (int c = 0; !rc && c < SURVEY_CATEGORY_COUNT; c++) {
        const survey_rating *r = &s->ratings[c];
        if (!r->present)
            continue;
        const char *cat = surveys_category_name((survey_category)c);
        if ((rc = push_db_prepare(db, "INSERT INTO survey_ratings VALUES (?,?,?,?,?,?,?,?)", &st)))
            break;
        push_db_bind_text(st, 1, id);
        push_db_bind_text(st, 2, cat);
        sqlite3_bind_int(st, 3, r->score);
        sqlite3_bind_int(st, 4, r->lower);
        sqlite3_bind_int(st, 5, r->upper);
        sqlite3_bind_int(st, 6, r->low_threshold);
        sqlite3_bind_int(st, 7, surveys_rating_is_low(r));
        sqlite3_bind_int64(st, 8, now);
        rc = push_db_error(sqlite3_step(st));
        sqlite3_finalize(st);
        size_t n;
        const char *const *names = surveys_issue_names((survey_category)c, &n);
        for (size_t i = 0; !rc && i < n; i++) {
            if (!(r->issues & (1u << i)))
                continue;
            if ((rc = push_db_prepare(db, "INSERT INTO survey_issues VALUES (?,?,?,?)", &st)))
                break;
            push_db_bind_text(st, 1, id);
            push_db_bind_text(st, 2, cat);
            push_db_bind_text(st, 3, names[i]);
            sqlite3_bind_int64(st, 4, now);
            rc = push_db_error(sqlite3_step(st));
            sqlite3_finalize(st);
        }
    }
    return rc;
}

int push_db_survey_insert(struct push_db *db, const char *user_id, const survey *s,
                          const char *ticket_id, const char *idempotency_key, int64_t now,
                          struct survey_record *out)
{
    memset(out, 0, sizeof *out);
    char id[PUSH_ID_MAX];
    int rc = push_id_new("sv", id);
    if (rc)
        return rc;
    pthread_mutex_lock(&db->lock);
    if ((rc = push_db_exec(db, "BEGIN IMMEDIATE")))
        goto out;
    if (idempotency_key) {
        rc = find_by_key_locked(db, user_id, idempotency_key, out);
        if (rc != LOGSHARE_ENOENT) {
            push_db_exec(db, "ROLLBACK");
            goto out;
        }
    }
    rc = insert_rows_locked(db, id, user_id, s, ticket_id, idempotency_key, now);
    if (!rc)
        rc = push_db_exec(db, "COMMIT");
    if (rc) {
        push_db_exec(db, "ROLLBACK");
        goto out;
    }
    memcpy(out->id, id, sizeof id);
    out->created_at = now;
    if (ticket_id && !(out->ticket_id = strdup(ticket_id)))
        rc = 0; /* stored; only the echo of the ticket id is lost */
out:
    pthread_mutex_unlock(&db->lock);
    if (rc)
        survey_record_clear(out);
    return rc;
}

int push_db_survey_find(struct push_db *db, const char *user_id, const char *idempotency_key,
                        struct survey_record *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&db->lock);
    int rc = find_by_key_locked(db, user_id, idempotency_key, out);
    pthread_mutex_unlock(&db->lock);
    if (rc)
        survey_record_clear(out);
    return rc;
}

/* ---- stats ------------------------------------------------------------ */

static int bind_range(sqlite3_stmt *st, int64_t since, int64_t until)
{
    sqlite3_bind_int64(st, 1, since);
    sqlite3_bind_int64(st, 2, until ? until : INT64_MAX);
    return 0;
}

static json_t *category_object(json_t *categories, const char *name)
{
    json_t *o = json_object_get(categories, name);
    if (!o) {
        o = json_pack("{s:i, s:i, s:f, s:n, s:[]}", "count", 0, "low", 0, "low_share", 0.0,
                      "average_normalized", "distribution");
        json_object_set_new(categories, name, o);
    }
    return o;
}

static int stats_locked(struct push_db *db, int64_t since, int64_t until, int64_t bucket_s,
                        json_t *root)
{
    sqlite3_stmt *st;
    int rc, s;
    /* totals */
    if ((rc = push_db_prepare(db,
                              "SELECT COUNT(*), COALESCE(SUM(report_issue), 0),"
                              " COALESCE(SUM(ticket_id IS NOT NULL), 0) FROM surveys"
                              " WHERE created_at >= ?1 AND created_at < ?2",
                              &st)))
        return rc;
    bind_range(st, since, until);
    if ((s = sqlite3_step(st)) == SQLITE_ROW) {
        json_object_set_new(root, "total", json_integer(sqlite3_column_int64(st, 0)));
        json_object_set_new(root, "report_issue", json_integer(sqlite3_column_int64(st, 1)));
        json_object_set_new(root, "with_ticket", json_integer(sqlite3_column_int64(st, 2)));
        s = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if ((rc = push_db_error(s)))
        return rc;

    /* per category: counts, low share, mean position on the scale */
    json_t *cats = json_object();
    json_object_set_new(root, "categories", cats);
    for (int c = 0; c < SURVEY_CATEGORY_COUNT; c++)
        category_object(cats, surveys_category_name((survey_category)c));
    if ((rc =
             push_db_prepare(db,
                             "SELECT category, COUNT(*), SUM(is_low),"
                             " AVG(CAST(score - scale_lower AS REAL) / (scale_upper - scale_lower))"
                             " FROM survey_ratings WHERE created_at >= ?1 AND created_at < ?2"
                             " GROUP BY category",
                             &st)))
        return rc;
    bind_range(st, since, until);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = category_object(cats, (const char *)sqlite3_column_text(st, 0));
        int64_t n = sqlite3_column_int64(st, 1), low = sqlite3_column_int64(st, 2);
        json_object_set_new(o, "count", json_integer(n));
        json_object_set_new(o, "low", json_integer(low));
        json_object_set_new(o, "low_share", json_real(n ? (double)low / (double)n : 0.0));
        json_object_set_new(o, "average_normalized", json_real(sqlite3_column_double(st, 3)));
    }
    sqlite3_finalize(st);
    if ((rc = push_db_error(s)))
        return rc;

    /* score distribution per category and scale */
    if ((rc = push_db_prepare(db,
                              "SELECT category, scale_lower, scale_upper, score, COUNT(*),"
                              " SUM(is_low)"
                              " FROM survey_ratings WHERE created_at >= ?1 AND created_at < ?2"
                              " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
                              &st)))
        return rc;
    bind_range(st, since, until);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = category_object(cats, (const char *)sqlite3_column_text(st, 0));
        json_array_append_new(
            json_object_get(o, "distribution"),
            json_pack("{s:i, s:i, s:i, s:I, s:I}", "lower", sqlite3_column_int(st, 1), "upper",
                      sqlite3_column_int(st, 2), "score", sqlite3_column_int(st, 3), "count",
                      (json_int_t)sqlite3_column_int64(st, 4), "low",
                      (json_int_t)sqlite3_column_int64(st, 5)));
    }
    sqlite3_finalize(st);
    if ((rc = push_db_error(s)))
        return rc;

    /* most reported issues */
    json_t *issues = json_array();
    json_object_set_new(root, "issues", issues);
    if ((rc = push_db_prepare(db,
                              "SELECT category, issue, COUNT(*) FROM survey_issues"
                              " WHERE created_at >= ?1 AND created_at < ?2"
                              " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
                              &st)))
        return rc;
    bind_range(st, since, until);
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(issues, json_pack("{s:s, s:s, s:I}", "category",
                                                (const char *)sqlite3_column_text(st, 0), "issue",
                                                (const char *)sqlite3_column_text(st, 1), "count",
                                                (json_int_t)sqlite3_column_int64(st, 2)));
    sqlite3_finalize(st);
    if ((rc = push_db_error(s)))
        return rc;

    /* share of low scores over time, all categories together and each */
    json_t *timeline = json_array();
    json_object_set_new(root, "timeline", timeline);
    json_object_set_new(root, "bucket_seconds", json_integer(bucket_s));
    if ((rc = push_db_prepare(db,
                              "SELECT created_at / ?3, category, COUNT(*), SUM(is_low)"
                              " FROM survey_ratings WHERE created_at >= ?1 AND created_at < ?2"
                              " GROUP BY 1, 2 ORDER BY 1, 2",
                              &st)))
        return rc;
    bind_range(st, since, until);
    sqlite3_bind_int64(st, 3, bucket_s * 1000000);
    json_t *cur = NULL;
    int64_t cur_bucket = -1;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(st, 0);
        int64_t n = sqlite3_column_int64(st, 2), low = sqlite3_column_int64(st, 3);
        if (!cur || b != cur_bucket) {
            char when[LS_TIME_RFC3339_LEN];
            cur = json_pack("{s:s, s:i, s:i, s:f, s:{}}", "start",
                            ls_time_format_rfc3339(b * bucket_s * 1000000, 0, when), "ratings", 0,
                            "low", 0, "low_share", 0.0, "by_category");
            json_array_append_new(timeline, cur);
            cur_bucket = b;
        }
        int64_t tn = json_integer_value(json_object_get(cur, "ratings")) + n;
        int64_t tl = json_integer_value(json_object_get(cur, "low")) + low;
        json_object_set_new(cur, "ratings", json_integer(tn));
        json_object_set_new(cur, "low", json_integer(tl));
        json_object_set_new(cur, "low_share", json_real((double)tl / (double)tn));
        json_object_set_new(
            json_object_get(cur, "by_category"), (const char *)sqlite3_column_text(st, 1),
            json_pack("{s:I, s:I}", "ratings", (json_int_t)n, "low", (json_int_t)low));
    }
    sqlite3_finalize(st);
    return push_db_error(s);
}

int push_db_survey_stats(struct push_db *db, int64_t since, int64_t until, int64_t bucket_s,
                         char **json)
{
    *json = NULL;
    if (bucket_s < 60)
        return LOGSHARE_EINVAL;
    json_t *root = json_object();
    if (!root)
        return LOGSHARE_ENOMEM;
    pthread_mutex_lock(&db->lock);
    /* One read transaction so the totals and the breakdowns agree even
     * while surveys keep arriving. */
    int rc = push_db_exec(db, "BEGIN");
    if (!rc) {
        rc = stats_locked(db, since, until, bucket_s, root);
        push_db_exec(db, "COMMIT");
    }
    pthread_mutex_unlock(&db->lock);
    if (!rc && !(*json = json_dumps(root, JSON_COMPACT)))
        rc = LOGSHARE_ENOMEM;
    json_decref(root);
    return rc;
}

/* Appends the ratings and issues of survey id to o (lock held). */
static int survey_details_locked(struct push_db *db, const char *id, json_t *o)
{
    json_t *ratings = json_object(), *issues = json_object();
    json_object_set_new(o, "ratings", ratings);
    json_object_set_new(o, "issues", issues);
    sqlite3_stmt *st;
    int rc = push_db_prepare(db,
                             "SELECT category, score, scale_lower, scale_upper, low_threshold,"
                             " is_low FROM survey_ratings WHERE survey_id = ?",
                             &st);
    if (rc)
        return rc;
    push_db_bind_text(st, 1, id);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        json_object_set_new(ratings, (const char *)sqlite3_column_text(st, 0),
                            json_pack("{s:i, s:i, s:i, s:i, s:b}", "score",
                                      sqlite3_column_int(st, 1), "lower", sqlite3_column_int(st, 2),
                                      "upper", sqlite3_column_int(st, 3), "low_threshold",
                                      sqlite3_column_int(st, 4), "low", sqlite3_column_int(st, 5)));
    sqlite3_finalize(st);
    if ((rc = push_db_error(s)))
        return rc;
    if ((rc = push_db_prepare(db,
                              "SELECT category, issue FROM survey_issues WHERE survey_id = ?"
                              " ORDER BY category, issue",
                              &st)))
        return rc;
    push_db_bind_text(st, 1, id);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *cat = (const char *)sqlite3_column_text(st, 0);
        json_t *list = json_object_get(issues, cat);
        if (!list) {
            list = json_array();
            json_object_set_new(issues, cat, list);
        }
        json_array_append_new(list, json_string((const char *)sqlite3_column_text(st, 1)));
    }
    sqlite3_finalize(st);
    return push_db_error(s);
}

int push_db_surveys_for_ticket(struct push_db *db, const char *ticket_id, char **json)
{
    *json = NULL;
    json_t *list = json_array();
    if (!list)
        return LOGSHARE_ENOMEM;
    pthread_mutex_lock(&db->lock);
    sqlite3_stmt *st;
    int rc = push_db_prepare(db,
                             "SELECT id, user_id, call_id, more_info, report_issue, created_at"
                             " FROM surveys WHERE ticket_id = ? ORDER BY seq",
                             &st);
    if (!rc) {
        push_db_bind_text(st, 1, ticket_id);
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            char when[LS_TIME_RFC3339_LEN];
            const char *more = (const char *)sqlite3_column_text(st, 3);
            json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:b, s:s, s:s}", "id",
                                  (const char *)sqlite3_column_text(st, 0), "user_id",
                                  (const char *)sqlite3_column_text(st, 1), "call_id",
                                  (const char *)sqlite3_column_text(st, 2), "more_info",
                                  more ? json_string(more) : json_null(), "report_issue",
                                  sqlite3_column_int(st, 4), "created_at",
                                  ls_time_format_rfc3339(sqlite3_column_int64(st, 5), 0, when),
                                  "ticket_id", ticket_id);
            if (!o) {
                s = SQLITE_NOMEM;
                break;
            }
            json_array_append_new(list, o);
        }
        sqlite3_finalize(st);
        rc = s == SQLITE_NOMEM ? LOGSHARE_ENOMEM : push_db_error(s);
    }
    for (size_t i = 0; !rc && i < json_array_size(list); i++) {
        json_t *o = json_array_get(list, i);
        rc = survey_details_locked(db, json_string_value(json_object_get(o, "id")), o);
    }
    pthread_mutex_unlock(&db->lock);
    if (!rc && !(*json = json_dumps(list, JSON_COMPACT)))
        rc = LOGSHARE_ENOMEM;
    json_decref(list);
    return rc;
}

int push_db_survey_id_for_ticket(struct push_db *db, const char *ticket_id, char out[PUSH_ID_MAX])
{
    out[0] = '\0';
    pthread_mutex_lock(&db->lock);
    sqlite3_stmt *st;
    int rc =
        push_db_prepare(db, "SELECT id FROM surveys WHERE ticket_id = ? ORDER BY seq LIMIT 1", &st);
    if (!rc) {
        push_db_bind_text(st, 1, ticket_id);
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW)
            snprintf(out, PUSH_ID_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
        else
            rc = s == SQLITE_DONE ? LOGSHARE_ENOENT : push_db_error(s);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&db->lock);
    return rc;
}
