package io.meridian.serving.config;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The values of one configuration file as {@link ConfigKeys} read them: every key given was of its
 * type and met its condition; a key not given has its default. A {@code ConfigValues} is either the
 * whole file or one element of a list ({@link #elements}) or one named entry ({@link #entries}),
 * and keys are looked up by their declared name in it.
 *
 * <p>Checks that involve several keys stay with the role's config class; {@link #refuse} words them
 * like the reader's own refusals.
 */
public final class ConfigValues {
  private final KeyTree.Reading reading;
  private final ConfigValues root;
  // Where in the file these values are: the declared name of the scope (members[]) and the same
  // as the file spells it (members[2]); both empty for the whole file.
  private final String pattern;
  private final String path;

  ConfigValues(KeyTree.Reading reading) {
    this.reading = reading;
    this.root = this;
    this.pattern = "";
    this.path = "";
  }

  private ConfigValues(ConfigValues parent, String pattern, String path) {
    this.reading = parent.reading;
    this.root = parent.root;
    this.pattern = pattern;
    this.path = path;
  }

  /** Where the values came from: the file, or the role's name for text given in code. */
  public String source() {
    return reading.source;
  }

  /**
   * The value of {@code key}: as given, else its default.
   *
   * @throws ConfigException if the key is required and was not given
   */
  @SuppressWarnings("unchecked")
  public <T> T get(ConfigKey<T> key) {
    String at = path(key);
    Object value = reading.values.get(at);
    if (value != null) {
      return (T) value;
    }
    if (key.isRequired()) {
      throw new ConfigException(source(), at, "missing (expected: " + key.expected() + ")");
    }
    ConfigKey<T> fallback = key.fallback();
    if (fallback != null) {
      return (fallback.name().startsWith(pattern) ? this : root).get(fallback);
    }
    return key.defaultValue();
  }

  /** Each element of the list {@code list} ({@code "members[]"}), in the file's order. */
  public List<ConfigValues> elements(String list) {
    String at = path(list.substring(0, list.length() - "[]".length()));
    int size = reading.sizes.getOrDefault(at, 0);
    List<ConfigValues> out = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      out.add(new ConfigValues(this, list, at + "[" + i + "]"));
    }
    return out;
  }

  /**
   * Each element of the list {@code list} read by {@code read}, in the file's order; an element
   * whose {@code unique} key has the value of an earlier element's is refused.
   */
  public <T> List<T> elements(String list, ConfigKey<?> unique, Function<ConfigValues, T> read) {
    List<T> out = new ArrayList<>();
    Set<Object> seen = new HashSet<>();
    for (ConfigValues element : elements(list)) {
      if (!seen.add(element.get(unique))) {
        throw element.refuse(unique, "unique");
      }
      out.add(read.apply(element));
    }
    return List.copyOf(out);
  }

  /**
   * Each entry of the named mapping {@code entries} ({@code "namespaces.<ns>"}) by its name, in the
   * file's order.
   */
  public Map<String, ConfigValues> entries(String entries) {
    String at = path(entries.substring(0, entries.lastIndexOf('.')));
    Map<String, ConfigValues> out = new LinkedHashMap<>();
    for (String name : reading.names.getOrDefault(at, List.of())) {
      out.put(name, new ConfigValues(this, entries, at + "." + name));
    }
    return out;
  }

  /** {@code key}'s name as the file spells it here: {@code members[2].peer}. */
  public String path(ConfigKey<?> key) {
    return path(key.name());
  }

  /** A refusal of {@code key}'s value, which was expected to be {@code expected}. */
  public ConfigException refuse(ConfigKey<?> key, String expected) {
    return refuse(path(key), get(key), expected);
  }

  /** A refusal of {@code value} at {@code path}, which was expected to be {@code expected}. */
  public ConfigException refuse(String path, Object value, String expected) {
    return new ConfigException(source(), path, value + " (expected: " + expected + ")");
  }

  private String path(String name) {
    if (!name.startsWith(pattern)) {
      throw new IllegalArgumentException(
          name + " is not a key of " + (path.isEmpty() ? "the file" : path));
    }
    return path + name.substring(pattern.length());
  }
}
