package io.meridian.cluster.registry;

import io.meridian.api.KeyPath;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.HealthStatus;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.ListServicesResponse;
import io.meridian.api.v1.ServiceSummary;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.kv.KeyRange;
import io.meridian.cluster.kv.KeySpace;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Registry reads over the current registry keys: discovery, the services of a namespace and single
 * instances. They never write. Blocking discovery and consistency levels are the node's business.
 */
public final class RegistryReads {
  private final StateCore core;
  private final KeySpace keys;

  public RegistryReads(StateCore core, KeySpace keys) {
    this.core = core;
    this.keys = keys;
  }

  private List<KeyValue> current(String prefix) {
    return keys.store().currentRange(KeyRange.of(prefix, "", true));
  }

  /**
   * The instances of a service that pass the filters, zone-local first: tier 0 is {@code near_zone}
   * (and {@code near_region} when given), tier 1 the rest of {@code near_region}, tier 2 everything
   * else; by instance id within a tier.
   */
  public DiscoverResponse discover(DiscoverRequest req) {
    KeyPath.checkNamespace(req.getNamespace());
    RegistryRules.checkService(req.getService());
    List<Instance> found = new ArrayList<>();
    for (KeyValue kv : current(RegistryIndex.servicePrefix(req.getNamespace(), req.getService()))) {
      if (RegistryIndex.parseKey(kv.getKey()) == null) {
        continue;
      }
      Instance instance = RegistryIndex.instanceOf(kv);
      if (matches(instance, req)) {
        found.add(instance);
      }
    }
    found.sort(
        Comparator.comparingInt((Instance i) -> tier(i, req))
            .thenComparing(Instance::getId, KeyPath.ORDER));
    return DiscoverResponse.newBuilder()
        .setHeader(core.header())
        .addAllInstances(found)
        .setSelfPreservation(core.selfPreservation())
        .build();
  }

  private static boolean matches(Instance i, DiscoverRequest req) {
    return (!req.getPassingOnly() || i.getHealth() == HealthStatus.PASSING)
        && (req.getRegion().isEmpty() || req.getRegion().equals(i.getRegion()))
        && (req.getZone().isEmpty() || req.getZone().equals(i.getZone()))
        && i.getTagsList().containsAll(req.getTagsList());
  }

  private static int tier(Instance i, DiscoverRequest req) {
    String nearRegion = req.getNearRegion();
    String nearZone = req.getNearZone();
    boolean inRegion = !nearRegion.isEmpty() && nearRegion.equals(i.getRegion());
    if (!nearZone.isEmpty() && nearZone.equals(i.getZone()) && (nearRegion.isEmpty() || inRegion)) {
      return 0;
    }
    return inRegion ? 1 : 2;
  }

  /** The services of a namespace by name, with their instance and passing counts. */
  public ListServicesResponse listServices(String namespace) {
    KeyPath.checkNamespace(namespace);
    Map<String, long[]> counts = new TreeMap<>(KeyPath.ORDER);
    for (KeyValue kv : current(RegistryIndex.prefixOf(namespace))) {
      RegistryIndex.InstanceRef ref = RegistryIndex.parseKey(kv.getKey());
      if (ref == null) {
        continue;
      }
      long[] c = counts.computeIfAbsent(ref.service(), s -> new long[2]);
      c[0]++;
      if (RegistryIndex.decode(kv).getInstance().getHealth() == HealthStatus.PASSING) {
        c[1]++;
      }
    }
    ListServicesResponse.Builder out =
        ListServicesResponse.newBuilder()
            .setHeader(core.header())
            .setSelfPreservation(core.selfPreservation());
    counts.forEach(
        (service, c) ->
            out.addServices(
                ServiceSummary.newBuilder().setName(service).setInstances(c[0]).setPassing(c[1])));
    return out.build();
  }

  public Optional<Instance> instance(String namespace, String service, String id) {
    KeyPath.checkNamespace(namespace);
    RegistryRules.checkService(service);
    RegistryRules.checkInstanceId(id);
    KeyValue kv = keys.store().current(RegistryIndex.keyOf(namespace, service, id));
    return kv == null ? Optional.empty() : Optional.of(RegistryIndex.instanceOf(kv));
  }
}
