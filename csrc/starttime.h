/* A process's start time, in one place: what tells a process from a later one
 * with the same pid (lease owners, the state entries of `nsbox run`). */
#ifndef NSBOX_STARTTIME_H
#define NSBOX_STARTTIME_H

#include <sys/types.h>

/* Field 22 of /proc/<pid>/stat (clock ticks after boot) into *start: 0, or -1
 * if pid is not running (no such process, or a zombie). */
int nsbox_starttime(pid_t pid, unsigned long long *start);

#endif
