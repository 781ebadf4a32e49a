package io.meridian.cluster.raft;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.ratis.util.AwaitForSignal;

/**
 * The signal a log appender waits on between sends, kept when nobody waits. Ratis 3.3.0's {@link
 * AwaitForSignal} forgets a signal that comes while its thread is not inside {@code await}: a new
 * entry appended while the appender was busy deciding then waited for the appender's next timeout,
 * the heartbeat interval (500 ms here), which the benchmarks showed as writes taking 505 ms at
 * every concurrency. Here a signal is remembered until an {@code await} takes it.
 */
final class WakeupSignal extends AwaitForSignal {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition signalled = lock.newCondition();
  // Guarded by lock.
  private boolean pending;

  WakeupSignal(Object name) {
    super(name);
  }

  @Override
  public void await() throws InterruptedException {
    lock.lock();
    try {
      while (!pending) {
        signalled.await();
      }
      pending = false;
    } finally {
      lock.unlock();
    }
  }

  /** Returns at once (true) if signalled since the last await; else waits up to {@code time}. */
  @Override
  public boolean await(long time, TimeUnit unit) throws InterruptedException {
    lock.lock();
    try {
      long nanos = unit.toNanos(time);
      while (!pending && nanos > 0) {
        nanos = signalled.awaitNanos(nanos);
      }
      boolean woken = pending;
      pending = false;
      return woken;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void signal() {
    lock.lock();
    try {
      pending = true;
      signalled.signalAll();
    } finally {
      lock.unlock();
    }
  }
}
