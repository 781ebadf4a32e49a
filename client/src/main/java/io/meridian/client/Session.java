package io.meridian.client;

import com.github.benmanes.caffeine.cache.Ticker;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeaseGrantResponse;
import io.meridian.api.v1.ResponseHeader;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A lease kept alive in the background: the unit of liveness that locks and registrations hang on.
 *
 * <p>The session renews its lease every third of its TTL. It counts the lease as alive until (send
 * time of the last acknowledged keep-alive) + TTL − a safety margin (a tenth of the TTL, between
 * 100 ms and 2 s): the server cannot expire the lease before then, whatever happened to the answer.
 * Past that instant without a newer acknowledgement, or as soon as the server says the lease is
 * gone, the session is lost, for good: {@link #lost()} completes and the listeners run. When an
 * acknowledgement comes from a new leader or a new epoch, the session also asks the lease's time to
 * live.
 *
 * <pre>{@code
 * try (Session session = client.leases().session("jobs", Duration.ofSeconds(10))) {
 *   session.onLost(loss -> stopWork(loss.reason()));
 *   while (session.isAlive()) { doWork(); }
 * } // close() revokes the lease
 * }</pre>
 */
public final class Session implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Session.class);

  /**
   * Why and when a session was lost. {@code deadlineNanos}: on the client's ticker ({@link
   * System#nanoTime()} unless the builder was given another).
   */
  public record Loss(long leaseId, String reason, long deadlineNanos) {}

  private final LeaseClient leases;
  private final ScheduledExecutorService timer;
  private final Ticker ticker;
  private final long id;
  private final long ttlNanos;
  private final long marginNanos;
  private final CompletableFuture<Loss> lost = new CompletableFuture<>();
  private final Object lock = new Object();
  // Guarded by lock.
  private long deadlineNanos;
  private ResponseHeader lastHeader;
  private ScheduledFuture<?> renewal;
  private ScheduledFuture<?> expiry;
  private boolean closed;

  private Session(
      LeaseClient leases,
      ScheduledExecutorService timer,
      Ticker ticker,
      LeaseGrantResponse granted,
      long sent) {
    this.leases = leases;
    this.timer = timer;
    this.ticker = ticker;
    this.id = granted.getId();
    this.ttlNanos = TimeUnit.SECONDS.toNanos(granted.getTtl());
    this.marginNanos =
        Math.max(
            TimeUnit.MILLISECONDS.toNanos(100),
            Math.min(TimeUnit.SECONDS.toNanos(2), ttlNanos / 10));
    this.deadlineNanos = sent + ttlNanos - marginNanos;
    this.lastHeader = granted.getHeader();
  }

  static Session start(
      LeaseClient leases,
      ScheduledExecutorService timer,
      Ticker ticker,
      LeaseGrantResponse granted,
      long sent) {
    Session s = new Session(leases, timer, ticker, granted, sent);
    synchronized (s.lock) {
      s.scheduleExpiry();
      s.scheduleRenewal(s.ttlNanos / 3);
    }
    return s;
  }

  public long leaseId() {
    return id;
  }

  public Duration ttl() {
    return Duration.ofNanos(ttlNanos);
  }

  /** Completes when the lease is lost (never when the session is closed). */
  public CompletableFuture<Loss> lost() {
    return lost;
  }

  /** Runs {@code listener} once, when the lease is lost (at once if it already was). */
  public void onLost(Consumer<Loss> listener) {
    lost.thenAccept(listener);
  }

  /** Whether the lease is still certainly alive: not lost, and its deadline not passed. */
  public boolean isAlive() {
    synchronized (lock) {
      return !lost.isDone() && ticker.read() < deadlineNanos;
    }
  }

  /** Until when, on the client's ticker, the lease is certainly alive. */
  public long deadlineNanos() {
    synchronized (lock) {
      return deadlineNanos;
    }
  }

  /** Stops renewing and revokes the lease (best effort: a failed revoke lets it expire). */
  @Override
  public void close() {
    closeAsync();
  }

  /** As {@link #close()}; completes when the revoke was answered (or failed). */
  public CompletableFuture<Void> closeAsync() {
    synchronized (lock) {
      if (closed) {
        return CompletableFuture.completedFuture(null);
      }
      closed = true;
      cancelTimers();
    }
    if (lost.isDone()) {
      return CompletableFuture.completedFuture(null);
    }
    return leases
        .revokeAsync(id)
        .handle(
            (r, t) -> {
              if (t != null) {
                log.debug("lease {}: revoke on close failed, it will expire: {}", id, t.toString());
              }
              return null;
            });
  }

  private void renew() {
    long sent = ticker.read();
    leases
        .renewAsync(id)
        .whenComplete(
            (r, t) -> {
              if (t != null) {
                if (notFound(t)) {
                  lose("the lease is gone (expired or revoked): " + t.getMessage());
                  return;
                }
                // The deadline timer declares the loss if no renewal gets through in time.
                retrySoon();
                return;
              }
              if (r.getTtl() <= 0) {
                lose("the leader reports the lease expired");
                return;
              }
              boolean moved;
              synchronized (lock) {
                if (closed || lost.isDone()) {
                  return;
                }
                deadlineNanos =
                    Math.max(
                        deadlineNanos, sent + TimeUnit.SECONDS.toNanos(r.getTtl()) - marginNanos);
                moved = movedOn(lastHeader, r.getHeader());
                lastHeader = r.getHeader();
                scheduleExpiry();
                scheduleRenewal(ttlNanos / 3);
              }
              if (moved) {
                verify();
              }
            });
  }

  /** After a leader or epoch change: the lease must still have time to live. */
  private void verify() {
    leases
        .timeToLiveAsync(id, false)
        .whenComplete(
            (ttl, t) -> {
              if (t == null && ttl.getTtl() <= 0) {
                lose("the new leader reports the lease expired");
              } else if (t != null && notFound(t)) {
                lose("the new leader does not know the lease: " + t.getMessage());
              }
            });
  }

  private static boolean notFound(Throwable t) {
    Throwable c = t instanceof java.util.concurrent.CompletionException ? t.getCause() : t;
    return c instanceof MeridianException m && m.code() == Error.Code.LEASE_NOT_FOUND;
  }

  private static boolean movedOn(ResponseHeader before, ResponseHeader now) {
    return before.getEpoch() != now.getEpoch()
        || before.getRaftTerm() != now.getRaftTerm()
        || !before.getLeader().equals(now.getLeader());
  }

  private void retrySoon() {
    synchronized (lock) {
      if (!closed && !lost.isDone()) {
        scheduleRenewal(Math.min(ttlNanos / 10, TimeUnit.MILLISECONDS.toNanos(500)));
      }
    }
  }

  private void lose(String reason) {
    long deadline;
    synchronized (lock) {
      if (closed || lost.isDone()) {
        return;
      }
      cancelTimers();
      deadline = deadlineNanos;
    }
    log.warn("lease {} lost: {}", id, reason);
    lost.complete(new Loss(id, reason, deadline));
  }

  // Under lock.
  private void scheduleRenewal(long delayNanos) {
    if (renewal != null) {
      renewal.cancel(false);
    }
    renewal = timer.schedule(this::renew, delayNanos, TimeUnit.NANOSECONDS);
  }

  // Under lock: (re)arms the check at the current deadline.
  private void scheduleExpiry() {
    if (expiry != null) {
      expiry.cancel(false);
    }
    long delay = deadlineNanos - ticker.read();
    expiry = timer.schedule(this::checkExpiry, Math.max(0, delay), TimeUnit.NANOSECONDS);
  }

  private void checkExpiry() {
    boolean due;
    synchronized (lock) {
      due = ticker.read() >= deadlineNanos;
      if (!due && !closed && !lost.isDone()) {
        scheduleExpiry();
      }
    }
    if (due) {
      lose("no keep-alive was acknowledged within the TTL minus the safety margin");
    }
  }

  // Under lock.
  private void cancelTimers() {
    if (renewal != null) {
      renewal.cancel(false);
    }
    if (expiry != null) {
      expiry.cancel(false);
    }
  }
}
