package io.meridian.router;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The router's counters and timers by name and tags ({@code "route", "primary", "region",
 * "us-east"}), each registered once and then found without a registry lookup on the request path.
 * Every name is described here, once; an undescribed name is a programming error.
 */
final class RouterMeters {
  private static final Map<String, String> DESCRIPTIONS =
      Map.of(
          "meridian.router.requests",
          "Upstream calls by route, region and Meridian code (OPEN: refused by the region's breaker)",
          "meridian.router.upstream.latency",
          "Time of upstream calls by route and region",
          "meridian.router.cache",
          "Answer cache lookups by result (hit, miss, stale, empty)",
          "meridian.router.fallbacks",
          "LOCAL reads served by another region, by from, to and reason");

  /**
   * Upper bounds of the latency histogram's buckets: a dozen series per route and region rather
   * than the 70 of a percentile histogram, from a loopback hop to a cross-region timeout.
   */
  private static final Duration[] LATENCY_BUCKETS = {
    Duration.ofMillis(1),
    Duration.ofMillis(2),
    Duration.ofMillis(5),
    Duration.ofMillis(10),
    Duration.ofMillis(25),
    Duration.ofMillis(50),
    Duration.ofMillis(100),
    Duration.ofMillis(250),
    Duration.ofMillis(500),
    Duration.ofSeconds(1),
    Duration.ofMillis(2500),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10)
  };

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
            name + String.join(",", tags),
            k -> Counter.builder(name).description(describe(name)).tags(tags).register(registry))
        .increment();
  }

  /** The timer {@code name} with {@code tags}, with a histogram of {@link #LATENCY_BUCKETS}. */
  Timer timer(String name, String... tags) {
    return timers.computeIfAbsent(
        name + String.join(",", tags),
        k ->
            Timer.builder(name)
                .description(describe(name))
                .tags(tags)
                .serviceLevelObjectives(LATENCY_BUCKETS)
                .register(registry));
  }

  private static String describe(String name) {
    String description = DESCRIPTIONS.get(name);
    if (description == null) {
      throw new IllegalArgumentException(
          "meter: " + name + " (expected: one of " + DESCRIPTIONS.keySet() + ")");
    }
    return description;
  }
}
