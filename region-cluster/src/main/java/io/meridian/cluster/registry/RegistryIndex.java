package io.meridian.cluster.registry;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.meridian.api.KeyPath;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.KeyValue;
import io.meridian.cluster.internal.Batch;
import io.meridian.cluster.internal.LockEvent;
import io.meridian.cluster.kv.KeyIndex;
import io.meridian.cluster.proto.InstanceValue;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The registry instances of one shard: a derived index over the registry keys of the key-value
 * store.
 *
 * <p>Every instance is a key attached to its lease,
 *
 * <pre>
 *   /ns/.meridian/registry/payments/i-0a1b:8080
 *   \______________________/\______/\_________/
 *     reservedPrefix(ns)    service  instance id
 * </pre>
 *
 * whose value is an {@link InstanceValue} (namespace, service, id and revisions left empty: the key
 * and its version say them). Neither a service nor an instance id contains '/', so the key decodes
 * unambiguously. This class only mirrors the keys ({@link #upsert}, {@link #remove}) and keeps what
 * self-preservation counts: the number of instances, each one's heartbeat interval and the
 * instances per lease. Reads of the instances themselves go to the key-value store. Not
 * thread-safe.
 */
public final class RegistryIndex implements KeyIndex {
  /** The reserved kind under which registry keys live. */
  public static final String KIND = "registry";

  /** A registry key decoded. */
  public record InstanceRef(String namespace, String service, String id) {}

  private record Entry(long lease, long heartbeatIntervalMs) {}

  private final Map<String, Entry> entries = new HashMap<>();
  private final Map<Long, Integer> perLease = new HashMap<>();
  // heartbeat interval -> instances: expected renewals sum over few distinct intervals.
  private final TreeMap<Long, Long> perInterval = new TreeMap<>();

  /** {@code /<ns>/.meridian/registry/}: every instance of the namespace lies under it. */
  public static String prefixOf(String namespace) {
    return KeyPath.reservedPrefix(namespace, KIND);
  }

  /** Every instance of one service lies under this prefix. The names must be valid. */
  public static String servicePrefix(String namespace, String service) {
    return prefixOf(namespace) + service + "/";
  }

  /** The key of an instance. The names must be valid. */
  public static String keyOf(String namespace, String service, String id) {
    return servicePrefix(namespace, service) + id;
  }

  /** Decodes a registry key, or returns null for any other key. */
  public static InstanceRef parseKey(String key) {
    if (!KeyPath.isReserved(key)) {
      return null;
    }
    String ns = KeyPath.namespaceOf(key);
    String prefix = prefixOf(ns);
    if (!key.startsWith(prefix)) {
      return null;
    }
    int slash = key.indexOf('/', prefix.length());
    if (slash <= prefix.length() || slash == key.length() - 1 || key.indexOf('/', slash + 1) >= 0) {
      return null;
    }
    return new InstanceRef(ns, key.substring(prefix.length(), slash), key.substring(slash + 1));
  }

  /**
   * The stored value of a registry key.
   *
   * @throws IllegalStateException if the value is not an {@link InstanceValue}
   */
  public static InstanceValue decode(KeyValue kv) {
    try {
      return InstanceValue.parseFrom(kv.getValue());
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("corrupt registry key " + kv.getKey(), e);
    }
  }

  /** The canonical bytes of a value (deterministic: metadata entries sorted by key). */
  public static ByteString encode(InstanceValue value) {
    byte[] bytes = new byte[value.getSerializedSize()];
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    out.useDeterministicSerialization();
    try {
      value.writeTo(out);
    } catch (IOException e) {
      throw new UncheckedIOException("serializing to an array of the exact size", e);
    }
    out.checkNoSpaceLeft();
    return ByteString.copyFrom(bytes);
  }

  /** The instance a registry key's current version describes, with the implied fields set. */
  public static Instance instanceOf(KeyValue kv) {
    InstanceRef ref = parseKey(kv.getKey());
    if (ref == null) {
      throw new IllegalArgumentException("not a registry key: " + kv.getKey());
    }
    return decode(kv).getInstance().toBuilder()
        .setNamespace(ref.namespace())
        .setService(ref.service())
        .setId(ref.id())
        .setCreateRevision(kv.getCreateRevision())
        .setModRevision(kv.getModRevision())
        .build();
  }

  @Override
  public void put(Batch batch, KeyValue now, KeyValue prev) {
    if (parseKey(now.getKey()) != null) {
      upsert(now);
    }
  }

  @Override
  public void delete(Batch batch, KeyValue prev, LockEvent.Reason reason) {
    if (parseKey(prev.getKey()) != null) {
      remove(prev.getKey());
    }
  }

  /** Mirrors a written registry key (created or updated in place). */
  public void upsert(KeyValue kv) {
    Entry entry = new Entry(kv.getLease(), decode(kv).getInstance().getHeartbeatIntervalMs());
    Entry old = entries.put(kv.getKey(), entry);
    if (old != null) {
      count(old, -1);
    }
    count(entry, 1);
  }

  /** Mirrors a deleted registry key (no-op for a key it does not hold). */
  public void remove(String key) {
    Entry old = entries.remove(key);
    if (old != null) {
      count(old, -1);
    }
  }

  private void count(Entry e, int delta) {
    perLease.merge(e.lease(), delta, (a, b) -> a + b == 0 ? null : a + b);
    perInterval.merge(e.heartbeatIntervalMs(), (long) delta, (a, b) -> a + b == 0 ? null : a + b);
  }

  /** Number of registered instances. */
  public long size() {
    return entries.size();
  }

  /** Number of instances bound to lease {@code id}. */
  public int instancesOf(long id) {
    return perLease.getOrDefault(id, 0);
  }

  /**
   * Heartbeats expected in {@code windowMs}: the sum over instances of {@code windowMs /
   * heartbeat_interval_ms}.
   */
  public double expectedRenewals(long windowMs) {
    double sum = 0;
    for (Map.Entry<Long, Long> e : perInterval.entrySet()) {
      if (e.getKey() > 0) {
        sum += (double) e.getValue() * windowMs / e.getKey();
      }
    }
    return sum;
  }
}
