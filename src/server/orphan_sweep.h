/*
 * orphan_sweep.h - reclaims committed blobs that no attachment row names.
 *
 * An upload commits its blobs durably and only then the ticket's
 * transaction (ticket_store.h); a crash (SIGKILL, power loss) in between
 * leaves blobs no row references, which nothing would ever read or
 * remove. logshared runs one sweep at startup on a thread of its own:
 * every committed blob whose modification time is more than grace_s
 * before the sweep began, and that ticket_store_blob_referenced says no
 * attachment names, is removed.
 *
 * Why the age check is what keeps live uploads safe: a blob's
 * modification time is the time its commit began (blob_writer_commit),
 * and a request commits its ticket right after its blobs (a survey's
 * files are committed as its body arrives, its ticket when the body
 * ends). A blob older than the grace period that is still unreferenced
 * belongs to a request that died, unless a request took longer than
 * grace_s from a blob's commit to its ticket's commit: grace_s must be
 * longer than that (the default, an hour, is far longer). Blobs are
 * immutable and their keys never reused, so a blob found old and
 * unreferenced cannot become referenced later.
 *
 * A guard against a wrong database: when the sweep has found unreferenced
 * blobs but not a single referenced one (e.g. database.url pointing at a
 * new, empty database next to an old blob directory), it removes nothing
 * and says so.
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
    size_t checked;    /* committed blobs seen */
    size_t young;      /* kept: younger than the grace period */
    size_t referenced; /* kept: an attachment names them */
    size_t removed;    /* orphans removed */
    size_t held_back;  /* orphans kept by the wrong-database guard */
    int stopped;       /* 1: *stop was set before the end */
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

/* Starts orphan_sweep_run(bs, ts, grace_s, now) on a new thread, which
 * logs one line to stderr when it ends ("orphan sweep: removed N ...").
 * grace_s == 0 starts nothing and sets *out to NULL (disabled). *out is
 * the caller's: orphan_sweep_stop it. */
int orphan_sweep_start(struct blob_store *bs, struct ticket_store *ts, int64_t grace_s,
                       struct orphan_sweep **out);

/* Asks the sweep to stop (it does so before its next blob), waits for
 * its thread and frees it. NULL is a no-op. */
void orphan_sweep_stop(struct orphan_sweep *s);

#endif
