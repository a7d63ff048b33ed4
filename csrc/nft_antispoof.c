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
 * Why the ifindex: the kernel never hands one out again in the namespace, so an
 * element can never match a later port. Why the map "owners" (address -> its
 * element): a port may outlive its owner (a helper user can keep its namespace
 * alive), so the address's next holder removes the old element, found in O(1).
 * Elements of owners that are gone are otherwise garbage, swept at one add in
 * SWEEP_EVERY (or by nft_antispoof_sweep).
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
#define OWNERS "owners"
#define OWNERS_ID 2
#define IPV4 "nsbox: IPv4 from a guarded port's own MAC and address"
#define ARP "nsbox: ARP whose sender is a guarded port's own MAC and address"
#define UNGUARDED "nsbox: the rest from a port of nsbox's group: dropped"
/* The drop of nsbox before 2026-12 (a chain per port behind a verdict map), which
 * would drop every port guarded by an element: it goes when the set is made. Its
 * dispatch to the old ports' chains stays (they still guard the containers it made). */
#define OLD_UNGUARDED "nsbox: a port of nsbox's group that the map does not name: dropped"
#define SET_ID 1         /* the set made in the batch of the first rule that uses it */
#define SWEEP_EVERY 16   /* adds between two sweeps of the elements whose owner is gone */
#define MAX_SWEEP 64     /* removals in one sweep: they fit in its batch with the add */
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

/* owners: each guarded address -> the ifindex and MAC of its guard (the data as
 * two 32-bit registers would hold it), so that an address's guard is found and
 * replaced by the next holder of the address without reading every guard. */
struct owner { uint32_t ifindex; unsigned char mac[6], pad[2]; };
_Static_assert(sizeof(struct owner) == 12, "an owner is 12 bytes");

/* A set (data type and length 0: not a map) where missing; an existing one is
 * left as it is. After the table in the batch. */
struct set_desc { const char *name; uint32_t id, ktype, klen, dtype, dlen; };

static int new_set(struct batch *bt, const struct set_desc *d)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	if (!s)
		return ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, d->name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, d->id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, d->dlen ? NFT_SET_MAP : 0);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, d->ktype);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, d->klen);
	if (d->dlen) {
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, d->dtype);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, d->dlen);
	}
	if ((nlh = nft_batch_msg(bt, NFT_MSG_NEWSET, NLM_F_CREATE))) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		nft_batch_next(bt);
	}
	nftnl_set_free(s);
	return 0;
}

static int add_owners(struct batch *bt)
{
	static const struct set_desc d = { OWNERS, OWNERS_ID, TYPE_IPADDR, 4, TYPE_IFINDEX << 6 | TYPE_ETHERADDR,
					   sizeof(struct owner) };
	return new_set(bt, &d);
}

/* guards, made with the first rule that uses it. */
struct set_arg { struct batch *bt; int made; };

static int add_set(struct set_arg *a)
{
	static const struct set_desc d = { SET, SET_ID, KEY_TYPE, sizeof(struct key), 0, 0 };
	return a->made++ ? 0 : new_set(a->bt, &d);
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

/* One element of set: key (klen bytes), with data (dlen) and a comment where given. */
struct elem_msg { const char *set; const void *key, *data; uint32_t klen, dlen; const char *comment; };

static int elem_build(struct nlmsghdr *nlh, const struct elem_msg *m)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	int err = 0;

	if (!s || !e) {
		if (s)
			nftnl_set_free(s);
		if (e)
			nftnl_set_elem_free(e);
		return ENOMEM;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, m->set);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, m->key, m->klen);
	if (m->data)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, m->data, m->dlen);
	if (m->comment)
		err = nft_put_comment(e, elem_set_data, NFTNL_SET_ELEM_USERDATA, NFTNL_UDATA_SET_ELEM_COMMENT, m->comment);
	nftnl_set_elem_add(s, e);
	if (!err && nlh)
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return err;
}

/* Its NEWSETELEM (it must be new) or DELSETELEM in bt. */
static int elem(struct batch *bt, uint16_t type, const struct elem_msg *m)
{
	struct nlmsghdr *nlh = nft_batch_msg(bt, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE | NLM_F_EXCL : 0);
	int err = elem_build(nlh, m);

	if (!err && nlh)
		nft_batch_next(bt);
	return err;
}

/* A guard's two elements: in guards, and its address's in owners. */
static int guard_elems(struct batch *bt, uint16_t type, const struct key *k, const char *comment)
{
	struct owner o = { k->ifindex, { 0 }, { 0 } };
	struct elem_msg g = { SET, k, NULL, sizeof *k, 0, comment }, a = { OWNERS, &k->addr, &o, 4, sizeof o, NULL };

	memcpy(o.mac, k->mac, 6);
	return elem(bt, type, &g) ?: elem(bt, type, &a);
}

/* Whether set holds key: 1, 0, or -errno. data (dlen bytes), if given, gets its data. */
struct got { void *data; uint32_t dlen; int found; };

static int got_elem(struct nftnl_set_elem *e, void *arg)
{
	struct got *g = arg;
	uint32_t len = 0;
	const void *d = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);

	g->found = 1;
	if (g->data && d && len == g->dlen)
		memcpy(g->data, d, len);
	return 0;
}

/* fn(element, data) for each element of a GETSETELEM answer. */
struct each { int (*fn)(struct nftnl_set_elem *e, void *data); void *data; };

static int each_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct each *w = arg;
	struct nftnl_set *s = nftnl_set_alloc();
	int ok;

	if (!s)
		return MNL_CB_ERROR;
	ok = nftnl_set_elems_nlmsg_parse(nlh, s) == 0 && nftnl_set_elem_foreach(s, w->fn, w->data) == 0;
	nftnl_set_free(s);
	return ok ? MNL_CB_OK : MNL_CB_ERROR;
}

static int has_elem(struct nl *n, const char *set, const void *key, uint32_t klen, void *data, uint32_t dlen)
{
	struct elem_msg m = { set, key, NULL, klen, 0, NULL };
	struct got g = { data, dlen, 0 };
	struct each w = { got_elem, &g };
	struct nlmsghdr *nlh;
	int err;

	memset(n->req, 0, sizeof n->req);
	nlh = nftnl_nlmsg_build_hdr(n->req, NFT_MSG_GETSETELEM, NFPROTO_BRIDGE, 0, 0);
	if ((err = elem_build(nlh, &m)))
		return -err;
	err = nl_talk(n, nlh, each_cb, &w);
	return err == ENOENT ? 0 : err ? -err : g.found;
}

/* Put into bt the removal of the guard that holds addr, if any (a port whose
 * owner is gone may linger: a helper user can keep its namespace alive). */
static int free_address(struct nl *n, struct batch *bt, uint32_t addr)
{
	struct owner o;
	struct key k;
	int r = has_elem(n, OWNERS, &addr, 4, &o, sizeof o);

	if (r <= 0)
		return -r;
	memset(&k, 0, sizeof k);
	k.ifindex = o.ifindex;
	memcpy(k.mac, o.mac, 6);
	memcpy(k.sender, o.mac, 6);
	k.addr = addr;
	struct elem_msg g = { SET, &k, NULL, sizeof k, 0, NULL }, a = { OWNERS, &addr, NULL, 4, 0, NULL };
	if ((r = has_elem(n, SET, &k, sizeof k, NULL, 0)) < 0)
		return -r;
	return (r ? elem(bt, NFT_MSG_DELSETELEM, &g) : 0) ?: elem(bt, NFT_MSG_DELSETELEM, &a);
}

/* Whether the owner a comment names ("nsbox antispoof pid=P start=S ...") is
 * gone: no such process, a zombie, or another start time. A /proc that cannot
 * be read for another reason (EMFILE, hidepid) says nothing: kept. */
static int gone(const char *comment)
{
	unsigned long long start, now;
	int pid;

	if (sscanf(comment, "nsbox antispoof pid=%d start=%llu", &pid, &start) != 2 || pid <= 0)
		return 0;
	errno = 0;
	if (nsbox_starttime(pid, &now) == 0)
		return now != start;
	return errno == 0 || errno == ENOENT || errno == ESRCH;
}

/* The guards whose owner is gone, collected by a dump (a dump interrupted and
 * run again starts the list over), at most MAX_SWEEP: the rest wait for the
 * next sweep, so that the removals fit in one batch. */
struct gone_list { struct key k[MAX_SWEEP]; int n; uint32_t skip; /* an address freed apart */ };

static void gone_reset(void *data)
{
	((struct gone_list *)((struct each *)data)->data)->n = 0;
}

static int gone_elem(struct nftnl_set_elem *e, void *data)
{
	struct gone_list *l = data;
	struct comment c = { .type = NFTNL_UDATA_SET_ELEM_COMMENT };
	uint32_t ulen = 0, klen = 0;
	const void *u = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &ulen);
	const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);

	nft_comment_of(u, ulen, &c);
	if (l->n < MAX_SWEEP && key && klen == sizeof(struct key) &&
	    ((const struct key *)key)->addr != l->skip && gone(c.text))
		memcpy(&l->k[l->n++], key, sizeof(struct key));
	return 0;
}

/* Put into bt the removal of (at most MAX_SWEEP) guards whose owner is gone,
 * but for the guard of address skip (network order; 0: none), which free_address
 * removes in the same batch. */
static int sweep_into(struct nl *n, struct batch *bt, uint32_t skip, int *removed)
{
	static struct gone_list l; /* 1.5 KiB: not on the stack of a setuid helper's caller */
	struct elem_msg m = { SET, NULL, NULL, 0, 0, NULL };
	struct nlmsghdr *nlh;
	int err;

	struct nftnl_set *s = nftnl_set_alloc();

	l.n = 0;
	l.skip = skip;
	*removed = 0;
	if (!s)
		return ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, SET);
	memset(n->req, 0, sizeof n->req);
	nlh = nftnl_nlmsg_build_hdr(n->req, NFT_MSG_GETSETELEM, NFPROTO_BRIDGE, 0, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	struct each w = { gone_elem, &l };
	err = nl_dump(n, nlh, each_cb, gone_reset, &w);
	if (err)
		return err == ENOENT ? 0 : err;
	for (int i = 0; i < l.n; i++) {
		/* its address's entry in owners, if that is still its own */
		struct elem_msg a = { OWNERS, &l.k[i].addr, NULL, 4, 0, NULL };
		struct owner o;
		int r = has_elem(n, OWNERS, &l.k[i].addr, 4, &o, sizeof o);
		if (r < 0)
			return -r;
		r = r && o.ifindex == l.k[i].ifindex;
		m.key = &l.k[i];
		m.klen = sizeof l.k[i];
		if ((err = elem(bt, NFT_MSG_DELSETELEM, &m)) || (r && (err = elem(bt, NFT_MSG_DELSETELEM, &a))))
			return err;
	}
	*removed = l.n;
	return 0;
}

/* The old drop rules of a base chain, by handle (each once: a dump run again sees them again). */
struct old { uint64_t h[8]; int n; };

static void old_cb(const char *comment, uint64_t handle, void *data)
{
	struct old *o = data;

	for (int i = 0; i < o->n; i++)
		if (o->h[i] == handle)
			return;
	if (o->n < 8 && !strcmp(comment, OLD_UNGUARDED))
		o->h[o->n++] = handle;
}

/* Put into bt the removal of the old drop rules of the base chains. */
static int drop_old(struct nl *n, struct batch *bt)
{
	const char *chains[] = { PREROUTING, INPUT };
	int err = 0;

	for (size_t i = 0; !err && i < 2; i++) {
		struct old o = { { 0 }, 0 };
		err = nft_rules_in(n, NFPROTO_BRIDGE, chains[i], old_cb, &o);
		err = err == ENOENT ? 0 : err;
		for (int j = 0; !err && j < o.n; j++)
			err = nft_del_rule(bt, chains[i], o.h[j]);
	}
	return err;
}

/* Whether this add is the one in SWEEP_EVERY that sweeps: the one whose port's
 * ifindex is a multiple of it. Ifindexes are handed out in turn, so one of any
 * SWEEP_EVERY adds in a row sweeps (fewer when other links are made between),
 * and nothing need be written to count them. */
static int sweep_due(uint32_t ifindex)
{
	return ifindex % SWEEP_EVERY == 0;
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

	if (strlen(port) >= IFNAMSIZ)
		return EINVAL;
	if (!(g->ifindex = if_nametoindex(port)))
		return errno;
	key_of(g, &k);
	if ((fd = nft_lock(lock)) < -1)
		return -fd;
	nft_batch_start(&bt, n, 32768);
	bt.family = NFPROTO_BRIDGE;
	err = bt.err ?: nft_ensure(n, &bt, ch, 2, w, 6) ?: add_owners(&bt);
	if (!err && sa.made) {
		err = drop_old(n, &bt);
	} else if (!err) {
		/* the address's earlier guard goes, whatever became of its owner */
		err = free_address(n, &bt, k.addr);
		/* the guards of owners that are gone go in the same batch, now and then:
		 * they hold no address (its next holder frees it) and their ports went
		 * with their namespaces, but for one a helper user keeps alive */
		if (!err && sweep_due(k.ifindex))
			err = sweep_into(n, &bt, k.addr, &swept);
	}
	err = err ?: guard_elems(&bt, NFT_MSG_NEWSETELEM, &k, comment) ?: bt.err ?: nft_batch_send(&bt, n);
	nft_batch_stop(&bt);
	if (fd >= 0)
		close(fd);
	return err;
}

/* Send what bt holds, if anything, and say how many guards went. An element
 * already gone (ENOENT: swept, or removed by hand) is not an error. */
static int send_removals(struct nl *n, struct batch *bt, int count, int *removed)
{
	int err = count ? bt->err ?: nft_batch_send(bt, n) : bt->err;

	*removed = err ? 0 : count;
	return err == ENOENT ? 0 : err;
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
		nft_batch_start(&bt, n, 32768);
		bt.family = NFPROTO_BRIDGE;
		err = del(n, &bt, arg, &count) ?: send_removals(n, &bt, count, removed);
		nft_batch_stop(&bt);
	}
	if (fd >= 0)
		close(fd);
	return err;
}

/* The guard's element, and its address's entry in owners if it is still the guard's. */
static int del_one(struct nl *n, struct batch *bt, const void *arg, int *count)
{
	struct owner o;
	struct key k;
	int r;

	key_of(arg, &k);
	struct elem_msg g = { SET, &k, NULL, sizeof k, 0, NULL }, a = { OWNERS, &k.addr, NULL, 4, 0, NULL };
	if ((r = has_elem(n, OWNERS, &k.addr, 4, &o, sizeof o)) < 0)
		return -r;
	*count = 1;
	return elem(bt, NFT_MSG_DELSETELEM, &g) ?:
	       (r && o.ifindex == k.ifindex && !memcmp(o.mac, k.mac, 6) ? elem(bt, NFT_MSG_DELSETELEM, &a) : 0);
}

static int del_gone(struct nl *n, struct batch *bt, const void *arg, int *count)
{
	(void)arg;
	return sweep_into(n, bt, 0, count);
}

int nft_antispoof_del(struct nl *n, const struct nft_guard *g, const char *lock, int *removed)
{
	return with_table(n, lock, removed, del_one, g);
}

int nft_antispoof_sweep(struct nl *n, const char *lock, int *removed)
{
	int err, round;

	*removed = 0;
	do { /* MAX_SWEEP at a time, until fewer are left */
		err = with_table(n, lock, &round, del_gone, NULL);
		*removed += round;
	} while (!err && round == MAX_SWEEP);
	return err;
}
