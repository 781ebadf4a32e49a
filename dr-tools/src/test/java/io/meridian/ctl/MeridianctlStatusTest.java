package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meridian.testing.LocalRegion;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meridianctl status} against a real 3-member region, healthy and then without quorum. */
@Tag("cluster")
class MeridianctlStatusTest {
  @TempDir Path dir;

  record Run(int code, String out, String err) {}

  static Run ctl(String endpoints, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        Meridianctl.run(
            Map.of(Meridianctl.ENDPOINTS_ENV, endpoints),
            new PrintWriter(out, true),
            new PrintWriter(err, true),
            args);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void aHealthyRegionExitsZeroAndOneWithoutQuorumExitsThreeSayingWhy() throws Exception {
    try (LocalRegion region = LocalRegion.builder(dir).start()) {
      int leader = region.awaitReady();
      String all = String.join(",", region.urls());

      Run healthy = ctl(all, "status");
      assertThat(healthy.code()).as(healthy.out() + healthy.err()).isZero();
      assertThat(healthy.out()).startsWith("SHARD").contains("PRIMARY").contains("HEALTHY");

      Run json = ctl(all, "status", "-o", "json");
      assertThat(json.code()).as(json.err()).isZero();
      JsonNode parsed = new ObjectMapper().readTree(json.out());
      assertThat(parsed.path("healthy").asBoolean()).isTrue();
      assertThat(parsed.path("problems")).isEmpty();
      assertThat(parsed.path("status").path("shards")).hasSize(1);
      assertThat(parsed.path("members").path("members")).hasSize(3);

      // Two of three members gone: the survivor answers, but its shard has no leader.
      int survivor = (leader + 1) % 3;
      for (int i = 0; i < 3; i++) {
        if (i != survivor) {
          region.kill(i);
        }
      }
      String alone = region.urls().get(survivor);
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(60))
          .untilAsserted(
              () -> {
                Run down = ctl(alone, "status", "--timeout", "5s");
                assertThat(down.code()).as(down.out() + down.err()).isEqualTo(3);
                assertThat(down.out()).contains("UNHEALTHY").contains("no leader");
              });
    }
  }

  @Test
  void aBadFlagIsAUsageError() {
    Run bad = ctl("http://127.0.0.1:1", "status", "--max-lag", "soon");
    assertThat(bad.code()).isEqualTo(2);
    assertThat(bad.err()).contains("--max-lag");
  }
}
