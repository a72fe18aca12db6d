/*
 * orphan_sweep.h - reclaims what crashes leave in the blob store:
 * committed blobs that no attachment row names, and partial uploads.
 *
 * An upload commits its blobs durably and only then the ticket's
 * transaction (ticket_store.h); a crash (SIGKILL, power loss) in between
 * leaves blobs no row references, which nothing would ever read or
 * remove. A crash mid-upload leaves its partial bytes in temporary
 * files (blob_store_sweep_uploads). logshared sweeps both on a thread of
 * its own, once at startup and then every interval_s while it runs, so
 * a server that stays up for months does not keep them for months:
 * every committed blob whose modification time is more than grace_s
 * before the pass began, and that ticket_store_blob_referenced says no
 * attachment names, is removed, and every upload temporary no writer
 * holds that was untouched for stale_upload_s.
 *
 * Why the age check is what keeps live uploads safe: a blob's
 * modification time is the time its commit began (blob_writer_commit),
 * and a request commits its ticket right after its blobs (uploads and
 * surveys alike commit their blobs once the whole body has arrived). A
 * blob older than the grace period that is still unreferenced
 * belongs to a request that died, unless a request took longer than
 * grace_s from a blob's commit to its ticket's commit: grace_s must be
 * longer than that (a few fsyncs; the default, an hour, is far longer).
 * Every pass starts from a fresh clock, so this holds for each. Blobs are
 * immutable and their keys never reused, so a blob found old and
 * unreferenced cannot become referenced later.
 *
 * A guard against a wrong database: when the sweep has found unreferenced
 * blobs but not a single referenced one (e.g. database.url pointing at a
 * new, empty database next to an old blob directory), it removes nothing
 * and says so. And against another database: servers sharing a data
 * dir (scale-out) must share the database too. One that was started
 * with another one (its database.url forgotten: a SQLite file of its
 * own) saw its own tickets' blobs referenced, so the guard above let it
 * remove every other server's blobs. main.c records which database the
 * blobs belong to (<data_dir>/database-id), and a server whose database
 * is not that one does not start. A new, empty database next to blobs
 * of a dir that names none (from before database-id) does not claim
 * them: that server runs with `foreign` set, removes no blob at all, and
 * says so on every pass that finds old ones.
 *
 * Ownership: the stores are borrowed and must outlive the sweep
 * (orphan_sweep_stop before destroying them).
 */
#ifndef LOGSHARED_ORPHAN_SWEEP_H
#define LOGSHARED_ORPHAN_SWEEP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "blob_store.h"
#include "ticket_store.h"

struct orphan_sweep_result {
    size_t checked;         /* committed blobs seen */
    size_t young;           /* kept: younger than the grace period */
    size_t referenced;      /* kept: an attachment names them */
    size_t removed;         /* orphans removed */
    uint64_t removed_bytes; /* their sizes, summed */
    size_t held_back;       /* orphans kept by the wrong-database guard */
    int foreign;            /* 1: every old blob was held back (options.foreign) */
    int stopped;            /* 1: *stop was set before the end */
};

/* One sweep, on the calling thread: removes committed blobs whose
 * modification time is more than grace_s (> 0) seconds before now_unix_s
 * and that no attachment references. stop (may be NULL) is read before
 * each blob; once non-zero the sweep ends early with res->stopped set.
 * 0, or the first error of the listing or of the database (the sweep
 * ends there; res counts what was done). LOGSHARE_EINVAL for grace_s <= 0. */
int orphan_sweep_run(struct blob_store *bs, struct ticket_store *ts, int64_t grace_s,
                     int64_t now_unix_s, const atomic_int *stop, struct orphan_sweep_result *res);

struct orphan_sweep;

struct orphan_sweep_options {
    int64_t grace_s;        /* orphaned blobs older than this; 0: none are removed */
    int64_t interval_s;     /* from the end of a pass to the next; 0: the first pass only */
    int64_t stale_upload_s; /* upload temporaries untouched this long; 0: none */
    int foreign;            /* the blobs are not claimed by this database: remove none */
};

/* Starts the sweep thread. Its first pass runs at once, the next ones
 * interval_s after the previous one ended, one after another on that
 * one thread (two passes never overlap). A pass removes the stale upload
 * temporaries, then runs orphan_sweep_run(bs, ts, grace_s, now). It logs
 * one line to stderr ("orphan sweep: removed N orphaned blobs (B bytes;
 * ...) and M stale upload files (B bytes)"): always for the first pass
 * when grace_s > 0, else only when it removed something or met an error,
 * so an idle server's log stays quiet. Sets *out to NULL and starts
 * nothing when there is nothing to do after startup (no grace_s, and no
 * interval_s or stale_upload_s: blob_fs_open already swept the uploads).
 * *out is the caller's: orphan_sweep_stop it. LOGSHARE_EINVAL for a
 * negative option. */
int orphan_sweep_start(struct blob_store *bs, struct ticket_store *ts,
                       const struct orphan_sweep_options *o, struct orphan_sweep **out);

/* Asks the sweep to stop, wakes it if it waits for its next pass (a
 * pass in progress stops before its next blob or file), waits for its
 * thread and frees it. NULL is a no-op. */
void orphan_sweep_stop(struct orphan_sweep *s);

#endif
