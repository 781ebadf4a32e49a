package io.meridian.api;

import io.meridian.api.v1.Error;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;

/**
 * Rules for keys: a key is a UTF-8 path that begins with {@code /}; its first segment is the
 * namespace ({@code /team-a/db/users} is in namespace {@code team-a}), the unit of sharding.
 *
 * <p>The segment {@code .meridian} directly under a namespace is reserved for state Meridian keeps
 * on the user's behalf (lock waiters, registry instances): clients read it but never write it.
 *
 * <p>Keys sort by Unicode code point, which is the byte order of their UTF-8 form (etcd's order).
 */
public final class KeyPath {
  private KeyPath() {}

  /** The reserved segment under each namespace. */
  public static final String RESERVED_SEGMENT = ".meridian";

  /** Code point order: the same as comparing UTF-8 bytes. */
  public static final Comparator<String> ORDER = KeyPath::compare;

  private static final int MAX_NAMESPACE_CHARS = 128;

  /**
   * Checks that {@code key} is a valid key a client may write.
   *
   * @throws MeridianException with INVALID_ARGUMENT, KEY_TOO_LARGE or RESERVED_KEY
   */
  public static void checkWritable(String key) {
    checkReadable(key);
    if (isReserved(key)) {
      throw MeridianException.of(
          Error.Code.RESERVED_KEY,
          "key: %s (keys under /<namespace>/%s/ are written by Meridian only)",
          abbreviate(key),
          RESERVED_SEGMENT);
    }
  }

  /**
   * Checks that {@code key} is a well-formed key: non-empty, begins with {@code /}, has a valid
   * namespace and is at most {@link Limits#MAX_KEY_BYTES} long.
   */
  public static void checkReadable(String key) {
    if (key == null || key.isEmpty()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "key: empty (expected: a path such as /team-a/config)");
    }
    if (key.charAt(0) != '/') {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "key: %s (expected: a path that begins with '/')",
          abbreviate(key));
    }
    int bytes = utf8Length(key);
    if (bytes > Limits.MAX_KEY_BYTES) {
      throw MeridianException.of(
          Error.Code.KEY_TOO_LARGE, "key: %d bytes (expected: <= %d)", bytes, Limits.MAX_KEY_BYTES);
    }
    checkNamespace(namespaceOf(key));
  }

  /** The namespace of {@code key}: its first path segment. */
  public static String namespaceOf(String key) {
    int end = key.indexOf('/', 1);
    return end < 0 ? key.substring(1) : key.substring(1, end);
  }

  /**
   * Checks a namespace name: 1 to 128 characters of letters, digits, '-', '_' or '.', not starting
   * with '.'.
   */
  public static void checkNamespace(String namespace) {
    if (namespace == null || namespace.isEmpty()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "namespace: empty (expected: the first path segment, as in /team-a/...)");
    }
    if (namespace.length() > MAX_NAMESPACE_CHARS || namespace.charAt(0) == '.') {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "namespace: %s (expected: 1..%d characters, not starting with '.')",
          abbreviate(namespace),
          MAX_NAMESPACE_CHARS);
    }
    for (int i = 0; i < namespace.length(); i++) {
      char c = namespace.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '-'
              || c == '_'
              || c == '.';
      if (!ok) {
        throw MeridianException.of(
            Error.Code.INVALID_ARGUMENT,
            "namespace: %s (expected: letters, digits, '-', '_' or '.')",
            abbreviate(namespace));
      }
    }
  }

  /** Whether {@code key} lies under {@code /<namespace>/.meridian/}. */
  public static boolean isReserved(String key) {
    int slash = key.indexOf('/', 1);
    if (slash < 0) {
      return false;
    }
    int start = slash + 1;
    int end = start + RESERVED_SEGMENT.length();
    return key.startsWith(RESERVED_SEGMENT, start)
        && (key.length() == end || key.charAt(end) == '/');
  }

  /** {@code /<namespace>/.meridian/<kind>/}: where Meridian keeps state of one kind. */
  public static String reservedPrefix(String namespace, String kind) {
    return "/" + namespace + "/" + RESERVED_SEGMENT + "/" + kind + "/";
  }

  /** Compares two keys by code point (UTF-8 byte order). */
  public static int compare(String a, String b) {
    int n = Math.min(a.length(), b.length());
    for (int i = 0; i < n; i++) {
      char x = a.charAt(i);
      char y = b.charAt(i);
      if (x != y) {
        // Surrogates (U+D800..U+DFFF) encode code points above U+FFFF: they sort after
        // U+E000..U+FFFF.
        boolean sx = Character.isSurrogate(x);
        boolean sy = Character.isSurrogate(y);
        if (sx != sy) {
          return sx ? 1 : -1;
        }
        return Character.compare(x, y);
      }
    }
    return Integer.compare(a.length(), b.length());
  }

  /** UTF-8 length of {@code s} without allocating. */
  public static int utf8Length(String s) {
    int len = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        len += 1;
      } else if (c < 0x800) {
        len += 2;
      } else if (Character.isHighSurrogate(c)) {
        len += 4;
        i++;
      } else {
        len += 3;
      }
    }
    return len;
  }

  /** The key cut to 64 characters, for messages. */
  public static String abbreviate(String key) {
    return key.length() <= 64 ? key : key.substring(0, 61) + "...";
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
