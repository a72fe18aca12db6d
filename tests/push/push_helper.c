/*
 * push_helper.c - the app stand-in the push test scripts drive (the real
 * library, nothing faked):
 *
 *   push_helper write DIR COUNT       logs COUNT plaintext records to a
 *                                     store in DIR and closes it
 *   push_helper survey DIR SERVER TOKEN JSON
 *                                     logshare_submit_survey_dir; prints
 *                                     the server's answer; exit 0 stored,
 *                                     75 queued, 1 refused or failed
 *   push_helper decline SERVER TOKEN ID [CA_FILE]
 *                                     logshare_decline_log_request;
 *                                     prints the result's error name
 *                                     ("ok" for 0); exit 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"

static int write_store(const char *dir, int count)
{
    logshare_options *o = logshare_options_new();
    logshare *ls = NULL;
    int rc = logshare_options_set_dir(o, dir);
    rc = rc ? rc : logshare_options_set_plaintext(o, 1);
    rc = rc ? rc : logshare_open(o, &ls);
    logshare_options_free(o);
    for (int i = 0; !rc && i < count; i++)
        rc = logshare_log(ls, 0, LOGSHARE_LEVEL_INFO, "push test record %d", i);
    logshare_close(ls);
    if (rc)
        fprintf(stderr, "push_helper write: %s\n", logshare_strerror(rc));
    return rc ? 1 : 0;
}

static int survey(const char *dir, const char *server, const char *token, const char *json)
{
    logshare_share_options *o = logshare_share_options_new();
    int rc = logshare_share_options_set_server(o, server, token);
    rc = rc ? rc : logshare_share_options_set_retry(o, 2, 100, 200);
    logshare_report_result *res = NULL;
    rc = rc ? rc : logshare_submit_survey_dir(dir, o, json, &res);
    if (res && logshare_report_result_ticket_json(res))
        printf("%s\n", logshare_report_result_ticket_json(res));
    if (rc)
        fprintf(stderr, "push_helper survey: %s: %s\n", logshare_strerror(rc),
                res && logshare_report_result_error_message(res)
                    ? logshare_report_result_error_message(res)
                    : "");
    logshare_report_result_free(res);
    logshare_share_options_free(o);
    return rc == 0 ? 0 : rc == LOGSHARE_EQUEUED ? 75 : 1;
}

static int decline(const char *server, const char *token, const char *id, const char *ca)
{
    logshare_share_options *o = logshare_share_options_new();
    int rc = logshare_share_options_set_server(o, server, token);
    if (!rc && ca)
        rc = logshare_share_options_set_ca_file(o, ca);
    rc = rc ? rc : logshare_decline_log_request(o, id);
    printf("%s\n", rc ? logshare_error_name(rc) : "ok");
    logshare_share_options_free(o);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "write") == 0)
        return write_store(argv[2], atoi(argv[3]));
    if (argc == 6 && strcmp(argv[1], "survey") == 0)
        return survey(argv[2], argv[3], argv[4], argv[5]);
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "decline") == 0)
        return decline(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
    fprintf(stderr, "usage: push_helper write DIR COUNT | survey DIR SERVER TOKEN JSON |\n"
                    "       decline SERVER TOKEN ID [CA_FILE]\n");
    return 2;
}
