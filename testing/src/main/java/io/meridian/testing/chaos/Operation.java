package io.meridian.testing.chaos;

/**
 * One client operation on one key of a register, from its invocation to its completion, as a
 * linearizability checker needs it.
 *
 * @param id the operation's number in its history, unique
 * @param client the client (a thread with one operation in flight at a time) that issued it
 * @param kind read, write, or compare-and-set
 * @param key the register
 * @param value a write's value or a compare-and-set's new value; for a read, the value it returned
 *     ({@code null}: the key was absent)
 * @param expected a compare-and-set's expected value ({@code null}: the key must be absent)
 * @param invoked when the client sent it (nanoseconds, one clock for the whole history)
 * @param completed when its answer came back; for an {@link Outcome#UNKNOWN} operation, when the
 *     client gave up on it (the operation may take effect at any later time)
 * @param outcome whether it took effect
 */
public record Operation(
    int id,
    int client,
    Kind kind,
    String key,
    String value,
    String expected,
    long invoked,
    long completed,
    Outcome outcome) {

  /** What the client asked for. */
  public enum Kind {
    READ,
    WRITE,
    /** Sets {@code value} if the register holds {@code expected}. */
    CAS
  }

  /**
   * What the client learned of the operation's effect. An operation refused before it was proposed
   * (not the leader, bad input) is not recorded at all: it had no effect and observed nothing.
   */
  public enum Outcome {
    /** Took effect: a read with the value it returned, a write, a compare-and-set that held. */
    OK,
    /** A compare-and-set whose comparison did not hold: no effect, but the register differed. */
    FAILED,
    /** Timed out or lost its connection: it may take effect, once, at any time after invocation. */
    UNKNOWN
  }

  public Operation {
    if (completed < invoked) {
      throw new IllegalArgumentException("operation " + id + " completes before it is invoked");
    }
  }

  @Override
  public String toString() {
    String what =
        switch (kind) {
          case READ -> "read " + key + " -> " + value;
          case WRITE -> "write " + key + " := " + value;
          case CAS -> "cas " + key + " " + expected + " -> " + value;
        };
    return String.format(
        "#%d client %d %s %s [%d, %d]", id, client, what, outcome, invoked, completed);
  }
}
