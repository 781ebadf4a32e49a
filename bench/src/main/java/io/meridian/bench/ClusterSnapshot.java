package io.meridian.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Every node's heap after a full GC and its registry and lock gauges at one moment. The gauges are
 * read just before each node's GC; a node whose heap or gauges could not be read says why.
 */
record ClusterSnapshot(String label, String leader, List<ClusterSnapshot.Node> nodes) {
  static final String INSTANCES = "meridian_registry_instances";
  static final String LOCK_HOLDERS = "meridian_lock_holders";
  static final String LEASES = "meridian_leases";
  static final String SELF_PRESERVATION = "meridian_registry_self_preservation";
  static final String RENEWAL_RATIO = "meridian_registry_renewal_ratio";
  static final List<String> GAUGES =
      List.of(INSTANCES, LOCK_HOLDERS, LEASES, SELF_PRESERVATION, RENEWAL_RATIO);

  /** One node: {@code heap} is null when {@code error} says why it was not measured. */
  record Node(
      String member, long pid, NodeProbe.Heap heap, Map<String, Double> gauges, String error) {
    double gauge(String name) {
      return gauges.getOrDefault(name, Double.NaN);
    }
  }

  /** Reads every node, one after the other (each full GC pauses only its own node). */
  static ClusterSnapshot take(String label, NodeProcesses nodes) {
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
    return new ClusterSnapshot(label, leader, list);
  }
}
