package io.meridian.bridge;

import com.linecorp.armeria.client.retry.Backoff;
import io.meridian.api.MeridianException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InterruptException;

/**
 * How the source and the sink of a shard keep going: run a session until it ends; after a failure,
 * let the side judge it, pause with an exponential backoff (with jitter), and start a new session,
 * until the side is closed or the judgement is to stop.
 */
final class SessionLoop {
  private SessionLoop() {}

  /** One session: returns when it is done for good, throws when it failed. */
  interface Session {
    void run() throws InterruptedException;
  }

  /** What to do after a failed session. */
  enum Next {
    /** A new session after the next backoff step. */
    RETRY,
    /** A new session after a long pause: an operator has to fix something first. */
    RETRY_SLOWLY,
    /** No new session. */
    STOP
  }

  /** Judges a failure: logs it, reports it in the side's progress, and says what comes next. */
  interface Judge {
    Next failed(RuntimeException failure, int attempt);
  }

  /** Backoff steps after which a retry is as slow as the backoff allows. */
  private static final int SLOW_ATTEMPT = 30;

  /**
   * Runs {@code session} until it returns, {@code closed} says so, or {@code judge} says stop. A
   * Meridian or Kafka failure goes to {@code judge} (unless closing caused it); an interrupt ends
   * the loop.
   */
  static void run(BridgeConfig.Retry retry, BooleanSupplier closed, Session session, Judge judge) {
    Backoff backoff =
        Backoff.exponential(retry.initialBackoffMs(), retry.maxBackoffMs()).withJitter(0.2);
    int attempt = 0;
    while (!closed.getAsBoolean()) {
      try {
        session.run();
        return;
      } catch (InterruptedException | InterruptException e) {
        return;
      } catch (MeridianException | KafkaException e) {
        if (closed.getAsBoolean()) {
          return; // Closing interrupted the session.
        }
        attempt++;
        Next next = judge.failed(e, attempt);
        if (next == Next.STOP) {
          return;
        }
        if (next == Next.RETRY_SLOWLY) {
          attempt = Math.max(attempt, SLOW_ATTEMPT);
        }
      }
      try {
        TimeUnit.MILLISECONDS.sleep(Math.max(0, backoff.nextDelayMillis(attempt)));
      } catch (InterruptedException e) {
        return;
      }
    }
  }
}
