package io.meridian.serving.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.ClientRequestContextCaptor;
import com.linecorp.armeria.client.Clients;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.SessionProtocol;
import com.linecorp.armeria.common.TlsProvider;
import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.ServerTlsConfig;
import io.netty.handler.ssl.ClientAuth;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS material from files on a real HTTPS server on loopback: mutual TLS admits a client with a
 * certificate from the cluster's CA and refuses one without a certificate or with one from another
 * CA; a certificate renewed on disk is served to the next connection; bad files are refused with
 * the file named.
 */
class TlsFilesTest {
  @TempDir Path dir;
  private final List<AutoCloseable> open = new ArrayList<>();
  private final CertificateAuthority ca =
      CertificateAuthority.create("test-ca", Duration.ofDays(1));

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
  }

  private TlsFiles issue(CertificateAuthority by, String name, boolean trustCa) throws Exception {
    Path cert = dir.resolve(name + ".pem");
    Path key = dir.resolve(name + "-key.pem");
    by.issue(name, List.of("127.0.0.1", "localhost"), Duration.ofDays(1)).write(cert, key);
    Path caFile = dir.resolve("ca.pem");
    ca.writeCertificate(caFile);
    return TlsFiles.load(cert, key, trustCa ? caFile : null);
  }

  /** An HTTPS server on loopback that requires a client certificate; its port. */
  private int server(TlsFiles tls) {
    Server server =
        Server.builder()
            .https(new InetSocketAddress("127.0.0.1", 0))
            .tlsProvider(tls, ServerTlsConfig.builder().clientAuth(ClientAuth.REQUIRE).build())
            .service(
                "/who",
                (ctx, req) -> {
                  X509Certificate peer =
                      (X509Certificate) ctx.sslSession().getPeerCertificates()[0];
                  return HttpResponse.of(peer.getSubjectX500Principal().getName());
                })
            .build();
    server.start().join();
    open.add(server::close);
    return server.activeLocalPort(SessionProtocol.HTTPS);
  }

  private WebClient client(int port, TlsProvider tls) {
    ClientFactory factory = ClientFactory.builder().tlsProvider(tls).build();
    open.add(factory);
    return WebClient.builder("https://127.0.0.1:" + port)
        .factory(factory)
        .responseTimeout(Duration.ofSeconds(10))
        .build();
  }

  @Test
  void mutualTlsAdmitsTheCasClientsOnly() throws Exception {
    int port = server(issue(ca, "server", true));

    assertThat(client(port, issue(ca, "client", true)).get("/who").aggregate().join().contentUtf8())
        .isEqualTo("CN=client");

    // Trusts the server, presents nothing.
    TlsProvider anonymous = TlsFiles.load(null, null, dir.resolve("ca.pem"));
    assertThatThrownBy(() -> client(port, anonymous).get("/who").aggregate().join())
        .hasStackTraceContaining("SSL");

    // Presents a certificate of another CA.
    CertificateAuthority other = CertificateAuthority.create("other-ca", Duration.ofDays(1));
    TlsFiles outsider = issue(other, "outsider", true);
    assertThatThrownBy(() -> client(port, outsider).get("/who").aggregate().join())
        .hasStackTraceContaining("SSL");
  }

  @Test
  void aCertificateRenewedOnDiskIsServedToTheNextConnection() throws Exception {
    TlsFiles served = issue(ca, "server", true);
    BigInteger first = served.certificate().getSerialNumber();
    int port = server(served);
    TlsFiles client = issue(ca, "client", true);

    ca.issue("server", List.of("127.0.0.1"), Duration.ofDays(1))
        .write(dir.resolve("server.pem"), dir.resolve("server-key.pem"));

    await().atMost(Duration.ofSeconds(30)).until(() -> !servedSerial(port, client).equals(first));
    assertThat(served.certificate().getSerialNumber()).isNotEqualTo(first);
  }

  /** The serial of the certificate the server presents to a new connection. */
  private BigInteger servedSerial(int port, TlsProvider tls) {
    try (ClientFactory factory = ClientFactory.builder().tlsProvider(tls).build();
        ClientRequestContextCaptor captor = Clients.newContextCaptor()) {
      WebClient.builder("https://127.0.0.1:" + port)
          .factory(factory)
          .build()
          .get("/who")
          .aggregate()
          .join();
      try {
        return ((X509Certificate) captor.get().sslSession().getPeerCertificates()[0])
            .getSerialNumber();
      } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
        throw new AssertionError(e);
      }
    }
  }

  @Test
  void aHalfWrittenRenewalKeepsTheMaterialInUse() throws Exception {
    AtomicLong nanos = new AtomicLong();
    Path cert = dir.resolve("n.pem");
    Path key = dir.resolve("n-key.pem");
    ca.issue("n", List.of(), Duration.ofDays(1)).write(cert, key);
    TlsFiles tls = TlsFiles.load(cert, key, null, nanos::get, Clock.systemUTC());
    BigInteger serial = tls.certificate().getSerialNumber();

    Files.writeString(cert, "-----BEGIN CERTIFICATE-----\nMIIB");
    nanos.addAndGet(Duration.ofSeconds(2).toNanos());
    assertThat(tls.certificate().getSerialNumber()).isEqualTo(serial);
  }

  @Test
  void theJsseManagersPresentTheRenewedPairAndTrustTheCaOnly() throws Exception {
    AtomicLong nanos = new AtomicLong();
    Path cert = dir.resolve("p.pem");
    Path key = dir.resolve("p-key.pem");
    Path caFile = dir.resolve("ca.pem");
    ca.writeCertificate(caFile);
    ca.issue("p", List.of("127.0.0.1"), Duration.ofDays(1)).write(cert, key);
    TlsFiles tls = TlsFiles.load(cert, key, caFile, nanos::get, Clock.systemUTC());
    var keys = tls.keyManager();
    var trust = tls.trustManager();

    // The PEM parser's EC key is BouncyCastle's ("ECDSA"): still offered for TLS's "EC".
    String first = keys.chooseEngineServerAlias("EC", null, null);
    assertThat(first).isNotNull();
    assertThat(keys.chooseEngineClientAlias(new String[] {"RSA"}, null, null)).isNull();
    assertThat(keys.getPrivateKey(first).getAlgorithm()).isEqualTo("EC");
    X509Certificate[] chain = keys.getCertificateChain(first);
    assertThat(chain[0].getSerialNumber()).isEqualTo(tls.certificate().getSerialNumber());
    trust.checkClientTrusted(chain, "ECDHE_ECDSA");

    ca.issue("p", List.of("127.0.0.1"), Duration.ofDays(1)).write(cert, key);
    Files.setLastModifiedTime(
        cert, java.nio.file.attribute.FileTime.from(Instant.now().plusSeconds(5)));
    nanos.addAndGet(Duration.ofSeconds(2).toNanos());
    String second = keys.chooseEngineClientAlias(new String[] {"EC"}, null, null);
    assertThat(second).isNotEqualTo(first);
    assertThat(keys.getCertificateChain(second)[0].getSerialNumber())
        .isEqualTo(tls.certificate().getSerialNumber())
        .isNotEqualTo(chain[0].getSerialNumber());
    // A handshake that chose the first alias before the renewal still gets the first pair whole.
    assertThat(keys.getCertificateChain(first)[0].getSerialNumber())
        .isEqualTo(chain[0].getSerialNumber());

    CertificateAuthority other = CertificateAuthority.create("other-ca", Duration.ofDays(1));
    Path otherCert = dir.resolve("o.pem");
    Path otherKey = dir.resolve("o-key.pem");
    other.issue("o", List.of(), Duration.ofDays(1)).write(otherCert, otherKey);
    X509Certificate[] foreign = {TlsFiles.load(otherCert, otherKey, null).certificate()};
    assertThatThrownBy(() -> trust.checkClientTrusted(foreign, "ECDHE_ECDSA"))
        .isInstanceOf(java.security.cert.CertificateException.class);
  }

  @Test
  void daysLeftCountsDownToExpiry() throws Exception {
    Instant now = Instant.parse("2026-12-01T00:00:00Z");
    CertificateAuthority dated =
        CertificateAuthority.create(
            "dated", Duration.ofDays(365), Clock.fixed(now, ZoneOffset.UTC));
    Path cert = dir.resolve("d.pem");
    Path key = dir.resolve("d-key.pem");
    dated.issue("d", List.of(), Duration.ofDays(30)).write(cert, key);
    Clock later = Clock.fixed(now.plus(Duration.ofDays(20)).plusSeconds(60), ZoneOffset.UTC);
    assertThat(TlsFiles.load(cert, key, null, System::nanoTime, later).daysLeft()).isEqualTo(9);
    Clock expired = Clock.fixed(now.plus(Duration.ofDays(31)), ZoneOffset.UTC);
    assertThat(TlsFiles.load(cert, key, null, System::nanoTime, expired).daysLeft()).isNegative();
  }

  @Test
  void unreadableFilesAreRefusedNamingTheFile() throws Exception {
    Path cert = dir.resolve("x.pem");
    Path key = dir.resolve("x-key.pem");
    ca.issue("x", List.of(), Duration.ofDays(1)).write(cert, key);
    assertThatThrownBy(() -> TlsFiles.load(cert, dir.resolve("missing-key.pem"), null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("missing-key.pem");
    Files.writeString(dir.resolve("not-a-ca.pem"), "hello");
    assertThatThrownBy(() -> TlsFiles.load(cert, key, dir.resolve("not-a-ca.pem")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not-a-ca.pem");
    // A key that is not the certificate's.
    ca.issue("y", List.of(), Duration.ofDays(1))
        .write(dir.resolve("y.pem"), dir.resolve("y-key.pem"));
    assertThatThrownBy(() -> TlsFiles.load(cert, dir.resolve("y-key.pem"), null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("x.pem");
  }
}
