/* nsbox's nftables table (see nft.h): plain C over libnftnl and the netlink
 * transport, no Lua. */
#define _GNU_SOURCE
#include "nft.h"
#include "nft_build.h"
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#define POSTROUTING "postrouting"

/* The comment (udata of type) in data/len into out; "" if none. */

static int comment_cb(const struct nftnl_udata *a, void *data)
{
	struct comment *c = data;
	unsigned len = nftnl_udata_len(a);

	if (nftnl_udata_type(a) == c->type && len > 0 && len <= NFTNL_UDATA_COMMENT_MAXLEN) {
		memcpy(c->text, nftnl_udata_get(a), len);
		c->text[len - 1] = '\0';  /* stored with its NUL */
	}
	return 0;
}

void nft_comment_of(const void *udata, uint32_t len, struct comment *c)
{
	c->text[0] = '\0';
	if (udata && len)
		nftnl_udata_parse(udata, len, comment_cb, c);
}

/* Put a comment as the userdata attribute attr of an object (set_data). 0 or ENOMEM. */
int nft_put_comment(void *obj, int (*set)(void *, uint16_t, const void *, uint32_t), uint16_t attr,
		       int type, const char *text)
{
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	int err = 0;

	if (!u)
		return ENOMEM;
	if (!nftnl_udata_put_strz(u, (uint8_t)type, text) ||
	    set(obj, attr, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u)) < 0)
		err = ENOMEM;
	nftnl_udata_buf_free(u);
	return err;
}

static int table_set_data(void *t, uint16_t a, const void *d, uint32_t l) { return nftnl_table_set_data(t, a, d, l); }
int nft_rule_set_data(void *r, uint16_t a, const void *d, uint32_t l) { return nftnl_rule_set_data(r, a, d, l); }

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	enum nft_table_state *state = data;
	struct nftnl_table *t = nftnl_table_alloc();
	struct comment c = { .type = NFTNL_UDATA_TABLE_COMMENT };
	uint32_t len = 0;

	if (!t)
		return MNL_CB_ERROR;
	*state = NFT_TABLE_FOREIGN;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0) {
		const void *u = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
		nft_comment_of(u, len, &c);
		if (strcmp(c.text, NFT_TABLE_MARK) == 0)
			*state = NFT_TABLE_OURS;
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

int nft_table_state(struct nl *n, enum nft_table_state *state)
{
	return nft_table_state_in(n, NFPROTO_INET, state);
}

int nft_table_state_in(struct nl *n, uint16_t family, enum nft_table_state *state)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int err;

	if (!t)
		return ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE);
	memset(n->req, 0, sizeof n->req);
	nlh = nftnl_nlmsg_build_hdr(n->req, NFT_MSG_GETTABLE, family, 0, 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	*state = NFT_TABLE_MISSING;
	err = nl_talk(n, nlh, table_cb, state);
	if (err == ENOENT) {
		*state = NFT_TABLE_MISSING;
		n->ext[0] = '\0';
		return 0;
	}
	return err;
}

struct rules { void (*cb)(const char *comment, uint64_t handle, void *data); void *data; };

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rules *w = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct comment c = { .type = NFTNL_UDATA_RULE_COMMENT };
	uint32_t len = 0;

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		const void *u = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
		nft_comment_of(u, len, &c);
		w->cb(c.text, nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE), w->data);
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int nft_rules(struct nl *n, const char *chain, void (*cb)(const char *comment, uint64_t handle, void *data),
	      void *data)
{
	return nft_rules_in(n, NFPROTO_INET, chain, cb, data);
}

int nft_rules_in(struct nl *n, uint16_t family, const char *chain,
		 void (*cb)(const char *comment, uint64_t handle, void *data), void *data)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct rules w = { cb, data };
	struct nlmsghdr *nlh;

	if (!r)
		return ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	memset(n->req, 0, sizeof n->req);
	nlh = nftnl_nlmsg_build_hdr(n->req, NFT_MSG_GETRULE, family, 0, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	/* no reset: the callers' marks are idempotent and a rerun only sees the rules again */
	return nl_dump(n, nlh, rule_cb, NULL, &w);
}

int nft_has_chain(struct nl *n, const char *chain)
{
	return nft_has_chain_in(n, NFPROTO_INET, chain);
}

int nft_has_chain_in(struct nl *n, uint16_t family, const char *chain)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	int err;

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
	memset(n->req, 0, sizeof n->req);
	nlh = nftnl_nlmsg_build_hdr(n->req, NFT_MSG_GETCHAIN, family, 0, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	err = nl_talk(n, nlh, NULL, NULL);
	if (err == ENOENT) {
		n->ext[0] = '\0';
		return 0;
	}
	return err ? -err : 1;
}

/* Expressions of a rule; each adder returns 0 or ENOMEM. */
int nft_expr_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

int nft_cmp(struct nftnl_rule *r, int op, const void *v, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, (uint32_t)op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, v, len);
	}
	return nft_expr_add(r, e);
}

/* meta nfproto ipv4 */
int nft_is_ipv4(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	uint8_t v4 = NFPROTO_IPV4;

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_NFPROTO);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return nft_expr_add(r, e) ?: nft_cmp(r, NFT_CMP_EQ, &v4, 1);
}

/* ip saddr (offset 12) or ip daddr (16) in (op EQ) or not in (NEQ) net/prefix */
int nft_ip_in(struct nftnl_rule *r, uint32_t offset, int op, uint32_t net, int prefix)
{
	struct nftnl_expr *p = nftnl_expr_alloc("payload"), *b;
	uint32_t m = htonl(prefix ? 0xffffffffu << (32 - prefix) : 0), x = 0, v = htonl(net);
	int err;

	if (p) {
		nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_LEN, 4);
		nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	}
	if ((err = nft_expr_add(r, p)))
		return err;
	b = nftnl_expr_alloc("bitwise");
	if (b) {
		nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(b, NFTNL_EXPR_BITWISE_MASK, &m, 4);
		nftnl_expr_set(b, NFTNL_EXPR_BITWISE_XOR, &x, 4);
	}
	return nft_expr_add(r, b) ?: nft_cmp(r, op, &v, 4);
}

static struct nftnl_expr *expr_u32(const char *name, uint16_t k1, uint32_t v1, uint16_t k2, uint32_t v2)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (e) {
		nftnl_expr_set_u32(e, k1, v1);
		nftnl_expr_set_u32(e, k2, v2);
	}
	return e;
}

int nft_meta(struct nftnl_rule *r, uint32_t key)
{
	return nft_expr_add(r, expr_u32("meta", NFTNL_EXPR_META_KEY, key, NFTNL_EXPR_META_DREG, NFT_REG_1));
}

/* reg1 = reg1 & mask (len bytes) */
static int mask(struct nftnl_rule *r, const void *m, uint32_t len)
{
	struct nftnl_expr *b = nftnl_expr_alloc("bitwise");
	static const char zero[16];

	if (b) {
		nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(b, NFTNL_EXPR_BITWISE_MASK, m, len);
		nftnl_expr_set(b, NFTNL_EXPR_BITWISE_XOR, zero, len);
	}
	return nft_expr_add(r, b);
}

int nft_ct_dnat(struct nftnl_rule *r)
{
	uint32_t bit = IPS_DST_NAT, zero = 0;

	return nft_expr_add(r, expr_u32("ct", NFTNL_EXPR_CT_KEY, NFT_CT_STATUS, NFTNL_EXPR_CT_DREG, NFT_REG_1)) ?:
	       mask(r, &bit, 4) ?: nft_cmp(r, NFT_CMP_NEQ, &zero, 4);
}

int nft_ct_new(struct nftnl_rule *r)
{
	uint32_t old = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), zero = 0;

	return nft_expr_add(r, expr_u32("ct", NFTNL_EXPR_CT_KEY, NFT_CT_STATE, NFTNL_EXPR_CT_DREG, NFT_REG_1)) ?:
	       mask(r, &old, 4) ?: nft_cmp(r, NFT_CMP_EQ, &zero, 4);
}

int nft_iif_not_lo(struct nftnl_rule *r)
{
	char lo[IFNAMSIZ] = "lo";

	return nft_meta(r, NFT_META_IIFNAME) ?: nft_cmp(r, NFT_CMP_NEQ, lo, sizeof lo);
}

int nft_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	return nft_meta(r, NFT_META_L4PROTO) ?: nft_cmp(r, NFT_CMP_EQ, &proto, 1);
}

int nft_payload_eq(struct nftnl_rule *r, uint32_t base, uint32_t offset, const void *v, uint32_t len)
{
	struct nftnl_expr *p = nftnl_expr_alloc("payload");

	if (p) {
		nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	}
	return nft_expr_add(r, p) ?: nft_cmp(r, NFT_CMP_EQ, v, len);
}

int nft_dport(struct nftnl_rule *r, uint16_t port)
{
	uint16_t v = htons(port);

	return nft_payload_eq(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, &v, 2);
}

int nft_daddr_local(struct nftnl_rule *r)
{
	struct nftnl_expr *f = nftnl_expr_alloc("fib");
	uint32_t local = RTN_LOCAL;

	if (f) {
		nftnl_expr_set_u32(f, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
		nftnl_expr_set_u32(f, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
		nftnl_expr_set_u32(f, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	}
	return nft_expr_add(r, f) ?: nft_cmp(r, NFT_CMP_EQ, &local, 4);
}

static int immediate(struct nftnl_rule *r, uint32_t reg, const void *v, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, v, len);
	}
	return nft_expr_add(r, e);
}

int nft_dnat(struct nftnl_rule *r, uint32_t addr, uint16_t port)
{
	uint32_t a = htonl(addr);
	uint16_t p = htons(port);
	struct nftnl_expr *e;
	int err = immediate(r, NFT_REG_1, &a, 4) ?: immediate(r, NFT_REG_2, &p, 2);

	if (err)
		return err;
	if ((e = nftnl_expr_alloc("nat"))) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
	}
	return nft_expr_add(r, e);
}

int nft_verdict(struct nftnl_rule *r, uint32_t verdict)
{
	return nft_expr_add(r, expr_u32("immediate", NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT,
					NFTNL_EXPR_IMM_VERDICT, verdict));
}

int nft_drop(struct nftnl_rule *r)
{
	return nft_verdict(r, NF_DROP);
}

struct nftnl_rule *nft_rule_new(const char *chain)
{
	return nft_rule_new_in(NFPROTO_INET, chain);
}

struct nftnl_rule *nft_rule_new_in(uint16_t family, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (r) {
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	}
	return r;
}

struct nftnl_rule *nft_rule_done(struct nftnl_rule *r, int err, const char *comment)
{
	if (!r)
		return NULL;
	if (!err)
		err = nft_put_comment(r, nft_rule_set_data, NFTNL_RULE_USERDATA, NFTNL_UDATA_RULE_COMMENT, comment);
	if (err) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

void nft_batch_start(struct batch *bt, struct nl *n, size_t size)
{
	bt->err = 0;
	bt->b = NULL;
	bt->family = NFPROTO_INET;
	/* the limit is half the buffer: the message that crosses it must still fit */
	if ((bt->buf = malloc(size)))
		bt->b = mnl_nlmsg_batch_start(bt->buf, size / 2);
	if (!bt->b) {
		bt->err = ENOMEM;
		return;
	}
	bt->seq = n->seq;
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), ++bt->seq);
	mnl_nlmsg_batch_next(bt->b);
	bt->first = bt->seq + 1;
}

/* The header of the next message (NLM_F_ACK and flags), or NULL when full. */
struct nlmsghdr *nft_batch_msg(struct batch *bt, uint16_t type, uint16_t flags)
{
	if (bt->err)
		return NULL;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type, bt->family,
				     NLM_F_ACK | flags, ++bt->seq);
}

void nft_batch_next(struct batch *bt)
{
	if (!bt->err && !mnl_nlmsg_batch_next(bt->b))
		bt->err = E2BIG;
}

int nft_batch_send(struct batch *bt, struct nl *n)
{
	unsigned int last = bt->seq;
	int err;

	if (bt->err)
		return bt->err;
	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), ++bt->seq);
	mnl_nlmsg_batch_next(bt->b);
	n->seq = bt->seq;
	err = nl_batch(n, mnl_nlmsg_batch_head(bt->b), mnl_nlmsg_batch_size(bt->b), bt->first, last);
	bt->err = err ? err : EALREADY; /* sent: nothing more goes in */
	return err;
}

void nft_batch_stop(struct batch *bt)
{
	if (bt->b)
		mnl_nlmsg_batch_stop(bt->b);
	free(bt->buf);
	bt->b = NULL;
	bt->buf = NULL;
}

int nft_add_table(struct batch *bt)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int err;

	if (!t)
		return ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE);
	err = nft_put_comment(t, table_set_data, NFTNL_TABLE_USERDATA, NFTNL_UDATA_TABLE_COMMENT, NFT_TABLE_MARK);
	if (!err && (nlh = nft_batch_msg(bt, NFT_MSG_NEWTABLE, NLM_F_CREATE))) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		nft_batch_next(bt);
	}
	nftnl_table_free(t);
	return err;
}

int nft_add_chain(struct batch *bt, const char *name, const char *type, uint32_t hook, int32_t prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c)
		return ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	if ((nlh = nft_batch_msg(bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE))) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nft_batch_next(bt);
	}
	nftnl_chain_free(c);
	return 0;
}

int nft_add_rule(struct batch *bt, struct nftnl_rule *r)
{
	struct nlmsghdr *nlh = nft_batch_msg(bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);

	if (nlh) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nft_batch_next(bt);
	}
	return 0;
}

int nft_del_rule(struct batch *bt, const char *chain, uint64_t handle)
{
	struct nftnl_rule *r = nft_rule_new_in(bt->family, chain);
	struct nlmsghdr *nlh;

	if (!r)
		return ENOMEM;
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
	if ((nlh = nft_batch_msg(bt, NFT_MSG_DELRULE, 0))) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nft_batch_next(bt);
	}
	nftnl_rule_free(r);
	return 0;
}

int nft_lock(const char *path)
{
	int fd, e;

	if (!path)
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			e = errno;
			close(fd);
			return -e;
		}
	return fd;
}

/* Mark the wanted rules a chain has. */
struct marks { struct nft_want_rule *w; int n; const char *chain; };

static void mark_cb(const char *comment, uint64_t handle, void *data)
{
	struct marks *m = data;

	(void)handle;
	for (int i = 0; i < m->n; i++)
		if (!strcmp(m->w[i].chain, m->chain) && !strcmp(m->w[i].comment, comment))
			m->w[i].have = 1;
}

int nft_ensure(struct nl *n, struct batch *bt, struct nft_want_chain *c, int nc, struct nft_want_rule *w, int nw)
{
	enum nft_table_state state;
	int err;

	if ((err = nft_table_state_in(n, bt->family, &state)))
		return err;
	if (state == NFT_TABLE_FOREIGN) {
		snprintf(n->ext, sizeof n->ext, "table %s %s exists and was not made by nsbox",
			 bt->family == NFPROTO_BRIDGE ? "bridge" : "inet", NFT_TABLE);
		return EEXIST;
	}
	if (state == NFT_TABLE_MISSING && (err = nft_add_table(bt)))
		return err;
	for (int i = 0; i < nc; i++) {
		int have = state == NFT_TABLE_OURS ? nft_has_chain_in(n, bt->family, c[i].name) : 0;
		if (have < 0)
			return -have;
		if (have) {
			struct marks m = { w, nw, c[i].name };
			if ((err = nft_rules_in(n, bt->family, c[i].name, mark_cb, &m)))
				return err;
		/* a base chain is made only when missing: updating one costs the kernel ~11 ms */
		} else if ((err = nft_add_chain(bt, c[i].name, c[i].type, c[i].hook, c[i].prio))) {
			return err;
		}
	}
	for (int i = 0; i < nw; i++) {
		if (w[i].have)
			continue;
		struct nftnl_rule *r = w[i].make(w[i].chain, w[i].comment, w[i].arg);
		if (!r)
			return ENOMEM;
		err = nft_add_rule(bt, r);
		nftnl_rule_free(r);
		if (err)
			return err;
	}
	return 0;
}

int nft_batch_empty(const struct batch *bt)
{
	return bt->seq < bt->first;
}

/* What leaves the subnet for elsewhere, with the host's address. */
static struct nftnl_rule *masq_rule(const char *chain, const char *comment, const void *arg)
{
	const struct nft_subnet *s = arg;
	struct nftnl_rule *r = nft_rule_new(chain);

	return r ? nft_rule_done(r, nft_is_ipv4(r) || nft_ip_in(r, 12, NFT_CMP_EQ, s->net, s->prefix) ||
				       nft_ip_in(r, 16, NFT_CMP_NEQ, s->net, s->prefix) ||
				       nft_expr_add(r, nftnl_expr_alloc("masq")), comment) : NULL;
}

/* Hairpin: a container's flow to a published port of the host's, translated to
 * a container on the same subnet, masqueraded so the reply comes back the same way. */
static struct nftnl_rule *hairpin_rule(const char *chain, const char *comment, const void *arg)
{
	const struct nft_subnet *s = arg;
	struct nftnl_rule *r = nft_rule_new(chain);

	return r ? nft_rule_done(r, nft_is_ipv4(r) || nft_ip_in(r, 12, NFT_CMP_EQ, s->net, s->prefix) ||
				       nft_ip_in(r, 16, NFT_CMP_EQ, s->net, s->prefix) || nft_ct_dnat(r) ||
				       nft_expr_add(r, nftnl_expr_alloc("masq")), comment) : NULL;
}

int nft_masquerade(struct nl *n, uint32_t net, int prefix, const char *lock, int *added)
{
	struct nft_subnet sub = { net, prefix };
	char masq[64], hair[64], a[16];
	struct nft_want_chain c[] = { { POSTROUTING, "nat", NF_INET_POST_ROUTING, 100 } };
	struct nft_want_rule w[] = { { POSTROUTING, masq, masq_rule, &sub, 0 },
				     { POSTROUTING, hair, hairpin_rule, &sub, 0 } };
	struct batch bt;
	int fd, err;

	*added = 0;
	snprintf(masq, sizeof masq, "nsbox masquerade %s/%d", nsbox_ip4_format(net, a), prefix);
	snprintf(hair, sizeof hair, "nsbox hairpin %s/%d", a, prefix);
	if ((fd = nft_lock(lock)) < -1)
		return -fd;
	nft_batch_start(&bt, n, 16384);
	err = bt.err ? bt.err : nft_ensure(n, &bt, c, 1, w, 2);
	if (!err && !nft_batch_empty(&bt)) {
		err = nft_batch_send(&bt, n);
		*added = !err;
	}
	nft_batch_stop(&bt);
	if (fd >= 0)
		close(fd);
	return err;
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();

	if (!g)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0)
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

int nft_genid(struct nl *n, uint32_t *id)
{
	memset(n->req, 0, sizeof n->req);
	return nl_talk(n, nftnl_nlmsg_build_hdr(n->req, NFT_MSG_GETGEN, NFPROTO_UNSPEC, 0, 0), gen_cb, id);
}

struct drops {
	void (*cb)(const char *family, const char *table, const char *chain, void *data);
	void *data;
};

static const char *family_name(uint32_t f)
{
	return f == NFPROTO_IPV4 ? "ip" : f == NFPROTO_IPV6 ? "ip6" : f == NFPROTO_INET ? "inet" : NULL;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct drops *d = data;
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 && nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) &&
	    nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) &&
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) == NF_INET_FORWARD &&
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP) {
		uint32_t f = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
		const char *table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
		if (family_name(f) && table && !(f == NFPROTO_INET && strcmp(table, NFT_TABLE) == 0))
			d->cb(family_name(f), table, nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), d->data);
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

int nft_forward_drops(struct nl *n, void (*cb)(const char *family, const char *table, const char *chain,
					       void *data), void *data)
{
	struct drops d = { cb, data };
	struct nlmsghdr *nlh;

	memset(n->req, 0, sizeof n->req);
	nlh = nftnl_nlmsg_build_hdr(n->req, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, 0, 0);
	/* no reset: a dump run again reports a chain twice, which only repeats a warning */
	return nl_dump(n, nlh, chain_cb, NULL, &d);
}
