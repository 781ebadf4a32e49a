package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.serving.tls.CertificateAuthority;
import io.meridian.testing.LocalRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code meridianctl} against a node that requires mutual TLS: with the CA and a certificate of its
 * own (flags or variables) it works; without a certificate the node refuses it; a certificate
 * without its key is a usage error.
 */
@Tag("cluster")
class MeridianctlTlsTest {
  @TempDir Path dir;

  @Test
  void withTheClustersCaAndACertificateItWorksAndWithoutItIsRefused() throws Exception {
    CertificateAuthority ca = CertificateAuthority.create("cluster-ca", Duration.ofDays(1));
    Path caFile = dir.resolve("ca.pem");
    ca.writeCertificate(caFile);
    ca.issue("n1", List.of("127.0.0.1"), Duration.ofDays(1))
        .write(dir.resolve("n1.pem"), dir.resolve("n1-key.pem"));
    ca.issue("operator", List.of(), Duration.ofDays(1))
        .write(dir.resolve("op.pem"), dir.resolve("op-key.pem"));
    try (LocalRegion region =
        LocalRegion.builder(dir.resolve("region"))
            .members(1)
            .set("tls", "cert-file", dir.resolve("n1.pem").toString())
            .set("tls", "key-file", dir.resolve("n1-key.pem").toString())
            .set("tls", "ca-file", caFile.toString())
            .set("tls", "client-auth", "REQUIRE")
            .start()) {
      region.awaitReady();
      String url = region.urls().get(0);

      CtlRun put =
          CtlRun.ctl(
              url,
              "--cacert",
              caFile.toString(),
              "--cert",
              dir.resolve("op.pem").toString(),
              "--key",
              dir.resolve("op-key.pem").toString(),
              "kv",
              "put",
              "/ctl/tls",
              "yes");
      assertThat(put.code()).as(put.err()).isZero();
      CtlRun status =
          CtlRun.ctl(
              url,
              "--cacert",
              caFile.toString(),
              "--cert",
              dir.resolve("op.pem").toString(),
              "--key",
              dir.resolve("op-key.pem").toString(),
              "member",
              "list");
      assertThat(status.code()).as(status.err()).isZero();
      assertThat(status.out()).contains("n1").contains(" serving ");

      CtlRun anonymous =
          CtlRun.ctl(
              url, "--timeout", "3s", "--cacert", caFile.toString(), "kv", "get", "/ctl/tls");
      assertThat(anonymous.code()).isEqualTo(Meridianctl.FAILED);
      assertThat(anonymous.err()).contains("UNAVAILABLE");

      CtlRun alone =
          CtlRun.ctl(url, "--cert", dir.resolve("op.pem").toString(), "kv", "get", "/ctl/tls");
      assertThat(alone.code()).isEqualTo(Meridianctl.USAGE);
      assertThat(alone.err()).contains("--cert given alone");
    }
  }
}
