/* The byte relay of a wait (csrc/relay.c): the caller's stdio to and from a
 * container's pty master or interposed pipes, in the wait's own poll loop (no
 * thread: a thread would make every later start re-exec). */
#ifndef NSBOX_RELAY_H
#define NSBOX_RELAY_H

#include <lua.h>
#include <poll.h>
#include <stddef.h>

#define RELAY_FLOWS 4
#define RELAY_FDS (RELAY_FLOWS + 2)

struct flow {
	int from, to;
	int own;  /* to (a pipe into the container) is closed at from's EOF and at the end */
	int veof; /* to is a pty master: from's EOF is written as its EOF character */
	int out;  /* container to caller: drained when the container has ended */
	int done; /* from is at EOF (or failed) */
	int detach; /* from is an attached terminal: Ctrl-P Ctrl-Q ends the wait ("detached") */
	int ctrl_p; /* its last byte was Ctrl-P */
	size_t len, off;
	char last; /* the last byte written on to */
	char buf[4096];
};

struct relay {
	struct flow f[RELAY_FLOWS];
	int n;
	int winch_from, winch_to; /* SIGWINCH: the size of from's terminal set on to's */
	int slot[RELAY_FLOWS];	  /* each flow's pollfd index, -1 if it waits for nothing */
	/* nsbox attach: a listening socket whose one client gets what the pty master
	 * (an out flow's from) says, besides its flow's to, and types into it */
	int listen, client, master, listen_slot, client_slot;
	int detached; /* a detach flow saw Ctrl-P Ctrl-Q */
	int hangup;   /* the caller's side of an out flow is gone (EPIPE): the container gets SIGHUP */
};

/* Read the relay table at arg ({ {from=, to=, own=, veof=, out=, detach=}, ..., winch = { from, to },
 * attach = { listen, master } })
 * into r (zeroed, n = 0 if arg is nil). Raises on a malformed table. */
void relay_parse(lua_State *L, int arg, struct relay *r);

/* Add the fds r waits for to pf (from *n on); note their slots. */
void relay_poll(struct relay *r, struct pollfd *pf, int *n);

/* Move what poll found ready. */
void relay_move(struct relay *r, const struct pollfd *pf);

/* SIGWINCH arrived: pass the size on. */
void relay_winch(struct relay *r);

/* The wait is over: with drain, what the container's side still has buffered
 * goes out (64 KiB a flow at most: a process left holding a pty may write on);
 * then the fds that are ours are closed. */
void relay_end(struct relay *r, int drain);

/* An out flow is at its end (nsbox attach: the monitor closed the socket). */
int relay_closed(const struct relay *r);

#endif
