package io.meridian.bench;

import org.HdrHistogram.Histogram;

/**
 * One row of the results table. Latencies are in microseconds; {@code opsPerSecond} counts
 * successful operations (for lock workloads: acquire+release pairs) per second of the measured
 * window; {@code cpuMsPerOp} is the server processes' CPU time over the window per operation (NaN
 * when not measured).
 */
record Result(
    String workload,
    String load,
    double opsPerSecond,
    long p50,
    long p99,
    long p999,
    long max,
    long count,
    long errors,
    String firstError,
    double cpuMsPerOp) {

  Result(
      String workload,
      String load,
      double opsPerSecond,
      long p50,
      long p99,
      long p999,
      long max,
      long count,
      long errors,
      String firstError) {
    this(workload, load, opsPerSecond, p50, p99, p999, max, count, errors, firstError, Double.NaN);
  }

  /** This result with the servers' CPU time over its window, {@code cpuMs}, spread over its ops. */
  Result withCpu(double cpuMs) {
    return new Result(
        workload,
        load,
        opsPerSecond,
        p50,
        p99,
        p999,
        max,
        count,
        errors,
        firstError,
        count == 0 ? Double.NaN : cpuMs / count);
  }

  static Result of(
      String workload,
      String load,
      Histogram latencies,
      double seconds,
      long errors,
      String firstError) {
    return new Result(
        workload,
        load,
        latencies.getTotalCount() / seconds,
        latencies.getValueAtPercentile(50),
        latencies.getValueAtPercentile(99),
        latencies.getValueAtPercentile(99.9),
        latencies.getMaxValue(),
        latencies.getTotalCount(),
        errors,
        firstError);
  }

  /** A one-line summary for progress output. */
  String summary() {
    return String.format(
        "%s [%s]: %.0f ops/s, p50 %d us, p99 %d us, p99.9 %d us, max %d us, %d errors%s%s",
        workload,
        load,
        opsPerSecond,
        p50,
        p99,
        p999,
        max,
        errors,
        firstError == null ? "" : " (first: " + firstError + ")",
        Double.isNaN(cpuMsPerOp) ? "" : String.format(", CPU %.3f ms/op", cpuMsPerOp));
  }
}
