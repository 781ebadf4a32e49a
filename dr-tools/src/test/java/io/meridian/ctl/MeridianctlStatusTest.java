package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meridian.testing.LocalRegion;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meridianctl status} against a real 3-member region, healthy and then without quorum. */
@Tag("cluster")
class MeridianctlStatusTest {
  @TempDir Path dir;

  @Test
  void aHealthyRegionExitsZeroAndOneWithoutQuorumExitsThreeSayingWhy() throws Exception {
    try (LocalRegion region = LocalRegion.builder(dir).start()) {
      int leader = region.awaitReady();
      String all = String.join(",", region.urls());

      CtlRun healthy = CtlRun.ctl(all, "status");
      assertThat(healthy.code()).as(healthy.out() + healthy.err()).isZero();
      assertThat(healthy.out()).startsWith("SHARD").contains("PRIMARY").contains("HEALTHY");
      // Every member answers its health check.
      assertThat(healthy.out().lines().filter(l -> l.contains(" serving ")).count()).isEqualTo(3);

      CtlRun json = CtlRun.ctl(all, "status", "-o", "json");
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
      await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(
              () -> {
                CtlRun down = CtlRun.ctl(alone, "status", "--timeout", "5s");
                assertThat(down.code()).as(down.out() + down.err()).isEqualTo(3);
                assertThat(down.out())
                    .contains("UNHEALTHY")
                    .contains("no leader")
                    .contains("unreachable");
              });
    }
  }

  @Test
  void aBadFlagIsAUsageError() {
    CtlRun bad = CtlRun.ctl("http://127.0.0.1:1", "status", "--max-lag", "soon");
    assertThat(bad.code()).isEqualTo(2);
    assertThat(bad.err()).contains("--max-lag");
  }
}
