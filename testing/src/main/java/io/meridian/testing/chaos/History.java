package io.meridian.testing.chaos;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The operations of a workload's clients, recorded as they complete, with one clock for all of
 * them. Thread-safe: every client records into the same history.
 */
public final class History {
  private final List<Operation> operations = new ArrayList<>();
  private final AtomicInteger ids = new AtomicInteger();

  /** The clock every invocation and completion time comes from. */
  public long now() {
    return System.nanoTime();
  }

  /** Records an operation that was invoked at {@code invoked} and completes now. */
  public Operation record(
      int client,
      Operation.Kind kind,
      String key,
      String value,
      String expected,
      long invoked,
      Operation.Outcome outcome) {
    Operation op =
        new Operation(
            ids.getAndIncrement(), client, kind, key, value, expected, invoked, now(), outcome);
    synchronized (operations) {
      operations.add(op);
    }
    return op;
  }

  /** Every operation recorded so far, in invocation order. */
  public List<Operation> operations() {
    List<Operation> copy;
    synchronized (operations) {
      copy = new ArrayList<>(operations);
    }
    copy.sort(Comparator.comparingLong(Operation::invoked));
    return copy;
  }

  /** Writes every operation, one per line, to {@code file}. */
  public void write(Path file) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.write(file, operations().stream().map(Operation::toString).toList());
  }
}
