package io.meridian.serving.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Every key of one process role's configuration file, each declared once, and the one way such a
 * file is read. Reading is strict: a key given twice, an empty file or a second document is
 * refused; so is a key not declared (the refusal lists the keys expected there), a value not of its
 * key's type and a value its key's condition refuses. Every refusal is a {@link ConfigException}
 * naming the file, the key and what was expected.
 *
 * <pre>{@code
 * static final ConfigKeys KEYS = ConfigKeys.of("node", MEMBER, REGION, DATA_DIR, ...);
 *
 * public static NodeConfig load(Path file) {
 *   return from(KEYS.load(file));
 * }
 * }</pre>
 *
 * The declaration order is the order of the README's table, which a test holds to the declarations.
 */
public final class ConfigKeys {
  private final String role;
  private final List<ConfigKey<?>> keys;
  private final KeyTree tree = new KeyTree();

  private ConfigKeys(String role, List<ConfigKey<?>> keys) {
    this.role = role;
    this.keys = keys;
    Set<String> declared = new HashSet<>();
    for (ConfigKey<?> key : keys) {
      checkDeclaration(key, declared);
      tree.add(key);
      declared.add(key.name());
    }
  }

  /**
   * The keys of {@code role}'s file ({@code "node"}, {@code "router"}, {@code "bridge"}).
   *
   * @throws IllegalArgumentException if a key lacks a default or a description, its default fails
   *     its own condition, it defaults to a key not declared before it, or two keys clash
   */
  public static ConfigKeys of(String role, ConfigKey<?>... keys) {
    return new ConfigKeys(role, List.of(keys));
  }

  /** The role's name, as in {@code "node"}. */
  public String role() {
    return role;
  }

  /** The declared keys, in declaration order. */
  public List<ConfigKey<?>> keys() {
    return keys;
  }

  /**
   * Reads {@code file}.
   *
   * @throws ConfigException naming {@code file} if it cannot be read or is refused
   */
  public ConfigValues load(Path file) {
    String source = file.toString();
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new ConfigException(
          source,
          null,
          "cannot be read, " + e.getClass().getSimpleName() + " (expected: a readable file)");
    }
    return read(text, source);
  }

  /**
   * Reads YAML text given in code; refusals name it {@code "<role> config"}.
   *
   * @throws ConfigException if the text is refused
   */
  public ConfigValues parse(String yaml) {
    return read(yaml, role + " config");
  }

  /**
   * {@code value}, set in code rather than read, if {@code key}'s condition accepts it.
   *
   * @throws ConfigException naming {@code "<role> config"} otherwise
   */
  public <T> T check(ConfigKey<T> key, T value) {
    if (value == null || !key.accepts(value)) {
      throw new ConfigException(
          role + " config", key.name(), value + " (expected: " + key.expected() + ")");
    }
    return value;
  }

  @Override
  public String toString() {
    return role + " config";
  }

  private ConfigValues read(String text, String source) {
    KeyTree.Reading reading = new KeyTree.Reading(source);
    tree.read(StrictYaml.read(text, source), "", reading);
    return new ConfigValues(reading);
  }

  private void checkDeclaration(ConfigKey<?> key, Set<String> declared) {
    String problem = null;
    if (!key.hasDescription()) {
      problem = "declared without a description";
    } else if (!key.hasDefault()) {
      problem = "declared without a default (a value, another key, or required)";
    } else if (key.fallback() != null && !declared.contains(key.fallback().name())) {
      problem = "defaults to " + key.fallback() + ", which is not declared before it";
    } else if (!defaultAccepted(key)) {
      problem = "its default " + key.defaultText() + " fails its own check";
    }
    if (problem != null) {
      throw new IllegalArgumentException(role + " config: " + key + ": " + problem);
    }
  }

  private static <T> boolean defaultAccepted(ConfigKey<T> key) {
    return key.defaultValue() == null || key.accepts(key.defaultValue());
  }
}
