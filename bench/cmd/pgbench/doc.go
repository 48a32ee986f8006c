// Command pgbench measures portgate against in-process binds and the peers
// that grant or pass privileged sockets (authbind, s6-fdholderd,
// systemd-socket-activate, socat, systemd-socket-proxyd, a firewall
// redirect). bench/run.sh drives it inside a network namespace of its own
// and runs `pgbench report` to write BENCHMARKS.md. It runs on Linux only.
//
//	pgbench grant     -mode listen|child|daemon ...   one sample per grant
//	pgbench scale     -mode helper|direct -n N ...    time and memory of N grants
//	pgbench coldstart -case helper|direct|activate ... start to first response
//	pgbench churn     -socket PATH ...                 Local Manager add/remove rate
//	pgbench pace      -url URL -rate N ...             latency at a fixed request rate
//	pgbench report    -out DIR -md FILE               BENCHMARKS.md from the raw results
package main
