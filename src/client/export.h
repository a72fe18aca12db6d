/*
 * export.h - the archive writer behind logshare_export() (export.c).
 */
#ifndef LS_EXPORT_H
#define LS_EXPORT_H

#include "share.h"

/* Writes files (read up to each recorded size) and manifest.json into a
 * new archive at out_path, atomically. Files that vanished before they
 * could be opened are dropped from the list; on return every remaining
 * item has its sha256 filled. progress may be NULL. */
int export_write_archive(const share_fields *fields, share_file_list *files, const char *out_path,
                         logshare_export_format format, logshare_progress_fn progress, void *user);

#endif
