// config: write_behind = true
// fork_in_handler_behind: fork_in_handler with write-behind: 64 KiB records keep the
// queue's thread writing while fdatasync waits for it, so that forks land in that wait.
#define RECORD_BYTES (64 << 10)
#include "fork_in_handler.c"
