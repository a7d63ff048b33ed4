/* The pieces nft.c and nft_ports.c build table inet nsbox from (internal to
 * them): comments, expressions, chains, rules, and batches through nl_batch. */
#ifndef NSBOX_NFT_BUILD_H
#define NSBOX_NFT_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include "nl.h"
#include "nft.h"

/* A comment (udata attribute of type) read back; "" if none. */
struct comment { int type; char text[NFTNL_UDATA_COMMENT_MAXLEN + 1]; };
void nft_comment_of(const void *udata, uint32_t len, struct comment *c);
int nft_put_comment(void *obj, int (*set)(void *, uint16_t, const void *, uint32_t), uint16_t attr,
		    int type, const char *text);
int nft_rule_set_data(void *r, uint16_t a, const void *d, uint32_t l);

/* Expressions appended to a rule; each 0 or ENOMEM (nft_expr_add takes e, NULL: ENOMEM). */
int nft_expr_add(struct nftnl_rule *r, struct nftnl_expr *e);
int nft_cmp(struct nftnl_rule *r, int op, const void *v, uint32_t len);
int nft_is_ipv4(struct nftnl_rule *r);                            /* meta nfproto ipv4 */
int nft_ip_in(struct nftnl_rule *r, uint32_t offset, int op, uint32_t net, int prefix);
int nft_ct_dnat(struct nftnl_rule *r);                            /* ct status dnat */
int nft_ct_new(struct nftnl_rule *r);                             /* ct state != established,related */
int nft_iif_not_lo(struct nftnl_rule *r);                         /* iifname != "lo" */
int nft_l4proto(struct nftnl_rule *r, uint8_t proto);             /* meta l4proto proto */
int nft_dport(struct nftnl_rule *r, uint16_t port);               /* th dport port */
int nft_daddr_local(struct nftnl_rule *r);                        /* fib daddr type local */
int nft_dnat(struct nftnl_rule *r, uint32_t addr, uint16_t port); /* dnat ip to addr:port */
int nft_drop(struct nftnl_rule *r);
int nft_verdict(struct nftnl_rule *r, uint32_t verdict);            /* NF_ACCEPT, NF_DROP */
int nft_meta(struct nftnl_rule *r, uint32_t key);                  /* reg1 = meta key */
/* payload base offset len == v (base: NFT_PAYLOAD_LL_HEADER, _NETWORK_HEADER, ...) */
int nft_payload_eq(struct nftnl_rule *r, uint32_t base, uint32_t offset, const void *v, uint32_t len);
/* A new rule of chain in table inet nsbox (_in: of that family's), or NULL. */
struct nftnl_rule *nft_rule_new(const char *chain);
struct nftnl_rule *nft_rule_new_in(uint16_t family, const char *chain);
/* Its comment, then the rule freed on failure: r, or NULL. */
struct nftnl_rule *nft_rule_done(struct nftnl_rule *r, int err, const char *comment);

/* A batch being built (nft_batch_start: size bytes on the heap; messages past
 * half of it do not fit), sent whole by nft_batch_send, freed by nft_batch_stop
 * (always called). An error while building is kept in err: the first one wins. */
struct batch {
	struct mnl_nlmsg_batch *b;
	unsigned int seq, first;
	int err;
	uint16_t family;   /* of its messages and its table: NFPROTO_INET unless set after start */
	char *buf;
};
void nft_batch_start(struct batch *bt, struct nl *n, size_t size);
struct nlmsghdr *nft_batch_msg(struct batch *bt, uint16_t type, uint16_t flags);
void nft_batch_next(struct batch *bt);
int nft_batch_send(struct batch *bt, struct nl *n);
void nft_batch_stop(struct batch *bt);
int nft_add_table(struct batch *bt);
int nft_add_chain(struct batch *bt, const char *name, const char *type, uint32_t hook, int32_t prio);
int nft_add_rule(struct batch *bt, struct nftnl_rule *r);   /* r stays the caller's */
/* Delete rule handle of chain. */
int nft_del_rule(struct batch *bt, const char *chain, uint64_t handle);
/* Whether nothing was put in the batch yet. */
int nft_batch_empty(const struct batch *bt);

/* What table inet nsbox (or bt->family's table nsbox) must have: base chains, and rules known by their
 * comments, each made by make(chain, comment, arg) where missing. */
struct nft_want_chain { const char *name, *type; uint32_t hook; int32_t prio; };
struct nft_want_rule {
	const char *chain, *comment;
	struct nftnl_rule *(*make)(const char *chain, const char *comment, const void *arg);
	const void *arg;
	int have;
};
/* Put into bt what is missing: the table (marked), the chains, the rules. 0 or
 * an errno: EEXIST (n->ext says why) when the table is someone else's. */
int nft_ensure(struct nl *n, struct batch *bt, struct nft_want_chain *c, int nc, struct nft_want_rule *w, int nw);

/* Rules of a chain of table inet nsbox (_in: of that family's table nsbox):
 * cb(comment, handle, data) for each. 0 or an errno (ENOENT: no such chain). */
int nft_rules(struct nl *n, const char *chain, void (*cb)(const char *comment, uint64_t handle, void *data),
	      void *data);
int nft_rules_in(struct nl *n, uint16_t family, const char *chain,
		 void (*cb)(const char *comment, uint64_t handle, void *data), void *data);
/* Whether table inet nsbox (_in: that family's) has the chain: 1, 0, or -errno. */
int nft_has_chain(struct nl *n, const char *chain);
int nft_has_chain_in(struct nl *n, uint16_t family, const char *chain);

/* Take the flock of path (NULL: none): an fd to close, -1 for none, or -errno. */
int nft_lock(const char *path);

#endif
