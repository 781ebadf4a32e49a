package io.meridian.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Optional;

/**
 * Where a running {@code bin/meridian dev} says its {@code topology.json} is, so that {@code
 * meridianctl} finds the local federation with no flags: a one-line file in the temporary
 * directory, named after the user (or the file {@code $MERIDIAN_DEV_POINTER} names), written when
 * the federation is up and removed when it stops.
 */
public final class DevPointer {
  private DevPointer() {}

  /** The environment variable that moves the pointer file (for several dev federations). */
  public static final String ENV = "MERIDIAN_DEV_POINTER";

  /**
   * The pointer file: {@code $MERIDIAN_DEV_POINTER}, else {@code
   * <java.io.tmpdir>/meridian-dev-<user>.topology}.
   */
  public static Path file(Map<String, String> env) {
    String named = env.get(ENV);
    if (named != null && !named.isBlank()) {
      return Path.of(named);
    }
    return Path.of(
        System.getProperty("java.io.tmpdir"),
        "meridian-dev-" + System.getProperty("user.name", "user") + ".topology");
  }

  /** Makes {@code pointer} name {@code topology}, replacing the pointer of an earlier run. */
  public static void write(Path pointer, Path topology) throws IOException {
    Path tmp = pointer.resolveSibling(pointer.getFileName() + ".tmp");
    Files.writeString(tmp, topology.toAbsolutePath() + "\n", StandardCharsets.UTF_8);
    Files.move(tmp, pointer, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * Removes {@code pointer} if it still names {@code topology} (a later run may have replaced it).
   */
  public static void clear(Path pointer, Path topology) {
    if (read(pointer).map(p -> p.equals(topology.toAbsolutePath())).orElse(false)) {
      try {
        Files.deleteIfExists(pointer);
      } catch (IOException e) {
        // A stale pointer only costs meridianctl a refused connection, which it reports.
      }
    }
  }

  /** The topology file {@code pointer} names, if it exists. */
  public static Optional<Path> read(Path pointer) {
    try {
      String text = Files.readString(pointer, StandardCharsets.UTF_8).trim();
      return text.isEmpty() ? Optional.empty() : Optional.of(Path.of(text));
    } catch (IOException e) {
      return Optional.empty();
    }
  }
}
