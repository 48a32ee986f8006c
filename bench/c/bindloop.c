/*
 * bindloop binds and listens on 127.0.0.1:PORT, then closes the socket,
 * COUNT times after WARMUP untimed rounds. It prints the nanoseconds of
 * each timed round, one a line. Run under authbind, its bind(2) goes
 * through authbind's preload library and setuid helper.
 *
 *   bindloop PORT WARMUP COUNT
 */
#include <stdio.h>
#include <stdlib.h>

#include "listen.h"

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
		int fd = listen_on(port);

		if (fd < 0) {
			fprintf(stderr, "bindloop: bind 127.0.0.1:%d: %s\n", port, strerror(errno));
			return 1;
		}
		close(fd);
		if (i >= warmup)
			samples[i - warmup] = now_ns() - start;
	}
	for (i = 0; i < count; i++)
		printf("%lld\n", samples[i]);
	return 0;
}
