/* nsbox's nftables table, `inet nsbox`, without Lua: shared by nsbox.nft
 * (nft_lua.c) and the setuid helper. libnftnl builds and parses the messages;
 * they go through the one netlink transport (nl.h) on a NETLINK_NETFILTER
 * socket. nsbox touches no other table and never flushes a ruleset. */
#ifndef NSBOX_NFT_H
#define NSBOX_NFT_H

#include <stdint.h>
#include "nl.h"

#define NFT_TABLE "nsbox"
/* The table's comment: what marks it as nsbox's. A table of that name
 * without it is someone else's, and is refused. */
#define NFT_TABLE_MARK "nsbox: made by nsbox, which alone changes it"

enum nft_table_state { NFT_TABLE_MISSING, NFT_TABLE_OURS, NFT_TABLE_FOREIGN };

/* Whether `inet nsbox` exists and is nsbox's, in *state. 0 or an errno. */
int nft_table_state(struct nl *n, enum nft_table_state *state);

/* Masquerade what leaves the IPv4 subnet net/prefix (host byte order) for
 * anything outside it: the table, its nat postrouting chain and the subnet's
 * rule (commented with the subnet) are made where missing, in one batch, under
 * an flock of lock (NULL: none) so concurrent callers add it once. *added: 1 if
 * this call added the rule. 0 or an errno: EEXIST with n->ext set when the
 * table is someone else's (nothing is made then). */
int nft_masquerade(struct nl *n, uint32_t net, int prefix, const char *lock, int *added);

/* Each base chain on the forward hook with policy drop in an ip, ip6 or inet
 * table other than nsbox's: cb(family, table, chain, data). 0 or an errno. */
int nft_forward_drops(struct nl *n, void (*cb)(const char *family, const char *table, const char *chain,
					       void *data), void *data);

#endif
