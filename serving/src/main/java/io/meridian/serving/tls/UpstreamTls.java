package io.meridian.serving.tls;

import static io.meridian.serving.config.ConfigType.STRING;

import io.meridian.serving.config.ConfigException;
import io.meridian.serving.config.ConfigKey;
import io.meridian.serving.config.ConfigValues;
import java.nio.file.Path;
import java.util.List;

/**
 * What a router or a bridge presents to, and trusts of, the nodes it calls at {@code https://}
 * URLs: the {@code upstream.cert-file}, {@code upstream.key-file} and {@code upstream.ca-file} keys
 * both files declare.
 *
 * @param certFile the PEM certificate presented to nodes that ask for one, empty for none
 * @param keyFile its PKCS#8 PEM private key
 * @param caFile PEM CA certificates the nodes' certificates chain to, empty for the JDK's
 */
public record UpstreamTls(String certFile, String keyFile, String caFile) {
  public static final ConfigKey<String> CERT_FILE =
      ConfigKey.of("upstream.cert-file", STRING)
          .defaultValue("")
          .description(
              "PEM certificate presented to nodes whose client port asks for one (mutual TLS);"
                  + " read again when it changes");
  public static final ConfigKey<String> KEY_FILE =
      ConfigKey.of("upstream.key-file", STRING)
          .defaultValue("")
          .description("its PKCS#8 PEM private key");
  public static final ConfigKey<String> CA_FILE =
      ConfigKey.of("upstream.ca-file", STRING)
          .defaultValue("")
          .description(
              "PEM CA certificates the nodes' certificates chain to, for `https://` node URLs"
                  + " (none: the JDK's trust store)");

  /** The three keys, in the order of the configuration tables. */
  public static final List<ConfigKey<?>> KEYS = List.of(CERT_FILE, KEY_FILE, CA_FILE);

  /**
   * The settings in {@code v}.
   *
   * @throws ConfigException when a certificate comes without its key or the other way round
   */
  public static UpstreamTls read(ConfigValues v) {
    UpstreamTls t = new UpstreamTls(v.get(CERT_FILE), v.get(KEY_FILE), v.get(CA_FILE));
    if (t.certFile.isEmpty() != t.keyFile.isEmpty()) {
      throw t.certFile.isEmpty()
          ? v.refuse(v.path(CERT_FILE), "missing", "set with `upstream.key-file`")
          : v.refuse(v.path(KEY_FILE), "missing", "set with `upstream.cert-file`");
    }
    return t;
  }

  /**
   * The material, read from the files (and again as they change); null when none is configured, and
   * calls to {@code https://} nodes trust the JDK's store and present nothing.
   *
   * @throws IllegalArgumentException naming a file that cannot be read
   */
  public TlsFiles load() {
    if (certFile.isEmpty() && caFile.isEmpty()) {
      return null;
    }
    return TlsFiles.load(path(certFile), path(keyFile), path(caFile));
  }

  private static Path path(String file) {
    return file.isEmpty() ? null : Path.of(file);
  }
}
