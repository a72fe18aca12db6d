/*
 * error.c - names and descriptions for logshare_error codes.
 *
 * One table serves the library, the CLI and the server: the server puts
 * the snake_case name in its JSON errors, so names are part of the HTTP
 * contract and must not change once released.
 */
#include "logshare.h"

struct error_entry {
    int code;
    const char *name;
    const char *text;
};

static const struct error_entry error_table[] = {
    {LOGSHARE_OK, "ok", "success"},
    {LOGSHARE_EINVAL, "invalid_argument", "invalid argument"},
    {LOGSHARE_ENOMEM, "out_of_memory", "out of memory"},
    {LOGSHARE_EIO, "io_error", "input/output error"},
    {LOGSHARE_ENOENT, "not_found", "not found"},
    {LOGSHARE_EEXIST, "already_exists", "already exists"},
    {LOGSHARE_EKEY, "bad_key", "key is malformed or does not match"},
    {LOGSHARE_ECORRUPT, "corrupt", "data failed authentication (tampered or foreign)"},
    {LOGSHARE_ETRUNCATED, "truncated", "torn tail: data ends before its final frame"},
    {LOGSHARE_EFORMAT, "bad_format", "unknown format or version"},
    {LOGSHARE_ENOSPC, "no_space", "no space left (disk or quota full)"},
    {LOGSHARE_EPERM, "permission_denied", "permission denied"},
    {LOGSHARE_ENETWORK, "network_error", "server could not be reached"},
    {LOGSHARE_ETIMEDOUT, "timed_out", "operation timed out"},
    {LOGSHARE_EHTTP, "http_error", "server answered with an error"},
    {LOGSHARE_EAUTH, "unauthorized", "missing or refused credentials"},
    {LOGSHARE_ETOOLARGE, "too_large", "exceeds a configured limit"},
    {LOGSHARE_ECLOSED, "closed", "handle is closing or closed"},
    {LOGSHARE_EQUEUED, "queued", "kept in the outbox to be sent later"},
    {LOGSHARE_EBUSY, "busy", "resource busy, try again"},
    {LOGSHARE_ECONFLICT, "conflict", "conflicts with the current state"},
    {LOGSHARE_ERATELIMIT, "rate_limited", "too many requests, try again later"},
    {LOGSHARE_EUNAVAILABLE, "unavailable", "a backend is unavailable"},
    {LOGSHARE_EUNSUPPORTED, "unsupported", "not supported"},
    {LOGSHARE_ECANCELED, "canceled", "canceled"},
    {LOGSHARE_EINTERNAL, "internal_error", "internal error"},
    {LOGSHARE_ETLS, "tls_error", "TLS failed: the server's certificate could not be verified"},
};

static const struct error_entry *error_find(int err)
{
    for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++)
        if (error_table[i].code == err)
            return &error_table[i];
    return NULL;
}

const char *logshare_strerror(int err)
{
    const struct error_entry *e = error_find(err);
    return e ? e->text : "unknown error";
}

const char *logshare_error_name(int err)
{
    const struct error_entry *e = error_find(err);
    return e ? e->name : "unknown_error";
}
