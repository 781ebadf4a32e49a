package io.meridian.cluster.registry;

import io.meridian.api.KeyPath;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.HealthStatus;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Checks of registry requests. Every failure is INVALID_ARGUMENT with a message in the form {@code
 * "field: value (expected: ...)"}. Pure syntax: an address is never resolved.
 */
public final class RegistryRules {
  public static final int MAX_ADDRESS_CHARS = 253;
  public static final int MAX_TAGS = 64;
  public static final int MAX_TAG_CHARS = 128;
  public static final int MAX_METADATA_ENTRIES = 64;
  public static final int MAX_METADATA_VALUE_CHARS = 1024;
  public static final int MAX_NOTE_CHARS = 1024;

  private static final Pattern SERVICE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  private static final Pattern INSTANCE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");
  private static final Pattern LOCATION = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  private static final Pattern METADATA_KEY = Pattern.compile("[A-Za-z0-9._/-]{1,128}");
  private static final int MAX_LABEL_CHARS = 63;

  private RegistryRules() {}

  private static MeridianException invalid(String format, Object... args) {
    return MeridianException.of(Error.Code.INVALID_ARGUMENT, format, args);
  }

  /** A value cut for a message, control characters escaped. */
  private static String shown(String value) {
    String cut = KeyPath.abbreviate(value);
    StringBuilder out = new StringBuilder(cut.length());
    cut.codePoints()
        .forEach(
            cp -> {
              if (Character.isISOControl(cp)) {
                out.append(String.format("\\u%04x", cp));
              } else {
                out.appendCodePoint(cp);
              }
            });
    return out.toString();
  }

  public static void checkService(String service) {
    if (!SERVICE.matcher(service).matches()) {
      throw invalid(
          "service: %s (expected: 1..128 letters, digits, '.', '_' or '-', beginning with a letter"
              + " or digit)",
          shown(service));
    }
  }

  public static void checkInstanceId(String id) {
    if (!INSTANCE_ID.matcher(id).matches()) {
      throw invalid(
          "instance_id: %s (expected: 1..128 letters, digits, '.', '_', ':' or '-', beginning with"
              + " a letter or digit)",
          shown(id));
    }
  }

  /** A host name, an IPv4 address or an IPv6 address without brackets, checked as text only. */
  public static void checkAddress(String address) {
    if (address.isEmpty()
        || address.length() > MAX_ADDRESS_CHARS
        || !(isIpv6(address) || isIpv4(address) || isHostName(address))) {
      throw invalid(
          "address: %s (expected: a host name, an IPv4 address or an IPv6 address without"
              + " brackets, 1..%d characters)",
          address.isEmpty() ? "empty" : shown(address), MAX_ADDRESS_CHARS);
    }
  }

  /** {@code port} is a uint32 on the wire. */
  public static void checkPort(int port) {
    long value = Integer.toUnsignedLong(port);
    if (value < 1 || value > 65535) {
      throw invalid("port: %d (expected: 1..65535)", value);
    }
  }

  /** A region or zone: empty, or a lower-case DNS label. */
  public static void checkLocation(String field, String value) {
    if (!value.isEmpty() && !LOCATION.matcher(value).matches()) {
      throw invalid(
          "%s: %s (expected: empty, or 1..63 lower-case letters, digits or '-', beginning with a"
              + " letter or digit)",
          field, shown(value));
    }
  }

  public static void checkTags(List<String> tags) {
    if (tags.size() > MAX_TAGS) {
      throw invalid("tags: %d tags (expected: at most %d)", tags.size(), MAX_TAGS);
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < tags.size(); i++) {
      String tag = tags.get(i);
      int chars = tag.codePointCount(0, tag.length());
      if (chars < 1 || chars > MAX_TAG_CHARS) {
        throw invalid(
            "tags[%d]: %s (expected: 1..%d characters)",
            i, tag.isEmpty() ? "empty" : shown(tag), MAX_TAG_CHARS);
      }
      if (tag.codePoints().anyMatch(Character::isISOControl)) {
        throw invalid("tags[%d]: %s (expected: no control characters)", i, shown(tag));
      }
      if (!seen.add(tag)) {
        throw invalid("tags[%d]: %s (expected: no duplicate tags)", i, shown(tag));
      }
    }
  }

  public static void checkMetadata(Map<String, String> metadata) {
    if (metadata.size() > MAX_METADATA_ENTRIES) {
      throw invalid(
          "metadata: %d entries (expected: at most %d)", metadata.size(), MAX_METADATA_ENTRIES);
    }
    // Sorted, so the first bad entry reported does not depend on the map's order.
    for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
      if (!METADATA_KEY.matcher(e.getKey()).matches()) {
        throw invalid(
            "metadata key: %s (expected: 1..128 letters, digits, '.', '_', '/' or '-')",
            e.getKey().isEmpty() ? "empty" : shown(e.getKey()));
      }
      String value = e.getValue();
      int chars = value.codePointCount(0, value.length());
      if (chars > MAX_METADATA_VALUE_CHARS) {
        throw invalid(
            "metadata[%s]: %d characters (expected: at most %d)",
            e.getKey(), chars, MAX_METADATA_VALUE_CHARS);
      }
    }
  }

  /** The health a registration starts with: UNSPECIFIED means PASSING. */
  public static HealthStatus initialHealth(HealthStatus health) {
    if (health == HealthStatus.HEALTH_UNSPECIFIED) {
      return HealthStatus.PASSING;
    }
    checkHealth(health);
    return health;
  }

  /** PASSING, WARNING or CRITICAL. */
  public static void checkHealth(HealthStatus health) {
    if (health != HealthStatus.PASSING
        && health != HealthStatus.WARNING
        && health != HealthStatus.CRITICAL) {
      throw invalid("health: %s (expected: PASSING, WARNING or CRITICAL)", health);
    }
  }

  public static void checkNote(String note) {
    int chars = note.codePointCount(0, note.length());
    if (chars > MAX_NOTE_CHARS) {
      throw invalid("note: %d characters (expected: at most %d)", chars, MAX_NOTE_CHARS);
    }
  }

  /** The time to live the proposer resolved for a registry-granted lease. */
  public static void checkTtl(long ttlMs) {
    if (ttlMs <= 0) {
      throw invalid("ttl_ms: %d (expected: > 0, or a lease to bind the instance to)", ttlMs);
    }
  }

  /**
   * The heartbeat interval of an instance whose lease lives {@code ttlMs}: {@code requested}, or a
   * third of the TTL (at least 1 ms) for 0.
   */
  public static long heartbeatInterval(long requested, long ttlMs) {
    if (requested == 0) {
      return Math.max(1, ttlMs / 3);
    }
    if (requested < 0 || requested > ttlMs) {
      throw invalid(
          "heartbeat_interval_ms: %d (expected: 1..%d, the lease's TTL, or 0 for a third of it)",
          requested, ttlMs);
    }
    return requested;
  }

  /**
   * Dot-separated labels of letters, digits and '-', each 1..63 characters and not beginning or
   * ending with '-'. The last label is not all digits: such a name is an IPv4 address or nothing.
   */
  static boolean isHostName(String s) {
    String[] labels = s.split("\\.", -1);
    for (String label : labels) {
      if (label.isEmpty()
          || label.length() > MAX_LABEL_CHARS
          || label.charAt(0) == '-'
          || label.charAt(label.length() - 1) == '-') {
        return false;
      }
      for (int i = 0; i < label.length(); i++) {
        char c = label.charAt(i);
        if (!isAsciiLetterOrDigit(c) && c != '-') {
          return false;
        }
      }
    }
    return !labels[labels.length - 1].chars().allMatch(c -> c >= '0' && c <= '9');
  }

  /** Four decimal octets 0..255 without leading zeros. */
  static boolean isIpv4(String s) {
    String[] octets = s.split("\\.", -1);
    if (octets.length != 4) {
      return false;
    }
    for (String octet : octets) {
      if (octet.isEmpty()
          || octet.length() > 3
          || (octet.length() > 1 && octet.charAt(0) == '0')
          || !octet.chars().allMatch(c -> c >= '0' && c <= '9')
          || Integer.parseInt(octet) > 255) {
        return false;
      }
    }
    return true;
  }

  /**
   * RFC 4291 text form without brackets or zone: eight groups of 1..4 hex digits, one "::" standing
   * for one or more zero groups, and optionally an IPv4 address as the last two groups.
   */
  static boolean isIpv6(String s) {
    if (s.indexOf(':') < 0) {
      return false;
    }
    int gap = s.indexOf("::");
    if (gap < 0) {
      return groups(s, true) == 8;
    }
    if (s.indexOf("::", gap + 1) >= 0) {
      return false;
    }
    int head = groups(s.substring(0, gap), false);
    int tail = groups(s.substring(gap + 2), true);
    return head >= 0 && tail >= 0 && head + tail <= 7;
  }

  /** The number of 16-bit groups in a ':'-separated run, or -1 if malformed. */
  private static int groups(String run, boolean mayEndInIpv4) {
    if (run.isEmpty()) {
      return 0;
    }
    String[] parts = run.split(":", -1);
    int n = 0;
    for (int i = 0; i < parts.length; i++) {
      String part = parts[i];
      if (mayEndInIpv4 && i == parts.length - 1 && part.indexOf('.') >= 0) {
        if (!isIpv4(part)) {
          return -1;
        }
        n += 2;
      } else if (part.isEmpty() || part.length() > 4 || !part.chars().allMatch(c -> isHex(c))) {
        return -1;
      } else {
        n++;
      }
    }
    return n;
  }

  private static boolean isAsciiLetterOrDigit(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }

  private static boolean isHex(int c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
}
