package io.meridian.serving.config;

import static java.util.Objects.requireNonNull;

/**
 * One key of a configuration file, declared once with everything said about it: its name as the
 * file spells it, its {@link ConfigType type}, its default, the {@link Validator condition} its
 * value must meet and the description the README's configuration table repeats word for word.
 *
 * <p>A name is a dotted path through the file's sections. {@code []} stands for each element of a
 * list ({@code members[].id}) and a segment in angle brackets for each entry of a mapping whose
 * names the user picks ({@code namespaces.<ns>.discover}).
 *
 * <p>Every key has exactly one kind of default: a value ({@link #defaultValue}), the value of
 * another key ({@link #defaultsTo}), or none, when the file must give it ({@link #required}).
 *
 * <pre>{@code
 * static final ConfigKey<Long> MIN_TTL =
 *     ConfigKey.of("lease.min-ttl-seconds", ConfigType.LONG)
 *         .defaultValue(5L)
 *         .check(Validator.atLeast(1))
 *         .description("smallest TTL a lease may be granted");
 * }</pre>
 *
 * @param <T> the type of the key's value
 */
public final class ConfigKey<T> {
  private final String name;
  private final ConfigType<T> type;
  private final T defaultValue;
  private final ConfigKey<T> fallback;
  private final boolean required;
  private final Validator<? super T> validator;
  private final String description;

  private ConfigKey(
      String name,
      ConfigType<T> type,
      T defaultValue,
      ConfigKey<T> fallback,
      boolean required,
      Validator<? super T> validator,
      String description) {
    this.name = name;
    this.type = type;
    this.defaultValue = defaultValue;
    this.fallback = fallback;
    this.required = required;
    this.validator = validator;
    this.description = description;
  }

  /** A key of {@code type}, still without its default and description. */
  public static <T> ConfigKey<T> of(String name, ConfigType<T> type) {
    return new ConfigKey<>(
        requireNonNull(name, "name"), requireNonNull(type, "type"), null, null, false, null, null);
  }

  /** This key under another name: the same type, default, condition and description. */
  public ConfigKey<T> named(String other) {
    return new ConfigKey<>(
        requireNonNull(other, "other"),
        type,
        defaultValue,
        fallback,
        required,
        validator,
        description);
  }

  /** This key with {@code value} when the file does not give it. */
  public ConfigKey<T> defaultValue(T value) {
    return new ConfigKey<>(
        name, type, requireNonNull(value, "value"), null, false, validator, description);
  }

  /** This key with the value of {@code other} when the file does not give it. */
  public ConfigKey<T> defaultsTo(ConfigKey<T> other) {
    return new ConfigKey<>(
        name, type, null, requireNonNull(other, "other"), false, validator, description);
  }

  /** This key with no default: a file that does not give it is refused. */
  public ConfigKey<T> required() {
    return new ConfigKey<>(name, type, null, null, true, validator, description);
  }

  /** This key refusing values {@code condition} does not accept. */
  public ConfigKey<T> check(Validator<? super T> condition) {
    return new ConfigKey<>(
        name,
        type,
        defaultValue,
        fallback,
        required,
        requireNonNull(condition, "condition"),
        description);
  }

  /** This key with {@code text}, the words of its row in the README's configuration table. */
  public ConfigKey<T> description(String text) {
    return new ConfigKey<>(
        name, type, defaultValue, fallback, required, validator, requireNonNull(text, "text"));
  }

  /** The name as the file spells it: {@code raft.purge-gap}, {@code members[].id}. */
  public String name() {
    return name;
  }

  public ConfigType<T> type() {
    return type;
  }

  /** The README table's words for this key. */
  public String description() {
    return description;
  }

  /**
   * The default as the README's table writes it: {@code required}, the value in backticks ({@code
   * `1000`}), or {@code as `reads.max-staleness-ms`} for another key's value.
   */
  public String defaultText() {
    if (required) {
      return "required";
    }
    if (fallback != null) {
      return "as `" + fallback.name + "`";
    }
    if (defaultValue == null) {
      return "";
    }
    String text = type.yaml(defaultValue);
    // An empty string (a setting that is off unless given) reads better as a word than as ``.
    return text.isEmpty() ? "none" : "`" + text + "`";
  }

  /** What a value of this key must be, as a refusal says it. */
  public String expected() {
    return validator == null ? type.expected() : validator.expected();
  }

  boolean isRequired() {
    return required;
  }

  T defaultValue() {
    return defaultValue;
  }

  ConfigKey<T> fallback() {
    return fallback;
  }

  boolean hasDescription() {
    return description != null && !description.isBlank();
  }

  boolean hasDefault() {
    return required || fallback != null || defaultValue != null;
  }

  /** Whether {@code value} meets this key's condition. */
  boolean accepts(T value) {
    return validator == null || validator.accepts(value);
  }

  @Override
  public String toString() {
    return name;
  }
}
