// Shared by trampoline.c and exec.go: the header of a compiled filter.
#include <stdint.h>

#define SYSREC_ENFORCE_FD "SYSREC_ENFORCE_FD"
#define SYSREC_LOG_MARKER "SYSREC_LOG_MARKER"
#define SYSREC_BLOB_MAGIC 0x73797372u // "sysr"

struct sysrec_blob {
	uint32_t magic;
	uint32_t flags;        // seccomp(2) SECCOMP_FILTER_FLAG_*
	uint32_t no_new_privs; // set PR_SET_NO_NEW_PRIVS first
	uint32_t insns;        // instructions that follow the path
	uint32_t path_len;     // the command's path, which follows this header
};
