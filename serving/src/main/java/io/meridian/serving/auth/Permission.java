package io.meridian.serving.auth;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** What a call may do: to the keys of a namespace, or ({@link #ADMIN}) to the cluster. */
public enum Permission {
  /** Range reads and gets, discovery. */
  READ,
  /** Puts, deletes, transactions, leases. */
  WRITE,
  /** Acquiring and releasing locks. */
  LOCK,
  /** Registering, heartbeating and deregistering instances. */
  REGISTRY,
  /** Watches of keys and of services. */
  WATCH,
  /** Cluster-wide: routing table, members, roles, failover, compaction, snapshots, the policy. */
  ADMIN;

  /** Whether it is granted on namespace prefixes (every permission but {@link #ADMIN}). */
  public boolean perNamespace() {
    return this != ADMIN;
  }

  /** Its name in policies and messages: {@code read}, {@code write}, ... */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * The permission named {@code label} ({@code read}, {@code admin}, ...).
   *
   * @throws IllegalArgumentException naming the labels there are
   */
  public static Permission of(String label) {
    for (Permission p : values()) {
      if (p.label().equals(label)) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "no permission `"
            + label
            + "` (expected one of "
            + Arrays.stream(values()).map(Permission::label).collect(Collectors.joining(", "))
            + ")");
  }
}
