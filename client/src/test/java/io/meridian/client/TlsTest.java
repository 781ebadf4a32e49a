package io.meridian.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.ClientFactoryBuilder;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.TlsProvider;
import io.meridian.serving.tls.CertificateAuthority;
import io.meridian.serving.tls.TlsFiles;
import io.meridian.testing.LocalRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A region whose client port requires mutual TLS: a client presenting a certificate of the
 * cluster's CA reads and writes; one presenting none, one from another CA, and one calling plain
 * HTTP are refused.
 */
@Tag("cluster")
class TlsTest {
  @TempDir Path dir;

  private Path[] issue(CertificateAuthority by, String name) throws Exception {
    Path cert = dir.resolve(name + ".pem");
    Path key = dir.resolve(name + "-key.pem");
    by.issue(name, List.of("127.0.0.1", "localhost"), Duration.ofDays(1)).write(cert, key);
    return new Path[] {cert, key};
  }

  /**
   * {@code GET /health} at {@code url} presenting what {@code tls} gives (plain HTTP if null): the
   * status line, or the failure with its causes.
   */
  private static String call(String url, TlsProvider tls) {
    ClientFactoryBuilder b = ClientFactory.builder();
    if (tls != null) {
      b.tlsProvider(tls);
    }
    try (ClientFactory factory = b.build()) {
      return WebClient.builder(url)
          .factory(factory)
          .responseTimeout(Duration.ofSeconds(10))
          .build()
          .get("/health")
          .aggregate()
          .join()
          .status()
          .toString();
    } catch (RuntimeException e) {
      StringBuilder causes = new StringBuilder();
      for (Throwable t = e; t != null; t = t.getCause()) {
        causes.append(t).append('\n');
      }
      return causes.toString();
    }
  }

  @Test
  void onlyCallersWithACertificateOfTheClustersCaAreServed() throws Exception {
    CertificateAuthority ca = CertificateAuthority.create("cluster-ca", Duration.ofDays(1));
    Path caFile = dir.resolve("ca.pem");
    ca.writeCertificate(caFile);
    Path[] node = issue(ca, "n1");
    Path[] app = issue(ca, "app");
    Path[] outsider =
        issue(CertificateAuthority.create("other-ca", Duration.ofDays(1)), "outsider");

    try (LocalRegion region =
        LocalRegion.builder(dir.resolve("region"))
            .members(1)
            .set("tls", "cert-file", node[0].toString())
            .set("tls", "key-file", node[1].toString())
            .set("tls", "ca-file", caFile.toString())
            .set("tls", "client-auth", "REQUIRE")
            .start()) {
      region.awaitReady();
      assertThat(region.urls()).allMatch(u -> u.startsWith("https://"));

      try (MeridianClient c =
          MeridianClient.builder()
              .endpoints(region.urls())
              .tls(TlsFiles.load(app[0], app[1], caFile))
              .build()) {
        c.kv().put("/tls/k", ByteString.copyFromUtf8("v"));
        assertThat(c.kv().get("/tls/k"))
            .get()
            .extracting(kv -> kv.getValue().toStringUtf8())
            .isEqualTo("v");
      }

      // The refusals, each a handshake the node refuses before reading a request.
      String url = region.urls().get(0);
      assertThat(call(url, TlsFiles.load(null, null, caFile))).contains("SSL");
      assertThat(call(url, TlsFiles.load(outsider[0], outsider[1], caFile))).contains("SSL");
      assertThat(call(url.replace("https://", "http://"), null)).isNotEqualTo("200 OK");
    }
  }
}
