package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.linecorp.armeria.client.grpc.GrpcClients;
import io.meridian.api.v1.GetTableRequest;
import io.meridian.api.v1.ReplaceTableRequest;
import io.meridian.api.v1.RouterAdminGrpc;
import io.meridian.cluster.DevCluster;
import io.meridian.launcher.DevFederation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meridianctl routing show|diff|apply} against the routers of a real federation. */
@Tag("cluster")
class MeridianctlRoutingTest {
  @TempDir Path dir;

  @Test
  void showDiffAndApplyATableOnEveryRouterAndRefuseWhatTheyWouldRefuse() throws Exception {
    try (DevFederation f =
        DevFederation.start(
            dir.resolve("dev"),
            new DevFederation.Shape(List.of("us-east", "us-west"), 2, 1, false),
            Map.of("raft", DevCluster.FAST_ELECTIONS),
            Map.of())) {
      await().atMost(Duration.ofSeconds(60)).until(f::ready);
      String east = f.router("us-east").url();
      String west = f.router("us-west").url();
      String routers = east + "," + west;

      CtlRun show = CtlRun.ctl(routers, "routing", "show");
      assertThat(show.code()).as(show.out() + show.err()).isZero();
      assertThat(show.out()).contains("us-east").contains("us-west").contains("serves version 1");

      // Version 2 pins namespace shop to shard 1.
      String served = admin(east).getTable(GetTableRequest.getDefaultInstance()).getTable();
      assertThat(served).contains("version: 1\n");
      Path v2 = dir.resolve("v2.yaml");
      Files.writeString(v2, served.replace("version: 1\n", "version: 2\n") + "pins: {shop: 1}\n");

      CtlRun diff = CtlRun.ctl(routers, "routing", "diff", v2.toString());
      assertThat(diff.code()).as(diff.err()).isZero();
      assertThat(diff.out())
          .contains("version 1 -> 2")
          .contains("namespace shop pinned: none -> shard 1");

      CtlRun apply = CtlRun.ctl(routers, "routing", "apply", v2.toString());
      assertThat(apply.code()).as(apply.out() + apply.err()).isZero();
      assertThat(apply.out().lines().filter(l -> l.contains("serves version 2")).count())
          .isEqualTo(2);
      assertThat(CtlRun.ctl(routers, "routing", "show").out()).contains("serves version 2");
      assertThat(CtlRun.ctl(routers, "routing", "diff", v2.toString()).out()).contains("no change");

      // The same version again is refused before any router is asked.
      CtlRun again = CtlRun.ctl(routers, "routing", "apply", v2.toString());
      assertThat(again.code()).isEqualTo(1);
      assertThat(again.err()).contains("INVALID_ARGUMENT").contains("is not above version 2");

      // A table a router would refuse is refused here, naming the file.
      Path broken = dir.resolve("broken.yaml");
      Files.writeString(broken, "version: 3\nslots: []\nshards: []\n");
      CtlRun bad = CtlRun.ctl(routers, "routing", "apply", broken.toString());
      assertThat(bad.code()).isEqualTo(1);
      assertThat(bad.err()).contains("INVALID_ARGUMENT").contains(broken.toString());

      // One router moved on alone: show says so and exits 3.
      admin(west)
          .replaceTable(
              ReplaceTableRequest.newBuilder()
                  .setTable(Files.readString(v2).replace("version: 2\n", "version: 3\n"))
                  .build());
      CtlRun split = CtlRun.ctl(routers, "routing", "show");
      assertThat(split.code()).isEqualTo(3);
      assertThat(split.out()).contains("routers serve different versions [2, 3]");
    }
  }

  @Test
  void aNodeIsNotARouter() throws Exception {
    try (var region = io.meridian.testing.LocalRegion.builder(dir.resolve("region")).start()) {
      region.awaitReady();
      CtlRun show = CtlRun.ctl(String.join(",", region.urls()), "routing", "show");
      assertThat(show.code()).isEqualTo(2);
      assertThat(show.err()).contains("--endpoints: no router among");
    }
  }

  private static RouterAdminGrpc.RouterAdminBlockingStub admin(String url) {
    return GrpcClients.builder(url)
        .responseTimeout(Duration.ofSeconds(10))
        .build(RouterAdminGrpc.RouterAdminBlockingStub.class);
  }
}
