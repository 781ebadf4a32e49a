package io.meridian.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The version of this build of Meridian, as {@code --version} prints it. */
public final class Version {
  private Version() {}

  /** The build's version, e.g. {@code 0.1.0-SNAPSHOT}; the build writes it into the api jar. */
  public static String current() {
    Properties p = new Properties();
    try (InputStream in = Version.class.getResourceAsStream("version.properties")) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p.getProperty("version", "unknown");
  }
}
