package io.meridian.testing.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.testing.chaos.LeaseHonesty.Beat;
import io.meridian.testing.chaos.LeaseHonesty.Outcome;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The lease checker on histories whose verdict is known, so that it cannot pass vacuously. */
class LeaseHonestyTest {
  private static final long TTL = 10;

  private static Beat beat(String instance, long sent, Outcome outcome) {
    return new Beat(instance, sent, sent + 1, outcome, outcome == Outcome.ENDED ? 0 : TTL, false);
  }

  private static Beat preserved(String instance, long sent) {
    return new Beat(instance, sent, sent + 1, Outcome.RENEWED, TTL, true);
  }

  @Test
  void anEvictionAfterTheLeaseCouldHaveEndedIsHonest() {
    List<Beat> beats =
        List.of(
            beat("a", 0, Outcome.GRANTED),
            beat("a", 5, Outcome.RENEWED),
            // The renewal sent at 9 went unanswered: the lease could end at 15.
            beat("a", 16, Outcome.ENDED),
            beat("a", 17, Outcome.GRANTED),
            beat("a", 20, Outcome.RENEWED));
    Verdict v = LeaseHonesty.check(beats, null);
    assertThat(v.valid()).as(v.toString()).isTrue();
    assertThat(v.explanation()).contains("1 ends");
  }

  @Test
  void anEvictionWhileTheLeaseHeldIsAViolation() {
    List<Beat> beats =
        List.of(
            beat("a", 0, Outcome.GRANTED),
            beat("a", 5, Outcome.RENEWED),
            beat("a", 12, Outcome.ENDED));
    Verdict v = LeaseHonesty.check(beats, null);
    assertThat(v.valid()).isFalse();
    assertThat(v.explanation()).contains("ended while its holder could count on it");
  }

  private static List<Beat> silenceHistory(boolean reported, Outcome afterSilence) {
    List<Beat> beats = new ArrayList<>();
    beats.add(beat("quiet", 0, Outcome.GRANTED));
    beats.add(beat("beating", 0, Outcome.GRANTED));
    for (long t = 2; t < 40; t += 2) {
      beats.add(reported && t > 20 ? preserved("beating", t) : beat("beating", t, Outcome.RENEWED));
    }
    // "quiet" is silenced from 5 to 30, far beyond its TTL.
    beats.add(beat("quiet", 31, afterSilence));
    return beats;
  }

  private static final LeaseHonesty.Silence SILENCE =
      new LeaseHonesty.Silence(Set.of("quiet"), 5, 30, 4);

  @Test
  void aSilenceThatSelfPreservationCoveredIsValid() {
    Verdict v = LeaseHonesty.check(silenceHistory(true, Outcome.RENEWED), SILENCE);
    assertThat(v.valid()).as(v.toString()).isTrue();
  }

  @Test
  void selfPreservationNeverReportedOrASilencedInstanceEvictedIsAViolation() {
    assertThat(LeaseHonesty.check(silenceHistory(false, Outcome.RENEWED), SILENCE).explanation())
        .contains("none with self-preservation on");
    assertThat(LeaseHonesty.check(silenceHistory(true, Outcome.ENDED), SILENCE).explanation())
        .contains("evicted for a silence");
  }
}
