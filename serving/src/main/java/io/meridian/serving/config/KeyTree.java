package io.meridian.serving.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The declared keys arranged as a file nests them, and the walk that reads a file along them. Each
 * node is one of: a section of fixed keys, a list whose elements are sections ({@code []}), a
 * mapping whose entry names the user picks ({@code <ns>}), or a declared key.
 *
 * <pre>
 *   root ─┬─ member                            a key
 *         ├─ raft ── purge-gap                 a section of fixed keys
 *         ├─ members ── [] ─┬─ id              a list of sections
 *         │                 └─ peer
 *         └─ namespaces ── &lt;ns&gt; ── discover     entries the user names
 * </pre>
 */
final class KeyTree {
  private final Map<String, KeyTree> fixed = new LinkedHashMap<>();
  private KeyTree element;
  private KeyTree named;
  private ConfigKey<?> key;

  /** Places {@code declared} in the tree; refuses a name that clashes with another's layout. */
  void add(ConfigKey<?> declared) {
    KeyTree node = this;
    for (String segment : segments(declared.name())) {
      node = node.child(segment, declared);
    }
    if (node.key != null || !node.isLeaf()) {
      throw new IllegalArgumentException(declared + ": declared twice or inside another key");
    }
    node.key = declared;
  }

  private KeyTree child(String segment, ConfigKey<?> declared) {
    if (key != null) {
      throw new IllegalArgumentException(declared + ": inside the key " + key);
    }
    boolean list = segment.equals("[]");
    boolean entries = segment.startsWith("<");
    if ((list && (named != null || !fixed.isEmpty()))
        || (entries && (element != null || !fixed.isEmpty()))
        || (!list && !entries && (element != null || named != null))) {
      throw new IllegalArgumentException(declared + ": mixes fixed keys, lists and named entries");
    }
    if (list) {
      return element == null ? element = new KeyTree() : element;
    }
    if (entries) {
      return named == null ? named = new KeyTree() : named;
    }
    return fixed.computeIfAbsent(segment, s -> new KeyTree());
  }

  private boolean isLeaf() {
    return fixed.isEmpty() && element == null && named == null;
  }

  /** {@code members[].id} as {@code members}, {@code []}, {@code id}. */
  static List<String> segments(String name) {
    List<String> out = new ArrayList<>();
    for (String part : name.split("\\.")) {
      if (part.endsWith("[]")) {
        out.add(part.substring(0, part.length() - 2));
        out.add("[]");
      } else {
        out.add(part);
      }
    }
    return out;
  }

  /** Reads {@code node}, found at {@code path} in the file, into {@code out}. */
  void read(JsonNode node, String path, Reading out) {
    if (key != null) {
      readKey(key, node, path, out);
    } else if (element != null) {
      if (!node.isArray()) {
        throw out.refuse(path, node, "a list");
      }
      out.sizes.put(path, node.size());
      for (int i = 0; i < node.size(); i++) {
        element.read(node.get(i), path + "[" + i + "]", out);
      }
    } else if (named != null) {
      if (!node.isObject()) {
        throw out.refuse(path, node, "a mapping of names");
      }
      List<String> names = new ArrayList<>();
      out.names.put(path, names);
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        names.add(e.getKey());
        if (!e.getValue().isNull()) {
          named.read(e.getValue(), path + "." + e.getKey(), out);
        }
      }
    } else {
      readSection(node, path, out);
    }
  }

  private void readSection(JsonNode node, String path, Reading out) {
    String known = String.join(", ", fixed.keySet());
    if (!node.isObject()) {
      throw out.refuse(path, node, "a mapping of " + known);
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String childPath = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
      KeyTree child = fixed.get(e.getKey());
      if (child == null) {
        throw new ConfigException(
            out.source, childPath, "unknown key (expected: one of " + known + ")");
      }
      // An empty value (`region:` or `region: ~`) leaves the key at its default.
      if (!e.getValue().isNull()) {
        child.read(e.getValue(), childPath, out);
      }
    }
  }

  private static <T> void readKey(ConfigKey<T> key, JsonNode node, String path, Reading out) {
    T value = key.type().read(node);
    if (value == null) {
      throw out.refuse(path, node, key.type().expected());
    }
    if (!key.accepts(value)) {
      throw out.refuse(path, node, key.expected());
    }
    out.values.put(path, value);
  }

  /** What a walk found: each key's value, each list's length and each named mapping's names. */
  static final class Reading {
    final String source;
    final Map<String, Object> values = new LinkedHashMap<>();
    final Map<String, Integer> sizes = new LinkedHashMap<>();
    final Map<String, List<String>> names = new LinkedHashMap<>();

    Reading(String source) {
      this.source = source;
    }

    ConfigException refuse(String path, JsonNode node, String expected) {
      String value = node.isTextual() ? node.textValue() : node.toString();
      return new ConfigException(source, path, value + " (expected: " + expected + ")");
    }
  }
}
