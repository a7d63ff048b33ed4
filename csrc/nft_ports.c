/* Published ports in table inet nsbox (see nft.h): DNAT rules in the nat
 * prerouting (from outside, and from containers: hairpin) and output (from the
 * host itself, 127.0.0.1 included) chains, commented with their owner so that
 * they go with it; the loopback guard; the masquerade of translated flows from
 * 127.0.0.0/8. */
#define _GNU_SOURCE
#include "nft.h"
#include "nft_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#define PREROUTING "prerouting"
#define OUTPUT "output"
#define POSTROUTING "postrouting"
#define GUARD "guard"
#define INPUT "input"
#define FORWARD "forward"
#define LOOPBACK 0x7f000000u /* 127.0.0.0/8 */

/* What arrives on any interface but lo for (offset 16) or from (12) 127.0.0.0/8
 * is dropped before anything else (priority raw): with route_localnet on a
 * bridge, and DNAT before routing, a neighbour's packet to 127.0.0.1 would
 * otherwise reach a port published there, or a host service (CVE-2020-8558). */
static struct nftnl_rule *guard_rule(const char *chain, const char *comment, const void *arg)
{
	uint32_t offset = *(const uint32_t *)arg;
	struct nftnl_rule *r = nft_rule_new(chain);

	return r ? nft_rule_done(r, nft_is_ipv4(r) || nft_iif_not_lo(r) ||
				       nft_ip_in(r, offset, NFT_CMP_EQ, LOOPBACK, 8) || nft_drop(r), comment) : NULL;
}

/* The host's own flows to 127.0.0.1, translated to a container, leave from the
 * bridge's address: the container could not answer 127.0.0.1. */
static struct nftnl_rule *localhost_rule(const char *chain, const char *comment, const void *arg)
{
	struct nftnl_rule *r = nft_rule_new(chain);

	(void)arg;
	return r ? nft_rule_done(r, nft_is_ipv4(r) || nft_ip_in(r, 12, NFT_CMP_EQ, LOOPBACK, 8) || nft_ct_dnat(r) ||
				       nft_expr_add(r, nftnl_expr_alloc("masq")), comment) : NULL;
}

static struct nftnl_rule *port_rule(const char *chain, const struct nft_port *p, const char *comment)
{
	struct nftnl_rule *r = nft_rule_new(chain);

	if (!r)
		return NULL;
	return nft_rule_done(r, nft_is_ipv4(r) || nft_l4proto(r, p->proto) ||
				(p->daddr ? nft_ip_in(r, 16, NFT_CMP_EQ, p->daddr, 32) : nft_daddr_local(r)) ||
				nft_dport(r, p->dport) || nft_dnat(r, p->to, p->toport), comment);
}

int nft_ports_add(struct nl *n, const struct nft_port *p, int count, const char *comment, const char *lock,
		  int checked)
{
	static const uint32_t dst = 16, src = 12;
	struct nft_want_chain c[] = {
		{ GUARD, "filter", NF_INET_PRE_ROUTING, -300 },
		{ PREROUTING, "nat", NF_INET_PRE_ROUTING, -100 },
		{ OUTPUT, "nat", NF_INET_LOCAL_OUT, -100 },
		{ POSTROUTING, "nat", NF_INET_POST_ROUTING, 100 },
	};
	struct nft_want_rule w[] = {
		{ GUARD, "nsbox guard: to 127.0.0.0/8 only on lo", guard_rule, &dst, 0 },
		{ GUARD, "nsbox guard: from 127.0.0.0/8 only on lo", guard_rule, &src, 0 },
		{ POSTROUTING, "nsbox localhost", localhost_rule, NULL, 0 },
	};
	const char *chains[] = { PREROUTING, OUTPUT };
	struct batch bt;
	int fd, err;

	if ((fd = nft_lock(lock)) < -1)
		return -fd;
	/* a rule takes under 512 bytes */
	nft_batch_start(&bt, n, 16384 + (size_t)count * 2 * 1024);
	err = bt.err ? bt.err : checked ? 0 : nft_ensure(n, &bt, c, 4, w, 3);
	for (int i = 0; !err && i < count; i++)
		for (int k = 0; !err && k < 2; k++) {
			struct nftnl_rule *r = port_rule(chains[k], &p[i], comment);
			if (!r)
				err = ENOMEM;
			else {
				err = nft_add_rule(&bt, r);
				nftnl_rule_free(r);
			}
		}
	if (!err)
		err = nft_batch_send(&bt, n);
	nft_batch_stop(&bt);
	if (fd >= 0)
		close(fd);
	return err;
}

/* The handles of the rules that carry a comment, in one chain. */
struct handles { const char *comment; uint64_t *h; size_t n, cap; int err; };

static void handle_cb(const char *comment, uint64_t handle, void *data)
{
	struct handles *hs = data;

	if (strcmp(comment, hs->comment) || hs->err)
		return;
	for (size_t i = 0; i < hs->n; i++)
		if (hs->h[i] == handle)
			return; /* a dump run again */
	if (hs->n == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 16;
		uint64_t *h = realloc(hs->h, cap * sizeof *h);
		if (!h) {
			hs->err = ENOMEM;
			return;
		}
		hs->h = h, hs->cap = cap;
	}
	hs->h[hs->n++] = handle;
}

int nft_rules_del(struct nl *n, const char *const *chains, int nc, const char *comment, const char *lock,
		  int *removed)
{
	struct handles hs[4] = { { .comment = comment }, { .comment = comment }, { .comment = comment },
				 { .comment = comment } };
	enum nft_table_state state;
	struct batch bt = { 0 };
	size_t total = 0;
	int fd, err;

	*removed = 0;
	if (nc > 4)
		return EINVAL;
	if ((fd = nft_lock(lock)) < -1)
		return -fd;
	err = nft_table_state(n, &state);
	for (int k = 0; !err && state == NFT_TABLE_OURS && k < nc; k++) {
		err = nft_rules(n, chains[k], handle_cb, &hs[k]);
		if (err == ENOENT)
			err = 0;
		if (!err)
			err = hs[k].err;
		total += hs[k].n;
	}
	if (!err && total) {
		nft_batch_start(&bt, n, 4096 + total * 256);
		for (int k = 0; !err && k < nc; k++)
			for (size_t i = 0; !err && i < hs[k].n; i++)
				err = nft_del_rule(&bt, chains[k], hs[k].h[i]);
		if (!err)
			err = bt.err ? bt.err : nft_batch_send(&bt, n);
		if (!err)
			*removed = (int)total;
		nft_batch_stop(&bt);
	}
	for (int k = 0; k < 4; k++)
		free(hs[k].h);
	if (fd >= 0)
		close(fd);
	return err;
}

int nft_ports_del(struct nl *n, const char *comment, const char *lock, int *removed)
{
	static const char *const chains[] = { PREROUTING, OUTPUT };

	return nft_rules_del(n, chains, 2, comment, lock, removed);
}

int nft_isolate_del(struct nl *n, const char *comment, const char *lock, int *removed)
{
	static const char *const chains[] = { INPUT, FORWARD };

	return nft_rules_del(n, chains, 2, comment, lock, removed);
}

/* A new flow (not a reply) from addr... */
static int new_from(struct nftnl_rule *r, uint32_t addr)
{
	return nft_is_ipv4(r) || nft_ip_in(r, 12, NFT_CMP_EQ, addr, 32) || nft_ct_new(r);
}

int nft_isolate_add(struct nl *n, uint32_t addr, const struct nft_subnet *nets, int nnets, const char *comment,
		    const char *lock)
{
	struct nft_want_chain c[] = {
		{ INPUT, "filter", NF_INET_LOCAL_IN, 0 },
		{ FORWARD, "filter", NF_INET_FORWARD, 0 },
	};
	struct batch bt;
	struct nftnl_rule *r;
	int fd, err;

	if ((fd = nft_lock(lock)) < -1)
		return -fd;
	nft_batch_start(&bt, n, 16384 + (size_t)nnets * 1024);
	err = bt.err ? bt.err : nft_ensure(n, &bt, c, 2, NULL, 0);
	/* ... to the host itself: dropped */
	if (!err) {
		r = nft_rule_new(INPUT);
		r = r ? nft_rule_done(r, new_from(r, addr) || nft_drop(r), comment) : NULL;
		err = r ? nft_add_rule(&bt, r) : ENOMEM;
		if (r)
			nftnl_rule_free(r);
	}
	/* ... to the other subnets the host is on: dropped */
	for (int i = 0; !err && i < nnets; i++) {
		r = nft_rule_new(FORWARD);
		r = r ? nft_rule_done(r, new_from(r, addr) || nft_ip_in(r, 16, NFT_CMP_EQ, nets[i].net, nets[i].prefix) ||
					 nft_drop(r), comment) : NULL;
		err = r ? nft_add_rule(&bt, r) : ENOMEM;
		if (r)
			nftnl_rule_free(r);
	}
	if (!err)
		err = nft_batch_send(&bt, n);
	nft_batch_stop(&bt);
	if (fd >= 0)
		close(fd);
	return err;
}

int nft_port_owners(struct nl *n, void (*cb)(const char *comment, uint64_t handle, void *data), void *data)
{
	enum nft_table_state state;
	int err = nft_table_state(n, &state);

	if (err || state != NFT_TABLE_OURS)
		return err;
	err = nft_rules(n, PREROUTING, cb, data);
	if (err == ENOENT)
		err = 0;
	if (!err)
		err = nft_rules(n, INPUT, cb, data);
	return err == ENOENT ? 0 : err;
}
