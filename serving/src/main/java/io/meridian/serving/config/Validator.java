package io.meridian.serving.config;

import static java.util.Objects.requireNonNull;

import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * A condition a {@link ConfigKey}'s value must meet, with the words a refusal uses for what was
 * expected: {@code between(5, 3600)} refuses 1 as {@code "1 (expected: 5..3600)"}.
 *
 * @param <T> the key's type
 */
public final class Validator<T> {
  private final Predicate<? super T> test;
  private final String expected;

  private Validator(Predicate<? super T> test, String expected) {
    this.test = requireNonNull(test, "test");
    this.expected = requireNonNull(expected, "expected");
  }

  /** Values {@code test} accepts; {@code expected} says which, for the refusal. */
  public static <T> Validator<T> of(Predicate<? super T> test, String expected) {
    return new Validator<>(test, expected);
  }

  /** Whole numbers of at least {@code min}. */
  public static <N extends Number> Validator<N> atLeast(long min) {
    return of(n -> n.longValue() >= min, ">= " + min);
  }

  /** Whole numbers from {@code min} to {@code max}, both included. */
  public static <N extends Number> Validator<N> between(long min, long max) {
    return of(n -> n.longValue() >= min && n.longValue() <= max, min + ".." + max);
  }

  /** A TCP port to listen on, 0 for any free one. */
  public static <N extends Number> Validator<N> port() {
    return between(0, 65535);
  }

  /** An address to bind a server to. */
  public static Validator<String> bindAddress() {
    return notBlank("an address to bind, e.g. 127.0.0.1");
  }

  /** Text that matches {@code regex} as a whole. */
  public static Validator<String> matching(String regex, String expected) {
    Pattern pattern = Pattern.compile(regex);
    return of(s -> pattern.matcher(s).matches(), expected);
  }

  /** Text with something other than white space in it. */
  public static Validator<String> notBlank(String expected) {
    return of(s -> !s.isBlank(), expected);
  }

  /** Whether {@code value} meets the condition. */
  public boolean accepts(T value) {
    return test.test(value);
  }

  /** What a value must be, as a refusal says it. */
  public String expected() {
    return expected;
  }
}
