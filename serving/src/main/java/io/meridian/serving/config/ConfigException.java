package io.meridian.serving.config;

/**
 * A configuration that cannot be used. Its message names where the configuration came from (the
 * file, or {@code node config}, {@code router config}, {@code bridge config} for text given in
 * code), the key as the file spells it and what was expected, in one shape for every process role:
 *
 * <pre>{@code
 * node.yaml: lease.min-ttl-seconds: 0 (expected: >= 1)
 * router.yaml: colour: unknown key (expected: one of region, listen, tls, table, ...)
 * bridge.yaml: kafka: given twice (expected: each key once)
 * }</pre>
 *
 * Change that key (the README's configuration tables list every key with its default) and start the
 * process again.
 */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String source;
  private final String key;

  /**
   * @param source the file, or the role's name for text given in code
   * @param key the key as the file spells it ({@code shards[1].epoch}), or null when the problem is
   *     the file as a whole (empty, not YAML, unreadable)
   * @param problem the value and what was expected, as in {@code "0 (expected: >= 1)"}
   */
  public ConfigException(String source, String key, String problem) {
    super(source + ": " + (key == null ? "" : key + ": ") + problem);
    this.source = source;
    this.key = key;
  }

  /** The file, or the role's name ({@code node config}) for text given in code. */
  public String source() {
    return source;
  }

  /** The key refused, as the file spells it; null when the file as a whole was refused. */
  public String key() {
    return key;
  }
}
