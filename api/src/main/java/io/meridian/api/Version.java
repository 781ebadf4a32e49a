package io.meridian.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The version of this build of Meridian, as {@code --version} prints it. */
public final class Version {
  private static final Properties BUILD = load();

  private Version() {}

  /**
   * The build's version and the commit it was built from, e.g. {@code 0.1.0 (commit 3f2a9c1)}; the
   * build writes both into the api jar. A build from outside a Git checkout says {@code commit
   * unknown}.
   */
  public static String current() {
    return number() + " (commit " + commit() + ")";
  }

  /** The version alone, e.g. {@code 0.1.0-SNAPSHOT}. */
  public static String number() {
    return BUILD.getProperty("version", "unknown");
  }

  /** The abbreviated id of the commit this build was made from, or {@code unknown}. */
  public static String commit() {
    String commit = BUILD.getProperty("commit", "");
    return commit.isEmpty() || commit.startsWith("${") ? "unknown" : commit;
  }

  private static Properties load() {
    Properties p = new Properties();
    try (InputStream in = Version.class.getResourceAsStream("version.properties")) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p;
  }
}
