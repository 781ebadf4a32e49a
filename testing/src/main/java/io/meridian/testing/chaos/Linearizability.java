package io.meridian.testing.chaos;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Checks that a history of register operations is linearizable, key by key: that there is one order
 * of the operations, each placed between its invocation and its completion, in which every read
 * returns the last value written and every compare-and-set holds exactly when the register held its
 * expected value. Every key starts absent.
 *
 * <p>The search is Wing and Gong's, with Lowe's cache of visited configurations (the set of
 * operations placed so far and the register's value), as Knossos and Porcupine do it. An operation
 * of unknown outcome completes at infinity: it may be placed anywhere after its invocation, and
 * placing it after everything else is the same as it never having happened.
 *
 * <p>On a violation, the verdict carries a small failing sub-history of the key, cut only where a
 * cut cannot make a correct history fail: a human can read it.
 */
public final class Linearizability {
  /** Configurations visited per key before the checker gives up (not a verdict: a bigger run). */
  static final int MAX_CONFIGURATIONS = 2_000_000;

  /** How long the search for smaller evidence may take: the verdict is known before it starts. */
  static final java.time.Duration SHRINK_BUDGET = java.time.Duration.ofSeconds(10);

  private Linearizability() {}

  /**
   * The verdict on {@code operations}.
   *
   * @throws IllegalStateException when a key's history is too large or concurrent to search
   */
  public static Verdict check(List<Operation> operations) {
    Map<String, List<Operation>> byKey = new LinkedHashMap<>();
    for (Operation op : operations) {
      byKey.computeIfAbsent(op.key(), k -> new ArrayList<>()).add(op);
    }
    for (Map.Entry<String, List<Operation>> e : byKey.entrySet()) {
      List<Operation> ops = relevant(e.getValue());
      if (!linearizable(ops)) {
        List<Operation> minimal = shrink(ops);
        return Verdict.violation(
            "key "
                + e.getKey()
                + ": no order of its "
                + minimal.size()
                + " operations below fits a register",
            minimal);
      }
    }
    return Verdict.ok(operations.size());
  }

  /** A read of unknown outcome observed nothing; everything else constrains the order. */
  private static List<Operation> relevant(List<Operation> ops) {
    List<Operation> kept = new ArrayList<>();
    for (Operation op : ops) {
      if (!(op.kind() == Operation.Kind.READ && op.outcome() == Operation.Outcome.UNKNOWN)) {
        kept.add(op);
      }
    }
    kept.sort(Comparator.comparingLong(Operation::invoked));
    return kept;
  }

  /**
   * A smaller history that still fails, made only of cuts that cannot turn a linearizable history
   * into a failing one, so that the evidence never accuses the system of what it did not do.
   */
  private static List<Operation> shrink(List<Operation> ops) {
    long deadline = System.nanoTime() + SHRINK_BUDGET.toNanos();
    List<Operation> failing = ops;
    // A prefix whose every operation completed before the rest began: whatever order fits the
    // whole fits the prefix.
    long lastCompletion = Long.MIN_VALUE;
    for (int k = 1; k < ops.size(); k++) {
      lastCompletion = Math.max(lastCompletion, ops.get(k - 1).completed());
      if (lastCompletion < ops.get(k).invoked() && fails(ops.subList(0, k))) {
        failing = ops.subList(0, k);
        break;
      }
    }
    failing = new ArrayList<>(failing);
    boolean removedSome = true;
    while (removedSome && System.nanoTime() < deadline) {
      removedSome = false;
      for (int i = 0; i < failing.size() && System.nanoTime() < deadline; ) {
        List<Operation> rest = new ArrayList<>(failing);
        Operation removed = rest.remove(i);
        if (!rest.isEmpty() && removable(removed, rest) && fails(rest)) {
          failing = rest;
          removedSome = true;
        } else {
          i++;
        }
      }
    }
    return failing;
  }

  /**
   * Whether {@code ops} is proven not linearizable; a search too large to finish proves nothing.
   */
  private static boolean fails(List<Operation> ops) {
    try {
      return !linearizable(ops);
    } catch (IllegalStateException tooLarge) {
      return false;
    }
  }

  /**
   * Whether leaving {@code op} out keeps every order that fitted an order: an operation that
   * changes nothing (a read, a compare-and-set that did not hold) always; one that changes the
   * register when nothing in {@code rest} observes its value and nothing in {@code rest} depends on
   * the register not holding a value (a failed or unknown compare-and-set).
   */
  private static boolean removable(Operation op, List<Operation> rest) {
    boolean changesNothing =
        op.kind() == Operation.Kind.READ
            || (op.kind() == Operation.Kind.CAS && op.outcome() == Operation.Outcome.FAILED);
    if (changesNothing) {
      return true;
    }
    for (Operation other : rest) {
      boolean observes =
          Objects.equals(other.value(), op.value()) && other.kind() == Operation.Kind.READ
              || Objects.equals(other.expected(), op.value()) && other.kind() == Operation.Kind.CAS;
      boolean needsAbsence =
          other.kind() == Operation.Kind.CAS && other.outcome() != Operation.Outcome.OK;
      if (observes || needsAbsence) {
        return false;
      }
    }
    return true;
  }

  /** One invocation or completion in the time-ordered list the search walks. */
  private static final class Event {
    final Operation op;
    final int index;
    final boolean call;
    final long time;
    Event match;
    Event prev;
    Event next;

    Event(Operation op, int index, boolean call, long time) {
      this.op = op;
      this.index = index;
      this.call = call;
      this.time = time;
    }
  }

  private record Configuration(BitSet placed, String value) {}

  private record Placed(Event call, String valueBefore) {}

  static boolean linearizable(List<Operation> ops) {
    Event head = events(ops);
    Deque<Placed> placed = new ArrayDeque<>();
    Set<Configuration> seen = new HashSet<>();
    BitSet linearized = new BitSet(ops.size());
    String value = null;
    Event event = head.next;
    while (head.next != null) {
      if (event.call) {
        Step step = step(value, event.op);
        if (step.allowed) {
          BitSet next = (BitSet) linearized.clone();
          next.set(event.index);
          if (seen.add(new Configuration(next, step.value))) {
            if (seen.size() > MAX_CONFIGURATIONS) {
              throw new IllegalStateException(
                  "history of key "
                      + event.op.key()
                      + " too large to check ("
                      + ops.size()
                      + " operations); run fewer operations per key");
            }
            placed.push(new Placed(event, value));
            value = step.value;
            linearized = next;
            lift(event);
            event = head.next;
            continue;
          }
        }
        event = event.next;
      } else {
        // An operation completed before any order could place it: undo the last placement.
        if (placed.isEmpty()) {
          return false;
        }
        Placed last = placed.pop();
        value = last.valueBefore;
        linearized.clear(last.call.index);
        unlift(last.call);
        event = last.call.next;
      }
    }
    return true;
  }

  private record Step(boolean allowed, String value) {}

  /**
   * The register model: whether {@code op} may come next when it holds {@code value}, and after.
   */
  private static Step step(String value, Operation op) {
    boolean matches = Objects.equals(value, op.expected());
    return switch (op.kind()) {
      case READ -> new Step(Objects.equals(value, op.value()), value);
      case WRITE -> new Step(true, op.value());
      case CAS ->
          switch (op.outcome()) {
            case OK -> new Step(matches, op.value());
            case FAILED -> new Step(!matches, value);
            case UNKNOWN -> new Step(true, matches ? op.value() : value);
          };
    };
  }

  private static Event events(List<Operation> ops) {
    List<Event> events = new ArrayList<>(2 * ops.size());
    for (int i = 0; i < ops.size(); i++) {
      Operation op = ops.get(i);
      long end = op.outcome() == Operation.Outcome.UNKNOWN ? Long.MAX_VALUE : op.completed();
      Event call = new Event(op, i, true, op.invoked());
      Event ret = new Event(op, i, false, end);
      call.match = ret;
      events.add(call);
      events.add(ret);
    }
    // At equal times invocations go first: the permissive reading, never a false violation.
    events.sort(Comparator.<Event>comparingLong(e -> e.time).thenComparing(e -> e.call ? 0 : 1));
    Event head = new Event(null, -1, true, Long.MIN_VALUE);
    Event prev = head;
    for (Event e : events) {
      prev.next = e;
      e.prev = prev;
      prev = e;
    }
    return head;
  }

  private static void lift(Event call) {
    unlink(call);
    unlink(call.match);
  }

  private static void unlink(Event e) {
    e.prev.next = e.next;
    if (e.next != null) {
      e.next.prev = e.prev;
    }
  }

  /** Puts back what {@link #lift} took out, in reverse order. */
  private static void unlift(Event call) {
    relink(call.match);
    relink(call);
  }

  private static void relink(Event e) {
    e.prev.next = e;
    if (e.next != null) {
      e.next.prev = e;
    }
  }
}
