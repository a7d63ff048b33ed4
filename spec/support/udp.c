/* UDP for the ports spec, built static so that it runs in the busybox rootfs.
 *   udp PORT       a server: answers each datagram with "<its text> from <hostname>"
 *   udp ADDR PORT  a client: sends each line of stdin from one socket (one source
 *                  port), prints each answer or "timeout" after 3 s */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int client(const char *addr, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 3 };
	char line[512], buf[600];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	a.sin_port = htons((unsigned short)atoi(port));
	if (fd < 0 || inet_pton(AF_INET, addr, &a.sin_addr) != 1 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		return 2;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof line, stdin)) {
		ssize_t n;
		send(fd, line, strlen(line), 0);
		n = recv(fd, buf, sizeof buf - 1, 0);
		if (n < 0)
			printf("timeout\n");
		else
			printf("%.*s", (int)n, buf);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char buf[512], host[64] = "?", out[600];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (argc == 3)
		return client(argv[1], argv[2]);
	if (argc != 2 || fd < 0)
		return 2;
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
		return perror("bind"), 1;
	gethostname(host, sizeof host - 1);
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			continue;
		while (n > 0 && buf[n - 1] == '\n')
			n--;
		buf[n] = '\0';
		int len = snprintf(out, sizeof out, "%s from %s\n", buf, host);
		sendto(fd, out, (size_t)len, 0, (struct sockaddr *)&from, fl);
	}
}
