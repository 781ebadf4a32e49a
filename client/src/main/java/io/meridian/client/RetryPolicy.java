package io.meridian.client;

import static java.util.Objects.requireNonNull;

import com.linecorp.armeria.client.circuitbreaker.FailFastException;
import com.linecorp.armeria.client.retry.Backoff;
import com.linecorp.armeria.client.retry.RetryRule;
import java.time.Duration;
import java.util.List;

/**
 * How the client retries a call that failed: the pauses between attempts (100 ms, 500 ms, 2 s by
 * default: four attempts in all) and what counts as retryable.
 *
 * <p>A call whose request never left the client (connection refused, circuit open, no endpoint) is
 * always retried on the next endpoint. A call that reached a member and came back {@code
 * UNAVAILABLE} (no leader, member overloaded), or whose answer never came (timeout, broken
 * connection), is retried only when repeating it cannot apply it twice: reads, and writes that
 * carry a request id the shard deduplicates. Other calls fail with {@code OUTCOME_UNKNOWN}.
 *
 * <pre>{@code
 * RetryPolicy.of(Duration.ofMillis(50), Duration.ofMillis(200)); // three attempts
 * }</pre>
 */
public final class RetryPolicy {
  private static final String UNAVAILABLE = "14";

  private final List<Duration> pauses;

  private RetryPolicy(List<Duration> pauses) {
    this.pauses = List.copyOf(pauses);
    for (Duration d : this.pauses) {
      if (d.isNegative()) {
        throw new IllegalArgumentException("retry pause: " + d + " (expected: >= 0)");
      }
    }
  }

  /** Retries after each of {@code pauses} in turn: {@code pauses.length + 1} attempts in all. */
  public static RetryPolicy of(Duration... pauses) {
    return new RetryPolicy(List.of(pauses));
  }

  /** 100 ms, 500 ms, 2 s. */
  public static RetryPolicy ofDefault() {
    return of(Duration.ofMillis(100), Duration.ofMillis(500), Duration.ofSeconds(2));
  }

  /** No retries at all: one attempt. */
  public static RetryPolicy none() {
    return of();
  }

  public List<Duration> pauses() {
    return pauses;
  }

  /** Attempts in all, the first one included. */
  public int maxAttempts() {
    return pauses.size() + 1;
  }

  Backoff backoff() {
    return attemptsSoFar ->
        attemptsSoFar <= pauses.size() ? pauses.get(attemptsSoFar - 1).toMillis() : -1;
  }

  /** The rule for calls that are safe to repeat. */
  RetryRule idempotent() {
    Backoff backoff = backoff();
    return RetryRule.of(
        neverSent(backoff),
        RetryRule.builder()
            // A member's other answers are final: DEADLINE_EXCEEDED from a member is a lock wait
            // or a blocking read that ran out (LOCK_TIMEOUT), not a lost request.
            .onGrpcTrailers((ctx, trailers) -> UNAVAILABLE.equals(trailers.get("grpc-status")))
            .thenBackoff(backoff),
        // Any transport failure: a reset stream, a timeout, a member gone mid-call.
        RetryRule.builder().onException().thenBackoff(backoff));
  }

  /** The rule for calls that must not be repeated once a member may have seen them. */
  RetryRule atMostOnce() {
    return neverSent(backoff());
  }

  private static RetryRule neverSent(Backoff backoff) {
    return RetryRule.of(
        RetryRule.builder().onUnprocessed().thenBackoff(backoff),
        RetryRule.builder().onException(FailFastException.class).thenBackoff(backoff));
  }

  @Override
  public String toString() {
    return "RetryPolicy" + requireNonNull(pauses);
  }
}
