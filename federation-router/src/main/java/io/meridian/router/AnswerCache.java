package io.meridian.router;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Consistency;
import io.meridian.serving.Headers;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decorates a {@link ShardReader} with the router's cache of answers. A {@code CACHED} read is
 * answered from it while the entry is younger than the TTL ({@code header.cached}, {@code lag_ms}
 * at least the entry's age), else read {@code LOCAL} and remembered; so is every read that asks to
 * be remembered (discovery). When no region can answer (a failure in {@link
 * RoutingPolicy#REGION_DOWN}), a FAIL_OPEN namespace gets the cached answer of any age up to {@code
 * maxAge}, else the read's empty answer if it has one (discovery: an empty list), each with a
 * warning in the log; a FAIL_CLOSED namespace, and a read with no empty answer and nothing cached
 * (a range is never invented), gets the failure. The same question asked with another consistency
 * or wait shares an entry.
 *
 * <pre>{@code
 * ShardReader reads =
 *     AnswerCache.builder(ticker)
 *         .ttl(Duration.ofSeconds(5))
 *         .maxAge(Duration.ofMinutes(10))
 *         .maxEntries(100_000)
 *         .meterRegistry(registry)
 *         .newDecorator()
 *         .apply(shardReads);
 * }</pre>
 */
final class AnswerCache implements ShardReader {
  private static final Logger log = LoggerFactory.getLogger(AnswerCache.class);

  private record Key(String method, ByteString request) {}

  private record Entry(Message answer, long storedNanos) {}

  private final ShardReader delegate;
  private final Ticker ticker;
  private final long ttlMs;
  private final Cache<Key, Entry> cache;
  private final RouterMeters meters;

  AnswerCache(ShardReader delegate, Builder b) {
    this.delegate = requireNonNull(delegate, "delegate");
    this.ticker = b.ticker;
    this.ttlMs = b.ttl.toMillis();
    this.cache =
        Caffeine.newBuilder()
            .maximumSize(b.maxEntries)
            .expireAfterWrite(b.maxAge)
            .ticker(b.ticker)
            .build();
    this.meters = new RouterMeters(b.registry);
    Gauge.builder("meridian.router.cache.entries", cache.asMap(), Map::size)
        .description("Answers held in the router's answer cache")
        .register(b.registry);
  }

  /** A decorator with the cache settings of a router's configuration. */
  static Function<ShardReader, AnswerCache> newDecorator(
      RouterConfig.Cache settings, Ticker ticker) {
    return builder(ticker)
        .ttl(Duration.ofMillis(settings.ttlMs()))
        .maxAge(Duration.ofMillis(settings.maxAgeMs()))
        .maxEntries(settings.maxEntries())
        .newDecorator();
  }

  /** A builder whose entries age by {@code ticker}. */
  static Builder builder(Ticker ticker) {
    return new Builder(ticker);
  }

  @Override
  public <R extends Message> CompletableFuture<R> read(Read<R> read) {
    if (read.consistency() == Consistency.CACHED) {
      Entry hit = cache.getIfPresent(key(read.request()));
      if (hit != null) {
        long age = ageMillis(hit);
        if (age <= ttlMs) {
          meters.count("meridian.router.cache", "result", "hit");
          @SuppressWarnings("unchecked")
          R answer = (R) hit.answer();
          return CompletableFuture.completedFuture(fromCache(answer, age));
        }
      }
      meters.count("meridian.router.cache", "result", "miss");
      return fallBack(read, true, delegate.read(read));
    }
    if (RoutingPolicy.localFirst(read.consistency()) || read.remember()) {
      return fallBack(read, read.remember(), delegate.read(read));
    }
    return delegate.read(read);
  }

  /**
   * Remembers a successful answer; on failure, a fail-open namespace gets the cached answer of any
   * age, else {@code empty}; a fail-closed one gets the failure.
   */
  private <R extends Message> CompletableFuture<R> fallBack(
      Read<R> read, boolean remember, CompletableFuture<R> answer) {
    if (!remember && read.empty() == null) {
      return answer;
    }
    Key key = key(read.request());
    int shard = read.shard().id();
    return answer.handle(
        (r, failure) -> {
          if (failure == null) {
            if (remember) {
              cache.put(key, new Entry(r, ticker.read()));
            }
            return r;
          }
          MeridianException e = Router.unwrap(failure);
          if (!read.policy().failOpen() || !RoutingPolicy.REGION_DOWN.contains(e.code())) {
            throw e;
          }
          Entry old = cache.getIfPresent(key);
          if (old != null) {
            meters.count("meridian.router.cache", "result", "stale");
            log.warn(
                "shard {}: no region can answer ({}); fail-open with a cached answer {} ms old",
                shard,
                e.getMessage(),
                ageMillis(old));
            @SuppressWarnings("unchecked")
            R remembered = (R) old.answer();
            return fromCache(remembered, ageMillis(old));
          }
          Supplier<R> empty = read.empty();
          if (empty != null) {
            meters.count("meridian.router.cache", "result", "empty");
            log.warn(
                "shard {}: no region can answer ({}) and nothing is cached; fail-open with an"
                    + " empty answer",
                shard,
                e.getMessage());
            return Headers.with(
                empty.get(), h -> h.toBuilder().setShard(shard).setCached(true).build());
          }
          throw e;
        });
  }

  private static Key key(Message request) {
    Message.Builder b = request.toBuilder();
    // The same question asked with another consistency (or wait) shares the cached answer.
    for (String name : List.of("consistency", "wait_revision", "wait_ms")) {
      Descriptors.FieldDescriptor f = request.getDescriptorForType().findFieldByName(name);
      if (f != null) {
        b.clearField(f);
      }
    }
    return new Key(request.getDescriptorForType().getFullName(), b.build().toByteString());
  }

  private long ageMillis(Entry e) {
    return TimeUnit.NANOSECONDS.toMillis(ticker.read() - e.storedNanos());
  }

  private static <R extends Message> R fromCache(R answer, long ageMs) {
    return Headers.with(
        answer, h -> h.toBuilder().setCached(true).setLagMs(Math.max(h.getLagMs(), ageMs)).build());
  }

  /** Configures an {@link AnswerCache}: by default a 5 s TTL, 10 min max age, 100,000 entries. */
  static final class Builder {
    private final Ticker ticker;
    private Duration ttl = Duration.ofSeconds(5);
    private Duration maxAge = Duration.ofMinutes(10);
    private long maxEntries = 100_000;
    private MeterRegistry registry = new SimpleMeterRegistry();

    private Builder(Ticker ticker) {
      this.ticker = requireNonNull(ticker, "ticker");
    }

    /** How long an entry answers a CACHED read ({@code cache.ttl-ms}). */
    Builder ttl(Duration ttl) {
      if (ttl.isNegative()) {
        throw new IllegalArgumentException("ttl: " + ttl + " (expected: >= 0)");
      }
      this.ttl = ttl;
      return this;
    }

    /** How long an entry is kept for fail-open answers ({@code cache.max-age-ms}). */
    Builder maxAge(Duration maxAge) {
      if (maxAge.isNegative()) {
        throw new IllegalArgumentException("maxAge: " + maxAge + " (expected: >= 0)");
      }
      this.maxAge = maxAge;
      return this;
    }

    /** How many entries are kept at most ({@code cache.max-entries}). */
    Builder maxEntries(long maxEntries) {
      if (maxEntries < 0) {
        throw new IllegalArgumentException("maxEntries: " + maxEntries + " (expected: >= 0)");
      }
      this.maxEntries = maxEntries;
      return this;
    }

    /** Where the cache's meters go ({@code meridian.router.cache}, {@code ...cache.entries}). */
    Builder meterRegistry(MeterRegistry registry) {
      this.registry = requireNonNull(registry, "registry");
      return this;
    }

    /** The decorator; each reader it decorates has a cache of its own. */
    Function<ShardReader, AnswerCache> newDecorator() {
      if (maxAge.compareTo(ttl) < 0) {
        throw new IllegalStateException("maxAge: " + maxAge + " (expected: >= ttl " + ttl + ")");
      }
      return delegate -> new AnswerCache(delegate, this);
    }
  }
}
