/*
 * store_options.c - logshare_options: the setters an app calls before
 * logshare_open. Each setter validates at once so a mistake is reported
 * where it is made, not later as a puzzling open failure.
 */
#include <stdlib.h>
#include <string.h>

#include "ls_fs.h"
#include "store.h"

logshare_options *logshare_options_new(void)
{
    logshare_options *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    strcpy(o->streams[0], LOGSHARE_DEFAULT_STREAM);
    o->nstreams = 1;
    o->max_file_bytes = LOGSHARE_DEFAULT_MAX_FILE_BYTES;
    o->max_total_bytes = LOGSHARE_DEFAULT_MAX_TOTAL_BYTES;
    o->max_age_s = LOGSHARE_DEFAULT_MAX_AGE_SECONDS;
    o->min_level = LOGSHARE_LEVEL_INFO;
    o->buffer_bytes = LOGSHARE_DEFAULT_BUFFER_BYTES;
    return o;
}

void logshare_options_free(logshare_options *o)
{
    if (!o)
        return;
    free(o->dir);
    sodium_memzero(o->pk, sizeof o->pk);
    free(o);
}

int logshare_options_set_dir(logshare_options *o, const char *dir)
{
    if (!o || !dir || !*dir)
        return LOGSHARE_EINVAL;
    char *d = strdup(dir);
    if (!d)
        return LOGSHARE_ENOMEM;
    free(o->dir);
    o->dir = d;
    return 0;
}

static int stream_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LOGFMT_STREAM_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

int logshare_options_add_stream(logshare_options *o, const char *name)
{
    if (!o || !name || !stream_name_valid(name))
        return LOGSHARE_EINVAL;
    if (!o->streams_set) {
        o->nstreams = 0;
        o->streams_set = 1;
    }
    for (int i = 0; i < o->nstreams; i++)
        if (strcmp(o->streams[i], name) == 0)
            return LOGSHARE_EINVAL;
    if (o->nstreams == LOGSHARE_MAX_STREAMS)
        return LOGSHARE_ETOOLARGE;
    strcpy(o->streams[o->nstreams++], name);
    return 0;
}

int logshare_options_set_public_key(logshare_options *o, const char *text)
{
    if (!o)
        return LOGSHARE_EINVAL;
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    int rc = logfmt_public_key_parse(text, pk);
    if (rc != 0) {
        o->key_error = rc;
        o->have_pk = 0;
        return rc;
    }
    memcpy(o->pk, pk, sizeof pk);
    o->have_pk = 1;
    o->key_error = 0;
    o->plaintext = 0;
    return 0;
}

int logshare_options_set_public_key_file(logshare_options *o, const char *path)
{
    if (!o || !path)
        return LOGSHARE_EINVAL;
    char *text = NULL;
    size_t len = 0;
    int rc = ls_fs_read_file(path, 4096, &text, &len);
    if (rc == LOGSHARE_ETOOLARGE)
        rc = LOGSHARE_EKEY;
    if (rc != 0)
        o->key_error = rc;
    if (rc == 0)
        rc = logshare_options_set_public_key(o, text);
    free(text);
    return rc;
}

int logshare_options_set_plaintext(logshare_options *o, int on)
{
    if (!o)
        return LOGSHARE_EINVAL;
    o->plaintext = on != 0;
    if (on) {
        o->key_error = 0;
        o->have_pk = 0;
        sodium_memzero(o->pk, sizeof o->pk);
    }
    return 0;
}

int logshare_options_set_max_file_bytes(logshare_options *o, uint64_t bytes)
{
    if (!o || bytes < 32768)
        return LOGSHARE_EINVAL;
    o->max_file_bytes = bytes;
    return 0;
}

int logshare_options_set_max_total_bytes(logshare_options *o, uint64_t bytes)
{
    if (!o || bytes < 32768)
        return LOGSHARE_EINVAL;
    o->max_total_bytes = bytes;
    return 0;
}

int logshare_options_set_max_age_seconds(logshare_options *o, int64_t seconds)
{
    if (!o || seconds <= 0)
        return LOGSHARE_EINVAL;
    o->max_age_s = seconds;
    return 0;
}

int logshare_options_set_min_level(logshare_options *o, logshare_level level)
{
    if (!o || (int)level < LOGSHARE_LEVEL_TRACE || (int)level > LOGSHARE_LEVEL_FATAL)
        return LOGSHARE_EINVAL;
    o->min_level = (int)level;
    return 0;
}

int logshare_options_set_buffer_bytes(logshare_options *o, size_t bytes)
{
    if (!o || bytes < 65536 || bytes > ((size_t)1 << 30))
        return LOGSHARE_EINVAL;
    o->buffer_bytes = bytes;
    return 0;
}
