package io.meridian.cluster.config;

/** A configuration file that cannot be used; the message names the field and the reason. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }
}
