/* One netlink transport over libmnl, without Lua: shared by the rtnetlink
 * bindings (rtnl*.c), the nftables ones (nft*.c) and the setuid helper.
 * A socket (CLOEXEC) with its port id and sequence numbers; requests built one
 * at a time in n->req; replies read until the ack or the end of a dump, with
 * the kernel's extended-ack text kept for the error message; dumps that a
 * concurrent change interrupts are run again from the start. */
#ifndef NSBOX_NL_H
#define NSBOX_NL_H

#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>

/* Big enough for any message of a dump (the kernel caps them at 32 KiB). */
#define NL_BUFSIZE 32768
/* How many times a dump is run again when concurrent changes interrupt it. */
#define NL_DUMP_TRIES 20

struct nl {
	struct mnl_socket *sock;
	int proto;             /* NETLINK_ROUTE (nl_open) or another (nl_open_proto) */
	unsigned int portid, seq;
	int err;               /* errno of the last NLMSG_ERROR, 0 if none */
	char ext[256];         /* its extended-ack message, "" if none */
	mnl_cb_t cb;           /* callback for data messages of the current request */
	void *data;
	_Alignas(8) char req[4096];             /* the request being built */
	_Alignas(8) char buf[NL_BUFSIZE];       /* replies */
};

/* Open and bind a NETLINK_ROUTE socket (extended acks on where the kernel has
 * them); n->seq goes on from where it is. 0 or an errno. */
int nl_open(struct nl *n);
/* The same for another netlink protocol (NETLINK_NETFILTER). */
int nl_open_proto(struct nl *n, int proto);
/* Close it (again is harmless). */
void nl_close(struct nl *n);

/* Start a request in n->req: a header and a zeroed family header of hdrlen
 * bytes (mnl_nlmsg_get_payload gives it). NLM_F_REQUEST is added. */
struct nlmsghdr *nl_msg(struct nl *n, uint16_t type, uint16_t flags, size_t hdrlen);

/* Send nlh (not a dump) and read replies until the ack or an error; data
 * messages go to cb(nlh, data). 0 or an errno (n->ext explains). */
int nl_talk(struct nl *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

/* Send the dump request nlh (NLM_F_DUMP is added) and read it to its end,
 * data messages to cb(nlh, data). A dump interrupted by a concurrent change
 * (NLM_F_DUMP_INTR, which libmnl reports as EINTR) is started again on a fresh
 * socket, after reset(data) drops what the interrupted run gave, up to
 * NL_DUMP_TRIES times: it never ends as a partial result. 0 or an errno
 * (EINTR if every run was interrupted). */
int nl_dump(struct nl *n, struct nlmsghdr *nlh, mnl_cb_t cb, void (*reset)(void *data), void *data);

/* Send an nfnetlink batch of len bytes in buf: a batch-begin message, the
 * messages whose sequence numbers run from first to last (each with NLM_F_ACK:
 * the kernel answers each), and a batch-end. The kernel applies all or none.
 * Reads every answer; 0 or the errno of the first message that failed (n->ext
 * explains). */
int nl_batch(struct nl *n, const void *buf, size_t len, unsigned int first, unsigned int last);

#endif
