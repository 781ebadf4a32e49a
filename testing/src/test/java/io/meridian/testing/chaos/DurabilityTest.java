package io.meridian.testing.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The durability checker on stores whose verdict is known, so that it cannot pass vacuously. */
class DurabilityTest {
  private static final List<Durability.Write> WRITES =
      List.of(new Durability.Write("k", "a", 5), new Durability.Write("k", "b", 7));

  private static Durability.Store holding(Map<Long, String> values) {
    return (key, revision) ->
        Optional.of(Optional.ofNullable(key.equals("k") ? values.get(revision) : null));
  }

  @Test
  void everyWriteOnEveryMemberIsDurable() {
    Durability.Store good = holding(Map.of(5L, "a", 7L, "b"));
    Verdict v = Durability.check(WRITES, Map.of("n1", good, "n2", good));
    assertThat(v.valid()).as(v.toString()).isTrue();
    assertThat(v.explanation()).contains("4 member reads");
  }

  @Test
  void aWriteMissingOnOneMemberIsAViolationNamingIt() {
    Durability.Store good = holding(Map.of(5L, "a", 7L, "b"));
    Durability.Store lost = holding(Map.of(5L, "a", 7L, "a"));
    Verdict v = Durability.check(WRITES, Map.of("n1", good, "n2", lost));
    assertThat(v.valid()).isFalse();
    assertThat(v.explanation()).contains("n2 lost k := b at revision 7: it has a");
  }

  @Test
  void anAbsentKeyIsAViolationAndACompactedRevisionProvesNothing() {
    Durability.Store empty = holding(Map.of());
    Durability.Store compacted = (key, revision) -> Optional.empty();
    assertThat(Durability.check(WRITES, Map.of("n1", empty)).explanation())
        .contains("it has no such key");
    Verdict v = Durability.check(WRITES, Map.of("n1", compacted));
    assertThat(v.valid()).isTrue();
    assertThat(v.explanation()).contains("0 member reads");
  }
}
