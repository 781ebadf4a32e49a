package io.meridian.router;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.WebClient;
import io.meridian.api.Slot;
import io.meridian.client.MeridianClient;
import io.meridian.serving.tls.CertificateAuthority;
import io.meridian.serving.tls.TlsFiles;
import io.meridian.testing.LocalRegion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutual TLS end to end: a client presents its certificate to a router, which presents its own to
 * the region's node; both hops refuse a caller without a certificate from the cluster's CA.
 */
@Tag("cluster")
class RouterTlsTest {
  @TempDir Path dir;

  private Path[] issue(CertificateAuthority ca, String name) throws Exception {
    Path cert = dir.resolve(name + ".pem");
    Path key = dir.resolve(name + "-key.pem");
    ca.issue(name, List.of("127.0.0.1", "localhost"), Duration.ofDays(1)).write(cert, key);
    return new Path[] {cert, key};
  }

  @Test
  void aClientReachesTheNodeThroughTheRouterOverMutualTlsAndOutsidersAreRefused() throws Exception {
    CertificateAuthority ca = CertificateAuthority.create("cluster-ca", Duration.ofDays(1));
    Path caFile = dir.resolve("ca.pem");
    ca.writeCertificate(caFile);
    Path[] node = issue(ca, "n1");
    Path[] router = issue(ca, "router");
    Path[] app = issue(ca, "app");

    try (LocalRegion region =
        LocalRegion.builder(dir.resolve("region"))
            .members(1)
            .set("tls", "cert-file", node[0].toString())
            .set("tls", "key-file", node[1].toString())
            .set("tls", "ca-file", caFile.toString())
            .set("tls", "client-auth", "REQUIRE")
            .start()) {
      region.awaitReady();
      Files.writeString(
          dir.resolve("table.yaml"),
          String.join(
              "\n",
              "version: 1",
              "slots: [{range: 0-" + (Slot.COUNT - 1) + ", shard: 0}]",
              "shards:",
              "  - id: 0",
              "    regions:",
              "      - {region: east, role: PRIMARY, epoch: 1, endpoints: ['"
                  + region.urls().get(0)
                  + "']}",
              ""));
      Files.writeString(
          dir.resolve("router.yaml"),
          String.join(
              "\n",
              "region: east",
              "listen: {port: 0}",
              "table: table.yaml",
              "tls: {cert-file: '" + router[0] + "', key-file: '" + router[1] + "',",
              "      ca-file: '" + caFile + "', client-auth: REQUIRE}",
              "upstream: {cert-file: '" + router[0] + "', key-file: '" + router[1] + "',",
              "           ca-file: '" + caFile + "'}",
              ""));
      try (RouterServer server = RouterServer.start(RouterConfig.load(dir.resolve("router.yaml")));
          MeridianClient client =
              MeridianClient.builder()
                  .endpoints(server.url())
                  .tls(TlsFiles.load(app[0], app[1], caFile))
                  .build()) {
        assertThat(server.url()).startsWith("https://");
        client.kv().put("/tls/through", ByteString.copyFromUtf8("the router"));
        assertThat(client.kv().get("/tls/through"))
            .get()
            .extracting(kv -> kv.getValue().toStringUtf8())
            .isEqualTo("the router");

        // No certificate: the router refuses the handshake.
        try (ClientFactory anonymous =
            ClientFactory.builder().tlsProvider(TlsFiles.load(null, null, caFile)).build()) {
          Throwable refused =
              org.assertj.core.api.Assertions.catchThrowable(
                  () ->
                      WebClient.builder(server.url())
                          .factory(anonymous)
                          .build()
                          .get("/health")
                          .aggregate()
                          .join());
          assertThat(refused).hasStackTraceContaining("SSL");
        }
      }
    }
  }
}
