package io.meridian.testing.chaos;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Clients doing one kind of work against a {@link ChaosRegion}, and the checks of what they saw.
 */
public interface Workload {
  /** A short name, for logs and evidence files. */
  String name();

  /** Starts the clients; they run until {@link #stop()}. */
  void start();

  /** Stops the clients and waits for each to finish its operation in flight. */
  void stop() throws InterruptedException;

  /** Whether an operation sent after {@code nanos} (System.nanoTime) has succeeded. */
  boolean servedSince(long nanos);

  /** How many operations the clients completed. */
  int operations();

  /**
   * Checks what the clients saw, against the healed region where a check needs to read it and what
   * {@code nemesis} did where a check needs to know when faults were in force.
   */
  List<Verdict> check(ChaosRegion region, Nemesis nemesis) throws IOException, InterruptedException;

  /** Writes what the clients did into {@code dir}, for a violation's evidence. */
  void write(Path dir) throws IOException;
}
