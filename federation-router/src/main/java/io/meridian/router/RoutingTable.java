package io.meridian.router;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.meridian.api.KeyPath;
import io.meridian.api.MeridianException;
import io.meridian.api.Slot;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Role;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where every namespace lives: {@link Slot#COUNT} slots assigned to shards, each shard's regions
 * with their role, epoch and endpoints, and namespaces pinned to a shard. Immutable; a router swaps
 * whole tables ({@link ServedTable}), so a request never sees half of one.
 *
 * <pre>{@code
 * version: 7
 * slots:
 *   - {range: 0-2047, shard: 0}
 *   - {range: 2048-4095, shard: 1}
 * pins: {billing: 1}
 * shards:
 *   - id: 0
 *     regions:
 *       - {region: us-east, role: PRIMARY, epoch: 3, endpoints: ["http://10.0.1.1:2379"]}
 *       - {region: us-west, role: STANDBY, epoch: 3, endpoints: ["http://10.1.1.1:2379"]}
 * }</pre>
 *
 * A table that leaves a slot unassigned, assigns one twice, names a shard it does not describe, or
 * gives a shard no primary or two is rejected with {@code INVALID_ARGUMENT} and a message naming
 * the problem.
 */
public final class RoutingTable {
  /** One region of a shard as the router sees it. */
  public record Region(String region, Role role, long epoch, List<URI> endpoints) {}

  /** A shard and its regions, in the table's order (which is also the fallback preference). */
  public record Shard(int id, List<Region> regions) {
    /**
     * The PRIMARY region.
     *
     * @throws MeridianException UNAVAILABLE while the shard has none: a failover fenced the old
     *     primary and has not redirected to the new one yet
     */
    public Region primary() {
      return regions.stream()
          .filter(r -> r.role() == Role.PRIMARY)
          .findFirst()
          .orElseThrow(
              () ->
                  MeridianException.of(
                      Error.Code.UNAVAILABLE,
                      "shard %d has no PRIMARY region in the routing table: a failover fenced its"
                          + " old primary (%s); writes resume once a table names the new one",
                      id,
                      regions.stream()
                          .filter(r -> r.role() == Role.FENCED)
                          .map(Region::region)
                          .collect(java.util.stream.Collectors.joining(", "))));
    }

    /** Whether a region of the shard takes writes (none while a failover is between steps). */
    public boolean hasPrimary() {
      return regions.stream().anyMatch(r -> r.role() == Role.PRIMARY);
    }

    /** The region named {@code name}, if the shard has one. */
    public java.util.Optional<Region> region(String name) {
      return regions.stream().filter(r -> r.region().equals(name)).findFirst();
    }
  }

  /** The YAML/JSON form, before validation. */
  record Raw(
      Long version, List<RawSlots> slots, Map<String, Integer> pins, List<RawShard> shards) {}

  record RawSlots(String range, Integer shard) {}

  record RawShard(Integer id, List<RawRegion> regions) {}

  record RawRegion(String region, String role, Long epoch, List<String> endpoints) {}

  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory())
          .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private final long version;
  private final String text;
  private final int[] shardOfSlot;
  private final Map<String, Integer> pins;
  private final Map<Integer, Shard> shards;

  private RoutingTable(
      long version,
      String text,
      int[] shardOfSlot,
      Map<String, Integer> pins,
      Map<Integer, Shard> shards) {
    this.version = version;
    this.text = text;
    this.shardOfSlot = shardOfSlot;
    this.pins = pins;
    this.shards = shards;
  }

  /** Parses and validates a table in YAML (or JSON, which is YAML). */
  public static RoutingTable parse(String text) {
    Raw raw;
    try {
      raw = YAML.readValue(text, Raw.class);
    } catch (UnrecognizedPropertyException e) {
      throw invalid("unknown field '%s' at %s", e.getPropertyName(), e.getPathReference());
    } catch (JsonProcessingException e) {
      throw invalid("%s", e.getOriginalMessage());
    }
    if (raw == null) {
      throw invalid("empty table");
    }
    return of(raw, text);
  }

  static RoutingTable of(Raw raw, String text) {
    if (raw.version() == null || raw.version() < 1) {
      throw invalid("version: %s (expected: >= 1)", raw.version());
    }
    Map<Integer, Shard> shards = shards(raw.shards());
    int[] shardOfSlot = new int[Slot.COUNT];
    java.util.Arrays.fill(shardOfSlot, -1);
    for (RawSlots s : raw.slots() == null ? List.<RawSlots>of() : raw.slots()) {
      int[] range = range(s.range());
      if (s.shard() == null || !shards.containsKey(s.shard())) {
        throw invalid("slots %s: shard %s is not described under shards", s.range(), s.shard());
      }
      for (int slot = range[0]; slot <= range[1]; slot++) {
        if (shardOfSlot[slot] >= 0) {
          throw invalid(
              "slot %d is assigned twice (to shard %d, and to shard %d by %s)",
              slot, shardOfSlot[slot], s.shard(), s.range());
        }
        shardOfSlot[slot] = s.shard();
      }
    }
    List<String> orphaned = unassigned(shardOfSlot);
    if (!orphaned.isEmpty()) {
      throw invalid("slots %s are assigned to no shard", String.join(", ", orphaned));
    }
    Map<String, Integer> pins = new LinkedHashMap<>();
    if (raw.pins() != null) {
      raw.pins()
          .forEach(
              (namespace, shard) -> {
                try {
                  KeyPath.checkNamespace(namespace);
                } catch (MeridianException e) {
                  throw invalid("pins: %s", e.getMessage());
                }
                if (shard == null || !shards.containsKey(shard)) {
                  throw invalid(
                      "pins: namespace %s is pinned to shard %s, which is not described",
                      namespace, shard);
                }
                pins.put(namespace, shard);
              });
    }
    return new RoutingTable(raw.version(), text, shardOfSlot, Map.copyOf(pins), shards);
  }

  private static Map<Integer, Shard> shards(List<RawShard> raw) {
    if (raw == null || raw.isEmpty()) {
      throw invalid("shards: none described");
    }
    Map<Integer, Shard> shards = new LinkedHashMap<>();
    for (RawShard s : raw) {
      if (s.id() == null || s.id() < 0) {
        throw invalid("shards: id %s (expected: >= 0)", s.id());
      }
      if (shards.containsKey(s.id())) {
        throw invalid("shards: shard %d is described twice", s.id());
      }
      List<Region> regions = new ArrayList<>();
      Set<String> names = new HashSet<>();
      List<String> primaries = new ArrayList<>();
      for (RawRegion r : s.regions() == null ? List.<RawRegion>of() : s.regions()) {
        Region region = region(s.id(), r);
        if (!names.add(region.region())) {
          throw invalid("shard %d: region %s is listed twice", s.id(), region.region());
        }
        if (region.role() == Role.PRIMARY) {
          primaries.add(region.region());
        }
        regions.add(region);
      }
      // No PRIMARY is a failover between its fence and redirect steps: the old primary is listed
      // FENCED then, and writes are refused until the next table names the new one.
      if (primaries.isEmpty() && regions.stream().noneMatch(r -> r.role() == Role.FENCED)) {
        throw invalid(
            "shard %d has no PRIMARY region (only while a failover is under way may a shard have"
                + " none, with its old primary FENCED)",
            s.id());
      }
      if (primaries.size() > 1) {
        throw invalid(
            "shard %d names %d PRIMARY regions (%s): exactly one may take writes",
            s.id(), primaries.size(), String.join(", ", primaries));
      }
      shards.put(s.id(), new Shard(s.id(), List.copyOf(regions)));
    }
    return Map.copyOf(shards);
  }

  private static Region region(int shard, RawRegion r) {
    if (r.region() == null || r.region().isBlank()) {
      throw invalid("shard %d: a region without a name", shard);
    }
    Role role;
    try {
      role = Role.valueOf(String.valueOf(r.role()));
    } catch (IllegalArgumentException e) {
      role = Role.ROLE_UNSPECIFIED;
    }
    if (role == Role.ROLE_UNSPECIFIED || role == Role.UNRECOGNIZED) {
      throw invalid(
          "shard %d region %s: role %s (expected: PRIMARY, STANDBY or FENCED)",
          shard, r.region(), r.role());
    }
    if (r.epoch() == null || r.epoch() < 1) {
      throw invalid("shard %d region %s: epoch %s (expected: >= 1)", shard, r.region(), r.epoch());
    }
    if (r.endpoints() == null || r.endpoints().isEmpty()) {
      throw invalid("shard %d region %s: no endpoints", shard, r.region());
    }
    List<URI> endpoints = new ArrayList<>();
    for (String e : r.endpoints()) {
      URI uri;
      try {
        uri = URI.create(e);
      } catch (IllegalArgumentException ex) {
        uri = null;
      }
      if (uri == null
          || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
          || uri.getHost() == null
          || uri.getPort() < 1) {
        throw invalid(
            "shard %d region %s: endpoint %s (expected: http(s)://host:port)",
            shard, r.region(), e);
      }
      endpoints.add(uri);
    }
    return new Region(r.region(), role, r.epoch(), List.copyOf(endpoints));
  }

  private static int[] range(String text) {
    String t = text == null ? "" : text.trim();
    try {
      int dash = t.indexOf('-');
      int from = Integer.parseInt(dash < 0 ? t : t.substring(0, dash).trim());
      int to = dash < 0 ? from : Integer.parseInt(t.substring(dash + 1).trim());
      if (from >= 0 && from <= to && to < Slot.COUNT) {
        return new int[] {from, to};
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw invalid("slots: range '%s' (expected: N or N-M with 0 <= N <= M < %d)", text, Slot.COUNT);
  }

  /** Unassigned slots as ranges ("0-9, 100"), at most 5 of them named. */
  private static List<String> unassigned(int[] shardOfSlot) {
    List<String> ranges = new ArrayList<>();
    int slot = 0;
    while (slot < shardOfSlot.length) {
      if (shardOfSlot[slot] >= 0) {
        slot++;
        continue;
      }
      int from = slot;
      while (slot < shardOfSlot.length && shardOfSlot[slot] < 0) {
        slot++;
      }
      if (ranges.size() == 5) {
        ranges.add("...");
        break;
      }
      ranges.add(from == slot - 1 ? Integer.toString(from) : from + "-" + (slot - 1));
    }
    return ranges;
  }

  private static MeridianException invalid(String format, Object... args) {
    return MeridianException.of(Error.Code.INVALID_ARGUMENT, "routing table: " + format, args);
  }

  public long version() {
    return version;
  }

  /** The table as it was given (YAML or JSON). */
  public String text() {
    return text;
  }

  /** The shard that holds {@code namespace}: its pin, else its slot's shard. */
  public Shard shardOf(String namespace) {
    Integer pinned = pins.get(namespace);
    return shards.get(pinned != null ? pinned : shardOfSlot[Slot.of(namespace)]);
  }

  /** The shard that slot {@code slot} (0..{@link Slot#COUNT} - 1) is assigned to. */
  public int shardOfSlot(int slot) {
    return shardOfSlot[slot];
  }

  /** The shard with id {@code id}, or null. */
  public Shard shard(int id) {
    return shards.get(id);
  }

  /** Every shard, by id. */
  public Map<Integer, Shard> shards() {
    return shards;
  }

  /** The namespaces pinned to a shard. */
  public Map<String, Integer> pins() {
    return pins;
  }

  /**
   * This table at version + 1 with the regions of shard {@code shard} named in {@code roles} given
   * that role at {@code epoch}; everything else as it is. Written as YAML (comments of the original
   * are not kept).
   *
   * @throws MeridianException INVALID_ARGUMENT if the shard or a region is not in the table, or the
   *     result is not a valid table (two PRIMARY regions, say)
   */
  public RoutingTable withRoles(int shard, Map<String, Role> roles, long epoch) {
    try {
      com.fasterxml.jackson.databind.node.ObjectNode tree =
          (com.fasterxml.jackson.databind.node.ObjectNode) YAML.readTree(text);
      tree.put("version", version + 1);
      java.util.Set<String> left = new HashSet<>(roles.keySet());
      boolean found = false;
      for (com.fasterxml.jackson.databind.JsonNode s : tree.path("shards")) {
        if (s.path("id").asInt(-1) != shard) {
          continue;
        }
        found = true;
        for (com.fasterxml.jackson.databind.JsonNode r : s.path("regions")) {
          Role role = roles.get(r.path("region").asText());
          if (role != null) {
            ((com.fasterxml.jackson.databind.node.ObjectNode) r)
                .put("role", role.name())
                .put("epoch", epoch);
            left.remove(r.path("region").asText());
          }
        }
      }
      if (!found || !left.isEmpty()) {
        throw invalid(
            "shard %d%s is not in table version %d",
            shard, found ? " region " + String.join(", ", left) : "", version);
      }
      return parse(YAML.writeValueAsString(tree));
    } catch (JsonProcessingException e) {
      throw invalid("%s", e.getOriginalMessage());
    }
  }
}
