package io.meridian.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Looks into a running node from outside: its heap after a full GC ({@code jcmd <pid> GC.run}, then
 * {@code GC.heap_info}), its {@code /metrics} gauges, and its log.
 */
final class NodeProbe {
  /** A full GC of a 1 GiB heap on a loaded 2-core machine can take a while. */
  private static final Duration JCMD_TIMEOUT = Duration.ofSeconds(120);

  private static final Pattern HEAP_USED =
      Pattern.compile("heap\\s+total (\\d+)K, used (\\d+)K", Pattern.CASE_INSENSITIVE);
  private static final Pattern MAX_HEAP = Pattern.compile("-XX:MaxHeapSize=(\\d+)");

  private NodeProbe() {}

  /** Used and committed heap after a full GC, and the JVM's maximum heap, in bytes. */
  record Heap(long usedBytes, long committedBytes, long maxBytes) {
    String describe() {
      return String.format(
          Locale.ROOT,
          "%.1f MiB (committed %.0f MiB, max %.0f MiB)",
          usedBytes / 1048576.0,
          committedBytes / 1048576.0,
          maxBytes / 1048576.0);
    }
  }

  /** Runs a full GC in JVM {@code pid} and reads its used heap; fails if jcmd does. */
  static Heap heapAfterFullGc(long pid) {
    String p = Long.toString(pid);
    jcmd(p, "GC.run");
    String info = jcmd(p, "GC.heap_info");
    Matcher m = HEAP_USED.matcher(info);
    if (!m.find()) {
      throw new IllegalStateException("jcmd " + pid + " GC.heap_info: unexpected output: " + info);
    }
    Matcher max = MAX_HEAP.matcher(jcmd(p, "VM.flags"));
    return new Heap(
        Long.parseLong(m.group(2)) * 1024,
        Long.parseLong(m.group(1)) * 1024,
        max.find() ? Long.parseLong(max.group(1)) : -1);
  }

  /**
   * The {@code top} largest classes by bytes in JVM {@code pid}'s heap ({@code jcmd <pid>
   * GC.class_histogram}, which runs a full GC first), as the histogram's own lines.
   */
  static List<String> classHistogram(long pid, int top) {
    List<String> rows = new ArrayList<>();
    for (String line : jcmd(Long.toString(pid), "GC.class_histogram").lines().toList()) {
      if (rows.size() < top + 2 && !line.isBlank() && !line.endsWith(":")) {
        rows.add(line);
      }
    }
    return rows;
  }

  /** {@code jcmd} of this JDK, else the one on the PATH. */
  private static String jcmdPath() {
    Path here = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    return Files.isExecutable(here) ? here.toString() : "jcmd";
  }

  private static String jcmd(String pid, String command) {
    Path out = null;
    try {
      out = Files.createTempFile("bench-jcmd-", ".txt");
      Process process =
          new ProcessBuilder(jcmdPath(), pid, command)
              .redirectErrorStream(true)
              .redirectOutput(out.toFile())
              .start();
      if (!process.waitFor(JCMD_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException(
            "jcmd " + pid + " " + command + ": no answer in " + JCMD_TIMEOUT.toSeconds() + " s");
      }
      String text = Files.readString(out, StandardCharsets.UTF_8);
      if (process.exitValue() != 0) {
        throw new IllegalStateException(
            "jcmd " + pid + " " + command + ": exit " + process.exitValue() + ": " + text.trim());
      }
      return text;
    } catch (IOException e) {
      throw new IllegalStateException("jcmd " + pid + " " + command + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } finally {
      if (out != null) {
        try {
          Files.deleteIfExists(out);
        } catch (IOException e) {
          // A temporary file: nothing more to do.
        }
      }
    }
  }

  /**
   * The values of the named gauges in {@code clientUrl/metrics} (Prometheus names, summed over
   * their label sets); a gauge the node does not export is left out.
   *
   * @throws IllegalStateException when the node does not answer
   */
  static Map<String, Double> gauges(String clientUrl, List<String> names) {
    String body = null;
    HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(clientUrl + "/metrics"))
            .timeout(Duration.ofSeconds(30))
            .build();
    // One retry: a loaded node has been seen to close the connection mid-answer.
    for (int attempt = 1; body == null; attempt++) {
      try {
        body = http.send(request, HttpResponse.BodyHandlers.ofString()).body();
      } catch (IOException e) {
        if (attempt == 2) {
          throw new IllegalStateException(clientUrl + "/metrics: " + e, e);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
    Map<String, Double> values = new LinkedHashMap<>();
    for (String line : body.lines().toList()) {
      for (String name : names) {
        if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
          String[] parts = line.split(" ");
          values.merge(name, Double.parseDouble(parts[parts.length - 1]), Double::sum);
        }
      }
    }
    return values;
  }

  /**
   * The first {@code max} lines of {@code log} that contain {@code needle}, each followed by the
   * first exception line of the stack trace printed under it, if any (each cut to 300 characters).
   */
  static List<String> logLines(Path log, String needle, int max) {
    List<String> found = new ArrayList<>();
    try (Stream<String> stream = Files.lines(log, StandardCharsets.UTF_8)) {
      List<String> lines = stream.toList();
      for (int i = 0; i < lines.size() && found.size() < max; i++) {
        if (!lines.get(i).contains(needle)) {
          continue;
        }
        String line = cut(lines.get(i));
        for (int j = i + 1; j < Math.min(lines.size(), i + 4); j++) {
          String next = lines.get(j);
          if (Character.isDigit(next.isEmpty() ? ' ' : next.charAt(0))) {
            break; // The next log record.
          }
          if (next.contains("Exception") || next.contains("Error")) {
            line += " / " + cut(next.trim());
            break;
          }
        }
        found.add(line);
      }
    } catch (IOException | java.io.UncheckedIOException e) {
      found.add("unreadable: " + e.getMessage());
    }
    return found;
  }

  private static String cut(String line) {
    return line.length() > 300 ? line.substring(0, 300) + "..." : line;
  }

  /** The number of lines of {@code log} at level WARN and at level ERROR. */
  static long[] warnAndErrorCounts(Path log) {
    long[] counts = new long[2];
    try (Stream<String> lines = Files.lines(log, StandardCharsets.UTF_8)) {
      lines.forEach(
          l -> {
            if (l.contains(" WARN ")) {
              counts[0]++;
            } else if (l.contains(" ERROR ")) {
              counts[1]++;
            }
          });
    } catch (IOException | java.io.UncheckedIOException e) {
      return new long[] {-1, -1};
    }
    return counts;
  }
}
