package io.meridian.cluster.internal;

import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.Role;
import io.meridian.cluster.proto.CommandResult;
import java.util.ArrayList;
import java.util.List;

/**
 * What applying one committed command produced.
 *
 * @param result the client-visible outcome (an error leaves the state unchanged)
 * @param revision the shard's revision after the command
 * @param role the cluster's role after the command (what watchers are told it serves as)
 * @param duplicate the command's request id was applied before: {@code result} is the remembered
 *     first outcome and nothing changed
 * @param committed the revisions the command committed, in order: none for a command that changed
 *     nothing, one for a client write, one per applied batch for replicated batches
 * @param lockEvents grants and removals of lock waiters, in order
 * @param leaseEvents leases granted or ended, in order
 */
public record ApplyResult(
    CommandResult result,
    long revision,
    Role role,
    boolean duplicate,
    List<Committed> committed,
    List<LockEvent> lockEvents,
    List<LeaseEvent> leaseEvents) {
  public ApplyResult {
    committed = List.copyOf(committed);
    lockEvents = List.copyOf(lockEvents);
    leaseEvents = List.copyOf(leaseEvents);
  }

  /**
   * One committed revision.
   *
   * @param batch the revision as the change feed ships it
   * @param changes the same changes as watchers see them (with each key's previous version), in the
   *     order they were made
   */
  public record Committed(ChangeBatch batch, List<Change> changes) {
    public Committed {
      changes = List.copyOf(changes);
    }
  }

  /** Whether the result is an error. */
  public boolean isError() {
    return result.hasError();
  }

  /** Every change of every committed revision, in order. */
  public List<Change> changes() {
    if (committed.size() == 1) {
      return committed.get(0).changes();
    }
    List<Change> all = new ArrayList<>();
    committed.forEach(c -> all.addAll(c.changes()));
    return all;
  }
}
