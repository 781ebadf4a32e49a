package io.meridian.cluster.replication;

import io.meridian.cluster.proto.SetWriteAuthority;
import java.util.Optional;

/**
 * The write authority of a federated PRIMARY, leased from the replication log: it may take writes
 * and grant locks only while what it commits reaches the change topic within {@code authorityMs}.
 * Once the oldest revision the bridge has not reported shipped is older than that on the leader's
 * clock, or the bridge has not reported at all for that long (it reports every second, after a
 * Kafka transaction that proves its producer is still the shard's: so a quiet primary cut off from
 * Kafka, or whose source was fenced, stops too), the leader commits that the authority is lost;
 * once both hold again, that it is held again. A shard no bridge ever reported to (single-region)
 * owes nothing and is never fenced.
 *
 * <p>The decision is the leader's, on its clock, and committed with {@code SetWriteAuthority}: the
 * state machine keeps the flag (and refuses writes while it is lost) but reads no clock, so every
 * member applies alike and the next leader keeps the flag until it decides. This class only
 * decides: it reads nothing and proposes nothing.
 */
public final class WriteAuthority {
  /** The oldest revision not reported shipped, and when its command was proposed (leader clock). */
  public record Unshipped(long revision, long commitTimeMs) {}

  private final long authorityMs;

  /**
   * @param authorityMs how long a committed revision may go unshipped before writes stop; 0 turns
   *     the lease off (a lost authority is then given back at the next check)
   */
  public WriteAuthority(long authorityMs) {
    if (authorityMs < 0) {
      throw new IllegalArgumentException("authorityMs: " + authorityMs + " (expected: >= 0)");
    }
    this.authorityMs = authorityMs;
  }

  /** How long a committed revision may go unshipped; 0: off. */
  public long authorityMs() {
    return authorityMs;
  }

  /**
   * The change to commit, or empty to leave the authority as it is.
   *
   * @param lost the committed flag: empty while held, else why it was lost
   * @param oldest the oldest revision not reported shipped; empty when none is owed
   * @param shipped the shipped revision the bridge reported
   * @param lastReportMs when the bridge last reported (the leader's clock when that report was
   *     proposed); 0 if no bridge ever reported
   * @param nowMs the leader's wall clock, the clock commit times were stamped with
   */
  public Optional<SetWriteAuthority> decide(
      String lost, Optional<Unshipped> oldest, long shipped, long lastReportMs, long nowMs) {
    boolean held = lost.isEmpty();
    if (authorityMs == 0) {
      return held ? Optional.empty() : Optional.of(held("write authority is off in the config"));
    }
    if (oldest.isPresent()) {
      long age = nowMs - oldest.get().commitTimeMs();
      if (age > authorityMs) {
        return held
            ? Optional.of(
                SetWriteAuthority.newBuilder()
                    .setHeld(false)
                    .setReason(
                        String.format(
                            "revision %d committed %d ms ago has not reached the change topic"
                                + " (the limit is %d ms); writes resume when shipping catches up",
                            oldest.get().revision(), age, authorityMs))
                    .build())
            : Optional.empty();
      }
    }
    long silence = nowMs - lastReportMs;
    if (lastReportMs > 0 && silence > authorityMs) {
      return held
          ? Optional.of(
              SetWriteAuthority.newBuilder()
                  .setHeld(false)
                  .setReason(
                      String.format(
                          "the replication bridge has not reported for %d ms (the limit is %d"
                              + " ms): the change topic may be out of reach or this region's"
                              + " source fenced; writes resume when it reports again",
                          silence, authorityMs))
                  .build())
          : Optional.empty();
    }
    if (held) {
      return Optional.empty();
    }
    return Optional.of(
        held(
            oldest.isEmpty()
                ? "shipping caught up: every revision through " + shipped + " is shipped"
                : String.format(
                    "shipping caught up to revision %d: the oldest unshipped one, %d, is younger"
                        + " than %d ms",
                    shipped, oldest.get().revision(), authorityMs)));
  }

  private static SetWriteAuthority held(String reason) {
    return SetWriteAuthority.newBuilder().setHeld(true).setReason(reason).build();
  }
}
