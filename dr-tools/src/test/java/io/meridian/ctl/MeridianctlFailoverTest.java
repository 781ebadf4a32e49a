package io.meridian.ctl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.StatusRuntimeException;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.GetTableRequest;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.Operation;
import io.meridian.api.v1.OperationStep;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RecordOperationRequest;
import io.meridian.api.v1.RecordOperationResponse;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.api.v1.ReplicationStatusRequest;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.RouterAdminGrpc;
import io.meridian.bridge.Bridge;
import io.meridian.bridge.BridgeConfig;
import io.meridian.client.Stubs;
import io.meridian.cluster.DevCluster;
import io.meridian.launcher.DevFederation;
import io.meridian.router.RoutingTable;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * {@code meridianctl failover} and {@code switchover} against a real federation: two regions, a
 * broker, a bridge and a router per region. Each test has a federation and a broker of its own, so
 * two run at once.
 */
@Tag("cluster")
@Execution(ExecutionMode.CONCURRENT)
class MeridianctlFailoverTest {
  @TempDir Path dir;

  private static DevFederation federation(Path dir) throws Exception {
    DevFederation f =
        DevFederation.start(
            dir,
            new DevFederation.Shape(List.of("us-east", "us-west"), 1, 1, true),
            // A short write-authority limit: the promotion after an unfenced failover waits it out.
            Map.of(
                "raft",
                DevCluster.FAST_ELECTIONS,
                "replication",
                Map.of("write-authority-ms", 3000)),
            Map.of());
    await().atMost(Duration.ofSeconds(90)).until(f::ready);
    // Its source shipping and reporting: the primary's write authority depends on it.
    await().atMost(Duration.ofSeconds(90)).until(() -> f.bridge().healthy());
    return f;
  }

  private static String routers(DevFederation f) {
    return f.router("us-east").url() + "," + f.router("us-west").url();
  }

  private static String kafka(DevFederation f) {
    return f.bridge().config().kafka().bootstrapServers();
  }

  private static String member(DevFederation f, String region) {
    return f.cluster(region).configs().get(0).self().client();
  }

  private static <S> S stub(String url, Class<S> type) {
    return GrpcClients.builder(url)
        .responseTimeout(Duration.ofSeconds(20))
        .addHeader(ShardHeader.NAME, "0")
        .build(type);
  }

  private static long put(String url, String key, String value) {
    return stub(url, KVGrpc.KVBlockingStub.class)
        .put(PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value)).build())
        .getHeader()
        .getRevision();
  }

  private static long applied(DevFederation f, String region) {
    return stub(member(f, region), ReplicationGrpc.ReplicationBlockingStub.class)
        .replicationStatus(ReplicationStatusRequest.getDefaultInstance())
        .getState()
        .getRevision();
  }

  private static long shipped(DevFederation f, String region) {
    return stub(member(f, region), ReplicationGrpc.ReplicationBlockingStub.class)
        .replicationStatus(ReplicationStatusRequest.getDefaultInstance())
        .getState()
        .getShippedRevision();
  }

  private static RoutingTable table(String router) {
    return RoutingTable.parse(
        GrpcClients.builder(router)
            .build(RouterAdminGrpc.RouterAdminBlockingStub.class)
            .getTable(GetTableRequest.getDefaultInstance())
            .getTable());
  }

  private static RecordOperationResponse record(String url) {
    return stub(url, ClusterGrpc.ClusterBlockingStub.class)
        .recordOperation(
            RecordOperationRequest.newBuilder()
                .setAction(RecordOperationRequest.Action.READ)
                .build());
  }

  @Test
  void switchoverMovesThePrimaryWithNothingLostAndTheOldPrimaryTakesNoWrite() throws Exception {
    try (DevFederation f = federation(dir.resolve("dev"))) {
      String routers = routers(f);
      long last = 0;
      for (int i = 0; i < 20; i++) {
        last = put(f.router("us-east").url(), "/app/k" + i, "v" + i);
      }
      long head = last;
      await().atMost(Duration.ofSeconds(60)).until(() -> applied(f, "us-west") >= head);
      // And the primary has heard so: else, on a busy machine, a revision whose shipping was not
      // yet reported ages past the write-authority limit once the bridge is gone, and the write
      // below is refused (FENCED) before the switchover is even tried.
      await().atMost(Duration.ofSeconds(60)).until(() -> shipped(f, "us-east") >= head);

      // With the bridge gone, the standby cannot catch up: the switchover aborts and gives the
      // old primary its role back, at a new epoch, and the routers their old primary.
      BridgeConfig bridgeConfig = f.bridge().config();
      f.bridge().close();
      long unshipped = put(member(f, "us-east"), "/app/unshipped", "x");
      CtlRun aborted =
          CtlRun.ctl(
              routers,
              "--shard",
              "0",
              "switchover",
              "--to",
              "us-west",
              "--catch-up-timeout",
              "2s",
              "--yes");
      assertThat(aborted.code()).as(aborted.out() + aborted.err()).isEqualTo(1);
      assertThat(aborted.out()).contains("abort: us-east is PRIMARY again at epoch 3");
      assertThat(aborted.err()).contains("switchover aborted");
      assertThat(table(f.router("us-west").url()).shard(0).primary().region()).isEqualTo("us-east");
      assertThat(record(member(f, "us-west")).getFinished(0).getOutcome()).isEqualTo("aborted");
      try (Bridge again = Bridge.start(bridgeConfig)) {
        await().atMost(Duration.ofSeconds(60)).until(() -> applied(f, "us-west") >= unshipped);
        // The unshipped write outlived the write-authority limit: writes come back once the new
        // bridge shipped it and reported so.
        long[] written = new long[1];
        await()
            .atMost(Duration.ofSeconds(60))
            .ignoreExceptions()
            .until(
                () -> (written[0] = put(f.router("us-east").url(), "/app/after-abort", "x")) > 0);
        long afterAbort = written[0];
        await().atMost(Duration.ofSeconds(60)).until(() -> applied(f, "us-west") >= afterAbort);

        // An operation open in another region (recorded where it promotes) is seen and refused.
        Operation elsewhere =
            Operation.newBuilder()
                .setId("failover-other")
                .setKind("failover")
                .setFromRegion("us-west")
                .setToRegion("us-east")
                .setEpoch(9)
                .build();
        var eastCluster = stub(member(f, "us-east"), ClusterGrpc.ClusterBlockingStub.class);
        eastCluster.recordOperation(
            RecordOperationRequest.newBuilder()
                .setAction(RecordOperationRequest.Action.BEGIN)
                .setOperation(elsewhere)
                .setHolder("someone@elsewhere")
                .setHoldMs(1)
                .build());
        CtlRun refused =
            CtlRun.ctl(routers, "--shard", "0", "switchover", "--to", "us-west", "--yes");
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("failover failover-other", "recorded in us-east");
        eastCluster.recordOperation(
            RecordOperationRequest.newBuilder()
                .setAction(RecordOperationRequest.Action.ABANDON)
                .setOperation(elsewhere)
                .setHolder("operator@here")
                .setHoldMs(1)
                .build());
        switchover(f, routers, afterAbort);
      }
    }
  }

  private static void switchover(DevFederation f, String routers, long head) {
    {
      CtlRun dry =
          CtlRun.ctl(routers, "--shard", "0", "switchover", "--to", "us-west", "--dry-run");
      assertThat(dry.code()).as(dry.out() + dry.err()).isZero();
      assertThat(dry.out()).contains("dry run", "nothing changed");
      assertThat(table(f.router("us-east").url()).shard(0).primary().region()).isEqualTo("us-east");

      // Without a terminal and without --yes: refused, nothing changed.
      CtlRun unconfirmed = CtlRun.ctl(routers, "--shard", "0", "switchover", "--to", "us-west");
      assertThat(unconfirmed.code()).isEqualTo(2);
      assertThat(unconfirmed.err()).contains("--yes");

      CtlRun run = CtlRun.ctl(routers, "--shard", "0", "switchover", "--to", "us-west", "--yes");
      assertThat(run.code()).as(run.out() + run.err()).isZero();
      assertThat(run.out())
          .contains("[1/8] detect", "[4/8] catch-up", "nothing is lost", "[8/8] notify");

      for (String router : List.of(f.router("us-east").url(), f.router("us-west").url())) {
        RoutingTable.Shard shard = table(router).shard(0);
        assertThat(shard.primary().region()).isEqualTo("us-west");
        assertThat(shard.region("us-east").orElseThrow().role()).isEqualTo(Role.FENCED);
      }
      // Every revision the old primary had is on the new one; writes go on through any router.
      assertThat(applied(f, "us-west")).isGreaterThanOrEqualTo(head);
      long after = put(f.router("us-east").url(), "/app/after", "x");
      assertThat(after).isGreaterThan(head);
      // The old primary takes no write.
      assertThat(refusal(() -> put(member(f, "us-east"), "/app/stale", "x")))
          .isEqualTo(Error.Code.FENCED);
      RecordOperationResponse rec = record(member(f, "us-west"));
      assertThat(rec.hasOpen()).isFalse();
      assertThat(rec.getFinished(0).getKind()).isEqualTo("switchover");
      assertThat(rec.getFinished(0).getOutcome()).isEqualTo("done");
      assertThat(rec.getFinished(0).getStepsList())
          .extracting(OperationStep::getName)
          .containsExactly(
              "detect",
              "fence-routers",
              "fence-primary",
              "catch-up",
              "promote",
              "redirect",
              "verify",
              "notify");

      // Run again: nothing to do.
      CtlRun again = CtlRun.ctl(routers, "--shard", "0", "switchover", "--to", "us-west", "--yes");
      assertThat(again.code()).as(again.err()).isZero();
      assertThat(again.out()).contains("is its primary already");
    }
  }

  @Test
  void failoverOfALostRegionIsRefusedWithoutAcceptingLossResumesAndIsNotRunTwiceAtOnce()
      throws Exception {
    try (DevFederation f = federation(dir.resolve("dev"))) {
      String routers = routers(f);
      for (int i = 0; i < 10; i++) {
        put(f.router("us-east").url(), "/app/k" + i, "v" + i);
      }
      f.stopRegion("us-east");
      String kafka = kafka(f);

      // Through the routers, status shows the lost region (exit 3), it does not fail (exit 1).
      CtlRun status = CtlRun.ctl(routers, "status");
      assertThat(status.code()).as(status.out() + status.err()).isEqualTo(3);
      assertThat(status.out()).contains("UNREACHABLE").contains("us-east");
      String west = member(f, "us-west");

      // The primary is unreachable: the window is unknown, so it is refused without the flag.
      CtlRun refused =
          CtlRun.ctl(
              routers, "--shard", "0", "failover", "--to", "us-west", "--kafka", kafka, "--yes");
      assertThat(refused.code()).as(refused.out() + refused.err()).isEqualTo(1);
      assertThat(refused.out()).contains("[1/10] detect: us-east does not answer");
      assertThat(refused.err()).contains("unknown", "refused without --accept-data-loss");

      // That run stopped at decide; its record holds the detect step. Another operator's run
      // while the hold lasts is refused; once it lapsed (simulated by a 1 ms hold) it resumes.
      Operation open = record(west).getOpen();
      assertThat(open.getStepsList()).extracting(OperationStep::getName).containsExactly("detect");
      stub(west, ClusterGrpc.ClusterBlockingStub.class)
          .recordOperation(
              RecordOperationRequest.newBuilder()
                  .setAction(RecordOperationRequest.Action.BEGIN)
                  .setOperation(open)
                  .setHolder("someone@elsewhere")
                  .setHoldMs(60_000)
                  .build());
      CtlRun concurrent =
          CtlRun.ctl(
              routers,
              "--shard",
              "0",
              "failover",
              "--to",
              "us-west",
              "--kafka",
              kafka,
              "--accept-data-loss",
              "--yes");
      assertThat(concurrent.code()).isEqualTo(1);
      assertThat(concurrent.err())
          .contains("FAILED_PRECONDITION", "is running", "someone@elsewhere");
      stub(west, ClusterGrpc.ClusterBlockingStub.class)
          .recordOperation(
              RecordOperationRequest.newBuilder()
                  .setAction(RecordOperationRequest.Action.BEGIN)
                  .setOperation(open)
                  .setHolder("someone@elsewhere")
                  .setHoldMs(1)
                  .build());

      // The outcome goes to a webhook too.
      java.util.concurrent.BlockingQueue<String> hooked =
          new java.util.concurrent.LinkedBlockingQueue<>();
      com.linecorp.armeria.server.Server hook =
          com.linecorp.armeria.server.Server.builder()
              .http(new java.net.InetSocketAddress("127.0.0.1", 0))
              .service(
                  "/hook",
                  (ctx, req) ->
                      com.linecorp.armeria.common.HttpResponse.of(
                          req.aggregate()
                              .thenApply(
                                  a -> {
                                    hooked.add(a.contentUtf8());
                                    return com.linecorp.armeria.common.HttpResponse.of(200);
                                  })))
              .build();
      hook.start().join();
      CtlRun run;
      try {
        run =
            CtlRun.ctl(
                routers,
                "--shard",
                "0",
                "--timeout",
                "5s",
                "failover",
                "--to",
                "us-west",
                "--kafka",
                kafka,
                "--webhook",
                "http://127.0.0.1:" + hook.activeLocalPort() + "/hook",
                "--accept-data-loss",
                "--yes");
      } finally {
        hook.stop().join();
      }
      assertThat(run.code()).as(run.out() + run.err()).isZero();
      assertThat(run.out()).contains("/hook answered 200");
      assertThat(hooked.poll())
          .contains(
              "\"event\":\"meridian.failover\"", "\"to\":\"us-west\"", "\"outcome\":\"done\"");
      assertThat(run.out())
          .contains("resuming failover " + open.getId())
          .contains("[1/10] detect: us-east does not answer")
          .contains("(done earlier)")
          .contains("[4/10] fence-primary: us-east did not answer")
          .contains("[5/10] fence-source: transactional id meridian-bridge-shard-0 fenced")
          .contains("the old primary was not fenced, so writes wait")
          .contains("[10/10] notify");
      RoutingTable.Shard shard = table(f.router("us-west").url()).shard(0);
      assertThat(shard.primary().region()).isEqualTo("us-west");
      assertThat(shard.primary().epoch()).isEqualTo(open.getEpoch());
      long after = put(f.router("us-west").url(), "/app/after", "x");
      assertThat(after).isGreaterThan(0);
      assertThat(record(west).getFinished(0).getOutcome()).isEqualTo("done");
    }
  }

  @Test
  void rejoinWritesTheDivergentTailToAFileAndMakesTheOldPrimaryAStandbyAgain() throws Exception {
    try (DevFederation f = federation(dir.resolve("dev"))) {
      String routers = routers(f);
      String east = member(f, "us-east");
      String west = member(f, "us-west");
      for (int i = 0; i < 10; i++) {
        put(f.router("us-east").url(), "/app/k" + i, "v" + i);
      }
      long shipped = put(east, "/app/shipped", "x");
      await().atMost(Duration.ofSeconds(60)).until(() -> applied(f, "us-west") >= shipped);
      // As in the switchover test: the primary must have heard it, or the tail writes below can
      // be refused (FENCED) for a report that came late.
      await().atMost(Duration.ofSeconds(60)).until(() -> shipped(f, "us-east") >= shipped);
      // The bridge goes; what the primary commits now never reaches the topic: the tail.
      BridgeConfig bridgeConfig = f.bridge().config();
      f.bridge().close();
      long tail1 = put(east, "/app/tail1", "lost?");
      long tail2 = put(east, "/app/tail2", "lost?");
      f.stopRegion("us-east");
      // The operator vouches that the stopped region takes no write: no promotion wait, so the
      // verify step passes within 2 s, where the 3 s wait for an unfenced old primary would not.
      CtlRun failover =
          CtlRun.ctl(
              routers,
              "--shard",
              "0",
              "--timeout",
              "5s",
              "failover",
              "--to",
              "us-west",
              "--kafka",
              kafka(f),
              "--accept-data-loss",
              "--old-primary-isolated",
              "--verify-timeout",
              "2s",
              "--yes");
      assertThat(failover.code()).as(failover.out() + failover.err()).isZero();
      assertThat(failover.out())
          .contains("isolated by the operator (--old-primary-isolated)")
          .doesNotContain("writes wait out");
      long westWrite = put(f.router("us-west").url(), "/app/after", "new");

      // The old primary comes back unfenced, at the old epoch, with its two unshipped revisions.
      f.restartRegion("us-east");
      await().atMost(Duration.ofSeconds(90)).until(f::ready);
      // The router's breaker for us-east opened while it was down; it lets a trial call through
      // within its open window, so status may show the region UNREACHABLE for a few seconds more.
      String claim =
          "shard 0: 2 regions claim its PRIMARY (us-east at epoch 1, us-west at epoch 2)";
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(500))
          .untilAsserted(
              () -> {
                CtlRun status = CtlRun.ctl(routers, "status");
                assertThat(status.code()).as(status.out() + status.err()).isEqualTo(3);
                assertThat(status.out()).contains(claim);
              });
      try (Bridge bridge = Bridge.start(bridgeConfig)) {
        Path tail = dir.resolve("east-tail.jsonl");
        CtlRun rejoin =
            CtlRun.ctl(
                routers,
                "--shard",
                "0",
                "rejoin",
                "--region",
                "us-east",
                "--tail-file",
                tail.toString(),
                "--yes");
        assertThat(rejoin.code()).as(rejoin.out() + rejoin.err()).isZero();
        assertThat(rejoin.out())
            .contains("[2/7] fence: us-east committed FENCED at epoch 2")
            .contains("[3/7] divergence: revisions " + tail1 + ".." + tail2 + " (2 batches)")
            .contains("[4/7] reset: us-east reset from us-west's snapshot")
            .contains("[7/7] notify");
        List<String> lines = java.nio.file.Files.readAllLines(tail);
        assertThat(lines).hasSize(2);
        // One change batch per line, as JSON: the operator reads the keys and values lost.
        assertThat(lines.get(0)).contains("\"revision\":\"" + tail1 + "\"", "/app/tail1");
        assertThat(lines.get(1)).contains("\"revision\":\"" + tail2 + "\"", "/app/tail2");
        // The old region now follows the new primary: same revision and content. The new
        // primary's shipping has just been set up: its first report may come after the 3 s
        // write-authority limit on a busy machine, and writes are refused (FENCED) until then.
        long[] written = new long[1];
        await()
            .atMost(Duration.ofSeconds(60))
            .ignoreExceptions()
            .until(() -> (written[0] = put(f.router("us-west").url(), "/app/later", "y")) > 0);
        long later = written[0];
        await().atMost(Duration.ofSeconds(60)).until(() -> applied(f, "us-east") >= later);
        assertThat(table(f.router("us-west").url()).shard(0).region("us-east").orElseThrow().role())
            .isEqualTo(Role.STANDBY);
        assertThat(refusal(() -> put(east, "/app/stale", "x")))
            .isIn(Error.Code.NOT_PRIMARY, Error.Code.FENCED);
        assertThat(westWrite).isPositive();
        // Run again: nothing to do.
        CtlRun again =
            CtlRun.ctl(routers, "--shard", "0", "rejoin", "--region", "us-east", "--yes");
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("is a STANDBY already");
      }
    }
  }

  private static Error.Code refusal(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return Stubs.failure(e).code();
    }
    throw new AssertionError("expected a refusal");
  }
}
