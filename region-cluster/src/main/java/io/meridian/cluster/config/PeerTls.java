package io.meridian.cluster.config;

import static io.meridian.serving.config.ConfigType.STRING;

import io.meridian.serving.config.ConfigException;
import io.meridian.serving.config.ConfigKey;
import io.meridian.serving.config.ConfigValues;
import io.meridian.serving.tls.TlsFiles;
import java.nio.file.Path;
import java.util.List;

/**
 * Mutual TLS between the members' Raft ports (etcd's peer TLS): each member presents its
 * certificate to the members it calls and asks every caller for one, and both must chain to the
 * cluster's CA; a process without such a certificate can neither join the Raft group nor call a
 * member's peer port. Off (plaintext) when no key is set; all three together otherwise.
 *
 * <pre>{@code
 * peer-tls:
 *   cert-file: /etc/meridian/tls/peer.pem       # presented to members, as server and as client
 *   key-file: /etc/meridian/tls/peer-key.pem
 *   ca-file: /etc/meridian/tls/cluster-ca.pem   # the CA every member's certificate chains to
 * }</pre>
 *
 * @param certFile the PEM certificate chain, empty for plaintext
 * @param keyFile its PKCS#8 PEM private key
 * @param caFile the PEM CA certificates members' certificates chain to
 */
public record PeerTls(String certFile, String keyFile, String caFile) {
  public static final PeerTls PLAIN = new PeerTls("", "", "");

  static final ConfigKey<String> CERT_FILE =
      ConfigKey.of("peer-tls.cert-file", STRING)
          .defaultValue("")
          .description(
              "PEM certificate chain this member presents on the Raft port and to the members it"
                  + " calls (empty: plaintext between members); its names must include the host"
                  + " of its `members[].peer` address; read again when it changes");
  static final ConfigKey<String> KEY_FILE =
      ConfigKey.of("peer-tls.key-file", STRING)
          .defaultValue("")
          .description("its PKCS#8 PEM private key");
  static final ConfigKey<String> CA_FILE =
      ConfigKey.of("peer-tls.ca-file", STRING)
          .defaultValue("")
          .description(
              "PEM CA certificates every member's certificate must chain to: a caller without one"
                  + " is refused (mutual TLS)");

  /**
   * The settings in {@code v}: none, or all three.
   *
   * @throws ConfigException naming the first key missing
   */
  static PeerTls read(ConfigValues v) {
    PeerTls t = new PeerTls(v.get(CERT_FILE), v.get(KEY_FILE), v.get(CA_FILE));
    if (!t.enabled() && t.keyFile.isEmpty() && t.caFile.isEmpty()) {
      return t;
    }
    for (ConfigKey<String> key : List.of(CERT_FILE, KEY_FILE, CA_FILE)) {
      if (v.get(key).isEmpty()) {
        throw v.refuse(
            v.path(key),
            "missing",
            "set: peer TLS needs `peer-tls.cert-file`, `peer-tls.key-file` and `peer-tls.ca-file`"
                + " together (members present a certificate and check each other's)");
      }
    }
    return t;
  }

  /** Whether members talk TLS. */
  public boolean enabled() {
    return !certFile.isEmpty();
  }

  /**
   * The material, read from the files (and again as they change).
   *
   * @throws IllegalArgumentException naming a file that cannot be read
   */
  public TlsFiles load() {
    return TlsFiles.load(Path.of(certFile), Path.of(keyFile), Path.of(caFile));
  }
}
