/*
 * bindloop binds and listens on 127.0.0.1:PORT, then closes the socket,
 * COUNT times after WARMUP untimed rounds. It prints the nanoseconds of
 * each timed round, one a line. Run under authbind, its bind(2) goes
 * through authbind's preload library and setuid helper.
 *
 *   bindloop PORT WARMUP COUNT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int bind_once(int port)
{
	struct sockaddr_in sin;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 128) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int main(int argc, char **argv)
{
	int port, warmup, count, i;
	long long *samples;

	if (argc != 4) {
		fprintf(stderr, "usage: bindloop PORT WARMUP COUNT\n");
		return 2;
	}
	port = atoi(argv[1]);
	warmup = atoi(argv[2]);
	count = atoi(argv[3]);
	samples = calloc(count > 0 ? count : 1, sizeof *samples);
	if (samples == NULL)
		return 111;
	for (i = 0; i < warmup + count; i++) {
		long long start = now_ns();

		if (bind_once(port) < 0) {
			fprintf(stderr, "bindloop: bind 127.0.0.1:%d: %s\n", port, strerror(errno));
			return 1;
		}
		if (i >= warmup)
			samples[i - warmup] = now_ns() - start;
	}
	for (i = 0; i < count; i++)
		printf("%lld\n", samples[i]);
	return 0;
}
