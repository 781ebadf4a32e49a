package io.meridian.bench;

import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The workloads {@code --workloads} selects, by name or number, run in this order. {@code default}
 * is 1 to 5; {@code all} adds 6 and 7, which take minutes and measure node heaps, 8 (router
 * overhead), 9 (replication lag) and 10 (puts while snapshots are written). {@code registry} runs
 * last because it leaves 50,000 instances to expire.
 */
enum Workload {
  PUT("put", "1", "put, closed loop at concurrency 1, 16 and 128"),
  PUT_OPEN("put-open", "2", "put, open loop at 50 % of the best closed-loop put throughput"),
  RANGE("range", "3", "range of one key, LINEARIZABLE and SERIALIZABLE, concurrency 16"),
  LOCK_HOT("lock-hot", "4", "acquire+release of one hot lock by 16 sessions"),
  LOCK_MANY("lock-many", "5", "acquire+release over 1,000 locks and 1,000 sessions, 128 workers"),
  WATCH_FANOUT(
      "watch-fanout",
      "6",
      "10,000 watchers on one node in a separate JVM, commit to last watcher, heap per watcher"),
  REGISTRY(
      "registry",
      "7",
      "50,000 instances: register, heartbeats every 10 s, Discover, 100,000 held locks, heap"),
  ROUTER(
      "router",
      "8",
      "put, LINEARIZABLE range and LOCAL Discover at concurrency 16, direct and through a router"),
  REPLICATION(
      "replication",
      "9",
      "replication lag (put answered by the primary to the standby's watch event) at 25, 50 and"
          + " 100/s, the most the primary takes and 1,000/s, through Kafka and a bridge; the"
          + " bridge's catch-up rate"),
  SNAPSHOT(
      "snapshot",
      "10",
      "put at concurrency 16 over a state of 100,000 keys while the nodes take snapshots (every"
          + " --snapshot-threshold log entries)");

  /** Workloads that read node heaps: their nodes default to {@code -Xmx1g}. */
  static final Set<Workload> HEAP_MEASURED = EnumSet.of(WATCH_FANOUT, REGISTRY);

  static final Set<Workload> DEFAULT = EnumSet.range(PUT, LOCK_MANY);

  final String id;
  final String number;
  final String description;

  Workload(String id, String number, String description) {
    this.id = id;
    this.number = number;
    this.description = description;
  }

  /**
   * Parses {@code --workloads}: names or numbers, comma-separated; {@code default} means 1 to 5,
   * {@code all} every one.
   */
  static Set<Workload> parse(List<String> names) {
    Set<Workload> selected = EnumSet.noneOf(Workload.class);
    for (String raw : names) {
      String name = raw.trim().toLowerCase(Locale.ROOT);
      if (name.equals("all")) {
        selected.addAll(EnumSet.allOf(Workload.class));
        continue;
      }
      if (name.equals("default")) {
        selected.addAll(DEFAULT);
        continue;
      }
      Workload match = null;
      for (Workload w : values()) {
        if (w.id.equals(name) || w.number.equals(name)) {
          match = w;
        }
      }
      if (match == null) {
        throw new IllegalArgumentException(
            "--workloads: "
                + raw
                + " (expected: default, all, put, put-open, range, lock-hot, lock-many,"
                + " watch-fanout, registry, router, replication, snapshot or 1..10)");
      }
      selected.add(match);
    }
    return selected;
  }
}
