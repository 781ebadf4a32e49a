package io.meridian.serving.tls;

import com.linecorp.armeria.common.TlsKeyPair;
import com.linecorp.armeria.common.TlsProvider;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.LongSupplier;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A process's TLS material read from PEM files: its certificate chain and private key (PKCS#8; a
 * client may have none), and the CA certificates it trusts: the ones a server's certificate (for a
 * client) or a caller's certificate (for a server, mutual TLS) must chain to. As an Armeria {@link
 * TlsProvider} it is asked for the key pair and the trust on every new connection, and answers from
 * what it last read: the files are read again when one of them changed (its modification time), at
 * most once a second, so a certificate renewed on disk is served to the next connection without a
 * restart. A file that cannot be read or parsed at a reload (half-written, a key that does not
 * match) keeps the material in use and logs one line until it is fixed; at start it is an error.
 *
 * <p>Armeria's own {@code TlsProvider.ofScheduled} reloads a key pair on a timer but keeps the
 * trusted certificates it was given: a CA bundle rotated on disk would need a restart.
 *
 * <pre>{@code
 * TlsFiles tls = TlsFiles.load(Path.of("node.pem"), Path.of("node-key.pem"), Path.of("ca.pem"));
 * Server.builder().https(2379).tlsProvider(tls, ServerTlsConfig.builder().clientAuth(REQUIRE).build());
 * }</pre>
 */
public final class TlsFiles implements TlsProvider {
  private static final Logger log = LoggerFactory.getLogger(TlsFiles.class);
  private static final long CHECK_EVERY_NANOS = Duration.ofSeconds(1).toNanos();

  private final Path certificateFile;
  private final Path keyFile;
  private final Path caFile;
  private final LongSupplier nanos;
  private final Clock clock;
  private volatile Material current;
  private volatile long checked;
  private volatile String failing;

  /** What was read, with the modification times it was read at. */
  private record Material(
      TlsKeyPair keyPair,
      List<X509Certificate> trusted,
      FileTime certificateTime,
      FileTime keyTime,
      FileTime caTime) {}

  private TlsFiles(
      Path certificateFile, Path keyFile, Path caFile, LongSupplier nanos, Clock clock) {
    this.certificateFile = certificateFile;
    this.keyFile = keyFile;
    this.caFile = caFile;
    this.nanos = nanos;
    this.clock = clock;
  }

  /**
   * Reads the certificate chain and key (both null: a client that presents no certificate), and the
   * trusted CA certificates ({@code caFile}, or null for none: a server asks callers for no
   * certificate, a client verifies servers against the JDK's trust store).
   *
   * @throws IllegalArgumentException naming the file that cannot be read or parsed
   */
  public static TlsFiles load(Path certificateFile, Path keyFile, Path caFile) {
    return load(certificateFile, keyFile, caFile, System::nanoTime, Clock.systemUTC());
  }

  /** As {@link #load(Path, Path, Path)}, with the clocks to reload and to count days by. */
  static TlsFiles load(
      Path certificateFile, Path keyFile, Path caFile, LongSupplier nanos, Clock clock) {
    if ((certificateFile == null) != (keyFile == null)) {
      throw new IllegalArgumentException("a certificate file goes with its key file");
    }
    if (certificateFile == null && caFile == null) {
      throw new IllegalArgumentException("neither a certificate nor a CA file");
    }
    TlsFiles files = new TlsFiles(certificateFile, keyFile, caFile, nanos, clock);
    try {
      files.current = files.read();
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read TLS material: " + e, e);
    }
    files.checked = nanos.getAsLong();
    return files;
  }

  @Override
  public TlsKeyPair keyPair(String hostname) {
    return fresh().keyPair();
  }

  @Override
  public List<X509Certificate> trustedCertificates(String hostname) {
    List<X509Certificate> trusted = fresh().trusted();
    // Null, not empty: Armeria then falls back to the JDK's trust store.
    return trusted.isEmpty() ? null : trusted;
  }

  /**
   * A JSSE key manager presenting this material's certificate as last read, on every handshake: for
   * TLS stacks set up with JSSE managers rather than an Armeria {@link TlsProvider} (Ratis's gRPC
   * transport between members).
   */
  public X509ExtendedKeyManager keyManager() {
    return new FilesKeyManager(this);
  }

  /**
   * A JSSE trust manager that accepts a peer whose certificate chains to this material's CA
   * certificates as last read (the JDK's trust store when there are none), with the host name
   * checks the TLS stack asks for.
   */
  public X509ExtendedTrustManager trustManager() {
    return new FilesTrustManager(this);
  }

  /** The key pair presented, as last read (null: none), for the JSSE managers. */
  TlsKeyPair currentKeyPair() {
    return fresh().keyPair();
  }

  /** The CA certificates trusted, as last read (empty: the JDK's store), for the JSSE managers. */
  List<X509Certificate> currentTrusted() {
    return fresh().trusted();
  }

  /** The certificate presented (the first of the chain), as last read; null if there is none. */
  public X509Certificate certificate() {
    TlsKeyPair pair = fresh().keyPair();
    return pair == null ? null : pair.certificateChain().get(0);
  }

  /** Whole days until the presented certificate expires (negative once it has; 0 with none). */
  public long daysLeft() {
    X509Certificate c = certificate();
    if (c == null) {
      return 0;
    }
    long ms = c.getNotAfter().getTime() - clock.millis();
    return Math.floorDiv(ms, Duration.ofDays(1).toMillis());
  }

  /** The files this material is read from, for messages: {@code cert, key[, ca]}. */
  public String describe() {
    List<String> files = new ArrayList<>();
    if (certificateFile != null) {
      files.add(certificateFile.toString());
      files.add(keyFile.toString());
    }
    if (caFile != null) {
      files.add(caFile.toString());
    }
    return String.join(", ", files);
  }

  private Material fresh() {
    long now = nanos.getAsLong();
    if (now - checked >= CHECK_EVERY_NANOS) {
      synchronized (this) {
        if (now - checked >= CHECK_EVERY_NANOS) {
          checked = now;
          reloadIfChanged();
        }
      }
    }
    return current;
  }

  private void reloadIfChanged() {
    Material m = current;
    try {
      if (Objects.equals(m.certificateTime(), modified(certificateFile))
          && Objects.equals(m.keyTime(), modified(keyFile))
          && Objects.equals(m.caTime(), modified(caFile))) {
        return;
      }
      current = read();
      failing = null;
      X509Certificate c = certificate();
      log.info(
          "TLS material reloaded from {}{}",
          describe(),
          c == null
              ? ""
              : ": presenting "
                  + c.getSubjectX500Principal().getName()
                  + " until "
                  + c.getNotAfter().toInstant());
    } catch (IOException | RuntimeException e) {
      String why = e.getMessage();
      if (!Objects.equals(why, failing)) {
        failing = why;
        log.warn("TLS material in {} not reloaded, the last one stays in use: {}", describe(), why);
      }
    }
  }

  private Material read() throws IOException {
    FileTime certificateTime = modified(certificateFile);
    FileTime keyTime = modified(keyFile);
    FileTime caTime = modified(caFile);
    List<X509Certificate> trusted = caFile == null ? List.of() : certificates(caFile);
    if (certificateFile == null) {
      return new Material(null, trusted, null, null, caTime);
    }
    TlsKeyPair pair;
    try {
      pair = TlsKeyPair.of(keyFile.toFile(), certificateFile.toFile());
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "cannot read a certificate chain from "
              + certificateFile
              + " and its PKCS#8 private key from "
              + keyFile
              + ": "
              + e.getMessage(),
          e);
    }
    if (!matches(pair)) {
      throw new IllegalArgumentException(
          "the private key in "
              + keyFile
              + " is not the key of the certificate in "
              + certificateFile);
    }
    return new Material(pair, trusted, certificateTime, keyTime, caTime);
  }

  /** Whether the pair's key signs what its certificate's public key verifies. */
  private static boolean matches(TlsKeyPair pair) {
    X509Certificate leaf = pair.certificateChain().get(0);
    String keyType = leaf.getPublicKey().getAlgorithm();
    String algorithm =
        switch (keyType) {
          case "EC" -> "SHA256withECDSA";
          case "RSA" -> "SHA256withRSA";
          default -> null;
        };
    if (algorithm == null) {
      return true; // An algorithm we do not probe (Ed25519, say): the handshake will tell.
    }
    try {
      byte[] probe = "meridian".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      // The key as the JDK's own provider reads it: the PEM parser may hand over another
      // provider's key object (BouncyCastle's, when it is on the class path), which the JDK's
      // signatures refuse.
      PrivateKey key =
          KeyFactory.getInstance(keyType)
              .generatePrivate(new PKCS8EncodedKeySpec(pair.privateKey().getEncoded()));
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(leaf.getPublicKey());
      verifier.update(probe);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static List<X509Certificate> certificates(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      List<X509Certificate> all = new ArrayList<>();
      for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        all.add((X509Certificate) c);
      }
      if (all.isEmpty()) {
        throw new IllegalArgumentException(file + " holds no certificate");
      }
      return List.copyOf(all);
    } catch (CertificateException e) {
      throw new IllegalArgumentException(
          file + " is not a PEM file of CA certificates: " + e.getMessage(), e);
    }
  }

  /** The file's modification time; null for no file. */
  private static FileTime modified(Path file) throws IOException {
    return file == null ? null : Files.getLastModifiedTime(file);
  }
}
