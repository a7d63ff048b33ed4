/* Conntrack entries forgotten when a container with published ports ends
 * (ctnetlink, see nft.h): the table is dumped, the entries whose reply comes
 * from the container's address are noted, then deleted one by one by their
 * original tuple (and zone) as the kernel gave them. */
#define _GNU_SOURCE
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

/* The noted entries: their CTA_TUPLE_ORIG and CTA_ZONE attributes, copied whole. */
struct entry { size_t len; char attrs[256]; };
struct forget { uint32_t addr; struct entry *e; size_t n, cap; int err; };

static int nested(const struct nlattr *a, uint16_t type, const struct nlattr **out)
{
	const struct nlattr *x;

	mnl_attr_for_each_nested(x, a)
		if (mnl_attr_get_type(x) == type) {
			*out = x;
			return 1;
		}
	return 0;
}

static int entry_cb(const struct nlmsghdr *nlh, void *data)
{
	struct forget *f = data;
	const struct nlattr *a, *orig = NULL, *zone = NULL, *ip, *src;
	int from = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		uint16_t t = mnl_attr_get_type(a);
		if (t == CTA_TUPLE_ORIG)
			orig = a;
		else if (t == CTA_ZONE)
			zone = a;
		else if (t == CTA_TUPLE_REPLY && nested(a, CTA_TUPLE_IP, &ip) && nested(ip, CTA_IP_V4_SRC, &src) &&
			 mnl_attr_get_payload_len(src) == 4)
			from = ntohl(mnl_attr_get_u32(src)) == f->addr;
	}
	if (!from || !orig)
		return MNL_CB_OK;
	size_t ol = MNL_ALIGN(orig->nla_len), zl = zone ? MNL_ALIGN(zone->nla_len) : 0;
	if (ol + zl > sizeof f->e->attrs)
		return MNL_CB_OK;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct entry *e = realloc(f->e, cap * sizeof *e);
		if (!e) {
			f->err = ENOMEM;
			return MNL_CB_ERROR;
		}
		f->e = e, f->cap = cap;
	}
	memcpy(f->e[f->n].attrs, orig, ol);
	if (zone)
		memcpy(f->e[f->n].attrs + ol, zone, zl);
	f->e[f->n++].len = ol + zl;
	return MNL_CB_OK;
}

static void forget_reset(void *data) { ((struct forget *)data)->n = 0; }

static struct nlmsghdr *ct_msg(struct nl *n, uint16_t type)
{
	struct nlmsghdr *nlh = nl_msg(n, (NFNL_SUBSYS_CTNETLINK << 8) | type, 0, sizeof(struct nfgenmsg));
	struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);

	g->nfgen_family = AF_INET;
	g->version = NFNETLINK_V0;
	return nlh;
}

int nft_ct_forget(struct nl *n, uint32_t addr, int *forgot)
{
	struct forget f = { .addr = addr };
	int err;

	*forgot = 0;
	err = nl_dump(n, ct_msg(n, IPCTNL_MSG_CT_GET), entry_cb, forget_reset, &f);
	if (!err)
		err = f.err;
	for (size_t i = 0; !err && i < f.n; i++) {
		struct nlmsghdr *nlh = ct_msg(n, IPCTNL_MSG_CT_DELETE);
		memcpy((char *)nlh + nlh->nlmsg_len, f.e[i].attrs, f.e[i].len);
		nlh->nlmsg_len += (uint32_t)f.e[i].len;
		err = nl_talk(n, nlh, NULL, NULL);
		if (err == ENOENT) /* gone meanwhile */
			err = 0;
		else if (!err)
			++*forgot;
	}
	free(f.e);
	return err;
}
