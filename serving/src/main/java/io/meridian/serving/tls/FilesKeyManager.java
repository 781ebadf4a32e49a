package io.meridian.serving.tls;

import com.linecorp.armeria.common.TlsKeyPair;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * Presents the key pair a {@link TlsFiles} last read. Each pair gets an alias of its own: a
 * handshake asks for an alias first and for its chain and key afterwards, and a renewal between the
 * two must not hand it one pair's chain with the other's key.
 */
final class FilesKeyManager extends X509ExtendedKeyManager {
  private final TlsFiles files;
  // The pair behind each alias handed out lately: the current one and the one before it.
  private volatile Presented current;
  private volatile Presented previous;

  private record Presented(
      TlsKeyPair pair, String alias, PrivateKey key, X509Certificate[] chain) {}

  FilesKeyManager(TlsFiles files) {
    this.files = files;
  }

  private Presented presented() {
    TlsKeyPair pair = files.currentKeyPair();
    if (pair == null) {
      return null;
    }
    Presented p = current;
    if (p != null && p.pair() == pair) {
      return p;
    }
    synchronized (this) {
      p = current;
      if (p != null && p.pair() == pair) {
        return p;
      }
      X509Certificate[] chain = pair.certificateChain().toArray(X509Certificate[]::new);
      Presented fresh =
          new Presented(
              pair,
              "meridian-" + Integer.toHexString(System.identityHashCode(pair)),
              jdkKey(pair.privateKey(), chain[0].getPublicKey().getAlgorithm()),
              chain);
      previous = p;
      current = fresh;
      return fresh;
    }
  }

  /**
   * The key as the JDK's provider reads it, of the certificate's key type ({@code EC}, {@code
   * RSA}): the PEM parser may hand over another provider's key object (BouncyCastle's, which names
   * an EC key {@code ECDSA}), which the JDK's TLS neither matches to a key type nor signs with.
   */
  private static PrivateKey jdkKey(PrivateKey key, String type) {
    try {
      return KeyFactory.getInstance(type)
          .generatePrivate(new PKCS8EncodedKeySpec(key.getEncoded()));
    } catch (GeneralSecurityException e) {
      return key;
    }
  }

  private Presented byAlias(String alias) {
    Presented p = current;
    if (p != null && p.alias().equals(alias)) {
      return p;
    }
    p = previous;
    return p != null && p.alias().equals(alias) ? p : null;
  }

  /** The alias when the key is of one of {@code keyTypes} (EC, RSA, ...), else null. */
  private String alias(String... keyTypes) {
    Presented p = presented();
    if (p == null || keyTypes == null) {
      return null;
    }
    String algorithm = p.key().getAlgorithm();
    return Arrays.stream(keyTypes).anyMatch(t -> matches(algorithm, t)) ? p.alias() : null;
  }

  private static boolean matches(String algorithm, String keyType) {
    return keyType != null
        && (keyType.equalsIgnoreCase(algorithm)
            || (algorithm.equals("RSA") && keyType.equalsIgnoreCase("RSASSA-PSS"))
            || keyType.startsWith(algorithm + "_"));
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    String a = alias(keyType);
    return a == null ? null : new String[] {a};
  }

  @Override
  public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket socket) {
    return alias(keyTypes);
  }

  @Override
  public String chooseEngineClientAlias(String[] keyTypes, Principal[] issuers, SSLEngine engine) {
    return alias(keyTypes);
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return getClientAliases(keyType, issuers);
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return alias(keyType);
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return alias(keyType);
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    Presented p = byAlias(alias);
    return p == null ? null : p.chain().clone();
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    Presented p = byAlias(alias);
    return p == null ? null : p.key();
  }
}
