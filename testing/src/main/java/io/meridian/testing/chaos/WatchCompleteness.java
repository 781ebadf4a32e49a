package io.meridian.testing.chaos;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Checks what watchers of one range saw against the shard's history of that range:
 *
 * <ul>
 *   <li>each watch stream delivered its events in revision order, none twice;
 *   <li>a stream that reached revision R delivered every change of the range from its start
 *       revision up to R: none missed;
 *   <li>every event delivered is a change the shard made: the acknowledged writes, the other
 *       watchers and the healed store's history at that revision all agree on it;
 *   <li>a watcher resumed each new stream right after where the last one reached, unless the server
 *       ended the last one saying why (compaction, a diverged history): never a silent jump.
 * </ul>
 *
 * <p>The reference history is every acknowledged write and every event any watcher saw, keyed by
 * revision and key; two different changes of one key at one revision are a violation.
 */
public final class WatchCompleteness {
  /** Violations named in a verdict, at most. */
  static final int SHOWN = 20;

  /**
   * A change of one key.
   *
   * @param revision the revision that made it
   * @param key the key
   * @param value the value written, or {@code null} for a delete
   */
  public record Change(long revision, String key, String value) {
    @Override
    public String toString() {
      return "r" + revision + " " + key + (value == null ? " deleted" : " := " + value);
    }
  }

  /**
   * One watch stream of a watcher.
   *
   * @param member where it was served
   * @param start the first revision it asked for
   * @param changes what it delivered, in the order it came
   * @param reached the highest revision it said it had delivered everything up to ({@code start -
   *     1} if it said nothing)
   * @param ended why the server ended it (an error code), or {@code null} if the watcher did
   */
  public record Stream(
      String member, long start, List<Change> changes, long reached, String ended) {
    public Stream {
      changes = List.copyOf(changes);
    }
  }

  /** A watcher: its streams in the order it opened them. */
  public record Watcher(String name, List<Stream> streams) {
    public Watcher {
      streams = List.copyOf(streams);
    }
  }

  /**
   * A stream that fell silent: nothing came on it, not even an answer to a progress request, from
   * {@code heard} until its watcher gave up on it at {@code gaveUp} (System.nanoTime both).
   */
  public record Silence(String watcher, String member, long heard, long gaveUp) {
    @Override
    public String toString() {
      return String.format(
          "%s on %s silent for %d ms (from %d)",
          watcher, member, (gaveUp - heard) / 1_000_000, heard);
    }
  }

  /** When faults were in force, as {@link Nemesis#disturbed} says. */
  @FunctionalInterface
  public interface Disturbed {
    boolean during(long from, long to);
  }

  private WatchCompleteness() {}

  /**
   * Liveness: a stream falls silent only while a fault is in force (or just healed), never on a
   * healthy region, where a stuck stream would otherwise pass as one its watcher moved on from.
   */
  public static Verdict liveness(List<Silence> silences, Disturbed disturbed) {
    List<Silence> unexcused =
        silences.stream().filter(s -> !disturbed.during(s.heard(), s.gaveUp())).toList();
    if (unexcused.isEmpty()) {
      return new Verdict(
          true,
          silences.size() + " silent streams, each while a fault was in force or just healed",
          List.of());
    }
    List<String> shown = unexcused.stream().limit(SHOWN).map(Silence::toString).toList();
    return Verdict.violation(
        unexcused.size()
            + " watch streams fell silent with no fault in force: "
            + String.join("; ", shown),
        List.of());
  }

  /**
   * Checks {@code watchers} against the writes the shard acknowledged and, for every change in the
   * reference, {@code store} (the healed store's value of the key at the change's revision).
   */
  public static Verdict check(
      List<Watcher> watchers, List<Change> acknowledged, Durability.Store store) {
    List<String> problems = new ArrayList<>();
    TreeMap<Long, Map<String, Change>> reference = new TreeMap<>();
    acknowledged.forEach(c -> add(reference, c, "acknowledged", problems));
    for (Watcher w : watchers) {
      for (Stream s : w.streams()) {
        s.changes().forEach(c -> add(reference, c, w.name() + " on " + s.member(), problems));
      }
    }
    int confirmed = 0;
    for (Map<String, Change> changes : reference.values()) {
      for (Change c : changes.values()) {
        Optional<Optional<String>> held = store.valueAt(c.key(), c.revision());
        if (held.isEmpty()) {
          continue;
        }
        confirmed++;
        if (!held.get().equals(Optional.ofNullable(c.value()))) {
          problems.add(
              c
                  + " is not in the store's history: it has "
                  + held.get().orElse("no such key")
                  + " at r"
                  + c.revision());
        }
      }
    }
    int delivered = 0;
    for (Watcher w : watchers) {
      Stream previous = null;
      for (Stream s : w.streams()) {
        delivered += s.changes().size();
        checkStream(w, s, reference, problems);
        if (previous != null && previous.ended() == null && s.start() > previous.reached() + 1) {
          problems.add(
              w.name()
                  + " jumped from r"
                  + previous.reached()
                  + " to r"
                  + s.start()
                  + " with no error from "
                  + previous.member());
        }
        previous = s;
      }
    }
    if (problems.isEmpty()) {
      int revisions = reference.size();
      return new Verdict(
          true,
          watchers.size()
              + " watchers, "
              + delivered
              + " events delivered against "
              + revisions
              + " revisions, "
              + confirmed
              + " confirmed in the store",
          List.of());
    }
    return new Verdict(
        false,
        problems.size()
            + " watch violations:\n  "
            + String.join("\n  ", problems.subList(0, Math.min(SHOWN, problems.size()))),
        List.of());
  }

  private static void add(
      Map<Long, Map<String, Change>> reference, Change c, String source, List<String> problems) {
    Change before =
        reference.computeIfAbsent(c.revision(), r -> new HashMap<>()).putIfAbsent(c.key(), c);
    if (before != null && !Objects.equals(before.value(), c.value())) {
      problems.add(
          "two histories at r" + c.revision() + ": " + before + " and " + c + " (" + source + ")");
    }
  }

  private static void checkStream(
      Watcher w, Stream s, TreeMap<Long, Map<String, Change>> reference, List<String> problems) {
    String where = w.name() + " on " + s.member() + " from r" + s.start();
    Change last = null;
    Map<Long, Map<String, Change>> seen = new HashMap<>();
    for (Change c : s.changes()) {
      if (c.revision() < s.start()) {
        problems.add(where + " delivered " + c + ", before its start");
      }
      if (last != null && c.revision() < last.revision()) {
        problems.add(where + " went back: " + c + " after " + last);
      }
      if (seen.computeIfAbsent(c.revision(), r -> new HashMap<>()).putIfAbsent(c.key(), c)
          != null) {
        problems.add(where + " delivered " + c + " twice");
      }
      last = c;
    }
    long through = Math.max(s.reached(), last == null ? 0 : last.revision());
    if (through < s.start()) {
      return; // it asserted nothing
    }
    for (Map.Entry<Long, Map<String, Change>> at :
        reference.subMap(s.start(), true, through, true).entrySet()) {
      for (Change c : at.getValue().values()) {
        Map<String, Change> got = seen.get(at.getKey());
        if (got == null || !got.containsKey(c.key())) {
          problems.add(where + " reached r" + through + " but missed " + c);
        }
      }
    }
  }
}
