package io.meridian.ctl;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/** Reads {@code --timeout}-style durations: a whole number with ms, s, m or h ({@code 500ms}). */
final class Durations implements CommandLine.ITypeConverter<Duration> {
  private static final Pattern FORM = Pattern.compile("(\\d+)(ms|s|m|h)");
  private static final Pattern SECONDS = Pattern.compile("\\d+");

  @Override
  public Duration convert(String value) {
    Matcher m = FORM.matcher(value.trim());
    if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
      throw new CommandLine.TypeConversionException(
          "'" + value + "' (expected: a positive duration such as 500ms, 5s, 1m or 1h)");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      default -> Duration.ofHours(n);
    };
  }

  /**
   * Reads a lease TTL, which the API counts in whole seconds: a duration ({@code 10s}, {@code 1m})
   * or a bare number of seconds ({@code 10}), as etcdctl takes it.
   */
  static final class Ttl implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      String v = value.trim();
      try {
        Duration ttl =
            SECONDS.matcher(v).matches()
                ? Duration.ofSeconds(Long.parseLong(v))
                : new Durations().convert(v);
        if (!ttl.isZero() && ttl.toMillis() % 1000 == 0) {
          return ttl;
        }
      } catch (NumberFormatException
          | ArithmeticException
          | CommandLine.TypeConversionException e) {
        // The message below says what is expected.
      }
      throw new CommandLine.TypeConversionException(
          "'" + value + "' (expected: whole seconds such as 10s, 1m or 10)");
    }
  }
}
