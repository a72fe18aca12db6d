/*
 * owner_binding.h - which ticket database the stored blobs belong to.
 *
 * The orphan sweep removes every blob no ticket of ITS database names,
 * so a server must never sweep blobs of another database: the data dir
 * records its database in <data_dir>/database-id, and a remote blob
 * store (Azure), whose container servers with other data dirs may be
 * given, records it in the blob BLOB_OWNER_KEY. docs/server.md
 * ("Several servers") tells the rules.
 */
#ifndef LOGSHARED_OWNER_BINDING_H
#define LOGSHARED_OWNER_BINDING_H

#include "blob_store.h"
#include "ticket_store.h"

/* Binds the data dir and, for a store other than "fs", its container to
 * ts's database: the first server writes the names, later ones compare.
 * 0: bound, or *foreign = 1 when ts is a new, empty database beside
 * unclaimed blobs (it serves, but its sweep must remove nothing);
 * LOGSHARE_EINVAL: the data dir or the container belongs to another
 * database (the server must not start; the message is printed); else
 * the error that stopped the check (printed too). Called under the
 * startup lock (main.c), so two first starts of one data dir cannot both
 * write; two servers on other data dirs racing for one container are
 * settled by the blob's immutability. */
int owner_bind(const char *data_dir, struct blob_store *bs, struct ticket_store *ts, int *foreign);

#endif
