package io.meridian.router;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The router's counters and timers by name and tags ({@code "route", "primary", "region",
 * "us-east"}), each registered once and then found without a registry lookup on the request path.
 */
final class RouterMeters {
  private final MeterRegistry registry;
  private final Map<String, Counter> counters = new ConcurrentHashMap<>();
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();

  RouterMeters(MeterRegistry registry) {
    this.registry = registry;
  }

  MeterRegistry registry() {
    return registry;
  }

  /** Adds one to the counter {@code name} with {@code tags} (name, value, name, value...). */
  void count(String name, String... tags) {
    counters
        .computeIfAbsent(
            name + String.join(",", tags), k -> Counter.builder(name).tags(tags).register(registry))
        .increment();
  }

  /** The timer {@code name} with {@code tags}, with a percentile histogram. */
  Timer timer(String name, String... tags) {
    return timers.computeIfAbsent(
        name + String.join(",", tags),
        k -> Timer.builder(name).tags(tags).publishPercentileHistogram().register(registry));
  }
}
