package io.meridian.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.KafkaException;
import org.junit.jupiter.api.Test;

/** The retry loop the source and the sink share, with a 1-2 ms backoff. */
class SessionLoopTest {
  private static final BridgeConfig.Retry FAST = new BridgeConfig.Retry(1L, 2L);

  @Test
  void failedSessionsAreJudgedAndRetriedUntilOneReturns() {
    AtomicInteger sessions = new AtomicInteger();
    List<Integer> attempts = new ArrayList<>();
    SessionLoop.run(
        FAST,
        () -> false,
        () -> {
          if (sessions.incrementAndGet() < 3) {
            throw new KafkaException("broker gone");
          }
        },
        (e, attempt) -> {
          attempts.add(attempt);
          return SessionLoop.Next.RETRY;
        });
    assertThat(sessions).hasValue(3);
    assertThat(attempts).containsExactly(1, 2);
  }

  @Test
  void aSlowRetryJumpsToTheLongestBackoffStep() {
    AtomicInteger sessions = new AtomicInteger();
    List<Integer> attempts = new ArrayList<>();
    SessionLoop.run(
        FAST,
        () -> false,
        () -> {
          if (sessions.incrementAndGet() < 3) {
            throw MeridianException.of(Error.Code.CHAIN_MISMATCH, "needs an operator");
          }
        },
        (e, attempt) -> {
          attempts.add(attempt);
          return SessionLoop.Next.RETRY_SLOWLY;
        });
    assertThat(attempts).containsExactly(1, 31);
  }

  @Test
  void aStopEndsTheLoopWithoutAnotherSession() {
    AtomicInteger sessions = new AtomicInteger();
    SessionLoop.run(
        FAST,
        () -> false,
        () -> {
          sessions.incrementAndGet();
          throw MeridianException.of(Error.Code.FENCED, "fenced");
        },
        (e, attempt) -> SessionLoop.Next.STOP);
    assertThat(sessions).hasValue(1);
  }

  @Test
  void aFailureCausedByClosingIsNotJudged() {
    AtomicBoolean closed = new AtomicBoolean();
    AtomicInteger judged = new AtomicInteger();
    SessionLoop.run(
        FAST,
        closed::get,
        () -> {
          closed.set(true);
          throw new KafkaException("closed under us");
        },
        (e, attempt) -> {
          judged.incrementAndGet();
          return SessionLoop.Next.RETRY;
        });
    assertThat(judged).hasValue(0);
  }

  @Test
  void aClosedLoopStartsNoSession() {
    AtomicInteger sessions = new AtomicInteger();
    SessionLoop.run(FAST, () -> true, sessions::incrementAndGet, (e, a) -> SessionLoop.Next.RETRY);
    assertThat(sessions).hasValue(0);
  }
}
