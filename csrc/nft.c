/* nsbox's nftables table (see nft.h): plain C over libnftnl and the netlink
 * transport, no Lua. */
#define _GNU_SOURCE
#include "nft.h"
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#define POSTROUTING "postrouting"

/* The comment (udata of type) in data/len into out; "" if none. */
struct comment { int type; char text[NFTNL_UDATA_COMMENT_MAXLEN + 1]; };

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

static void comment_of(const void *udata, uint32_t len, struct comment *c)
{
	c->text[0] = '\0';
	if (udata && len)
		nftnl_udata_parse(udata, len, comment_cb, c);
}

/* Put a comment as the userdata attribute attr of an object (set_data). 0 or ENOMEM. */
static int put_comment(void *obj, int (*set)(void *, uint16_t, const void *, uint32_t), uint16_t attr,
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
static int rule_set_data(void *r, uint16_t a, const void *d, uint32_t l) { return nftnl_rule_set_data(r, a, d, l); }

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
		comment_of(u, len, &c);
		if (strcmp(c.text, NFT_TABLE_MARK) == 0)
			*state = NFT_TABLE_OURS;
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

int nft_table_state(struct nl *n, enum nft_table_state *state)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int err;

	if (!t)
		return ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE);
	memset(n->req, 0, sizeof n->req);
	nlh = nftnl_nlmsg_build_hdr(n->req, NFT_MSG_GETTABLE, NFPROTO_INET, 0, 0);
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

/* Rules of the postrouting chain: whether one carries want's comment. */
struct find { const char *want; int found; };

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct find *f = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct comment c = { .type = NFTNL_UDATA_RULE_COMMENT };
	uint32_t len = 0;

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		const void *u = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
		comment_of(u, len, &c);
		if (strcmp(c.text, f->want) == 0)
			f->found = 1;
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static void find_reset(void *data) { ((struct find *)data)->found = 0; }

/* Whether the chain has the rule commented want: 1, 0, or -errno (-ENOENT: no chain). */
static int rule_present(struct nl *n, const char *chain, const char *want)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct find f = { .want = want };
	struct nlmsghdr *nlh;
	int err;

	if (!r)
		return -ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	memset(n->req, 0, sizeof n->req);
	nlh = nftnl_nlmsg_build_hdr(n->req, NFT_MSG_GETRULE, NFPROTO_INET, 0, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	err = nl_dump(n, nlh, rule_cb, find_reset, &f);
	return err ? -err : f.found;
}

/* Expressions of a rule; each adder returns 0 or ENOMEM. */
static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

static int cmp(struct nftnl_rule *r, int op, const void *v, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, (uint32_t)op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, v, len);
	}
	return add_expr(r, e);
}

/* meta nfproto ipv4 */
static int is_ipv4(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	uint8_t v4 = NFPROTO_IPV4;

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_NFPROTO);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return add_expr(r, e) ?: cmp(r, NFT_CMP_EQ, &v4, 1);
}

/* ip saddr (offset 12) or ip daddr (16) in (op EQ) or not in (NEQ) net/prefix */
static int ip_in(struct nftnl_rule *r, uint32_t offset, int op, uint32_t net, int prefix)
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
	if ((err = add_expr(r, p)))
		return err;
	b = nftnl_expr_alloc("bitwise");
	if (b) {
		nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(b, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(b, NFTNL_EXPR_BITWISE_MASK, &m, 4);
		nftnl_expr_set(b, NFTNL_EXPR_BITWISE_XOR, &x, 4);
	}
	return add_expr(r, b) ?: cmp(r, op, &v, 4);
}

/* The subnet's rule: ip saddr NET ip daddr != NET masquerade, commented NET. */
static struct nftnl_rule *masq_rule(uint32_t net, int prefix, const char *comment)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, POSTROUTING);
	if (is_ipv4(r) || ip_in(r, 12, NFT_CMP_EQ, net, prefix) || ip_in(r, 16, NFT_CMP_NEQ, net, prefix) ||
	    add_expr(r, nftnl_expr_alloc("masq")) ||
	    put_comment(r, rule_set_data, NFTNL_RULE_USERDATA, NFTNL_UDATA_RULE_COMMENT, comment)) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/* A batch being built: the buffer, and the sequence numbers of its messages. */
struct batch {
	struct mnl_nlmsg_batch *b;
	unsigned int seq, first;
	int err;
	_Alignas(8) char buf[8192];
};

static void batch_start(struct batch *bt, struct nl *n)
{
	bt->err = 0;
	bt->b = mnl_nlmsg_batch_start(bt->buf, sizeof bt->buf / 2); /* the last message may go past */
	bt->seq = n->seq;
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), ++bt->seq);
	mnl_nlmsg_batch_next(bt->b);
	bt->first = bt->seq + 1;
}

/* The header of the next message (NLM_F_ACK and flags), or NULL when full. */
static struct nlmsghdr *batch_msg(struct batch *bt, uint16_t type, uint16_t flags)
{
	if (bt->err)
		return NULL;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type, NFPROTO_INET,
				     NLM_F_ACK | flags, ++bt->seq);
}

static void batch_next(struct batch *bt)
{
	if (!bt->err && !mnl_nlmsg_batch_next(bt->b))
		bt->err = E2BIG;
}

static int batch_send(struct batch *bt, struct nl *n)
{
	unsigned int last = bt->seq;
	int err;

	if (bt->err) {
		mnl_nlmsg_batch_stop(bt->b);
		return bt->err;
	}
	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), ++bt->seq);
	mnl_nlmsg_batch_next(bt->b);
	n->seq = bt->seq;
	err = nl_batch(n, mnl_nlmsg_batch_head(bt->b), mnl_nlmsg_batch_size(bt->b), bt->first, last);
	mnl_nlmsg_batch_stop(bt->b);
	return err;
}

static int add_table(struct batch *bt)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int err;

	if (!t)
		return ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE);
	err = put_comment(t, table_set_data, NFTNL_TABLE_USERDATA, NFTNL_UDATA_TABLE_COMMENT, NFT_TABLE_MARK);
	if (!err && (nlh = batch_msg(bt, NFT_MSG_NEWTABLE, NLM_F_CREATE))) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		batch_next(bt);
	}
	nftnl_table_free(t);
	return err;
}

/* type nat hook postrouting priority srcnat (100) */
static int add_nat_chain(struct batch *bt)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c)
		return ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, POSTROUTING);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_POST_ROUTING);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 100);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	if ((nlh = batch_msg(bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE))) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		batch_next(bt);
	}
	nftnl_chain_free(c);
	return 0;
}

static int add_rule(struct batch *bt, struct nftnl_rule *r)
{
	struct nlmsghdr *nlh = batch_msg(bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);

	if (nlh) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		batch_next(bt);
	}
	return 0;
}

static int masquerade_locked(struct nl *n, uint32_t net, int prefix, int *added)
{
	enum nft_table_state state;
	char comment[64], a[16];
	struct nftnl_rule *r;
	struct batch bt;
	int err, have = 0;

	*added = 0;
	snprintf(comment, sizeof comment, "nsbox masquerade %s/%d", nsbox_ip4_format(net, a), prefix);
	if ((err = nft_table_state(n, &state)))
		return err;
	if (state == NFT_TABLE_FOREIGN) {
		snprintf(n->ext, sizeof n->ext, "table inet %s exists and was not made by nsbox", NFT_TABLE);
		return EEXIST;
	}
	if (state == NFT_TABLE_OURS) {
		have = rule_present(n, POSTROUTING, comment);
		if (have == 1)
			return 0;
		if (have < 0 && have != -ENOENT)
			return -have;
	}
	if (!(r = masq_rule(net, prefix, comment)))
		return ENOMEM;
	batch_start(&bt, n);
	err = state == NFT_TABLE_MISSING ? add_table(&bt) : 0;
	/* a base chain is made only when missing: updating one costs the kernel ~11 ms */
	if (!err && (state == NFT_TABLE_MISSING || have == -ENOENT))
		err = add_nat_chain(&bt);
	if (!err)
		err = add_rule(&bt, r);
	nftnl_rule_free(r);
	if (!err)
		err = batch_send(&bt, n);
	else
		mnl_nlmsg_batch_stop(bt.b);
	if (!err)
		*added = 1;
	return err;
}

int nft_masquerade(struct nl *n, uint32_t net, int prefix, const char *lock, int *added)
{
	int fd = -1, err;

	if (lock) {
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return errno;
		while (flock(fd, LOCK_EX) < 0)
			if (errno != EINTR) {
				err = errno;
				close(fd);
				return err;
			}
	}
	err = masquerade_locked(n, net, prefix, added);
	if (fd >= 0)
		close(fd);
	return err;
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
