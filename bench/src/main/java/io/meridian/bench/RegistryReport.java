package io.meridian.bench;

import java.util.List;
import java.util.Locale;

/** The registry workload's heap figures as Markdown. */
final class RegistryReport {
  private static final double MIB = 1024 * 1024;
  private static final int CLASSES = 15;

  private RegistryReport() {}

  /**
   * Per node: used heap after a full GC before registration ({@code empty}), after it ({@code
   * registered}) and with the locks held ({@code full}); from the differences the heap per instance
   * and per held lock, and, when fewer than the goal's instances or locks were reached, a linear
   * estimate for the goal's counts.
   */
  static String heap(
      ClusterSnapshot empty,
      ClusterSnapshot registered,
      ClusterSnapshot full,
      int goalInstances,
      int goalLocks,
      int sessions) {
    StringBuilder md = new StringBuilder();
    md.append(
        String.format(
            Locale.ROOT,
            "Registry heap per node: used heap after a full GC (`jcmd <pid> GC.run`, then"
                + " `GC.heap_info`) before registration, after it, and with the locks held"
                + " (goal: under 1 GiB with %,d instances and %,d locks held by %,d sessions)."
                + " Instances and locks are the node's own gauges (`%s`, `%s` from `/metrics`),"
                + " read just before each GC. Per instance = (after registration - before) /"
                + " instances; per lock = (with locks - after registration) / locks. Leader at"
                + " the last measurement: %s.%n%n",
            goalInstances,
            goalLocks,
            sessions,
            ClusterSnapshot.INSTANCES,
            ClusterSnapshot.LOCK_HOLDERS,
            full.leader()));
    md.append(
        "| node | before registration | after registration | with locks held | instances,"
            + " locks at the end | per instance | per lock | self-preservation, renewal ratio |"
            + " linear estimate at the goal |\n");
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < full.nodes().size(); i++) {
      ClusterSnapshot.Node e = empty.nodes().get(i);
      ClusterSnapshot.Node r = registered.nodes().get(i);
      ClusterSnapshot.Node f = full.nodes().get(i);
      double instances = r.gauge(ClusterSnapshot.INSTANCES);
      double locks = f.gauge(ClusterSnapshot.LOCK_HOLDERS) - r.gauge(ClusterSnapshot.LOCK_HOLDERS);
      double perInstance = Double.NaN;
      double perLock = Double.NaN;
      if (e.heap() != null && r.heap() != null && instances > 0) {
        perInstance = (r.heap().usedBytes() - e.heap().usedBytes()) / instances;
      }
      if (r.heap() != null && f.heap() != null && locks > 0) {
        perLock = (f.heap().usedBytes() - r.heap().usedBytes()) / locks;
      }
      boolean short_ =
          f.gauge(ClusterSnapshot.INSTANCES) < goalInstances
              || f.gauge(ClusterSnapshot.LOCK_HOLDERS) < goalLocks;
      String estimate = "-";
      if (short_ && e.heap() != null && !Double.isNaN(perInstance) && !Double.isNaN(perLock)) {
        estimate =
            mib(e.heap().usedBytes() + goalInstances * perInstance + goalLocks * perLock)
                + " (estimate)";
      }
      md.append(
          String.format(
              Locale.ROOT,
              "| %s%s | %s | %s | %s | %s, %s | %s | %s | %s, %s | %s |%n",
              f.member(),
              f.member().equals(full.leader()) ? " (leader)" : "",
              used(e),
              used(r),
              used(f),
              count(f.gauge(ClusterSnapshot.INSTANCES)),
              count(f.gauge(ClusterSnapshot.LOCK_HOLDERS)),
              bytes(perInstance),
              bytes(perLock),
              count(f.gauge(ClusterSnapshot.SELF_PRESERVATION)),
              ratio(f.gauge(ClusterSnapshot.RENEWAL_RATIO)),
              estimate));
    }
    String max =
        full.nodes().stream()
            .filter(n -> n.heap() != null)
            .findFirst()
            .map(n -> String.format(Locale.ROOT, "%.0f MiB", n.heap().maxBytes() / MIB))
            .orElse("unknown");
    md.append("\nMaximum heap of each node JVM (`-XX:MaxHeapSize`): ").append(max).append(".\n");
    for (ClusterSnapshot s : new ClusterSnapshot[] {empty, registered, full}) {
      md.append("- ").append(s.label()).append(": ").append(s.convergence()).append('\n');
      for (ClusterSnapshot.Node n : s.nodes()) {
        if (n.error() != null) {
          md.append("- ")
              .append(s.label())
              .append(", ")
              .append(n.member())
              .append(": `")
              .append(n.error())
              .append("`\n");
        }
      }
    }
    full.nodes().stream()
        .filter(n -> n.member().equals(full.leader()))
        .findFirst()
        .ifPresent(
            leader -> {
              try {
                List<String> rows = NodeProbe.classHistogram(leader.pid(), CLASSES);
                md.append("\nThe leader's ")
                    .append(CLASSES)
                    .append(" largest classes after the last measurement (`jcmd ")
                    .append(leader.pid())
                    .append(" GC.class_histogram`):\n\n```\n")
                    .append(String.join("\n", rows))
                    .append("\n```\n");
              } catch (IllegalStateException e) {
                md.append("\nNo class histogram of the leader: `")
                    .append(e.getMessage())
                    .append("`\n");
              }
            });
    return md.toString();
  }

  private static String used(ClusterSnapshot.Node n) {
    return n.heap() == null ? "not measured" : mib(n.heap().usedBytes());
  }

  private static String mib(double bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / MIB);
  }

  private static String bytes(double b) {
    return Double.isNaN(b) ? "-" : String.format(Locale.ROOT, "%,.0f B", b);
  }

  private static String count(double v) {
    return Double.isNaN(v) ? "?" : String.format(Locale.ROOT, "%,.0f", v);
  }

  private static String ratio(double v) {
    return Double.isNaN(v) ? "none yet" : String.format(Locale.ROOT, "%.2f", v);
  }
}
