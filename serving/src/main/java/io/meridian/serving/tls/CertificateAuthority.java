package io.meridian.serving.tls;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A certificate authority of Meridian's own making, for deployments that want one quickly ({@code
 * bin/meridian dev --secure}) and for tests: a self-signed CA on a P-256 key that issues node,
 * router and client certificates, each with the names it is reached by (subject alternative names)
 * and usable both to serve and to present as a client (mutual TLS). A production deployment brings
 * certificates from its own PKI; nothing here is needed to run with those.
 *
 * <pre>{@code
 * CertificateAuthority ca = CertificateAuthority.create("meridian-ca", Duration.ofDays(365));
 * ca.writeCertificate(dir.resolve("ca.pem"));
 * ca.issue("n1", List.of("127.0.0.1", "localhost"), Duration.ofDays(30))
 *     .write(dir.resolve("n1.pem"), dir.resolve("n1-key.pem"));
 * }</pre>
 */
public final class CertificateAuthority {
  private static final String SIGNATURE = "SHA256withECDSA";
  private static final SecureRandom RANDOM = new SecureRandom();

  private final X500Name name;
  private final KeyPair keys;
  private final X509Certificate certificate;
  private final Clock clock;

  /** A certificate and its private key, as issued. */
  public record Issued(X509Certificate certificate, PrivateKey key) {
    /**
     * Writes the certificate to {@code certificateFile} and the key (PKCS#8, readable by its owner
     * only) to {@code keyFile}, each replaced in one rename so a reader never sees half of one.
     */
    public void write(Path certificateFile, Path keyFile) throws IOException {
      writeAtomically(certificateFile, pem(certificate), false);
      writeAtomically(keyFile, pem(new JcaPKCS8Generator(key, null)), true);
    }
  }

  private CertificateAuthority(
      X500Name name, KeyPair keys, X509Certificate certificate, Clock clock) {
    this.name = name;
    this.keys = keys;
    this.certificate = certificate;
    this.clock = clock;
  }

  /** A new CA named {@code commonName}, valid from now for {@code validity}. */
  public static CertificateAuthority create(String commonName, Duration validity) {
    return create(commonName, validity, Clock.systemUTC());
  }

  /** As {@link #create(String, Duration)}, its certificates dated by {@code clock}. */
  public static CertificateAuthority create(String commonName, Duration validity, Clock clock) {
    X500Name name = new X500Name("CN=" + commonName);
    KeyPair keys = newKeyPair();
    Instant now = clock.instant();
    try {
      JcaX509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              name,
              serial(),
              Date.from(now.minus(Duration.ofMinutes(5))),
              Date.from(now.plus(validity)),
              name,
              keys.getPublic());
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      b.addExtension(
          Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      b.addExtension(
          Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
      return new CertificateAuthority(name, keys, sign(b, keys.getPrivate()), clock);
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException("could not create a CA certificate: " + e.getMessage(), e);
    }
  }

  /** The CA's own certificate: what every party trusts. */
  public X509Certificate certificate() {
    return certificate;
  }

  /** Writes the CA's certificate (never its key) to {@code file}. */
  public void writeCertificate(Path file) throws IOException {
    writeAtomically(file, pem(certificate), false);
  }

  /**
   * A certificate for {@code commonName}, reachable at {@code names} (IP addresses and DNS names),
   * valid from now for {@code validity}, signed by this CA.
   */
  public Issued issue(String commonName, List<String> names, Duration validity) {
    KeyPair leaf = newKeyPair();
    Instant now = clock.instant();
    try {
      JcaX509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              name,
              serial(),
              Date.from(now.minus(Duration.ofMinutes(5))),
              Date.from(now.plus(validity)),
              new X500Name("CN=" + commonName),
              leaf.getPublic());
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(
          Extension.keyUsage,
          true,
          new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      b.addExtension(
          Extension.extendedKeyUsage,
          false,
          new ExtendedKeyUsage(
              new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      b.addExtension(
          Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
      List<GeneralName> alternatives = new ArrayList<>();
      for (String n : names) {
        alternatives.add(
            new GeneralName(
                n.matches("[0-9.]+|.*:.*") ? GeneralName.iPAddress : GeneralName.dNSName, n));
      }
      if (!alternatives.isEmpty()) {
        b.addExtension(
            Extension.subjectAlternativeName,
            false,
            new GeneralNames(alternatives.toArray(GeneralName[]::new)));
      }
      return new Issued(sign(b, keys.getPrivate()), leaf.getPrivate());
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException(
          "could not issue a certificate for " + commonName + ": " + e.getMessage(), e);
    }
  }

  private static KeyPair newKeyPair() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("no P-256 key generator in this JDK", e);
    }
  }

  private static BigInteger serial() {
    return new BigInteger(127, RANDOM).add(BigInteger.ONE);
  }

  private static X509Certificate sign(JcaX509v3CertificateBuilder b, PrivateKey signer)
      throws GeneralSecurityException {
    try {
      X509CertificateHolder holder = b.build(new JcaContentSignerBuilder(SIGNATURE).build(signer));
      return new JcaX509CertificateConverter().getCertificate(holder);
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException(e);
    }
  }

  static String pem(Object object) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      if (object instanceof JcaPKCS8Generator pkcs8) {
        w.writeObject(pkcs8);
      } else {
        w.writeObject(object);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  private static void writeAtomically(Path file, String text, boolean secret) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path next = Files.createTempFile(dir, file.getFileName() + ".", ".next");
    try {
      if (secret) {
        try {
          Files.setPosixFilePermissions(next, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
          // Not a POSIX file system: its own access rules apply.
        }
      }
      Files.writeString(next, text, StandardCharsets.US_ASCII);
      Files.move(next, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(next);
    }
  }
}
