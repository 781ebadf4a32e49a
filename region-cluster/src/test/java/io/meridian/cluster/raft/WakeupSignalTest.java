package io.meridian.cluster.raft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.util.AwaitForSignal;
import org.junit.jupiter.api.Test;

class WakeupSignalTest {
  @Test
  void aSignalBeforeTheWaitEndsTheWaitAtOnce() throws InterruptedException {
    WakeupSignal signal = new WakeupSignal("test");
    signal.signal();
    long start = System.nanoTime();
    assertThat(signal.await(30, TimeUnit.SECONDS)).isTrue();
    assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(10));
    // Taken by that wait: the next one times out.
    assertThat(signal.await(20, TimeUnit.MILLISECONDS)).isFalse();
  }

  @Test
  void ratisOwnSignalForgetsASignalThatCameBeforeTheWait() throws InterruptedException {
    // What WakeupSignal corrects (Ratis 3.3.0): if this starts passing, the correction can go.
    AwaitForSignal ratis = new AwaitForSignal("ratis");
    ratis.signal();
    assertThat(ratis.await(20, TimeUnit.MILLISECONDS)).isFalse();
  }

  @Test
  void aSignalDuringTheWaitEndsIt() throws InterruptedException {
    WakeupSignal signal = new WakeupSignal("test");
    CountDownLatch waiting = new CountDownLatch(1);
    boolean[] woken = new boolean[1];
    Thread waiter =
        new Thread(
            () -> {
              waiting.countDown();
              try {
                woken[0] = signal.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    waiter.start();
    waiting.await();
    signal.signal();
    waiter.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(waiter.isAlive()).isFalse();
    assertThat(woken[0]).isTrue();
  }
}
