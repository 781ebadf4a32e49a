package io.meridian.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Every node's heap after a full GC and its registry and lock gauges at one moment. The gauges are
 * read just before each node's GC; a node whose heap or gauges could not be read says why.
 */
record ClusterSnapshot(
    String label, String leader, String convergence, List<ClusterSnapshot.Node> nodes) {
  static final String INSTANCES = "meridian_registry_instances";
  static final String LOCK_HOLDERS = "meridian_lock_holders";
  static final String LEASES = "meridian_leases";
  static final String SELF_PRESERVATION = "meridian_registry_self_preservation";
  static final String RENEWAL_RATIO = "meridian_registry_renewal_ratio";
  static final String REVISION = "meridian_revision";
  static final List<String> GAUGES =
      List.of(INSTANCES, LOCK_HOLDERS, LEASES, SELF_PRESERVATION, RENEWAL_RATIO, REVISION);

  /** How long a snapshot waits for the followers to apply what the leader has. */
  private static final Duration CONVERGENCE_LIMIT = Duration.ofSeconds(30);

  /** One node: {@code heap} is null when {@code error} says why it was not measured. */
  record Node(
      String member, long pid, NodeProbe.Heap heap, Map<String, Double> gauges, String error) {
    double gauge(String name) {
      return gauges.getOrDefault(name, Double.NaN);
    }
  }

  /**
   * Waits (up to 30 s) until every node reports the same revision, so each has applied the same
   * writes, then reads every node, one after the other (each full GC pauses only its own node).
   */
  static ClusterSnapshot take(String label, NodeProcesses nodes) throws InterruptedException {
    String convergence = awaitSameRevision(nodes);
    String leader;
    try {
      leader = NodeProcesses.leader(nodes.clientUrls().get(0)).orElse("?");
    } catch (RuntimeException e) {
      leader = "?";
    }
    List<Node> list = new ArrayList<>();
    List<Long> pids = nodes.pids();
    for (int i = 0; i < pids.size(); i++) {
      String member = nodes.configs().get(i).member();
      Map<String, Double> gauges = Map.of();
      NodeProbe.Heap heap = null;
      String error = null;
      try {
        gauges = NodeProbe.gauges(nodes.clientUrls().get(i), GAUGES);
        heap = NodeProbe.heapAfterFullGc(pids.get(i));
      } catch (IllegalStateException e) {
        error = e.getMessage();
      }
      System.err.printf(
          "bench: %s: %s: %s%n", label, member, heap != null ? heap.describe() : error);
      list.add(new Node(member, pids.get(i), heap, gauges, error));
    }
    return new ClusterSnapshot(label, leader, convergence, list);
  }

  /** Returns how the nodes' revisions converged, for the report. */
  private static String awaitSameRevision(NodeProcesses nodes) throws InterruptedException {
    long start = System.nanoTime();
    long deadline = start + CONVERGENCE_LIMIT.toNanos();
    Set<Double> revisions = Set.of();
    while (System.nanoTime() < deadline) {
      try {
        revisions = new TreeSet<>();
        for (String url : nodes.clientUrls()) {
          revisions.add(NodeProbe.gauges(url, List.of(REVISION)).getOrDefault(REVISION, -1.0));
        }
        if (revisions.size() == 1) {
          return String.format(
              Locale.ROOT,
              "every node at revision %.0f after %.1f s",
              revisions.iterator().next(),
              (System.nanoTime() - start) / 1e9);
        }
      } catch (IllegalStateException e) {
        revisions = Set.of();
      }
      Thread.sleep(200);
    }
    return "revisions still differed after " + CONVERGENCE_LIMIT.toSeconds() + " s: " + revisions;
  }
}
