package io.meridian.testing.chaos;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks what lease holders (lock clients, registry instances) heard back from their grants and
 * renewals (keep-alives, heartbeats):
 *
 * <ul>
 *   <li>honesty: no lease ends (revoked, expired, its registry instance evicted) while its holder
 *       could still count on it, that is before a TTL has passed since the send time of its last
 *       acknowledged renewal (or of its grant) — the defect of a leader that wakes from a pause and
 *       expires leases by its stale deadlines (etcd #15247);
 *   <li>registry self-preservation, when a {@link Silence} was staged: once the silenced instances'
 *       missing heartbeats have filled a whole window, a heartbeat of an instance still beating
 *       reports self-preservation on, and no silenced instance is evicted for its silence.
 * </ul>
 */
public final class LeaseHonesty {
  /** Violations named in a verdict, at most. */
  static final int SHOWN = 20;

  /** What an answer said. */
  public enum Outcome {
    /** Granted (a registry instance registered): the lease runs for a TTL from the send. */
    GRANTED,
    /** A renewal (keep-alive, heartbeat) was acknowledged. */
    RENEWED,
    /**
     * A renewal or a use found the lease gone (a registry instance evicted). The workloads never
     * revoke or deregister while they hold.
     */
    ENDED
  }

  /**
   * One answered call of a holder.
   *
   * @param instance the holder: a lease, or the registry instance bound to it
   * @param sent when it was sent (nanoseconds); for a registration retried after lost answers, the
   *     first try's send
   * @param answered when the answer came
   * @param outcome what it said
   * @param ttlNanos the lease TTL the answer gave
   * @param selfPreservation whether a heartbeat's answer said self-preservation was on
   */
  public record Beat(
      String instance,
      long sent,
      long answered,
      Outcome outcome,
      long ttlNanos,
      boolean selfPreservation) {
    @Override
    public String toString() {
      return String.format(
          "%s %s [%d, %d] ttl %d ms%s",
          instance,
          outcome,
          sent,
          answered,
          ttlNanos / 1_000_000,
          selfPreservation ? " self-preservation" : "");
    }
  }

  /**
   * Instances whose heartbeats were dropped from {@code from} to {@code to}, as on the far side of
   * a partition; {@code window} is the length of the window the leader judges renewals over.
   */
  public record Silence(Set<String> instances, long from, long to, long window) {
    public Silence {
      instances = Set.copyOf(instances);
    }
  }

  private LeaseHonesty() {}

  /** Checks {@code beats} and, when not {@code null}, the effect of {@code silence}. */
  public static Verdict check(List<Beat> beats, Silence silence) {
    List<String> problems = new ArrayList<>();
    Map<String, List<Beat>> byInstance = new LinkedHashMap<>();
    beats.stream()
        .sorted(Comparator.comparingLong(Beat::sent))
        .forEach(b -> byInstance.computeIfAbsent(b.instance(), i -> new ArrayList<>()).add(b));
    int ends = 0;
    for (List<Beat> own : byInstance.values()) {
      long deadline = Long.MIN_VALUE;
      Beat counted = null;
      for (Beat b : own) {
        switch (b.outcome()) {
          case GRANTED, RENEWED -> {
            if (b.sent() + b.ttlNanos() > deadline) {
              deadline = b.sent() + b.ttlNanos();
              counted = b;
            }
          }
          case ENDED -> {
            ends++;
            if (b.answered() < deadline) {
              problems.add(
                  "ended while its holder could count on it: "
                      + b
                      + ", "
                      + (deadline - b.answered()) / 1_000_000
                      + " ms before the deadline of "
                      + counted);
            }
            deadline = Long.MIN_VALUE;
            counted = null;
          }
        }
      }
    }
    String preserved = "";
    if (silence != null) {
      preserved = checkSilence(byInstance, silence, problems);
    }
    if (problems.isEmpty()) {
      return new Verdict(
          true,
          beats.size()
              + " answers of "
              + byInstance.size()
              + " holders checked, "
              + ends
              + " ends, each after its holder could no longer count on it"
              + preserved,
          List.of());
    }
    return new Verdict(
        false,
        problems.size()
            + " lease violations:\n  "
            + String.join("\n  ", problems.subList(0, Math.min(SHOWN, problems.size()))),
        List.of());
  }

  private static String checkSilence(
      Map<String, List<Beat>> byInstance, Silence silence, List<String> problems) {
    // Renewals missing for a whole window: the window that holds the silence's start may be
    // partial, the next one is not; one more window of slack for the decision's commit.
    long engaged = silence.from() + 3 * silence.window();
    int reports = 0;
    int on = 0;
    for (Map.Entry<String, List<Beat>> e : byInstance.entrySet()) {
      if (silence.instances().contains(e.getKey())) {
        Beat first =
            e.getValue().stream().filter(b -> b.sent() > silence.to()).findFirst().orElse(null);
        if (first == null) {
          problems.add(e.getKey() + " never beat again after the silence");
        } else if (first.outcome() == Outcome.ENDED) {
          problems.add(
              "evicted for a silence that self-preservation should have covered: " + first);
        }
        continue;
      }
      for (Beat b : e.getValue()) {
        if (b.outcome() == Outcome.RENEWED && b.sent() > engaged && b.answered() < silence.to()) {
          reports++;
          if (b.selfPreservation()) {
            on++;
          }
        }
      }
    }
    if (reports == 0) {
      problems.add(
          "no heartbeat was answered while the silence should have engaged self-preservation");
    } else if (on == 0) {
      problems.add(
          reports + " heartbeats answered during the silence, none with self-preservation on");
    }
    return "; self-preservation reported on by "
        + on
        + " of "
        + reports
        + " heartbeats in the silence";
  }
}
