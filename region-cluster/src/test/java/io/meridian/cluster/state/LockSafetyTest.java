package io.meridian.cluster.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.LockMode;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.internal.LockEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Lock safety under random schedules: N leases each acquire one lock M times (waiting, mostly
 * exclusive, sometimes shared), and release, cancel or lose their lease in a random order. From the
 * grant and removal events alone: an exclusive hold never overlaps any other hold, and every
 * grant's fencing token is larger than all earlier grants' (equal only for shared grants made at
 * the same revision).
 *
 * <p>jqwik prints the seed of a failing run; replay it with {@code @Property(seed = "...")}.
 */
class LockSafetyTest {
  private static final String LOCK = "/a/jobs/report";

  /** A grant, open until released. */
  private record Hold(long lease, boolean shared, long grantRevision, long token) {}

  /** A finished hold: [grantRevision, releaseRevision). */
  private record Interval(boolean shared, long grantRevision, long releaseRevision) {
    boolean overlaps(Interval o) {
      return grantRevision < o.releaseRevision && o.grantRevision < releaseRevision;
    }
  }

  @Property(tries = 500)
  void holdsNeverOverlapAndTokensIncrease(
      @ForAll @IntRange(min = 2, max = 6) int leases,
      @ForAll @IntRange(min = 1, max = 5) int acquisitions,
      @ForAll @Size(min = 50, max = 300) List<@IntRange(min = 0, max = 9999) Integer> choices) {
    Shard s = Shard.primary();
    List<Long> ids = new ArrayList<>();
    Map<Long, Integer> remaining = new HashMap<>();
    for (int i = 0; i < leases; i++) {
      long id = s.grant("a");
      ids.add(id);
      remaining.put(id, acquisitions);
    }
    Set<Long> queued = new LinkedHashSet<>();
    Map<Long, Hold> open = new HashMap<>();
    List<Interval> closed = new ArrayList<>();
    long lastToken = 0;
    long lastGrantRevision = 0;
    int grants = 0;
    for (int choice : choices) {
      long lease = ids.get(choice % ids.size());
      int what = (choice / ids.size()) % 10;
      ApplyResult r;
      if (!queued.contains(lease)) {
        if (remaining.get(lease) == 0) {
          continue;
        }
        remaining.merge(lease, -1, Integer::sum);
        LockMode mode = what < 7 ? LockMode.EXCLUSIVE : LockMode.SHARED;
        r = s.ok(s.acquire(LOCK, lease, mode, s.now + 60_000));
        queued.add(lease);
      } else if (what < 6) {
        r = s.ok(s.release(LOCK, lease));
        queued.remove(lease);
      } else if (what < 8) {
        r = s.ok(s.cancel(LOCK, lease));
        if (!r.lockEvents().isEmpty()) {
          queued.remove(lease);
        }
      } else {
        // The lease ends; its owner comes back with a new lease.
        r = s.ok(what == 8 ? s.revoke(lease) : s.expire(lease));
        queued.remove(lease);
        long fresh = s.grant("a");
        ids.set(ids.indexOf(lease), fresh);
        remaining.put(fresh, remaining.remove(lease));
      }
      for (LockEvent event : r.lockEvents()) {
        if (event instanceof LockEvent.Removed removed) {
          Hold hold = open.remove(removed.lease());
          if (hold != null) {
            closed.add(new Interval(hold.shared(), hold.grantRevision(), removed.revision()));
          }
          assertThat(removed.revision()).isEqualTo(r.revision());
        } else if (event instanceof LockEvent.Granted granted) {
          grants++;
          boolean shared =
              s.state.inspectLock(LOCK).getHoldersList().stream()
                  .filter(o -> o.getLease() == granted.lease())
                  .allMatch(o -> o.getMode() == LockMode.SHARED);
          Hold hold = new Hold(granted.lease(), shared, granted.revision(), granted.token());
          for (Hold other : open.values()) {
            assertThat(hold.shared() && other.shared())
                .as("%s granted while %s holds", hold, other)
                .isTrue();
          }
          if (granted.revision() == lastGrantRevision) {
            assertThat(shared).as("two grants at one revision must be shared").isTrue();
            assertThat(granted.token()).isEqualTo(lastToken);
          } else {
            assertThat(granted.token()).isGreaterThan(lastToken);
          }
          lastToken = granted.token();
          lastGrantRevision = granted.revision();
          open.put(granted.lease(), hold);
        }
      }
      // The events agree with the state.
      assertThat(s.state.inspectLock(LOCK).getHoldersCount()).isEqualTo(open.size());
      assertThat(s.state.stats().lockHolders()).isEqualTo(open.size());
    }
    assertThat(grants).isPositive();
    for (int i = 0; i < closed.size(); i++) {
      for (int j = i + 1; j < closed.size(); j++) {
        Interval a = closed.get(i);
        Interval b = closed.get(j);
        if (!a.shared() || !b.shared()) {
          assertThat(a.overlaps(b)).as("%s overlaps %s", a, b).isFalse();
        }
      }
    }
    assertThat(new Shard(s.reloaded()).state.inspectLock(LOCK))
        .isEqualTo(s.state.inspectLock(LOCK));
  }
}
