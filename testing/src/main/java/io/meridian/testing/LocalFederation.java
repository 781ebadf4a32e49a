package io.meridian.testing;

import io.meridian.api.v1.Role;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Region clusters of one federation in this JVM: a primary region, PRIMARY for every shard, and
 * standby regions, STANDBY for the same shards, each a {@link LocalRegion}. What joins them (a
 * router, a replication bridge through a broker) is the test's to start.
 *
 * <pre>{@code
 * try (LocalFederation f =
 *     LocalFederation.builder(dir).primary("east").standby("west").members(1).start()) {
 *   List<String> east = f.region("east").urls();
 * }
 * }</pre>
 */
public final class LocalFederation implements AutoCloseable {
  private final Map<String, LocalRegion> regions;

  private LocalFederation(Map<String, LocalRegion> regions) {
    this.regions = regions;
  }

  /** A builder of a federation whose regions keep their data under {@code dir}/region. */
  public static Builder builder(Path dir) {
    return new Builder(dir);
  }

  /**
   * Region {@code name}.
   *
   * @throws IllegalArgumentException if the federation has no such region
   */
  public LocalRegion region(String name) {
    LocalRegion region = regions.get(name);
    if (region == null) {
      throw new IllegalArgumentException(
          "region: " + name + " (expected: one of " + regions.keySet() + ")");
    }
    return region;
  }

  /** Waits until every region has a ready leader (see {@link LocalRegion#awaitReady}). */
  public void awaitReady() {
    regions.values().forEach(LocalRegion::awaitReady);
  }

  @Override
  public void close() {
    List<LocalRegion> all = new ArrayList<>(regions.values());
    java.util.Collections.reverse(all);
    all.forEach(LocalRegion::close);
  }

  /** Builds a {@link LocalFederation}: one primary region, any number of standby regions. */
  public static final class Builder {
    private final Path dir;
    private String primary = "east";
    private final List<String> standbys = new ArrayList<>();
    private final List<Integer> shards = new ArrayList<>();
    private int members = 3;
    private final Map<String, Map<String, Object>> settings = new LinkedHashMap<>();

    private Builder(Path dir) {
      this.dir = dir;
    }

    /** The primary region's name (default {@code east}). */
    public Builder primary(String region) {
      this.primary = region;
      return this;
    }

    /** Adds a standby region. */
    public Builder standby(String region) {
      standbys.add(region);
      return this;
    }

    /** Adds a shard every region serves (default: shard 0 alone). */
    public Builder shard(int id) {
      shards.add(id);
      return this;
    }

    /** Members of each region's cluster (default 3). */
    public Builder members(int members) {
      this.members = members;
      return this;
    }

    /**
     * Sets one config key of every member of every region (see {@link LocalRegion.Builder#set}).
     */
    public Builder set(String section, String key, Object value) {
      settings.computeIfAbsent(section, s -> new LinkedHashMap<>()).put(key, value);
      return this;
    }

    /** Starts every region; does not wait for leaders ({@link LocalFederation#awaitReady}). */
    public LocalFederation start() throws IOException {
      Map<String, LocalRegion> regions = new LinkedHashMap<>();
      try {
        regions.put(primary, region(primary, Role.PRIMARY));
        for (String standby : standbys) {
          regions.put(standby, region(standby, Role.STANDBY));
        }
      } catch (IOException | RuntimeException e) {
        regions.values().forEach(LocalRegion::close);
        throw e;
      }
      return new LocalFederation(regions);
    }

    private LocalRegion region(String name, Role role) throws IOException {
      LocalRegion.Builder b = LocalRegion.builder(dir.resolve(name)).region(name).members(members);
      for (int shard : shards.isEmpty() ? List.of(0) : shards) {
        b.shard(shard, role);
      }
      settings.forEach((section, keys) -> keys.forEach((k, v) -> b.set(section, k, v)));
      return b.start();
    }
  }
}
