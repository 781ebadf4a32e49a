package io.meridian.testing.chaos;

import static io.meridian.testing.chaos.Operation.Kind.CAS;
import static io.meridian.testing.chaos.Operation.Kind.READ;
import static io.meridian.testing.chaos.Operation.Kind.WRITE;
import static io.meridian.testing.chaos.Operation.Outcome.FAILED;
import static io.meridian.testing.chaos.Operation.Outcome.OK;
import static io.meridian.testing.chaos.Operation.Outcome.UNKNOWN;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The checker on histories whose verdict is known, so that it cannot pass vacuously. */
class LinearizabilityTest {
  private final List<Operation> ops = new ArrayList<>();

  private void op(
      Operation.Kind kind, String value, String expected, long from, long to, Operation.Outcome o) {
    ops.add(new Operation(ops.size(), ops.size(), kind, "k", value, expected, from, to, o));
  }

  private Verdict check() {
    return Linearizability.check(ops);
  }

  @Test
  void aSequentialHistoryIsLinearizable() {
    op(WRITE, "a", null, 0, 1, OK);
    op(READ, "a", null, 2, 3, OK);
    op(CAS, "b", "a", 4, 5, OK);
    op(CAS, "c", "a", 6, 7, FAILED);
    op(READ, "b", null, 8, 9, OK);
    assertThat(check().valid()).as(check().toString()).isTrue();
  }

  @Test
  void aReadOfAnOverwrittenValueIsAViolation() {
    op(WRITE, "a", null, 0, 1, OK);
    op(WRITE, "b", null, 2, 3, OK);
    op(READ, "a", null, 4, 5, OK);
    Verdict v = check();
    assertThat(v.valid()).isFalse();
    assertThat(v.evidence()).extracting(Operation::id).containsExactly(0, 1, 2);
  }

  @Test
  void aReadConcurrentWithAWriteMaySeeEitherValue() {
    op(WRITE, "a", null, 0, 1, OK);
    op(WRITE, "b", null, 2, 10, OK);
    op(READ, "b", null, 3, 4, OK);
    op(READ, "b", null, 5, 6, OK);
    assertThat(check().valid()).isTrue();
    op(READ, "a", null, 7, 8, OK); // b was already seen: the register cannot go back
    assertThat(check().valid()).isFalse();
  }

  @Test
  void anAcknowledgedWriteThatIsNotReadBackIsALostWrite() {
    op(WRITE, "a", null, 0, 1, OK);
    op(READ, null, null, 2, 3, OK);
    assertThat(check().valid()).isFalse();
  }

  @Test
  void aWriteOfUnknownOutcomeMayHappenLateOrNever() {
    op(WRITE, "a", null, 0, 1, UNKNOWN);
    op(READ, null, null, 2, 3, OK);
    op(READ, "a", null, 4, 5, OK);
    assertThat(check().valid()).isTrue();
    ops.clear();
    op(WRITE, "a", null, 0, 1, UNKNOWN);
    op(READ, null, null, 2, 3, OK);
    assertThat(check().valid()).isTrue();
  }

  @Test
  void aWriteOfUnknownOutcomeTakesEffectOnceOnly() {
    op(WRITE, "a", null, 0, 1, UNKNOWN);
    op(READ, "a", null, 2, 3, OK);
    op(WRITE, "b", null, 4, 5, OK);
    op(READ, "a", null, 6, 7, OK); // a second application of the first write
    assertThat(check().valid()).isFalse();
  }

  @Test
  void aFailedCompareAndSetMustHaveSeenAnotherValue() {
    op(WRITE, "a", null, 0, 1, OK);
    op(CAS, "b", "a", 2, 3, FAILED);
    assertThat(check().valid()).isFalse();
    ops.clear();
    op(WRITE, "a", null, 0, 1, OK);
    op(CAS, "b", "a", 2, 3, OK);
    op(CAS, "c", "a", 4, 5, OK); // both swapped from a: one of them saw a stale register
    assertThat(check().valid()).isFalse();
  }

  @Test
  void keysAreCheckedApart() {
    ops.add(new Operation(0, 0, WRITE, "x", "1", null, 0, 1, OK));
    ops.add(new Operation(1, 1, WRITE, "y", "2", null, 2, 3, OK));
    ops.add(new Operation(2, 2, READ, "x", "1", null, 4, 5, OK));
    ops.add(new Operation(3, 3, READ, "y", "1", null, 6, 7, OK));
    Verdict v = Linearizability.check(ops);
    assertThat(v.valid()).isFalse();
    assertThat(v.explanation()).startsWith("key y");
  }

  /**
   * Concurrent histories made from a real sequential register: every operation takes effect at a
   * random instant inside its own interval. They are linearizable by construction; with one read
   * changed to a value nobody wrote they are not, and the evidence is that read and little else.
   */
  @Test
  void generatedHistoriesAreJudgedRightAndTheEvidenceIsSmall() {
    for (int seed = 0; seed < 20; seed++) {
      Random random = new Random(seed);
      List<Operation> history = generated(random, 100, 5);
      assertThat(Linearizability.check(history).valid()).as("seed " + seed).isTrue();

      List<Integer> reads = new ArrayList<>();
      for (Operation op : history) {
        if (op.kind() == READ && op.outcome() == OK) {
          reads.add(op.id());
        }
      }
      int victim = reads.get(random.nextInt(reads.size()));
      List<Operation> bad = new ArrayList<>();
      for (Operation op : history) {
        bad.add(
            op.id() == victim
                ? new Operation(
                    op.id(),
                    op.client(),
                    READ,
                    op.key(),
                    "never-written",
                    null,
                    op.invoked(),
                    op.completed(),
                    OK)
                : op);
      }
      Verdict v = Linearizability.check(bad);
      assertThat(v.valid()).as("seed " + seed).isFalse();
      assertThat(v.evidence()).extracting(Operation::id).containsExactly(victim);
    }
  }

  /**
   * {@code count} operations by {@code clients} clients, each with one operation in flight: an
   * operation takes effect at an instant between its invocation and completion, in instant order.
   */
  static List<Operation> generated(Random random, int count, int clients) {
    long[] free = new long[clients];
    List<long[]> plans = new ArrayList<>(); // client, invoked, effect, completed
    for (int i = 0; i < count; i++) {
      int c = random.nextInt(clients);
      long invoked = free[c] + random.nextInt(20);
      long effect = invoked + random.nextInt(30);
      long completed = effect + random.nextInt(30);
      free[c] = completed + 1;
      plans.add(new long[] {c, invoked, effect, completed});
    }
    List<long[]> byEffect = new ArrayList<>(plans);
    byEffect.sort((a, b) -> Long.compare(a[2], b[2]));
    List<Operation> out = new ArrayList<>();
    String value = null;
    int written = 0;
    for (long[] p : byEffect) {
      int id = out.size();
      int roll = random.nextInt(20);
      int kind = roll < 7 ? 0 : roll < 14 ? 1 : roll < 19 ? 2 : 3; // 1 in 20 times out
      Operation op;
      if (kind == 0) {
        op = new Operation(id, (int) p[0], READ, "k", value, null, p[1], p[3], OK);
      } else if (kind == 1) {
        value = "v" + written++;
        op = new Operation(id, (int) p[0], WRITE, "k", value, null, p[1], p[3], OK);
      } else if (kind == 2) {
        String expected = random.nextBoolean() ? value : "v" + random.nextInt(written + 1);
        String next = "v" + written++;
        boolean swapped = java.util.Objects.equals(expected, value);
        if (swapped) {
          value = next;
        }
        op =
            new Operation(
                id, (int) p[0], CAS, "k", next, expected, p[1], p[3], swapped ? OK : FAILED);
      } else {
        // Timed out: it took effect, or (a coin says) never did.
        boolean happened = random.nextBoolean();
        String next = "v" + written++;
        if (happened) {
          value = next;
        }
        op = new Operation(id, (int) p[0], WRITE, "k", next, null, p[1], p[3], UNKNOWN);
      }
      out.add(op);
    }
    return out;
  }
}
