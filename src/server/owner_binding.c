/*
 * owner_binding.c - which ticket database the stored blobs belong to
 * (owner_binding.h). The checks were in main.c; the container marker of
 * remote blob stores came with the Azure store.
 */
#include "owner_binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logshare.h"
#include "ls_fs.h"

static int stop_at_first(void *arg, const char *key, int64_t mtime, uint64_t size)
{
    (void)mtime;
    (void)size;
    if (!blob_key_is_attachment(key))
        return 0; /* the container's owner marker, say */
    *(int *)arg = 1;
    return 1; /* not an error code (those are negative): ends the listing */
}

/* A new, empty ticket database next to blobs already stored is what a
 * server whose database.url was forgotten sees (a SQLite file of its
 * own): it must not claim those blobs, or it would sweep them all. */
static int new_database_beside_blobs(struct blob_store *bs, struct ticket_store *ts, int *yes)
{
    *yes = 0;
    struct ticket_filter f = {.status = -1, .limit = 1};
    struct ticket_list l = {0};
    int rc = ticket_store_list(ts, &f, &l);
    int empty = rc == 0 && l.count == 0;
    ticket_list_clear(&l);
    int blobs = 0;
    if (rc == 0 && empty && (rc = blob_store_list(bs, stop_at_first, &blobs)) == 1)
        rc = 0;
    *yes = empty && blobs;
    return rc;
}

/* Which database the data dir's blobs belong to: <data_dir>/database-id
 * names it (ticket_store_identity), written by the first server that
 * starts on the dir, unless its database is new and empty while blobs
 * are there (new_database_beside_blobs: the server serves, but its
 * orphan sweep must not judge those blobs by its own tickets, and
 * *foreign is 1). A server reaching another database than the file
 * names (its database.url forgotten, or pointing elsewhere) does not
 * start (LOGSHARE_EINVAL): serving, it would answer 201 for uploads
 * whose blobs the right database's servers then sweep as orphans, and
 * its own sweep would judge their blobs by its tickets. Called under the
 * startup lock, so two first starts cannot both write the file. */
static int bind_data_dir(const char *data_dir, struct blob_store *bs, struct ticket_store *ts,
                         int *foreign)
{
    *foreign = 0;
    char id[TICKET_STORE_IDENTITY_MAX], path[4096];
    int rc = ticket_store_identity(ts, id);
    if (rc) {
        fprintf(stderr, "logshared: cannot read the ticket database's identity: %s\n",
                logshare_strerror(rc));
        return rc;
    }
    snprintf(path, sizeof path, "%s/database-id", data_dir);
    char *text = NULL;
    size_t n = 0;
    rc = ls_fs_read_file(path, 256, &text, &n);
    if (rc == LOGSHARE_ENOENT && (rc = new_database_beside_blobs(bs, ts, foreign)) == 0 &&
        *foreign) {
        fprintf(stderr,
                "logshared: warning: the ticket database (%s) is empty, but %s/blobs holds "
                "blobs: they are not claimed for it (%s not written) and no orphaned blob is "
                "removed. Servers sharing a data dir must share the database\n",
                id, data_dir, path);
        return 0;
    }
    if (rc == 0 && !text) {
        char line[TICKET_STORE_IDENTITY_MAX + 1];
        int len = snprintf(line, sizeof line, "%s\n", id);
        if ((rc = ls_fs_write_atomic(path, line, (size_t)len, 0600)))
            fprintf(stderr, "logshared: cannot write %s: %s\n", path, logshare_strerror(rc));
        return rc;
    }
    if (rc) {
        fprintf(stderr, "logshared: cannot bind the data dir to its database (%s): %s\n", path,
                logshare_strerror(rc));
        return rc;
    }
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    if (strcmp(text, id) != 0) {
        fprintf(stderr,
                "logshared: the blobs in %s belong to another ticket database (%s names %s, "
                "database.url reaches %s): not starting. Servers sharing a data dir must "
                "share the database (check database.url); if this database is meant to own "
                "the blobs now, remove %s\n",
                data_dir, path, text, id, path);
        rc = LOGSHARE_EINVAL;
    }
    free(text);
    return rc;
}

/* The identity in the container's marker blob: 0 and *text (caller
 * frees, trailing whitespace cut), LOGSHARE_ENOENT when there is none,
 * or the store's error. */
static int read_marker(struct blob_store *bs, char **text)
{
    *text = NULL;
    struct blob_reader *r;
    uint64_t total = 0;
    int rc = blob_store_get_open(bs, BLOB_OWNER_KEY, 0, BLOB_TO_END, &r, &total);
    if (rc)
        return rc;
    char *buf = total < TICKET_STORE_IDENTITY_MAX ? calloc(1, TICKET_STORE_IDENTITY_MAX + 1) : NULL;
    size_t n = 0, got = 0;
    rc = total >= TICKET_STORE_IDENTITY_MAX ? LOGSHARE_ECORRUPT : buf ? 0 : LOGSHARE_ENOMEM;
    while (rc == 0 && n < total &&
           (rc = blob_reader_read(r, buf + n, TICKET_STORE_IDENTITY_MAX - n, &got)) == 0 && got)
        n += got;
    blob_reader_close(r);
    if (rc) {
        free(buf);
        return rc;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    *text = buf;
    return 0;
}

/* Writes the marker once: blobs are immutable, so of two first servers
 * one commit wins and the other gets LOGSHARE_EEXIST (and reads it). */
static int write_marker(struct blob_store *bs, const char *id)
{
    char line[TICKET_STORE_IDENTITY_MAX + 1];
    int len = snprintf(line, sizeof line, "%s\n", id);
    struct blob_writer *w;
    int rc = blob_store_put_open(bs, BLOB_OWNER_KEY, &w);
    if (rc)
        return rc;
    if ((rc = blob_writer_write(w, line, (size_t)len)) != 0) {
        blob_writer_abort(w);
        return rc;
    }
    return blob_writer_commit(w);
}

/* The same rule as bind_data_dir, for a remote store's container, which
 * servers with different data dirs may share: the blob BLOB_OWNER_KEY
 * names the database its blobs belong to. Without it, two deployments
 * given one container would each sweep the other's blobs as orphans. */
static int bind_container(struct blob_store *bs, struct ticket_store *ts, const char *id,
                          int *foreign)
{
    char *text = NULL;
    int rc = read_marker(bs, &text);
    if (rc == LOGSHARE_ENOENT) {
        int beside = 0;
        if ((rc = new_database_beside_blobs(bs, ts, &beside)) != 0)
            goto io;
        if (beside) {
            *foreign = 1;
            fprintf(stderr,
                    "logshared: warning: the ticket database (%s) is empty, but the %s blob "
                    "store holds blobs: they are not claimed for it (no %s blob written) and "
                    "no orphaned blob is removed\n",
                    id, bs->ops->name, BLOB_OWNER_KEY);
            return 0;
        }
        rc = write_marker(bs, id);
        if (rc == LOGSHARE_EEXIST)
            rc = read_marker(bs, &text); /* another server's first start won */
        else if (rc == 0)
            return 0;
    }
io:
    if (rc) {
        fprintf(stderr, "logshared: cannot bind the %s blob store to its database (blob %s): %s\n",
                bs->ops->name, BLOB_OWNER_KEY, logshare_strerror(rc));
        free(text);
        return rc == LOGSHARE_EINVAL ? LOGSHARE_EIO : rc;
    }
    if (strcmp(text, id) != 0) {
        fprintf(stderr,
                "logshared: the %s blob store's container belongs to another ticket database "
                "(its blob %s names %s, database.url reaches %s): not starting. Give each "
                "deployment its own container; if this database is meant to own the blobs "
                "now, delete that blob\n",
                bs->ops->name, BLOB_OWNER_KEY, text, id);
        rc = LOGSHARE_EINVAL;
    }
    free(text);
    return rc;
}

int owner_bind(const char *data_dir, struct blob_store *bs, struct ticket_store *ts, int *foreign)
{
    int rc = bind_data_dir(data_dir, bs, ts, foreign);
    if (rc || *foreign || strcmp(bs->ops->name, "fs") == 0)
        return rc;
    char id[TICKET_STORE_IDENTITY_MAX];
    if ((rc = ticket_store_identity(ts, id)) != 0)
        return rc;
    return bind_container(bs, ts, id, foreign);
}
