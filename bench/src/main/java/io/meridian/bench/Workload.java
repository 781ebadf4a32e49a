package io.meridian.bench;

import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** The workloads {@code --workloads} selects, by name or number, run in this order. */
enum Workload {
  PUT("put", "1", "put, closed loop at concurrency 1, 16 and 128"),
  PUT_OPEN("put-open", "2", "put, open loop at 50 % of the best closed-loop put throughput"),
  RANGE("range", "3", "range of one key, LINEARIZABLE and SERIALIZABLE, concurrency 16"),
  LOCK_HOT("lock-hot", "4", "acquire+release of one hot lock by 16 sessions"),
  LOCK_MANY("lock-many", "5", "acquire+release over 1,000 locks and 1,000 sessions, 128 workers");

  final String id;
  final String number;
  final String description;

  Workload(String id, String number, String description) {
    this.id = id;
    this.number = number;
    this.description = description;
  }

  /** Parses {@code --workloads}: names or numbers, comma-separated; {@code all} means every one. */
  static Set<Workload> parse(List<String> names) {
    Set<Workload> selected = EnumSet.noneOf(Workload.class);
    for (String raw : names) {
      String name = raw.trim().toLowerCase(Locale.ROOT);
      if (name.equals("all")) {
        selected.addAll(EnumSet.allOf(Workload.class));
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
                + " (expected: all, put, put-open, range, lock-hot, lock-many or 1..5)");
      }
      selected.add(match);
    }
    return selected;
  }
}
