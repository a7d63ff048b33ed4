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

/* Whether `inet nsbox` (_in: table nsbox of that family) exists and is
 * nsbox's, in *state. 0 or an errno. */
int nft_table_state(struct nl *n, enum nft_table_state *state);
int nft_table_state_in(struct nl *n, uint16_t family, enum nft_table_state *state);

/* The ruleset's generation, which every change of any table moves on: what was
 * checked at one generation still holds while it stands. 0 or an errno. */
int nft_genid(struct nl *n, uint32_t *id);

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

/* A published port: proto (IPPROTO_TCP or _UDP) to the host's daddr (0: any
 * of its addresses, 127.0.0.1 included) port dport goes to to:toport, host
 * byte order. */
struct nft_port { uint8_t proto; uint32_t daddr; uint16_t dport; uint32_t to; uint16_t toport; };

/* Publish count ports, every rule commented comment (its owner), with what
 * they need (the loopback guard, the localhost masquerade), in one batch under
 * the flock of lock. 0 or an errno (EEXIST: the table is someone else's). */
int nft_ports_add(struct nl *n, const struct nft_port *p, int count, const char *comment, const char *lock,
		  int checked);
/* (checked: the table, chains and fixed rules are known to be there: not looked at again) */

/* Remove the port rules commented comment, in one batch; *removed: how many.
 * 0 or an errno. */
int nft_ports_del(struct nl *n, const char *comment, const char *lock, int *removed);

/* The rules of the prerouting chain (the port rules and their owners):
 * cb(comment, handle, data) for each. 0 or an errno. */
int nft_port_owners(struct nl *n, void (*cb)(const char *comment, uint64_t handle, void *data), void *data);

/* Isolate the container at addr: new flows from it (not replies) to the host
 * itself (input) and to each of the nnets other subnets the host is on
 * (forward: a published port of the host's, translated, included) are dropped, every rule
 * commented comment, in one batch. 0 or an errno. */
struct nft_subnet { uint32_t net; int prefix; };
int nft_isolate_add(struct nl *n, uint32_t addr, const struct nft_subnet *nets, int nnets, const char *comment,
		    const char *lock);
/* Remove its rules. */
int nft_isolate_del(struct nl *n, const char *comment, const char *lock, int *removed);
/* Remove the rules commented comment from up to 4 chains, in one batch. */
int nft_rules_del(struct nl *n, const char *const *chains, int nc, const char *comment, const char *lock,
		  int *removed);

/* The link group (IFLA_GROUP) of the bridge ports nsbox guards, given at their
 * creation: what enters from one that has no element in the set is dropped. */
#define NFT_PORT_GROUP 28275 /* "ns" */

/* Anti-spoofing (nft_antispoof.c, table bridge nsbox): frames that enter a
 * bridge from a guarded port pass only as IPv4 from its mac and addr (host byte
 * order), or ARP whose sender is them; the rest is dropped. A port is one
 * element of the set "guards", keyed by its ifindex, mac and addr, and its
 * address's entry in the map "owners" (address -> ifindex, mac). */
struct nft_guard { uint32_t ifindex; unsigned char mac[6]; uint32_t addr; };
/* Guard port (g->ifindex is set from it): its elements, commented comment
 * ("nsbox antispoof pid=P start=S port=NAME ...": its owner), and the table,
 * sets, chains and rules where missing, in one batch under the flock of lock;
 * the earlier guard of the address goes in it. 0 or an errno (EEXIST, n->ext
 * set: the table is someone else's). */
int nft_antispoof_add(struct nl *n, const char *port, struct nft_guard *g, const char *comment,
		      const char *lock);
/* Remove g's element (it may be gone already); *removed: 1 or 0. */
int nft_antispoof_del(struct nl *n, const struct nft_guard *g, const char *lock, int *removed);
/* Remove the elements whose owner (pid and start time in the comment) is gone,
 * 64 a batch. */
int nft_antispoof_sweep(struct nl *n, const char *lock, int *removed);

/* Forget the conntrack entries of flows whose reply comes from addr (host byte
 * order), a container that is gone: a UDP flow to a published port would
 * otherwise stay translated to it. *forgot: how many. 0 or an errno. */
int nft_ct_forget(struct nl *n, uint32_t addr, int *forgot);

#endif
