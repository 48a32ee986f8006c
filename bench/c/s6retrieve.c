/*
 * s6retrieve measures s6-fdholderd, the fd-holding daemon of s6.
 *
 *   s6retrieve store SOCKET ID PORT
 *     binds and listens on 127.0.0.1:PORT and stores the socket as ID.
 *   s6retrieve retrieve SOCKET ID WARMUP COUNT
 *     retrieves ID over one connection COUNT times after WARMUP untimed
 *     rounds, closing each descriptor it gets, and prints the nanoseconds
 *     of each timed round, one a line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <skalibs/tai.h>
#include <s6/fdholder.h>

#include "listen.h"

static int connect_holder(s6_fdholder_t *h, char const *path, tain *deadline)
{
	tain_now_g();
	tain_addsec_g(deadline, 10);
	if (!s6_fdholder_start_g(h, path, deadline)) {
		fprintf(stderr, "s6retrieve: connect %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int store(char const *path, char const *id, int port)
{
	s6_fdholder_t h = S6_FDHOLDER_ZERO;
	tain deadline, limit;
	int fd = listen_on(port);

	if (fd < 0) {
		fprintf(stderr, "s6retrieve: listen 127.0.0.1:%d: %s\n", port, strerror(errno));
		return 1;
	}
	if (connect_holder(&h, path, &deadline) < 0)
		return 111;
	tain_add_g(&limit, &tain_infinite_relative);
	if (!s6_fdholder_store_g(&h, fd, id, &limit, &deadline)) {
		fprintf(stderr, "s6retrieve: store %s: %s\n", id, strerror(errno));
		return 1;
	}
	s6_fdholder_end(&h);
	return 0;
}

static int retrieve(char const *path, char const *id, int warmup, int count)
{
	s6_fdholder_t h = S6_FDHOLDER_ZERO;
	tain deadline;
	long long *samples = calloc(count > 0 ? count : 1, sizeof *samples);
	int i;

	if (samples == NULL)
		return 111;
	if (connect_holder(&h, path, &deadline) < 0)
		return 111;
	for (i = 0; i < warmup + count; i++) {
		long long start = now_ns();
		int fd = s6_fdholder_retrieve_g(&h, id, &deadline);

		if (fd < 0) {
			fprintf(stderr, "s6retrieve: retrieve %s: %s\n", id, strerror(errno));
			return 1;
		}
		close(fd);
		if (i >= warmup)
			samples[i - warmup] = now_ns() - start;
	}
	s6_fdholder_end(&h);
	for (i = 0; i < count; i++)
		printf("%lld\n", samples[i]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "store") == 0)
		return store(argv[2], argv[3], atoi(argv[4]));
	if (argc == 6 && strcmp(argv[1], "retrieve") == 0)
		return retrieve(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	fprintf(stderr, "usage: s6retrieve store SOCKET ID PORT\n"
		"       s6retrieve retrieve SOCKET ID WARMUP COUNT\n");
	return 2;
}
