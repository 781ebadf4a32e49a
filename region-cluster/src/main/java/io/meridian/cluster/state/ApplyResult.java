package io.meridian.cluster.state;

import io.meridian.cluster.proto.CommandResult;
import java.util.List;

/**
 * What applying one committed command produced.
 *
 * @param result the client-visible outcome (an error leaves the state unchanged)
 * @param revision the shard's revision after the command
 * @param duplicate the command's request id was applied before: {@code result} is the remembered
 *     first outcome and nothing changed
 * @param changes what the command changed at {@code revision}, in order (empty if nothing)
 * @param lockEvents grants and removals of lock waiters, in order
 * @param leaseEvents leases granted or ended, in order
 */
public record ApplyResult(
    CommandResult result,
    long revision,
    boolean duplicate,
    List<Change> changes,
    List<LockEvent> lockEvents,
    List<LeaseEvent> leaseEvents) {
  public ApplyResult {
    changes = List.copyOf(changes);
    lockEvents = List.copyOf(lockEvents);
    leaseEvents = List.copyOf(leaseEvents);
  }

  /** Whether the result is an error. */
  public boolean isError() {
    return result.hasError();
  }
}
