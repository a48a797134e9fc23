/* config.h - NetBSD's fts (as musl-fts 1.2.7 packages it: fts.c and fts.h here, unchanged)
 * built into libshadow.so for walks of virtual paths, which glibc's own fts makes with
 * internal calls the shim cannot see (hooks/walk.rs). Its calls to open, fstat, fchdir,
 * opendir... go through the PLT to the shim's hooks, like a program's.
 *
 * What musl-fts's configure finds on glibc: */
#define HAVE_DIRFD 1
#define HAVE_DECL_MAX 1
#define HAVE_DECL_UINTMAX_MAX 1

/* glibc's FTSENT field types, so that the entries are laid out as programs built against
 * glibc's <fts.h> read them (its FTSENT64 is the same on 64-bit Linux). */
#define __fts_length_t unsigned short
#define __fts_number_t long
#define __fts_level_t short

/* Its own names, beside glibc's. */
#define fts_open shadow_fts_open
#define fts_read shadow_fts_read
#define fts_children shadow_fts_children
#define fts_set shadow_fts_set
#define fts_close shadow_fts_close
