package io.meridian.testing.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The watch checker on histories whose verdict is known, so that it cannot pass vacuously. */
class WatchCompletenessTest {
  private static final WatchCompleteness.Change A = change(2, "/watch/a", "1");
  private static final WatchCompleteness.Change B = change(3, "/watch/b", "2");
  private static final WatchCompleteness.Change C = change(5, "/watch/a", null);
  private static final WatchCompleteness.Change D = change(6, "/watch/b", "3");
  private static final List<WatchCompleteness.Change> HISTORY = List.of(A, B, C, D);

  private static WatchCompleteness.Change change(long revision, String key, String value) {
    return new WatchCompleteness.Change(revision, key, value);
  }

  /** The store whose history is {@link #HISTORY}. */
  private static Optional<Optional<String>> store(String key, long revision) {
    Map<Long, WatchCompleteness.Change> byRevision = Map.of(2L, A, 3L, B, 5L, C, 6L, D);
    WatchCompleteness.Change c = byRevision.get(revision);
    if (c == null || !c.key().equals(key)) {
      return Optional.of(Optional.of("(unchanged)"));
    }
    return Optional.of(Optional.ofNullable(c.value()));
  }

  private static WatchCompleteness.Stream stream(
      long start, long reached, WatchCompleteness.Change... changes) {
    return new WatchCompleteness.Stream("n1", start, List.of(changes), reached, null);
  }

  private static Verdict check(WatchCompleteness.Stream... streams) {
    return WatchCompleteness.check(
        List.of(new WatchCompleteness.Watcher("w", List.of(streams))),
        HISTORY,
        WatchCompletenessTest::store);
  }

  @Test
  void everyChangeOnceInOrderAcrossAReconnectIsValid() {
    Verdict v = check(stream(1, 3, A, B), stream(4, 6, C, D));
    assertThat(v.valid()).as(v.toString()).isTrue();
    // A stream that delivered nothing and reached nothing asserts nothing.
    Verdict quiet = check(stream(1, 0), stream(1, 6, A, B, C, D));
    assertThat(quiet.valid()).as(quiet.toString()).isTrue();
  }

  @Test
  void aMissedChangeIsAViolation() {
    Verdict v = check(stream(1, 6, A, C, D));
    assertThat(v.valid()).isFalse();
    assertThat(v.explanation()).contains("missed r3 /watch/b := 2");
  }

  @Test
  void aChangeTwiceOrOutOfOrderIsAViolation() {
    assertThat(check(stream(1, 6, A, B, B, C, D)).explanation()).contains("twice");
    assertThat(check(stream(1, 6, A, C, B, D)).explanation()).contains("went back");
    assertThat(check(stream(4, 6, B, C, D)).explanation()).contains("before its start");
  }

  @Test
  void aChangeTheStoreNeverMadeIsAViolation() {
    Verdict v = check(stream(1, 6, A, B, change(4, "/watch/a", "ghost"), C, D));
    assertThat(v.valid()).isFalse();
    assertThat(v.explanation()).contains("not in the store's history");
  }

  @Test
  void twoDifferentChangesAtOneRevisionAreAViolation() {
    Verdict v = check(stream(1, 6, A, change(3, "/watch/b", "other"), C, D));
    assertThat(v.explanation()).contains("two histories at r3");
  }

  @Test
  void aSilentJumpIsAViolationButAnAnnouncedOneIsNot() {
    Verdict silent = check(stream(1, 2, A), stream(5, 6, C, D));
    assertThat(silent.valid()).isFalse();
    assertThat(silent.explanation()).contains("jumped from r2 to r5");
    Verdict announced =
        check(
            new WatchCompleteness.Stream("n1", 1, List.of(A), 2, "COMPACTED"), stream(5, 6, C, D));
    assertThat(announced.valid()).as(announced.toString()).isTrue();
  }

  @Test
  void aStreamSilentWhileAFaultIsInForceIsExcusedButOneOnAHealthyRegionIsNot() {
    // A fault in force from t=100 to t=200 (healed), with no aftermath.
    WatchCompleteness.Disturbed fault = (from, to) -> from <= 200 && to >= 100;
    WatchCompleteness.Silence during = new WatchCompleteness.Silence("w", "n1", 150, 3150);
    WatchCompleteness.Silence calm = new WatchCompleteness.Silence("w", "n2", 500, 3500);
    Verdict excused = WatchCompleteness.liveness(List.of(during), fault);
    assertThat(excused.valid()).as(excused.toString()).isTrue();
    Verdict stuck = WatchCompleteness.liveness(List.of(during, calm), fault);
    assertThat(stuck.valid()).isFalse();
    assertThat(stuck.explanation()).contains("1 watch streams fell silent").contains("on n2");
  }
}
