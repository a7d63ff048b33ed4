/* The rootfs owner's racer for spec/rootfs_race_spec.lua: swaps each pair of
 * paths (a directory and a symlink) with renameat2(RENAME_EXCHANGE), round after
 * round, until killed (the spec spawns it with a death signal). Usage: exchange A1 B1 [A2 B2 ...] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc < 3 || argc % 2 == 0) {
		fprintf(stderr, "usage: exchange A1 B1 [A2 B2 ...]\n");
		return 2;
	}
	for (;;)
		for (int i = 1; i + 1 < argc; i += 2)
			if (renameat2(AT_FDCWD, argv[i], AT_FDCWD, argv[i + 1], RENAME_EXCHANGE) < 0) {
				perror("renameat2");
				return 1;
			}
}
