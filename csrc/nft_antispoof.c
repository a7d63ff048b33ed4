/* Anti-spoofing at the bridge ports nsbox makes (see nft.h), in table bridge
 * nsbox: a base chain on prerouting sends each frame, by the port it entered
 * from, through the verdict map "ports" to that port's own chain (one lookup
 * however many ports there are). A port's chain accepts IPv4 and ARP from its
 * MAC and address and drops the rest, as libvirt's clean-traffic filter does:
 * nsbox gives containers no IPv6, and another ethertype (a VLAN tag) could
 * carry anything past the checks. A port nsbox made is in link group
 * NFT_PORT_GROUP from its creation: one the map does not name (not guarded yet,
 * or no more while its link lingers) has everything dropped. The input hook
 * has the same two rules: a frame to a link-local group address (01:80:c2:..)
 * goes there without passing prerouting, and the bridge learns its source. */
#define _GNU_SOURCE
#include "nft.h"
#include "nft_build.h"
#include "starttime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

#define PREROUTING "prerouting"
#define INPUT "input"
#define MAP "ports"
#define DISPATCH "nsbox: each port's frames through its own chain"
#define UNGUARDED "nsbox: a port of nsbox's group that the map does not name: dropped"
#define PREFIX "port-"
#define TYPE_IFNAME 41 /* nft's datatype of the key, so that `nft list` shows names */
#define SET_ID 1       /* the map made in the batch of the rule that uses it */
#define BYTEORDER_HOST 1 /* nft's byte order of a string key */

struct chain_name { char s[sizeof PREFIX + IFNAMSIZ]; };

static int chain_of(const char *port, struct chain_name *c)
{
	if (strlen(port) >= IFNAMSIZ)
		return EINVAL;
	snprintf(c->s, sizeof c->s, PREFIX "%s", port);
	return 0;
}

static int chain_set_data(void *c, uint16_t a, const void *d, uint32_t l) { return nftnl_chain_set_data(c, a, d, l); }

/* The map, made with the rule that uses it. An existing one of the same type
 * is left as it is (no NLM_F_EXCL). */
static int add_map(struct batch *bt)
{
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	int err = 0;

	if (!s) {
		nftnl_udata_buf_free(u);
		return ENOMEM;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, MAP);
	nftnl_set_set_u32(s, NFTNL_SET_ID, SET_ID);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, TYPE_IFNAME);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, IFNAMSIZ);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	/* the key is a string in host order: what `nft list` needs to print it (else "") */
	if (!u || !nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER, BYTEORDER_HOST) ||
	    nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u)) < 0)
		err = ENOMEM;
	if (!err && (nlh = nft_batch_msg(bt, NFT_MSG_NEWSET, NLM_F_CREATE))) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		nft_batch_next(bt);
	}
	nftnl_set_free(s);
	nftnl_udata_buf_free(u);
	return err;
}

/* iifname vmap @ports; in prerouting, after the map it makes (arg: the batch;
 * the input chain's comes after and finds it). */
static struct nftnl_rule *dispatch_rule(const char *chain, const char *comment, const void *arg)
{
	struct nftnl_rule *r;
	struct nftnl_expr *e;
	int err;

	if ((!strcmp(chain, PREROUTING) && add_map((struct batch *)arg)) || !(r = nft_rule_new_in(NFPROTO_BRIDGE, chain)))
		return NULL;
	if (!(err = nft_meta(r, NFT_META_IIFNAME)) && (e = nftnl_expr_alloc("lookup"))) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, MAP);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, SET_ID);
		err = nft_expr_add(r, e);
	} else if (!err) {
		err = ENOMEM;
	}
	return nft_rule_done(r, err, comment);
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

/* The map's element port -> jump chain (NEWSETELEM), or its removal. */
static int map_elem(struct batch *bt, uint16_t type, const char *port, const char *chain)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	char key[IFNAMSIZ] = { 0 };
	struct nlmsghdr *nlh;

	if (!s || !e) {
		if (s)
			nftnl_set_free(s);
		if (e)
			nftnl_set_elem_free(e);
		return ENOMEM;
	}
	strncpy(key, port, sizeof key - 1);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, MAP);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof key);
	if (type == NFT_MSG_NEWSETELEM) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)NFT_JUMP);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain);
	}
	nftnl_set_elem_add(s, e);
	if ((nlh = nft_batch_msg(bt, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0))) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nft_batch_next(bt);
	}
	nftnl_set_free(s);
	return 0;
}

/* A regular chain, commented with its owner (NEWCHAIN), or its removal with its rules. */
static int port_chain(struct batch *bt, uint16_t type, const char *chain, const char *comment)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	int err = 0;

	if (!c)
		return ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
	if (comment)
		err = nft_put_comment(c, chain_set_data, NFTNL_CHAIN_USERDATA, NFTNL_UDATA_CHAIN_COMMENT, comment);
	if (!err && (nlh = nft_batch_msg(bt, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0))) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nft_batch_next(bt);
	}
	nftnl_chain_free(c);
	return err;
}

/* The port's element and chain go: the element first (it holds the chain). */
static int del_port(struct batch *bt, const char *port)
{
	struct chain_name c;

	return chain_of(port, &c) ?: map_elem(bt, NFT_MSG_DELSETELEM, port, NULL) ?:
	       port_chain(bt, NFT_MSG_DELCHAIN, c.s, NULL);
}

/* A rule of the port's chain: from its MAC, of ethertype etype. */
static struct nftnl_rule *from(const char *chain, const unsigned char *mac, uint16_t etype, int *err)
{
	struct nftnl_rule *r = nft_rule_new_in(NFPROTO_BRIDGE, chain);
	uint16_t t = htons(etype);

	*err = r ? nft_payload_eq(r, NFT_PAYLOAD_LL_HEADER, 6, mac, 6) ?:
		   nft_payload_eq(r, NFT_PAYLOAD_LL_HEADER, 12, &t, 2) : ENOMEM;
	return r;
}

static int add_rule(struct batch *bt, struct nftnl_rule *r, int err, const char *comment)
{
	if (!(r = nft_rule_done(r, err, comment)))
		return err ? err : ENOMEM;
	err = nft_add_rule(bt, r);
	nftnl_rule_free(r);
	return err;
}

/* Its chain: IPv4 from its MAC and address; ARP for IPv4 over Ethernet whose
 * sender is its MAC and address; nothing else. */
static int port_rules(struct batch *bt, const char *chain, const unsigned char *mac, uint32_t addr,
		      const char *comment)
{
	static const unsigned char arp_eth_ip4[6] = { 0, 1, 8, 0, 6, 4 }; /* htype, ptype, hlen, plen */
	uint32_t a = htonl(addr);
	struct nftnl_rule *r;
	int err;

	r = from(chain, mac, ETH_P_IP, &err);
	err = err ?: nft_payload_eq(r, NFT_PAYLOAD_NETWORK_HEADER, 12, &a, 4) ?: nft_verdict(r, NF_ACCEPT);
	if ((err = add_rule(bt, r, err, comment)))
		return err;
	r = from(chain, mac, ETH_P_ARP, &err);
	err = err ?: nft_payload_eq(r, NFT_PAYLOAD_NETWORK_HEADER, 0, arp_eth_ip4, 6) ?:
	      nft_payload_eq(r, NFT_PAYLOAD_NETWORK_HEADER, 8, mac, 6) ?:
	      nft_payload_eq(r, NFT_PAYLOAD_NETWORK_HEADER, 14, &a, 4) ?: nft_verdict(r, NF_ACCEPT);
	if ((err = add_rule(bt, r, err, comment)))
		return err;
	r = nft_rule_new_in(NFPROTO_BRIDGE, chain);
	return add_rule(bt, r, r ? nft_drop(r) : ENOMEM, comment);
}

/* The port chains of table bridge nsbox and their comments. */
struct port_list { struct { char port[IFNAMSIZ]; struct comment c; } *p; size_t n, cap; int err; };

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct port_list *l = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	const char *table, *name;
	const void *u;
	uint32_t len = 0;

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 && (table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE)) &&
	    !strcmp(table, NFT_TABLE) && (name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME)) &&
	    !strncmp(name, PREFIX, strlen(PREFIX)) && strlen(name + strlen(PREFIX)) < IFNAMSIZ) {
		if (l->n == l->cap) {
			void *p = realloc(l->p, (l->cap = l->cap ? l->cap * 2 : 16) * sizeof *l->p);
			if (!p) {
				l->err = ENOMEM;
				nftnl_chain_free(c);
				return MNL_CB_ERROR;
			}
			l->p = p;
		}
		strcpy(l->p[l->n].port, name + strlen(PREFIX));
		l->p[l->n].c.type = NFTNL_UDATA_CHAIN_COMMENT;
		u = nftnl_chain_get_data(c, NFTNL_CHAIN_USERDATA, &len); /* sets len: not in the same call */
		nft_comment_of(u, len, &l->p[l->n].c);
		l->n++;
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int list_ports(struct nl *n, struct port_list *l)
{
	enum nft_table_state state;
	struct nftnl_chain *c;
	struct nlmsghdr *nlh;
	int err = nft_table_state_in(n, NFPROTO_BRIDGE, &state);

	if (err || state != NFT_TABLE_OURS)
		return err;
	if (!(c = nftnl_chain_alloc()))
		return ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE);
	memset(n->req, 0, sizeof n->req);
	nlh = nftnl_nlmsg_build_hdr(n->req, NFT_MSG_GETCHAIN, NFPROTO_BRIDGE, 0, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	err = nl_dump(n, nlh, chain_cb, NULL, l);
	return l->err ?: err;
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

/* Remove the ports whose comment is comment (NULL: whose owner is gone). */
static int del_where(struct nl *n, const char *comment, const char *lock, int *removed)
{
	struct port_list l = { 0 };
	struct batch bt = { 0 };
	int fd, err;

	*removed = 0;
	if ((fd = nft_lock(lock)) < -1)
		return -fd;
	err = list_ports(n, &l);
	nft_batch_start(&bt, n, 4096 + l.n * 512);
	bt.family = NFPROTO_BRIDGE;
	for (size_t i = 0; !err && i < l.n; i++)
		if (comment ? !strcmp(l.p[i].c.text, comment) : gone(l.p[i].c.text)) {
			err = del_port(&bt, l.p[i].port);
			++*removed;
		}
	if (!err && *removed)
		err = bt.err ?: nft_batch_send(&bt, n);
	if (err)
		*removed = 0;
	nft_batch_stop(&bt);
	free(l.p);
	if (fd >= 0)
		close(fd);
	return err;
}

int nft_antispoof_add(struct nl *n, const char *port, const unsigned char mac[6], uint32_t addr,
		      const char *comment, const char *lock)
{
	struct nft_want_chain ch[] = { { PREROUTING, "filter", NF_BR_PRE_ROUTING, NF_BR_PRI_NAT_DST_BRIDGED },
				       { INPUT, "filter", NF_BR_LOCAL_IN, NF_BR_PRI_FIRST } };
	struct batch bt = { 0 };
	struct nft_want_rule w[] = { { PREROUTING, DISPATCH, dispatch_rule, &bt, 0 },
				     { PREROUTING, UNGUARDED, unguarded_rule, NULL, 0 },
				     { INPUT, DISPATCH, dispatch_rule, &bt, 0 },
				     { INPUT, UNGUARDED, unguarded_rule, NULL, 0 } };
	struct port_list l = { 0 };
	struct chain_name c;
	int fd, err;

	if ((err = chain_of(port, &c)))
		return err;
	if ((fd = nft_lock(lock)) < -1)
		return -fd;
	err = list_ports(n, &l);
	nft_batch_start(&bt, n, 16384 + l.n * 512);
	bt.family = NFPROTO_BRIDGE;
	err = err ?: bt.err ?: nft_ensure(n, &bt, ch, 2, w, 4);
	/* the ports of owners that are gone go in the same batch, and an earlier
	 * port's of this name (its owner SIGKILLed) is replaced */
	for (size_t i = 0; !err && i < l.n; i++)
		if (!strcmp(l.p[i].port, port) || gone(l.p[i].c.text))
			err = del_port(&bt, l.p[i].port);
	err = err ?: port_chain(&bt, NFT_MSG_NEWCHAIN, c.s, comment) ?: port_rules(&bt, c.s, mac, addr, comment) ?:
	      map_elem(&bt, NFT_MSG_NEWSETELEM, port, c.s);
	if (!err)
		err = bt.err ?: nft_batch_send(&bt, n);
	nft_batch_stop(&bt);
	free(l.p);
	if (fd >= 0)
		close(fd);
	return err;
}

int nft_antispoof_del(struct nl *n, const char *comment, const char *lock, int *removed)
{
	return del_where(n, comment, lock, removed);
}

int nft_antispoof_sweep(struct nl *n, const char *lock, int *removed)
{
	return del_where(n, NULL, lock, removed);
}
