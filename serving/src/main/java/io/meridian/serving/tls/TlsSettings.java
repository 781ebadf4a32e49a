package io.meridian.serving.tls;

import static io.meridian.serving.config.ConfigType.STRING;

import com.linecorp.armeria.server.ServerBuilder;
import com.linecorp.armeria.server.ServerTlsConfig;
import io.meridian.serving.config.ConfigException;
import io.meridian.serving.config.ConfigKey;
import io.meridian.serving.config.ConfigType;
import io.meridian.serving.config.ConfigValues;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.handler.ssl.ClientAuth;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * How a process serves its client port: plain HTTP (no certificate configured), TLS, or mutual TLS
 * (callers present a certificate from the configured CA). Node, router and bridge files declare the
 * same four keys under {@code tls.} ({@link #CERT_FILE}, {@link #KEY_FILE}, {@link #CA_FILE},
 * {@link #CLIENT_AUTH}) and read them with {@link #read}.
 *
 * <pre>{@code
 * tls:
 *   cert-file: /etc/meridian/tls/node.pem       # the certificate chain served
 *   key-file: /etc/meridian/tls/node-key.pem    # its PKCS#8 private key
 *   ca-file: /etc/meridian/tls/ca.pem           # the CA client certificates must chain to
 *   client-auth: REQUIRE                        # NONE, OPTIONAL or REQUIRE
 * }</pre>
 *
 * @param certFile the PEM certificate chain, empty for plain HTTP
 * @param keyFile its PKCS#8 PEM private key
 * @param caFile PEM CA certificates client certificates must chain to, empty for none
 * @param clientAuth whether callers must present a certificate
 */
public record TlsSettings(String certFile, String keyFile, String caFile, ClientAuth clientAuth) {
  /** Plain HTTP. */
  public static final TlsSettings PLAIN = new TlsSettings("", "", "", ClientAuth.NONE);

  /** The metric of the served certificate's remaining validity. */
  public static final String DAYS_LEFT_METRIC = "meridian.tls.certificate.days.left";

  public static final ConfigKey<String> CERT_FILE =
      ConfigKey.of("tls.cert-file", STRING)
          .defaultValue("")
          .description(
              "PEM certificate chain served on the client port (empty: plain HTTP); read again"
                  + " when it changes, so a renewal needs no restart");
  public static final ConfigKey<String> KEY_FILE =
      ConfigKey.of("tls.key-file", STRING)
          .defaultValue("")
          .description("its PKCS#8 PEM private key (readable by the process's user only)");
  public static final ConfigKey<String> CA_FILE =
      ConfigKey.of("tls.ca-file", STRING)
          .defaultValue("")
          .description(
              "PEM CA certificates a caller's certificate must chain to (mutual TLS); read again"
                  + " when it changes");
  public static final ConfigKey<ClientAuth> CLIENT_AUTH =
      ConfigKey.of(
              "tls.client-auth",
              ConfigType.oneOf(ClientAuth.NONE, ClientAuth.OPTIONAL, ClientAuth.REQUIRE))
          .defaultValue(ClientAuth.NONE)
          .description(
              "`NONE`, `OPTIONAL` or `REQUIRE`: whether a caller must present a certificate from"
                  + " `tls.ca-file`");

  /** The four keys, in the order of the configuration tables. */
  public static final List<ConfigKey<?>> KEYS = List.of(CERT_FILE, KEY_FILE, CA_FILE, CLIENT_AUTH);

  /**
   * The settings in {@code v}, with the rules between the keys checked.
   *
   * @throws ConfigException naming the key refused
   */
  public static TlsSettings read(ConfigValues v) {
    TlsSettings s =
        new TlsSettings(v.get(CERT_FILE), v.get(KEY_FILE), v.get(CA_FILE), v.get(CLIENT_AUTH));
    if (s.certFile.isEmpty() != s.keyFile.isEmpty()) {
      throw s.certFile.isEmpty()
          ? v.refuse(
              v.path(CERT_FILE),
              "missing",
              "set with `tls.key-file`: a key serves nothing without its certificate")
          : v.refuse(
              v.path(KEY_FILE),
              "missing",
              "set with `tls.cert-file`: the certificate's private key");
    }
    if (s.certFile.isEmpty() && !s.caFile.isEmpty()) {
      throw v.refuse(
          v.path(CERT_FILE),
          "missing",
          "set: `tls.ca-file` checks callers of a TLS port, which needs a certificate");
    }
    if (s.clientAuth != ClientAuth.NONE && s.caFile.isEmpty()) {
      throw v.refuse(
          v.path(CA_FILE),
          "missing",
          "set when `tls.client-auth` is "
              + s.clientAuth
              + ": the CA callers' certificates chain to");
    }
    return s;
  }

  /** Whether the port serves TLS. */
  public boolean enabled() {
    return !certFile.isEmpty();
  }

  /** {@code https} or {@code http}. */
  public String scheme() {
    return enabled() ? "https" : "http";
  }

  /**
   * Makes {@code server} listen on {@code address}: over TLS from the files (reloaded as they
   * change, with the served certificate's days left as {@link #DAYS_LEFT_METRIC} in {@code
   * metrics}), or plain HTTP.
   *
   * @return the TLS material in use, empty for plain HTTP
   * @throws IllegalArgumentException naming a file that cannot be read
   */
  public Optional<TlsFiles> listen(
      ServerBuilder server, InetSocketAddress address, MeterRegistry metrics) {
    if (!enabled()) {
      server.http(address);
      return Optional.empty();
    }
    TlsFiles files =
        TlsFiles.load(
            Path.of(certFile), Path.of(keyFile), caFile.isEmpty() ? null : Path.of(caFile));
    server
        .https(address)
        .tlsProvider(files, ServerTlsConfig.builder().clientAuth(clientAuth).build());
    Gauge.builder(DAYS_LEFT_METRIC, files, TlsFiles::daysLeft)
        .description("whole days until the certificate served on the client port expires")
        .register(metrics);
    return Optional.of(files);
  }
}
