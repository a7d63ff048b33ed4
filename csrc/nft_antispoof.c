/* Anti-spoofing at the bridge ports nsbox makes (see nft.h), in table bridge
 * nsbox. Each guarded port is one element of the set "guards", keyed by what
 * it may send from: its ifindex . MAC . MAC . IPv4 address. Fixed rules in the
 * base chains look every frame up there: IPv4 by (iif . ether saddr . ether
 * saddr . ip saddr), ARP for IPv4 over Ethernet by (iif . ether saddr . arp sha
 * . arp spa); a match is accepted. Then everything else from a port of link
 * group NFT_PORT_GROUP (nsbox's, from its creation) is dropped: another MAC or
 * address, IPv6, a VLAN tag (which could carry anything past the checks), and
 * all of a port with no element (not yet, or no more). That is libvirt's
 * clean-traffic filter.
 *
 * Why a set and not a chain per port: the cost of an add does not grow with the
 * ports. A jump to a new chain makes the kernel validate the whole table at the
 * commit, and the owners' sweep read /proc for every port at every add.
 * Why the ifindex: the kernel never hands one out again in the namespace, so
 * an element whose owner was SIGKILLed matches nothing ever after; it is only
 * garbage, swept at one add in SWEEP_EVERY (or by nft_antispoof_sweep).
 * The input hook has the same rules: a frame to a link-local group address
 * (01:80:c2:..) goes there without passing prerouting, and the bridge learns
 * its source. */
#define _GNU_SOURCE
#include "nft.h"
#include "nft_build.h"
#include "starttime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

#define PREROUTING "prerouting"
#define INPUT "input"
#define SET "guards"
#define IPV4 "nsbox: IPv4 from a guarded port's own MAC and address"
#define ARP "nsbox: ARP whose sender is a guarded port's own MAC and address"
#define UNGUARDED "nsbox: the rest from a port of nsbox's group: dropped"
/* The drop of nsbox before 2026-12 (a chain per port behind a verdict map), which
 * would drop every port guarded by an element: it goes when the set is made. Its
 * dispatch to the old ports' chains stays (they still guard the containers it made). */
#define OLD_UNGUARDED "nsbox: a port of nsbox's group that the map does not name: dropped"
#define SET_ID 1         /* the set made in the batch of the first rule that uses it */
#define SWEEP_EVERY 16   /* adds between two sweeps of the elements whose owner is gone */
/* nft's datatypes (its datatype.h), for `nft list` to print the key: a
 * concatenation is its types in 6-bit fields, the first highest */
#define TYPE_IPADDR 7
#define TYPE_ETHERADDR 9
#define TYPE_IFINDEX 20
#define KEY_TYPE ((((TYPE_IFINDEX << 6 | TYPE_ETHERADDR) << 6) | TYPE_ETHERADDR) << 6 | TYPE_IPADDR)

/* The key, as the registers hold it: each field from a 32-bit register of its own. */
struct key {
	uint32_t ifindex;           /* host order, as meta iif loads it */
	unsigned char mac[6], pad1[2];
	unsigned char sender[6], pad2[2];
	uint32_t addr;              /* network order */
};
_Static_assert(sizeof(struct key) == 24, "the key is 24 bytes");

static void key_of(const struct nft_guard *g, struct key *k)
{
	memset(k, 0, sizeof *k);
	k->ifindex = g->ifindex;
	memcpy(k->mac, g->mac, 6);
	memcpy(k->sender, g->mac, 6);
	k->addr = htonl(g->addr);
}

/* The set, made with the first rule that uses it; an existing one is left as it is. */
struct set_arg { struct batch *bt; int made; };

static int add_set(struct set_arg *a)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;

	if (a->made++)
		return 0;
	if (!(s = nftnl_set_alloc()))
		return ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, SET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, SET_ID);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, KEY_TYPE);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, sizeof(struct key));
	if ((nlh = nft_batch_msg(a->bt, NFT_MSG_NEWSET, NLM_F_CREATE))) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		nft_batch_next(a->bt);
	}
	nftnl_set_free(s);
	return 0;
}

static int load(struct nftnl_rule *r, struct nftnl_expr *e, uint16_t attr, uint32_t reg)
{
	if (e)
		nftnl_expr_set_u32(e, attr, reg);
	return nft_expr_add(r, e);
}

/* reg = meta key */
static int meta_to(struct nftnl_rule *r, uint32_t key, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e)
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	return load(r, e, NFTNL_EXPR_META_DREG, reg);
}

/* reg = len bytes of the packet at base + offset */
static int payload_to(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	return load(r, e, NFTNL_EXPR_PAYLOAD_DREG, reg);
}

/* ether type etype, then the key's fields: iif, ether saddr, the sender MAC
 * and address at their offsets in the network header (the sender MAC: none,
 * ether saddr again), then the lookup in the set, and accept. */
static struct nftnl_rule *lookup_rule(const char *chain, uint16_t etype, int sha, uint32_t spa,
				      const char *comment, const void *arg)
{
	static const unsigned char arp_eth_ip4[6] = { 0, 1, 8, 0, 6, 4 }; /* htype, ptype, hlen, plen */
	struct set_arg *a = (struct set_arg *)arg;
	struct nftnl_rule *r;
	struct nftnl_expr *e;
	uint16_t t = htons(etype);
	int err;

	if (add_set(a) || !(r = nft_rule_new_in(NFPROTO_BRIDGE, chain)))
		return NULL;
	err = nft_payload_eq(r, NFT_PAYLOAD_LL_HEADER, 12, &t, 2);
	if (!err && etype == ETH_P_ARP)
		err = nft_payload_eq(r, NFT_PAYLOAD_NETWORK_HEADER, 0, arp_eth_ip4, 6);
	err = err ?: meta_to(r, NFT_META_IIF, NFT_REG32_00) ?:
	      payload_to(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG32_01) ?:
	      (sha < 0 ? payload_to(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG32_03) :
			 payload_to(r, NFT_PAYLOAD_NETWORK_HEADER, (uint32_t)sha, 6, NFT_REG32_03)) ?:
	      payload_to(r, NFT_PAYLOAD_NETWORK_HEADER, spa, 4, NFT_REG32_05);
	if (!err && (e = nftnl_expr_alloc("lookup"))) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, SET);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, SET_ID);
		err = nft_expr_add(r, e) ?: nft_verdict(r, NF_ACCEPT);
	} else if (!err) {
		err = ENOMEM;
	}
	return nft_rule_done(r, err, comment);
}

static struct nftnl_rule *ipv4_rule(const char *chain, const char *comment, const void *arg)
{
	return lookup_rule(chain, ETH_P_IP, -1, 12, comment, arg);
}

static struct nftnl_rule *arp_rule(const char *chain, const char *comment, const void *arg)
{
	return lookup_rule(chain, ETH_P_ARP, 8, 14, comment, arg);
}

/* meta iifgroup NFT_PORT_GROUP drop */
static struct nftnl_rule *unguarded_rule(const char *chain, const char *comment, const void *arg)
{
	struct nftnl_rule *r = nft_rule_new_in(NFPROTO_BRIDGE, chain);
	uint32_t g = NFT_PORT_GROUP;

	(void)arg;
	return r ? nft_rule_done(r, nft_meta(r, NFT_META_IIFGROUP) ?: nft_cmp(r, NFT_CMP_EQ, &g, 4) ?: nft_drop(r),
				 comment) : NULL;
}

static int elem_set_data(void *e, uint16_t a, const void *d, uint32_t l)
{
	nftnl_set_elem_set(e, a, d, l);
	return 0;
}

/* The element key (NEWSETELEM, commented with its owner), or its removal. */
static int elem(struct batch *bt, uint16_t type, const struct key *k, const char *comment)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	struct nlmsghdr *nlh;
	int err = 0;

	if (!s || !e) {
		if (s)
			nftnl_set_free(s);
		if (e)
			nftnl_set_elem_free(e);
		return ENOMEM;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, SET);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k, sizeof *k);
	if (comment)
		err = nft_put_comment(e, elem_set_data, NFTNL_SET_ELEM_USERDATA, NFTNL_UDATA_SET_ELEM_COMMENT, comment);
	nftnl_set_elem_add(s, e);
	if (!err && (nlh = nft_batch_msg(bt, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE | NLM_F_EXCL : 0))) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nft_batch_next(bt);
	}
	nftnl_set_free(s);
	return err;
}

/* Whether the owner a comment names ("nsbox antispoof pid=P start=S ...") is gone. */
static int gone(const char *comment)
{
	unsigned long long start, now;
	int pid;

	if (sscanf(comment, "nsbox antispoof pid=%d start=%llu", &pid, &start) != 2 || pid <= 0)
		return 0;
	return nsbox_starttime(pid, &now) < 0 || now != start;
}

/* The set's elements whose owner is gone: a removal of each put into bt. */
struct sweep { struct batch *bt; int n, err; };

static int elem_cb(struct nftnl_set_elem *e, void *data)
{
	struct sweep *w = data;
	struct comment c = { .type = NFTNL_UDATA_SET_ELEM_COMMENT };
	const void *u, *key;
	uint32_t ulen = 0, klen = 0;

	u = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &ulen);
	key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
	nft_comment_of(u, ulen, &c);
	if (key && klen == sizeof(struct key) && gone(c.text)) {
		if ((w->err = elem(w->bt, NFT_MSG_DELSETELEM, key, NULL)))
			return -1;
		w->n++;
	}
	return 0;
}

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sweep *w = data;
	struct nftnl_set *s = nftnl_set_alloc();
	int ok;

	if (!s)
		return MNL_CB_ERROR;
	ok = nftnl_set_elems_nlmsg_parse(nlh, s) == 0 && nftnl_set_elem_foreach(s, elem_cb, w) == 0;
	nftnl_set_free(s);
	return ok ? MNL_CB_OK : MNL_CB_ERROR;
}

/* Put into bt the removal of the elements whose owner is gone (the set must be there). */
static int sweep_into(struct nl *n, struct batch *bt, int *removed)
{
	struct sweep w = { bt, 0, 0 };
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	int err;

	if (!s)
		return ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, SET);
	memset(n->req, 0, sizeof n->req);
	nlh = nftnl_nlmsg_build_hdr(n->req, NFT_MSG_GETSETELEM, NFPROTO_BRIDGE, NLM_F_DUMP, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	err = nl_dump(n, nlh, elems_cb, NULL, &w);
	*removed = w.n;
	return w.err ?: err == ENOENT ? 0 : err;
}

struct old { struct batch *bt; const char *chain; int err; };

static void old_cb(const char *comment, uint64_t handle, void *data)
{
	struct old *o = data;

	if (!o->err && !strcmp(comment, OLD_UNGUARDED))
		o->err = nft_del_rule(o->bt, o->chain, handle);
}

/* Put into bt the removal of the old drop rules of the base chains. */
static int drop_old(struct nl *n, struct batch *bt)
{
	const char *chains[] = { PREROUTING, INPUT };
	int err = 0;

	for (size_t i = 0; !err && i < 2; i++) {
		struct old o = { bt, chains[i], 0 };
		err = nft_rules_in(n, NFPROTO_BRIDGE, chains[i], old_cb, &o);
		err = o.err ?: err == ENOENT ? 0 : err;
	}
	return err;
}

/* Whether this add is the one in SWEEP_EVERY that sweeps: a count kept in the
 * lock file, under its lock (none: every add sweeps). */
static int sweep_due(int lockfd)
{
	uint32_t c = 0;

	if (lockfd < 0)
		return 1;
	if (pread(lockfd, &c, sizeof c, 0) != sizeof c)
		c = 0;
	c = (c + 1) % SWEEP_EVERY;
	if (pwrite(lockfd, &c, sizeof c, 0) != sizeof c)
		return 1;
	return c == 1 % SWEEP_EVERY;
}

int nft_antispoof_add(struct nl *n, const char *port, struct nft_guard *g, const char *comment, const char *lock)
{
	struct nft_want_chain ch[] = { { PREROUTING, "filter", NF_BR_PRE_ROUTING, NF_BR_PRI_NAT_DST_BRIDGED },
				       { INPUT, "filter", NF_BR_LOCAL_IN, NF_BR_PRI_FIRST } };
	struct batch bt = { 0 };
	struct set_arg sa = { &bt, 0 };
	struct nft_want_rule w[] = { { PREROUTING, IPV4, ipv4_rule, &sa, 0 },
				     { PREROUTING, ARP, arp_rule, &sa, 0 },
				     { PREROUTING, UNGUARDED, unguarded_rule, NULL, 0 },
				     { INPUT, IPV4, ipv4_rule, &sa, 0 },
				     { INPUT, ARP, arp_rule, &sa, 0 },
				     { INPUT, UNGUARDED, unguarded_rule, NULL, 0 } };
	struct key k;
	int fd, err, swept = 0;

	if (strlen(port) >= IFNAMSIZ || !(g->ifindex = if_nametoindex(port)))
		return strlen(port) >= IFNAMSIZ ? EINVAL : errno;
	key_of(g, &k);
	if ((fd = nft_lock(lock)) < -1)
		return -fd;
	nft_batch_start(&bt, n, 16384);
	bt.family = NFPROTO_BRIDGE;
	err = bt.err ?: nft_ensure(n, &bt, ch, 2, w, 6);
	/* the elements of owners that are gone go in the same batch, now and then:
	 * they match nothing (their ifindex is not handed out again), so only
	 * their memory waits */
	if (!err && !sa.made && sweep_due(fd))
		err = sweep_into(n, &bt, &swept);
	else if (!err && sa.made)
		err = drop_old(n, &bt);
	err = err ?: elem(&bt, NFT_MSG_NEWSETELEM, &k, comment) ?: bt.err ?: nft_batch_send(&bt, n);
	nft_batch_stop(&bt);
	if (fd >= 0)
		close(fd);
	return err;
}

/* Send what bt holds, if anything, and say how many removals it had. */
static int send_removals(struct nl *n, struct batch *bt, int count, int *removed)
{
	int err = count ? bt->err ?: nft_batch_send(bt, n) : bt->err;

	*removed = err ? 0 : count;
	return err;
}

/* Run del with the table checked to be nsbox's (none: nothing to remove), under the lock. */
static int with_table(struct nl *n, const char *lock, int *removed,
		      int (*del)(struct nl *n, struct batch *bt, const void *arg, int *count), const void *arg)
{
	enum nft_table_state state;
	struct batch bt = { 0 };
	int fd, err, count = 0;

	*removed = 0;
	if ((fd = nft_lock(lock)) < -1)
		return -fd;
	err = nft_table_state_in(n, NFPROTO_BRIDGE, &state);
	if (!err && state == NFT_TABLE_OURS) {
		nft_batch_start(&bt, n, 4096);
		bt.family = NFPROTO_BRIDGE;
		err = del(n, &bt, arg, &count) ?: send_removals(n, &bt, count, removed);
		nft_batch_stop(&bt);
	}
	if (fd >= 0)
		close(fd);
	return err;
}

static int del_one(struct nl *n, struct batch *bt, const void *arg, int *count)
{
	struct key k;

	(void)n;
	key_of(arg, &k);
	*count = 1;
	return elem(bt, NFT_MSG_DELSETELEM, &k, NULL);
}

static int del_gone(struct nl *n, struct batch *bt, const void *arg, int *count)
{
	(void)arg;
	return sweep_into(n, bt, count);
}

int nft_antispoof_del(struct nl *n, const struct nft_guard *g, const char *lock, int *removed)
{
	int err = with_table(n, lock, removed, del_one, g);

	return err == ENOENT ? 0 : err; /* swept already */
}

int nft_antispoof_sweep(struct nl *n, const char *lock, int *removed)
{
	return with_table(n, lock, removed, del_gone, NULL);
}
