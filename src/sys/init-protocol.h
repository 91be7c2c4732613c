/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The contract between sandboxd and sandboxd-init: which descriptors cross, at which numbers,
 * and the messages on the sync socket. Nothing else crosses: the spawn path closes every other
 * descriptor before the init is exec'd, and the init closes all of these but the payload's
 * stdio before the payload is. */

#include <stdint.h>

/* The descriptors the init starts with. */
typedef enum InitFd {
    INIT_FD_STDIN = 0,  /* the host's /dev/null: the init reads nothing */
    INIT_FD_LOG = 1,    /* write end of the log pipe (also on 2): LogRecords of the payload's
                         * output, which the init relays from pipes of its own, so the payload
                         * never holds a descriptor that reaches the daemon or a host file */
    INIT_FD_STDERR = 2, /* the same pipe as INIT_FD_LOG */
    INIT_FD_SYNC = 3,   /* SOCK_SEQPACKET to the daemon: SyncMsg both ways */
    INIT_FD_PLAN = 4,   /* sealed memfd: the SandboxPlan */
    INIT_FD_EXIT = 5,   /* RUNTIME/sandboxes/NAME/exit: the payload's end, for a later sandboxd */
    INIT_FD_USERNS = 6, /* the payload's user namespace; absent without Namespaces=user */
    INIT_FD_LOG_READ = 7, /* the read end of the log pipe, held (never read) by the init so a
                           * later sandboxd takes it back with pidfd_getfd() */
    _INIT_FD_MAX,
} InitFd;

typedef enum SyncType {
    SYNC_GO = 1, /* daemon -> init: parent-side setup is done, build the sandbox */
    SYNC_ERROR,  /* init -> daemon: step failed with error; nothing runs */
    SYNC_READY,  /* init -> daemon: the payload has exec'd; its pid comes as SCM_CREDENTIALS */
    SYNC_EXIT,   /* init -> daemon: the payload ended: code (CLD_*) and status */
} SyncType;

/* SYNC_ERROR's code: the detail says all; no strerror(error) after it */
#define SYNC_ERROR_DETAIL_COMPLETE 1

typedef struct SyncMsg {
    uint32_t type;
    int32_t error; /* positive errno, for SYNC_ERROR */
    int32_t code;  /* CLD_EXITED, CLD_KILLED, CLD_DUMPED */
    int32_t status;
    char step[32];
    char detail[480];
} SyncMsg;

/* On INIT_FD_LOG, one record per line the payload wrote: this header, ident_len bytes of the
 * payload's name ("httpd", as in "httpd[7]:"), then len bytes of the line without its newline.
 * The daemon formats it for the file log or the journal. */
#define LOG_RECORD_LINE_MAX 4096
#define LOG_RECORD_IDENT_MAX 32

typedef enum LogStream {
    LOG_STREAM_STDOUT = 1,
    LOG_STREAM_STDERR = 2,
} LogStream;

typedef struct LogRecord {
    uint64_t usec;     /* CLOCK_REALTIME when the init read the line */
    uint32_t pid;      /* the payload's, in the sandbox's PID namespace */
    uint16_t len;      /* <= LOG_RECORD_LINE_MAX */
    uint8_t stream;    /* LogStream */
    uint8_t ident_len; /* <= LOG_RECORD_IDENT_MAX */
} LogRecord;
