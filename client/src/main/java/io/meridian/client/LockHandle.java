package io.meridian.client;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockAcquireResponse;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.TxnRequest;
import io.meridian.api.v1.TxnResponse;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A held lock: its fencing token, whether it is still certainly held, and writes fenced on it.
 * Closing it releases the lock.
 *
 * <pre>{@code
 * try (LockHandle h = client.locks().lock("/jobs/locks/report", Duration.ofSeconds(10))) {
 *   h.onLost(loss -> abortReport());
 *   // Applied only while this holder still holds the lock (the shard checks the token):
 *   h.fencedTxn(List.of(RequestOp.newBuilder().setRequestPut(put).build()));
 * }
 * }</pre>
 */
public final class LockHandle implements AutoCloseable {
  private final LockClient locks;
  private final Session session;
  private final LockAcquireResponse granted;
  private final AtomicBoolean released = new AtomicBoolean();

  LockHandle(LockClient locks, Session session, LockAcquireResponse granted) {
    this.locks = locks;
    this.session = session;
    this.granted = granted;
  }

  public String name() {
    return granted.getName();
  }

  /**
   * The token to hand to the storage this lock protects: it strictly increases across holders,
   * leader changes and region failovers, so the storage can refuse a write with a smaller one.
   */
  public long fencingToken() {
    return granted.getFencingToken();
  }

  /** The acquire's answer: name, lease, fencing token, the holder's key and the response header. */
  public LockAcquireResponse granted() {
    return granted;
  }

  /** The session (lease) the lock is held through. */
  public Session session() {
    return session;
  }

  /**
   * Whether the lock is still certainly held: not released, and its session's lease certainly alive
   * ({@link Session#isAlive()}). Once false it stays false.
   */
  public boolean isValid() {
    return !released.get() && session.isAlive();
  }

  /** Completes when the lock is lost with its session (never when it is released). */
  public CompletableFuture<Session.Loss> lost() {
    return session.lost();
  }

  /** Runs {@code listener} when the lock is lost with its session. */
  public void onLost(java.util.function.Consumer<Session.Loss> listener) {
    session.onLost(listener);
  }

  /**
   * Runs {@code ops} atomically if and only if this holder still holds the lock, checked by the
   * shard against the fencing token. Fails with {@code FENCED} when it does not.
   */
  public CompletableFuture<TxnResponse> fencedTxnAsync(List<RequestOp> ops) {
    TxnRequest txn =
        TxnRequest.newBuilder()
            .addCompare(
                Compare.newBuilder()
                    .setTarget(Compare.Target.LOCK_TOKEN)
                    .setResult(Compare.Result.EQUAL)
                    .setKey(name())
                    .setLockToken(fencingToken()))
            .addAllSuccess(ops)
            .build();
    return locks
        .kv()
        .txnAsync(txn)
        .thenApply(
            r -> {
              if (!r.getSucceeded()) {
                throw MeridianException.of(
                    Error.Code.FENCED,
                    "lock %s: token %d no longer holds it; the write was not applied",
                    name(),
                    fencingToken());
              }
              return r;
            });
  }

  public TxnResponse fencedTxn(List<RequestOp> ops) {
    return Unary.await(fencedTxnAsync(ops));
  }

  /** Releases the lock (once; a lock lost with its session needs no release). */
  public CompletableFuture<Void> releaseAsync() {
    if (!released.compareAndSet(false, true)) {
      return CompletableFuture.completedFuture(null);
    }
    return locks.release(name(), session.leaseId());
  }

  @Override
  public void close() {
    if (session.lost().isDone()) {
      released.set(true);
      return;
    }
    Unary.await(releaseAsync());
  }
}
