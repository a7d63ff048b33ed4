/* The netlink transport (see nl.h): plain C over libmnl, no Lua. */
#define _GNU_SOURCE
#include "nl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>

int nl_open(struct nl *n)
{
	return nl_open_proto(n, NETLINK_ROUTE);
}

int nl_open_proto(struct nl *n, int proto)
{
	int one = 1, e;

	n->err = 0;
	n->ext[0] = '\0';
	n->proto = proto;
	n->sock = mnl_socket_open2(proto, SOCK_CLOEXEC);
	if (!n->sock)
		return errno;
	if (mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		e = errno;
		nl_close(n);
		return e;
	}
	/* Best effort: without them errors just carry no text. */
	mnl_socket_setsockopt(n->sock, NETLINK_EXT_ACK, &one, sizeof one);
	mnl_socket_setsockopt(n->sock, NETLINK_CAP_ACK, &one, sizeof one);
	n->portid = mnl_socket_get_portid(n->sock);
	return 0;
}

void nl_close(struct nl *n)
{
	if (n->sock) {
		mnl_socket_close(n->sock);
		n->sock = NULL;
	}
}

struct nlmsghdr *nl_msg(struct nl *n, uint16_t type, uint16_t flags, size_t hdrlen)
{
	struct nlmsghdr *nlh;

	memset(n->req, 0, sizeof n->req);   /* libmnl leaves attribute padding as it was */
	nlh = mnl_nlmsg_put_header(n->req);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	mnl_nlmsg_put_extra_header(nlh, hdrlen);
	return nlh;
}

static int ext_attr_cb(const struct nlattr *a, void *data)
{
	struct nl *n = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		snprintf(n->ext, sizeof n->ext, "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

/* NLMSG_ERROR (an ack if its error is 0) and NLMSG_DONE (which carries an int):
 * keep the errno and the extended-ack message. */
static int ctl_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl *n = data;
	size_t off = sizeof(int);
	int error;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(int))
		return MNL_CB_STOP;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof *e) {
			n->err = EBADMSG;
			return MNL_CB_ERROR;
		}
		off = sizeof *e;
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += mnl_nlmsg_get_payload_len(&e->msg);
	}
	memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof error);
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
		mnl_attr_parse(nlh, (unsigned int)off, ext_attr_cb, n);
	if (error < 0) {
		n->err = -error;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl *n = data;
	return n->cb ? n->cb(nlh, n->data) : MNL_CB_OK;
}

/* One exchange: send, read to the ack or the end. 0 or an errno; EINTR from
 * libmnl (and no NLMSG_ERROR) means the dump was interrupted. */
static int exchange(struct nl *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = ctl_cb,
		[NLMSG_DONE] = ctl_cb,
	};
	unsigned int seq = nlh->nlmsg_seq = ++n->seq;
	int ret;

	n->err = 0;
	n->ext[0] = '\0';
	n->cb = cb;
	n->data = data;
	if (!n->sock)
		return EBADF;
	if (mnl_socket_sendto(n->sock, nlh, nlh->nlmsg_len) < 0)
		return errno;
	do {
		ssize_t len = mnl_socket_recvfrom(n->sock, n->buf, sizeof n->buf);
		if (len < 0 && errno == EINTR)  /* a signal, not the kernel */
			continue;
		if (len < 0)
			return errno;
		errno = 0;
		ret = mnl_cb_run2(n->buf, (size_t)len, seq, n->portid, data_cb, n, ctl,
				  MNL_ARRAY_SIZE(ctl));
	} while (ret == MNL_CB_OK);
	if (ret == MNL_CB_ERROR)
		return n->err ? n->err : errno ? errno : EPROTO;
	return 0;
}

int nl_talk(struct nl *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	nlh->nlmsg_flags |= NLM_F_ACK;
	return exchange(n, nlh, cb, data);
}

int nl_dump(struct nl *n, struct nlmsghdr *nlh, mnl_cb_t cb, void (*reset)(void *data), void *data)
{
	int err = 0;

	nlh->nlmsg_flags |= NLM_F_DUMP;
	for (int tries = 0; tries < NL_DUMP_TRIES; tries++) {
		if (tries) {
			/* The rest of the interrupted dump is still queued on the old
			 * socket: a new one starts clean. */
			nl_close(n);
			if ((err = nl_open_proto(n, n->proto)))
				return err;
			if (reset)
				reset(data);
		}
		err = exchange(n, nlh, cb, data);
		if (err != EINTR || n->err)
			return err;
	}
	snprintf(n->ext, sizeof n->ext, "dump interrupted by concurrent changes %d times", NL_DUMP_TRIES);
	return EINTR;
}

/* An answer to one message of a batch: keep the first error and its text. */
static void batch_answer(struct nl *n, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	int saved = n->err;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof e->error) {
		if (!saved)
			n->err = EBADMSG;
		return;
	}
	if (e->error == 0 || saved)
		return;
	n->err = 0;
	ctl_cb(nlh, n);   /* sets n->err and n->ext */
}

int nl_batch(struct nl *n, const void *buf, size_t len, unsigned int first, unsigned int last)
{
	unsigned int left = last - first + 1;

	n->err = 0;
	n->ext[0] = '\0';
	if (!n->sock)
		return EBADF;
	if (mnl_socket_sendto(n->sock, buf, len) < 0)
		return errno;
	while (left) {
		ssize_t got = mnl_socket_recvfrom(n->sock, n->buf, sizeof n->buf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return errno;
		int rest = (int)got;
		for (const struct nlmsghdr *h = (const struct nlmsghdr *)n->buf; mnl_nlmsg_ok(h, rest);
		     h = mnl_nlmsg_next(h, &rest)) {
			if (h->nlmsg_pid != n->portid || h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_seq < first || h->nlmsg_seq > last) {
				/* the begin or end message failed (no permission, no
				 * nf_tables): nothing of the batch was looked at */
				batch_answer(n, h);
				return n->err ? n->err : EPROTO;
			}
			batch_answer(n, h);
			left--;
		}
	}
	return n->err;
}
