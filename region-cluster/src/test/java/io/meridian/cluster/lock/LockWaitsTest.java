package io.meridian.cluster.lock;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.internal.LockEvent;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Waits decided by events and, where events cannot be relied on, by the applied state. */
class LockWaitsTest {
  private final AtomicReference<LockWaiterState> state =
      new AtomicReference<>(new LockWaiterState.Waiting());
  private final LockWaits waits = new LockWaits((name, lease) -> state.get(), 10);

  private static Error.Code code(LockWaits.Wait wait) {
    try {
      wait.future().join();
      throw new AssertionError("granted");
    } catch (CompletionException e) {
      return ((MeridianException) e.getCause()).code();
    }
  }

  @Test
  void aGrantAppliedBeforeTheWaitRegisteredIsFoundInTheState() {
    // A retried acquire: its dedup'd answer says "waiting at revision 5", but the grant was
    // applied at 8, before this wait existed, so no event will ever come.
    state.set(new LockWaiterState.Held(42, "/a/l/k", 8));
    LockWaits.Wait wait = waits.register("/a/l", 7);
    wait.arm(5);
    assertThat(wait.future()).isCompletedWithValue(new LockWaits.Grant(42, "/a/l/k", 8));
    assertThat(waits.size()).isZero();
  }

  @Test
  void aCancelledWaitIsForgottenAndLaterEventsLeaveIt() {
    LockWaits.Wait wait = waits.register("/a/l", 7);
    wait.cancel();
    assertThat(wait.future()).isCompletedWithValue(null);
    assertThat(waits.size()).isZero();
    waits.onEvent(new LockEvent.Granted("/a/l", 7, 99, "/a/l/k", 13));
    assertThat(wait.future()).isCompletedWithValue(null);
  }

  @Test
  void aFollowerBehindItsAcquireChecksOnceItHasAppliedIt() {
    LockWaits.Wait wait = waits.register("/a/l", 7);
    wait.arm(12);
    // Not applied here yet: the waiter is not in this replica's state, which says nothing.
    state.set(new LockWaiterState.Gone(true));
    assertThat(wait.future()).isNotDone();
    state.set(new LockWaiterState.Waiting());
    waits.applied(12);
    assertThat(wait.future()).isNotDone();
    waits.onEvent(new LockEvent.Granted("/a/l", 7, 99, "/a/l/k", 13));
    assertThat(wait.future()).isCompletedWithValue(new LockWaits.Grant(99, "/a/l/k", 13));
  }

  @Test
  void aStateReloadDecidesWaitsWhoseEventsItReplaced() {
    LockWaits.Wait granted = waits.register("/a/l", 7);
    LockWaits.Wait ended = waits.register("/a/m", 8);
    granted.arm(10);
    ended.arm(10);
    assertThat(granted.future()).isNotDone();
    state.set(new LockWaiterState.Held(77, "/a/l/k", 30));
    waits.reloaded(40);
    assertThat(granted.future()).isCompletedWithValue(new LockWaits.Grant(77, "/a/l/k", 30));
    assertThat(ended.future()).isCompletedWithValue(new LockWaits.Grant(77, "/a/l/k", 30));

    state.set(new LockWaiterState.Waiting());
    LockWaits.Wait gone = waits.register("/a/n", 9);
    gone.arm(40);
    state.set(new LockWaiterState.Gone(false));
    waits.reloaded(50);
    assertThat(code(gone)).isEqualTo(Error.Code.LEASE_NOT_FOUND);
  }

  @Test
  void aTimedOutWaiterThatWasGrantedFirstGetsItsGrant() {
    LockWaits.Wait wait = waits.register("/a/l", 7);
    wait.arm(10);
    // The grant and the cancellation raced; the cancellation applied at 15 found a holder.
    wait.settle(15);
    assertThat(wait.future()).isNotDone();
    state.set(new LockWaiterState.Held(5, "/a/l/k", 14));
    waits.applied(15);
    assertThat(wait.future()).isCompletedWithValue(new LockWaits.Grant(5, "/a/l/k", 14));
  }

  @Test
  void aCancelledWaiterTimesOutAndOneThatCouldNotBeWithdrawnSaysSo() {
    LockWaits.Wait cancelled = waits.register("/a/l", 7);
    cancelled.arm(10);
    state.set(new LockWaiterState.Gone(true));
    cancelled.settle(10);
    assertThat(code(cancelled)).isEqualTo(Error.Code.LOCK_TIMEOUT);

    state.set(new LockWaiterState.Waiting());
    LockWaits.Wait stuck = waits.register("/a/l", 8);
    stuck.arm(10);
    stuck.settleNow();
    assertThat(code(stuck)).isEqualTo(Error.Code.UNAVAILABLE);
  }

  @Test
  void eventsOfAnEarlierAcquireAreIgnored() {
    LockWaits.Wait wait = waits.register("/a/l", 7);
    waits.onEvent(new LockEvent.Removed("/a/l", 7, LockEvent.Reason.RELEASED, 9));
    wait.arm(10);
    assertThat(wait.future()).isNotDone();
    waits.onEvent(new LockEvent.Removed("/a/l", 7, LockEvent.Reason.CANCELLED, 11));
    assertThat(code(wait)).isEqualTo(Error.Code.LOCK_TIMEOUT);
  }
}
