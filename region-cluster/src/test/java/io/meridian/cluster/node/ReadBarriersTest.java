package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** Reads confirmed only by an entry of their term appended after they arrived. */
class ReadBarriersTest {
  private final List<CompletableFuture<Void>> barriers = new ArrayList<>();
  private final List<Long> proposedInTerm = new ArrayList<>();
  private final ReadBarriers reads =
      new ReadBarriers(
          term -> {
            proposedInTerm.add(term);
            CompletableFuture<Void> b = new CompletableFuture<>();
            barriers.add(b);
            return b;
          },
          60_000);

  private static Error.Code code(CompletableFuture<Void> f) {
    try {
      f.join();
      throw new AssertionError("confirmed");
    } catch (CompletionException e) {
      return ((MeridianException) e.getCause()).code();
    }
  }

  @Test
  void onlyAnEntryOfTheSameTermBeyondTheLogEndConfirms() {
    CompletableFuture<Void> read = reads.confirm(3, 100);
    assertThat(proposedInTerm).containsExactly(3L);
    reads.applied(3, 100); // appended before the read arrived
    assertThat(read).isNotDone();
    reads.applied(3, 101);
    assertThat(read).isCompleted();
  }

  @Test
  void aNewerTermEndsTheReadsOfOlderOnes() {
    CompletableFuture<Void> read = reads.confirm(3, 100);
    reads.applied(4, 101); // another leader's entry: this member's term ended
    assertThat(code(read)).isEqualTo(Error.Code.UNAVAILABLE);
    CompletableFuture<Void> lost = reads.confirm(4, 200);
    reads.lost();
    assertThat(code(lost)).isEqualTo(Error.Code.UNAVAILABLE);
  }

  @Test
  void oneBarrierIsInFlightAndAFailedOneFailsItsReads() {
    CompletableFuture<Void> a = reads.confirm(3, 100);
    CompletableFuture<Void> b = reads.confirm(3, 100);
    CompletableFuture<Void> c = reads.confirm(3, 102);
    assertThat(barriers).hasSize(1);
    // The barrier lands at 101: it confirms a and b, not c (which arrived when the log ended at
    // 102); c gets a barrier of its own.
    reads.applied(3, 101);
    barriers.get(0).complete(null);
    assertThat(a).isCompleted();
    assertThat(b).isCompleted();
    assertThat(c).isNotDone();
    assertThat(barriers).hasSize(2);
    barriers.get(1).completeExceptionally(new IllegalStateException("not leader"));
    assertThat(code(c)).isEqualTo(Error.Code.UNAVAILABLE);
  }

  @Test
  void aReadNotConfirmedInTimeFails() {
    ReadBarriers slow = new ReadBarriers(term -> new CompletableFuture<>(), 50);
    assertThat(code(slow.confirm(1, 10))).isEqualTo(Error.Code.UNAVAILABLE);
  }
}
