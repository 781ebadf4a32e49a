package io.meridian.testing.chaos;

import io.grpc.StatusRuntimeException;
import io.meridian.api.ErrorCodes;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Checks that every acknowledged write survived the faults on every member: once the cluster has
 * healed and each member has caught up, reading the key at the write's revision on that member
 * gives the written value. A write acknowledged and later lost (a leader that answered before a
 * quorum had it, a log truncated on restart) shows as a member that has another value, or none, at
 * that revision.
 */
public final class Durability {
  /** Missing writes named in a violation, at most. */
  static final int SHOWN = 20;

  /** A write the cluster acknowledged at {@code revision}. */
  public record Write(String key, String value, long revision) {
    @Override
    public String toString() {
      return key + " := " + value + " at revision " + revision;
    }
  }

  /** One member's store, read at a past revision. */
  @FunctionalInterface
  public interface Store {
    /**
     * The value {@code key} had at {@code revision} ({@code null}: absent), or empty if the member
     * no longer keeps that revision (compacted), which proves nothing either way.
     */
    Optional<Optional<String>> valueAt(String key, long revision);

    /**
     * The store of the member {@code kv} calls, read serializably (its own state). Only a change
     * made at the revision asked is evidence of a write there: a value unchanged since an earlier
     * revision is reported as such, never as the value written.
     */
    static Store of(KVGrpc.KVBlockingStub kv) {
      return (key, revision) -> {
        try {
          RangeResponse r =
              kv.withDeadlineAfter(10, TimeUnit.SECONDS)
                  .range(
                      RangeRequest.newBuilder()
                          .setKey(key)
                          .setRevision(revision)
                          .setConsistency(Consistency.SERIALIZABLE)
                          .build());
          if (r.getKvsCount() == 0) {
            return Optional.of(Optional.empty());
          }
          return r.getKvs(0).getModRevision() == revision
              ? Optional.of(Optional.of(r.getKvs(0).getValue().toStringUtf8()))
              : Optional.of(Optional.of("(unchanged since r" + r.getKvs(0).getModRevision() + ")"));
        } catch (StatusRuntimeException e) {
          Error error = ErrorCodes.errorOf(e);
          if (error != null && error.getCode() == Error.Code.COMPACTED) {
            return Optional.empty();
          }
          throw e;
        }
      };
    }
  }

  private Durability() {}

  /** Checks {@code writes} against every member's store. */
  public static Verdict check(List<Write> writes, Map<String, Store> members) {
    List<String> lost = new ArrayList<>();
    int checked = 0;
    for (Write w : writes) {
      for (Map.Entry<String, Store> member : members.entrySet()) {
        Optional<Optional<String>> held = member.getValue().valueAt(w.key(), w.revision());
        if (held.isEmpty()) {
          continue;
        }
        checked++;
        if (!held.get().equals(Optional.of(w.value()))) {
          lost.add(member.getKey() + " lost " + w + ": it has " + held.get().orElse("no such key"));
        }
      }
    }
    if (lost.isEmpty()) {
      return new Verdict(
          true,
          writes.size() + " acknowledged writes, " + checked + " member reads checked",
          List.of());
    }
    String shown = String.join("\n  ", lost.subList(0, Math.min(SHOWN, lost.size())));
    return new Verdict(false, lost.size() + " acknowledged writes missing:\n  " + shown, List.of());
  }
}
