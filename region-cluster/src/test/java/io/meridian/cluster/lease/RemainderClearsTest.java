package io.meridian.cluster.lease;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class RemainderClearsTest {
  private final List<List<Long>> proposed = new ArrayList<>();
  private final List<CompletableFuture<Void>> replies = new ArrayList<>();
  private final RemainderClears clears =
      new RemainderClears(
          ids -> {
            proposed.add(ids);
            CompletableFuture<Void> reply = new CompletableFuture<>();
            replies.add(reply);
            return reply;
          });

  @Test
  void oneClearIsInFlightAndLeasesRenewedMeanwhileGoInTheNext() {
    CompletableFuture<Void> a = clears.clear(1);
    CompletableFuture<Void> aAgain = clears.clear(1);
    CompletableFuture<Void> b = clears.clear(2);
    CompletableFuture<Void> c = clears.clear(3);
    assertThat(proposed).containsExactly(List.of(1L));
    assertThat(aAgain).isSameAs(a);
    assertThat(a).isNotDone();

    replies.get(0).complete(null);
    assertThat(a).isCompleted();
    assertThat(b).isNotDone();
    assertThat(proposed).containsExactly(List.of(1L), List.of(2L, 3L));

    replies.get(1).completeExceptionally(new IllegalStateException("lost leadership"));
    assertThat(b).isCompletedExceptionally();
    assertThat(c).isCompletedExceptionally();
    // Nothing waits: the next clear is sent at once.
    clears.clear(4);
    assertThat(proposed).hasSize(3);
  }
}
