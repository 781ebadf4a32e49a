package io.meridian.client;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import com.linecorp.armeria.client.circuitbreaker.CircuitBreaker;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Instance;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Service discovery that degrades instead of failing: a fresh answer from the registry; else the
 * last good answer from the cache, marked stale with its age; else the static instances configured
 * for the service; else, by the service's policy, an empty answer with a warning (fail-open, the
 * default) or {@link DiscoveryUnavailableException} (fail-closed).
 *
 * <p>{@link #choose} picks an instance for a call, round-robin over the passing ones, skipping
 * those whose own circuit breaker is open; report each call's outcome with {@link #recordSuccess}
 * and {@link #recordFailure}.
 *
 * <pre>{@code
 * Instance target = client.discovery().choose("shop", "payments");
 * try {
 *   callPayments(target);
 *   client.discovery().recordSuccess(target);
 * } catch (IOException e) {
 *   client.discovery().recordFailure(target);
 * }
 * }</pre>
 */
public final class Discovery {
  private static final Logger log = LoggerFactory.getLogger(Discovery.class);

  /** Where an answer came from. */
  public enum Source {
    /** The registry answered this call. */
    REGISTRY,
    /**
     * The last answer the registry gave, {@link Result#age()} old: young enough to use without
     * asking ({@link Options#freshFor()}), or the registry was unreachable ({@link
     * Result#stale()}).
     */
    CACHE,
    /** The registry was unreachable and nothing was cached: the configured static instances. */
    STATIC,
    /** Nothing at all: an empty answer under a fail-open policy. */
    NONE
  }

  /** What to do when neither the registry, the cache nor static instances can answer. */
  public enum Policy {
    FAIL_OPEN,
    FAIL_CLOSED
  }

  /**
   * An answer: the instances, where they came from, how old they are (zero when just fetched), and
   * whether it is stale: given because the registry could not be asked.
   */
  public record Result(List<Instance> instances, Source source, Duration age, boolean stale) {}

  /**
   * How discovery caches and degrades.
   *
   * @param maxStaleness the oldest cached answer used when the registry is unreachable
   * @param maxCachedServices how many services' answers are cached
   * @param staticInstances instances per {@code namespace/service} for when nothing is cached
   * @param policies fail-open or fail-closed per {@code namespace/service}
   * @param defaultPolicy the policy of every other service
   * @param freshFor answers younger than this are served from the cache without asking the registry
   *     (0: always ask); only for {@link #discoverAsync(String, String)}
   */
  public record Options(
      Duration maxStaleness,
      long maxCachedServices,
      Map<String, List<Instance>> staticInstances,
      Map<String, Policy> policies,
      Policy defaultPolicy,
      Duration freshFor) {
    /** As the full constructor, always asking the registry ({@code freshFor} 0). */
    public Options(
        Duration maxStaleness,
        long maxCachedServices,
        Map<String, List<Instance>> staticInstances,
        Map<String, Policy> policies,
        Policy defaultPolicy) {
      this(
          maxStaleness, maxCachedServices, staticInstances, policies, defaultPolicy, Duration.ZERO);
    }

    /**
     * Cached answers up to 10 minutes old, 10,000 services, no static instances, fail-open, always
     * ask the registry.
     */
    public static Options defaults() {
      return new Options(Duration.ofMinutes(10), 10_000, Map.of(), Map.of(), Policy.FAIL_OPEN);
    }

    /** These options, serving answers younger than {@code freshFor} from the cache. */
    public Options withFreshFor(Duration freshFor) {
      return new Options(
          maxStaleness, maxCachedServices, staticInstances, policies, defaultPolicy, freshFor);
    }

    Policy policyFor(String key) {
      return policies.getOrDefault(key, defaultPolicy);
    }
  }

  private record Cached(List<Instance> instances, long atNanos) {}

  private final RegistryClient registry;
  private final Options options;
  private final Cache<String, Cached> cache;
  private final Map<String, CircuitBreaker> breakers = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> cursors = new ConcurrentHashMap<>();
  private final java.util.function.Function<String, CircuitBreaker> newBreaker;
  private final Ticker ticker;

  Discovery(
      RegistryClient registry,
      Options options,
      java.util.function.Function<String, CircuitBreaker> newBreaker,
      Ticker ticker) {
    this.registry = registry;
    this.options = options;
    this.newBreaker = newBreaker;
    this.ticker = ticker;
    this.cache =
        Caffeine.newBuilder()
            .ticker(ticker)
            .maximumSize(options.maxCachedServices())
            .expireAfterWrite(options.maxStaleness())
            .build();
  }

  /** Service keys for static instances and policies are {@code namespace/service}. */
  static String key(String namespace, String service) {
    return namespace + "/" + service;
  }

  /**
   * The passing instances of {@code service}: from the cache while its answer is younger than
   * {@link Options#freshFor()}, else from the registry, degrading as the class describes.
   */
  public CompletableFuture<Result> discoverAsync(String namespace, String service) {
    long freshForNanos = options.freshFor().toNanos();
    if (freshForNanos > 0) {
      Cached cached = cache.getIfPresent(key(namespace, service));
      if (cached != null) {
        long age = ticker.read() - cached.atNanos();
        if (age < freshForNanos) {
          return CompletableFuture.completedFuture(
              new Result(cached.instances(), Source.CACHE, Duration.ofNanos(age), false));
        }
      }
    }
    return discoverAsync(
        DiscoverRequest.newBuilder()
            .setNamespace(namespace)
            .setService(service)
            .setPassingOnly(true)
            .build());
  }

  /** As {@link #discoverAsync(String, String)} with the request's filters. */
  public CompletableFuture<Result> discoverAsync(DiscoverRequest request) {
    String key = key(request.getNamespace(), request.getService());
    return registry
        .discoverAsync(request)
        .handle(
            (fresh, t) -> {
              if (t == null) {
                cache.put(key, new Cached(fresh.getInstancesList(), ticker.read()));
                return new Result(fresh.getInstancesList(), Source.REGISTRY, Duration.ZERO, false);
              }
              MeridianException cause = unwrap(t);
              if (!unreachable(cause)) {
                throw new CompletionException(cause);
              }
              return degraded(key, cause);
            });
  }

  public Result discover(String namespace, String service) {
    return Unary.await(discoverAsync(namespace, service));
  }

  private Result degraded(String key, MeridianException cause) {
    Cached cached = cache.getIfPresent(key);
    if (cached != null) {
      Duration age = Duration.ofNanos(ticker.read() - cached.atNanos());
      log.warn(
          "discovery {}: registry unreachable ({}); using the cached answer, {} old",
          key,
          cause.getMessage(),
          age);
      return new Result(cached.instances(), Source.CACHE, age, true);
    }
    List<Instance> fixed = options.staticInstances().get(key);
    if (fixed != null) {
      log.warn(
          "discovery {}: registry unreachable ({}); using static instances",
          key,
          cause.getMessage());
      return new Result(fixed, Source.STATIC, Duration.ZERO, true);
    }
    if (options.policyFor(key) == Policy.FAIL_CLOSED) {
      throw new DiscoveryUnavailableException(key, cause);
    }
    log.warn(
        "discovery {}: registry unreachable ({}), nothing cached or configured; failing open"
            + " with no instances",
        key,
        cause.getMessage());
    return new Result(List.of(), Source.NONE, Duration.ZERO, true);
  }

  /**
   * An instance of {@code service} to call: round-robin over the discovered instances whose circuit
   * breaker lets a call through.
   *
   * @throws DiscoveryUnavailableException when there is none (all breakers open, or none found)
   */
  public Instance choose(String namespace, String service) {
    String key = key(namespace, service);
    List<Instance> instances = discover(namespace, service).instances();
    if (!instances.isEmpty()) {
      long start = cursors.computeIfAbsent(key, k -> new AtomicLong()).getAndIncrement();
      for (int i = 0; i < instances.size(); i++) {
        Instance candidate = instances.get((int) Math.floorMod(start + i, (long) instances.size()));
        if (breaker(candidate).tryRequest()) {
          return candidate;
        }
      }
    }
    throw new DiscoveryUnavailableException(
        key,
        MeridianException.of(
            Error.Code.UNAVAILABLE,
            "%s: %s",
            key,
            instances.isEmpty()
                ? "no instances"
                : "every instance's circuit breaker is open (" + instances.size() + " instances)"));
  }

  /** Records a successful call to {@code instance} in its circuit breaker. */
  public void recordSuccess(Instance instance) {
    breaker(instance).onSuccess();
  }

  /** Records a failed call to {@code instance}; enough failures open its circuit breaker. */
  public void recordFailure(Instance instance) {
    breaker(instance).onFailure();
  }

  /** The circuit breaker of {@code instance} (one per namespace/service/id). */
  public CircuitBreaker breaker(Instance instance) {
    String id = instance.getNamespace() + "/" + instance.getService() + "/" + instance.getId();
    return breakers.computeIfAbsent(id, newBreaker);
  }

  private static MeridianException unwrap(Throwable t) {
    Throwable c = MeridianException.causeOf(t);
    return c instanceof MeridianException m
        ? m
        : new MeridianException(Error.Code.UNAVAILABLE, String.valueOf(c));
  }

  private static boolean unreachable(MeridianException e) {
    return e.code() == Error.Code.UNAVAILABLE || e.code() == Error.Code.DEADLINE_EXCEEDED;
  }
}
