/**
 * The benchmark harness ({@code bench/run}): starts a 3-node region cluster as separate JVMs,
 * drives it with Armeria's asynchronous gRPC stubs and prints its configuration and a Markdown
 * table of throughput and latency. A tool, not a server: it reads the wall clock ({@link
 * System#nanoTime()}) because measuring wall time is its job.
 */
package io.meridian.bench;
