package io.meridian.serving.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * How a YAML value becomes the Java value of a {@link ConfigKey}, and how a default is written back
 * in YAML for the README's tables. Numbers and booleans may also be given as quoted text, and any
 * scalar as text, as the configuration files were always read.
 *
 * @param <T> the Java type
 */
public final class ConfigType<T> {
  /** Any scalar, as text. */
  public static final ConfigType<String> STRING =
      new ConfigType<>("a string", "strings", n -> n.isValueNode() ? n.asText() : null, s -> s);

  /** A whole number that fits an {@code int}. */
  public static final ConfigType<Integer> INT =
      wholeNumber(JsonNode::canConvertToInt, JsonNode::intValue, Integer::valueOf);

  /** A whole number that fits a {@code long}. */
  public static final ConfigType<Long> LONG =
      wholeNumber(JsonNode::canConvertToLong, JsonNode::longValue, Long::valueOf);

  /** Any number. */
  public static final ConfigType<Double> DOUBLE =
      new ConfigType<>(
          "a number",
          "numbers",
          n -> n.isNumber() ? Double.valueOf(n.doubleValue()) : parsed(n, Double::valueOf),
          String::valueOf);

  /** {@code true} or {@code false}. */
  public static final ConfigType<Boolean> BOOLEAN =
      new ConfigType<>("true or false", "booleans", ConfigType::bool, String::valueOf);

  private final String expected;
  private final String plural;
  private final Function<JsonNode, T> reader;
  private final Function<T, String> yaml;

  private ConfigType(
      String expected, String plural, Function<JsonNode, T> reader, Function<T, String> yaml) {
    this.expected = expected;
    this.plural = plural;
    this.reader = reader;
    this.yaml = yaml;
  }

  private static <N extends Number> ConfigType<N> wholeNumber(
      Predicate<JsonNode> fits, Function<JsonNode, N> value, Function<String, N> parse) {
    return new ConfigType<>(
        "an integer",
        "integers",
        n -> n.isIntegralNumber() && fits.test(n) ? value.apply(n) : parsed(n, parse),
        String::valueOf);
  }

  /** One of {@code values}, spelt as its name; the constants left out are refused. */
  @SafeVarargs
  public static <E extends Enum<E>> ConfigType<E> oneOf(E... values) {
    List<E> allowed = List.of(values);
    List<String> names = allowed.stream().map(Enum::name).toList();
    String expected =
        String.join(", ", names.subList(0, names.size() - 1))
            + " or "
            + names.get(names.size() - 1);
    return new ConfigType<>(
        expected,
        expected,
        n ->
            n.isTextual()
                ? allowed.stream()
                    .filter(e -> e.name().equals(n.textValue()))
                    .findFirst()
                    .orElse(null)
                : null,
        Enum::name);
  }

  /** A YAML sequence of {@code element} values; the list is unmodifiable. */
  public static <T> ConfigType<List<T>> listOf(ConfigType<T> element) {
    return new ConfigType<>(
        "a list of " + element.plural,
        "lists of " + element.plural,
        n -> {
          if (!n.isArray()) {
            return null;
          }
          List<T> out = new ArrayList<>();
          for (JsonNode e : n) {
            T value = e.isNull() ? null : element.read(e);
            if (value == null) {
              return null;
            }
            out.add(value);
          }
          return List.copyOf(out);
        },
        list -> list.stream().map(element.yaml).collect(Collectors.joining(", ", "[", "]")));
  }

  /** A YAML mapping of names the user picks to {@code value} values, in the file's order. */
  public static <T> ConfigType<Map<String, T>> mapOf(ConfigType<T> value) {
    return new ConfigType<>(
        "a mapping of names to " + value.plural,
        "mappings of names to " + value.plural,
        n -> {
          if (!n.isObject()) {
            return null;
          }
          Map<String, T> out = new LinkedHashMap<>();
          for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            T v = e.getValue().isNull() ? null : value.read(e.getValue());
            if (v == null) {
              return null;
            }
            out.put(e.getKey(), v);
          }
          return Collections.unmodifiableMap(out);
        },
        map ->
            map.entrySet().stream()
                .map(e -> e.getKey() + ": " + value.yaml.apply(e.getValue()))
                .collect(Collectors.joining(", ", "{", "}")));
  }

  /** What a value of this type is, as a refusal says it: {@code "an integer"}. */
  public String expected() {
    return expected;
  }

  /** {@code node} as a value of this type; null when it is not one. */
  T read(JsonNode node) {
    return reader.apply(node);
  }

  /** {@code value} as YAML writes it, for the README's default column. */
  String yaml(T value) {
    return yaml.apply(value);
  }

  private static <T> T parsed(JsonNode n, Function<String, T> parse) {
    if (!n.isTextual()) {
      return null;
    }
    try {
      return parse.apply(n.textValue().trim());
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static Boolean bool(JsonNode n) {
    if (n.isBoolean()) {
      return n.booleanValue();
    }
    String text = n.isTextual() ? n.textValue().trim() : "";
    return text.equalsIgnoreCase("true") || text.equalsIgnoreCase("false")
        ? Boolean.valueOf(text)
        : null;
  }

  @Override
  public String toString() {
    return expected;
  }
}
