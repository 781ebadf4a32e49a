package io.meridian.cluster.state;

/**
 * Sizes of a shard's state, for status and metrics.
 *
 * @param keys keys that currently exist (lock keys included)
 * @param stateBytes the quota's measure: retained versions and leases
 * @param noSpaceAlarm writes that grow the state are refused until it clears
 * @param registryInstances registered instances (their keys count in {@code keys} too)
 * @param selfPreservation registry self-preservation is on
 */
public record StateStats(
    long keys,
    long leases,
    long lockHolders,
    long lockWaiters,
    long stateBytes,
    long quotaBytes,
    boolean noSpaceAlarm,
    long registryInstances,
    boolean selfPreservation) {}
