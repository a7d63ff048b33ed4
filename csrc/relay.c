/* The relay of a wait: bytes between the caller's fds and a container's pty
 * master or interposed pipes (see relay.h). The caller's own fds are never
 * made non-blocking (their file descriptions are shared with its shell): they
 * are read only when poll says so and written in full; the fds that are ours
 * are non-blocking. */
#include "common.h"
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

/* A field { fd, fd } of the relay table at arg, if it is there. */
static void fd_pair(lua_State *L, int arg, const char *name, int *a, int *b)
{
	if (lua_getfield(L, arg, name) == LUA_TTABLE) {
		lua_geti(L, -1, 1);
		lua_geti(L, -2, 2);
		*a = (int)luaL_checkinteger(L, -2);
		*b = (int)luaL_checkinteger(L, -1);
		lua_pop(L, 2);
	}
	lua_pop(L, 1);
}

void relay_parse(lua_State *L, int arg, struct relay *r)
{
	memset(r, 0, sizeof *r);
	r->winch_from = r->winch_to = -1;
	r->listen = r->client = r->master = -1;
	if (lua_isnoneornil(L, arg))
		return;
	luaL_checktype(L, arg, LUA_TTABLE);
	lua_Integer n = luaL_len(L, arg);
	luaL_argcheck(L, n <= RELAY_FLOWS, arg, "too many relay flows");
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, arg, i);
		luaL_checktype(L, -1, LUA_TTABLE);
		struct flow *f = &r->f[r->n++];
		f->from = (int)nsbox_opt_int_field(L, -1, "from", -1);
		f->to = (int)nsbox_opt_int_field(L, -1, "to", -1);
		f->own = nsbox_opt_bool_field(L, -1, "own", 0);
		f->veof = nsbox_opt_bool_field(L, -1, "veof", 0);
		f->out = nsbox_opt_bool_field(L, -1, "out", 0);
		f->detach = nsbox_opt_bool_field(L, -1, "detach", 0);
		f->last = '\n';
		luaL_argcheck(L, f->from >= 0 && f->to >= 0, arg, "a relay flow needs from and to");
		/* the container's side is ours: no read or write of it may hold up the loop */
		int ours = f->out ? f->from : f->to;
		fcntl(ours, F_SETFL, fcntl(ours, F_GETFL) | O_NONBLOCK);
		lua_pop(L, 1);
	}
	fd_pair(L, arg, "attach", &r->listen, &r->master);
	fd_pair(L, arg, "winch", &r->winch_from, &r->winch_to);
}

/* Write all of buf on a caller's (blocking) fd; 0, or -1 if it is gone. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w, len -= (size_t)w;
	}
	return 0;
}

/* from's EOF on a flow into the container: a pipe is closed, a pty is sent its
 * EOF character (a pty cannot be half-closed; ssh does the same): twice after
 * a partial line, whose first one only ends the line. */
static void input_ended(struct flow *f)
{
	f->done = 1;
	if (f->veof) {
		struct termios t;
		if (tcgetattr(f->to, &t) == 0 && (t.c_lflag & ICANON)) {
			char eof[2] = { (char)t.c_cc[VEOF], (char)t.c_cc[VEOF] };
			f->len = f->last == '\n' ? 1 : 2;
			f->off = 0;
			memcpy(f->buf, eof, f->len);
		}
	} else if (f->own && f->to >= 0) {
		close(f->to);
		f->to = -1;
	}
}

void relay_poll(struct relay *r, struct pollfd *pf, int *n)
{
	for (int i = 0; i < r->n; i++) {
		struct flow *f = &r->f[i];
		r->slot[i] = -1;
		if (f->len > f->off && f->to >= 0) {
			pf[*n] = (struct pollfd){ .fd = f->to, .events = POLLOUT };
		} else if (!f->done) {
			pf[*n] = (struct pollfd){ .fd = f->from, .events = POLLIN };
		} else {
			continue;
		}
		r->slot[i] = (*n)++;
	}
	r->listen_slot = r->client_slot = -1;
	if (r->listen >= 0) {
		pf[*n] = (struct pollfd){ .fd = r->listen, .events = POLLIN };
		r->listen_slot = (*n)++;
	}
	if (r->client >= 0) {
		pf[*n] = (struct pollfd){ .fd = r->client, .events = POLLIN };
		r->client_slot = (*n)++;
	}
}

static void drop_client(struct relay *r)
{
	if (r->client >= 0)
		close(r->client);
	r->client = -1;
}

/* Ctrl-P Ctrl-Q (docker's detach keys) in what an attached terminal typed. */
static void watch_detach(struct relay *r, struct flow *f, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (f->ctrl_p && buf[i] == 0x11)
			r->detached = 1;
		f->ctrl_p = buf[i] == 0x10;
	}
}

/* The attach socket: a new client (one at a time: a second is told so and
 * closed), or what the attached one typed (into the master). */
static void attach_move(struct relay *r, const struct pollfd *pf)
{
	if (r->listen_slot >= 0 && pf[r->listen_slot].revents) {
		int c = accept4(r->listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			r->listen = -1; /* no fd left (EMFILE): stop listening rather than spin */
		if (c >= 0 && r->client >= 0) {
			static const char busy[] = "nsbox: another nsbox attach holds this container's terminal\r\n";
			send(c, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			close(c);
		} else if (c >= 0) {
			r->client = c;
		}
	}
	if (r->client_slot >= 0 && pf[r->client_slot].revents && r->client >= 0) {
		char buf[4096];
		ssize_t got = read(r->client, buf, sizeof buf);
		if (got > 0)
			write_all(r->master, buf, (size_t)got); /* non-blocking: what the pty cannot take is lost */
		else if (got == 0 || (errno != EAGAIN && errno != EINTR))
			drop_client(r);
	}
}

/* One read on f (ready, or draining); 1 if it moved bytes. */
static int step_read(struct relay *r, struct flow *f)
{
	ssize_t got = read(f->from, f->buf, sizeof f->buf);
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (got <= 0) { /* EOF; EIO: a pty whose every slave is closed */
		if (f->out)
			f->done = 1;
		else
			input_ended(f);
		return 0;
	}
	if (f->out) {
		if (write_all(f->to, f->buf, (size_t)got) < 0)
			f->done = r->hangup = 1; /* the caller's side is gone: a terminal's hangup */
		/* the attached terminal too; one that does not keep up loses it */
		if (f->from == r->master && r->client >= 0 &&
		    send(r->client, f->buf, (size_t)got, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
			drop_client(r);
		return 1;
	}
	if (f->detach)
		watch_detach(r, f, f->buf, (size_t)got);
	f->len = (size_t)got, f->off = 0;
	return 1;
}

static void step_write(struct flow *f)
{
	ssize_t w = write(f->to, f->buf + f->off, f->len - f->off);
	if (w < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (w < 0) { /* the container's side is gone */
		f->len = f->off = 0;
		f->done = 1;
		return;
	}
	f->off += (size_t)w;
	if (f->off == f->len) {
		f->last = f->buf[f->len - 1];
		f->len = f->off = 0;
	}
}

void relay_move(struct relay *r, const struct pollfd *pf)
{
	for (int i = 0; i < r->n; i++) {
		if (r->slot[i] < 0 || !pf[r->slot[i]].revents)
			continue;
		struct flow *f = &r->f[i];
		if (f->len > f->off)
			step_write(f);
		else
			step_read(r, f);
	}
	attach_move(r, pf);
}

void relay_winch(struct relay *r)
{
	struct winsize w;
	if (r->winch_from >= 0 && ioctl(r->winch_from, TIOCGWINSZ, &w) == 0)
		ioctl(r->winch_to, TIOCSWINSZ, &w);
}

void relay_end(struct relay *r, int drain)
{
	for (int i = 0; i < r->n; i++) {
		struct flow *f = &r->f[i];
		/* non-blocking: read to EAGAIN, EOF or EIO, or the cap */
		for (int k = 0; drain && k < 16 && f->out && !f->done && step_read(r, f); k++)
			;
		if (f->own && f->to >= 0)
			close(f->to);
		f->to = -1;
	}
	drop_client(r);
}

int relay_closed(const struct relay *r)
{
	for (int i = 0; i < r->n; i++)
		if (r->f[i].out && r->f[i].done)
			return 1;
	return 0;
}
