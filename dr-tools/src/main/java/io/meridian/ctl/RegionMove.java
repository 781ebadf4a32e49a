package io.meridian.ctl;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.MediaType;
import io.grpc.StatusRuntimeException;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.Operation;
import io.meridian.api.v1.OperationStep;
import io.meridian.api.v1.Position;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.client.Stubs;
import io.meridian.router.RoutingTable;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * What moving a shard's primary to another region takes in both of its forms (failover and
 * switchover): their options, and the steps they share (fence the routers, promote, redirect,
 * verify, notify).
 */
final class RegionMove {
  private static final Logger log = LoggerFactory.getLogger("meridian.operation");

  @Option(
      names = "--to",
      required = true,
      paramLabel = "REGION",
      description = "The STANDBY region to promote.")
  String to;

  @Option(names = "--dry-run", description = "Print what would be done; change nothing.")
  boolean dryRun;

  @Option(names = "--yes", description = "Do not ask for confirmation.")
  boolean yes;

  @Option(
      names = "--webhook",
      paramLabel = "URL",
      description =
          "POST the outcome as JSON to URL (e.g. a chat or paging hook); a failed delivery is"
              + " reported, not retried.")
  String webhook;

  @Option(
      names = "--verify-timeout",
      paramLabel = "DURATION",
      converter = Durations.class,
      description =
          "How long the probe write may be refused (FENCED while the new primary waits out an"
              + " unfenced old one; UNAVAILABLE) before verify fails (default: 60s).")
  Duration verifyTimeout = Duration.ofSeconds(60);

  @Option(
      names = "--lease-policy",
      paramLabel = "POLICY",
      description =
          "What the promotion does to the shard's leases: EXTEND (default: each restarts at its"
              + " full TTL, as its holder renewed with the old primary) or REVOKE (all end, their"
              + " keys deleted and locks released, in the new epoch's first revision).")
  io.meridian.api.v1.LeasePolicy leasePolicy = io.meridian.api.v1.LeasePolicy.EXTEND;

  @Mixin KafkaOptions kafka;

  /** The Kafka cluster holding the shard's change topic, and how the bridges name their source. */
  static final class KafkaOptions {
    @Option(
        names = "--kafka",
        paramLabel = "HOST:PORT",
        description =
            "The Kafka cluster holding the change topics, host:port[,host:port...]. Default: the"
                + " running `bin/meridian dev`'s broker.")
    String bootstrap;

    @Option(
        names = "--transactional-id-prefix",
        paramLabel = "PREFIX",
        description = "The bridges' kafka.transactional-id-prefix (default: meridian-bridge).")
    String transactionalIdPrefix = "meridian-bridge";

    @Option(
        names = "--kafka-property",
        paramLabel = "KEY=VALUE",
        description = "A Kafka client setting, as the bridge's kafka.properties (repeatable).")
    Map<String, String> properties = new LinkedHashMap<>();

    /** {@code --kafka}, else the dev federation's broker, else null. */
    String bootstrap(Meridianctl root) {
      return bootstrap != null ? bootstrap : root.devKafka().orElse(null);
    }

    void requireBootstrap(Meridianctl root, CommandSpec spec) {
      if (bootstrap(root) == null) {
        throw new CommandLine.ParameterException(
            spec.commandLine(),
            "--kafka: not given and no `bin/meridian dev` running (expected: the bootstrap"
                + " servers of the Kafka cluster holding the change topics)");
      }
    }

    /** The position of the change topic's last record; empty if Kafka is unknown or it is empty. */
    Optional<Position> topicLast(Meridianctl root, int shard) {
      String servers = bootstrap(root);
      return servers == null ? Optional.empty() : FailoverCommand.last(servers, shard, properties);
    }
  }

  /** {@code --shard}, required here: a role belongs to one shard. */
  int shard(Meridianctl root, CommandSpec spec) {
    Integer shard = root.shard();
    if (shard == null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--shard: required (expected: the shard whose primary moves)");
    }
    if (leasePolicy != io.meridian.api.v1.LeasePolicy.EXTEND
        && leasePolicy != io.meridian.api.v1.LeasePolicy.REVOKE) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--lease-policy: " + leasePolicy + " (expected: EXTEND or REVOKE)");
    }
    return shard;
  }

  /** fence-routers: the routers' table names no primary for the shard; writes stop there. */
  void fenceRouters(RegionOperation op, ShardRegions regions, RoutingTable.Region old, long epoch) {
    op.step(
        "fence-routers",
        () -> route(regions, Map.of(old.region(), Role.FENCED), epoch, "no primary, writes stop"));
  }

  /** promote: the target commits PRIMARY at the operation's epoch. */
  void promote(
      RegionOperation op,
      ShardRegions regions,
      RoutingTable.Region to,
      long epoch,
      boolean oldPrimaryFenced) {
    op.step(
        "promote",
        () -> {
          var r =
              regions.setRole(
                  to,
                  SetRoleRequest.newBuilder()
                      .setRole(Role.PRIMARY)
                      .setEpoch(epoch)
                      .setLeasePolicy(leasePolicy)
                      .setOldPrimaryUnfenced(!oldPrimaryFenced)
                      .build());
          return new RegionOperation.Done(
              to.region()
                  + " committed PRIMARY at epoch "
                  + epoch
                  + " at revision "
                  + r.getHeader().getRevision()
                  + (leasePolicy == io.meridian.api.v1.LeasePolicy.REVOKE
                      ? "; every lease revoked"
                      : "; its leases restart at their full TTL")
                  + (oldPrimaryFenced
                      ? ""
                      : "; the old primary was not fenced, so writes wait out its write authority"
                          + " (replication.write-authority-ms) and locks it held wait that plus"
                          + " their lease"),
              Map.of("promoted_revision", Long.toString(r.getHeader().getRevision())));
        });
  }

  /** redirect: the routers' table names the new primary. */
  void redirect(
      RegionOperation op,
      ShardRegions regions,
      RoutingTable.Region old,
      RoutingTable.Region to,
      long epoch) {
    op.step(
        "redirect",
        () -> {
          Map<String, Role> roles = new LinkedHashMap<>();
          roles.put(old.region(), Role.FENCED);
          roles.put(to.region(), Role.PRIMARY);
          return route(regions, roles, epoch, to.region() + " takes writes");
        });
  }

  private static RegionOperation.Done route(
      ShardRegions regions, Map<String, Role> roles, long epoch, String meaning) {
    RoutingTable.Shard now = regions.described();
    boolean served =
        roles.entrySet().stream()
            .allMatch(
                e ->
                    now.region(e.getKey())
                        .map(r -> r.role() == e.getValue() && r.epoch() == epoch)
                        .orElse(false));
    RoutingTable next = served ? regions.table : regions.next(roles, epoch);
    List<String> lines = regions.apply(next);
    return new RegionOperation.Done(
        "routing table version "
            + next.version()
            + " ("
            + meaning
            + "): "
            + String.join("; ", lines));
  }

  /** verify: a probe write and a linearizable read of it through every router that answers. */
  void verify(RegionOperation op, ShardRegions regions, int shard) {
    op.step(
        "verify",
        () -> {
          String key = "/" + probeNamespace(regions.table, shard) + "/failover-probe";
          ByteString value = ByteString.copyFrom(op.operation().getId(), StandardCharsets.UTF_8);
          List<String> lines = new ArrayList<>();
          for (String router : regions.answering()) {
            long t0 = System.nanoTime();
            KVGrpc.KVBlockingStub kv =
                com.linecorp.armeria.client.grpc.GrpcClients.builder(router)
                    .factory(regions.factory)
                    .responseTimeout(Duration.ofSeconds(10))
                    .build(KVGrpc.KVBlockingStub.class);
            long deadline = System.nanoTime() + verifyTimeout.toNanos();
            try {
              PutResponse put = null;
              while (put == null) {
                try {
                  put = kv.put(PutRequest.newBuilder().setKey(key).setValue(value).build());
                } catch (StatusRuntimeException e) {
                  MeridianException m = Stubs.failure(e);
                  // A new primary waiting out an unfenced old one refuses writes with FENCED for
                  // a while; routers may take a moment to reach it.
                  boolean passing =
                      m.code() == Error.Code.FENCED || m.code() == Error.Code.UNAVAILABLE;
                  if (!passing || System.nanoTime() > deadline) {
                    throw e;
                  }
                  pause(Duration.ofMillis(200));
                }
              }
              RangeResponse got =
                  kv.withDeadlineAfter(10, TimeUnit.SECONDS)
                      .range(
                          RangeRequest.newBuilder()
                              .setKey(key)
                              .setConsistency(Consistency.LINEARIZABLE)
                              .build());
              if (got.getKvsCount() != 1 || !got.getKvs(0).getValue().equals(value)) {
                throw MeridianException.of(
                    Error.Code.INTERNAL,
                    "router %s: read %s back as %s after writing it at revision %d",
                    router,
                    key,
                    got.getKvsList(),
                    put.getHeader().getRevision());
              }
              lines.add(
                  router
                      + " wrote "
                      + key
                      + " at revision "
                      + put.getHeader().getRevision()
                      + " (epoch "
                      + put.getHeader().getEpoch()
                      + ") and read it back in "
                      + (System.nanoTime() - t0) / 1_000_000
                      + " ms");
            } catch (StatusRuntimeException e) {
              MeridianException m = Stubs.failure(e);
              throw MeridianException.of(
                  m.code(), "probe through router %s: %s", router, m.getMessage());
            }
          }
          return new RegionOperation.Done(String.join("; ", lines));
        });
  }

  /** A namespace that routing table {@code table} puts on {@code shard}. */
  static String probeNamespace(RoutingTable table, int shard) {
    for (int i = 0; i < 1_000_000; i++) {
      String ns = "meridian-probe-" + i;
      if (table.shardOf(ns).id() == shard) {
        return ns;
      }
    }
    throw MeridianException.of(Error.Code.INTERNAL, "no probe namespace found for shard %d", shard);
  }

  /**
   * notify: one structured line (in the log), and the webhook if given. The nodes' metrics show the
   * operation too ({@code meridian_region_operation_open}, {@code
   * meridian_region_operation_last_finished_seconds}).
   */
  void notify(
      RegionOperation op,
      ShardRegions regions,
      RoutingTable.Region in,
      long startedNanos,
      PrintWriter out) {
    op.step(
        "notify",
        () -> {
          Operation o = op.operation();
          ObjectNode event = new ObjectMapper().createObjectNode();
          event.put("event", "meridian." + o.getKind());
          event.put("id", o.getId());
          event.put("shard", o.getShard());
          event.put("from", o.getFromRegion());
          event.put("to", o.getToRegion());
          event.put("epoch", o.getEpoch());
          event.put("outcome", "done");
          event.put("started", Instant.ofEpochMilli(o.getStartedMs()).toString());
          event.put("thisRunMs", (System.nanoTime() - startedNanos) / 1_000_000);
          o.getFactsMap().forEach(event::put);
          var steps = event.putArray("steps");
          for (OperationStep s : o.getStepsList()) {
            steps.addObject().put("name", s.getName()).put("result", s.getResult());
          }
          String line = event.toString();
          log.info(line);
          String delivered = "";
          if (webhook != null) {
            delivered = "; " + post(webhook, line);
          }
          return new RegionOperation.Done(
              o.getKind()
                  + " of shard "
                  + o.getShard()
                  + " to "
                  + o.getToRegion()
                  + " done"
                  + delivered);
        });
  }

  private static String post(String url, String json) {
    try {
      AggregatedHttpResponse r =
          WebClient.builder()
              .responseTimeout(Duration.ofSeconds(10))
              .build()
              .prepare()
              .post(url)
              .content(MediaType.JSON_UTF_8, json)
              .execute()
              .aggregate()
              .join();
      return r.status().isSuccess()
          ? "webhook " + url + " answered " + r.status().code()
          : "webhook " + url + " refused it: " + r.status();
    } catch (RuntimeException e) {
      return "webhook " + url + " not reached: " + MeridianException.causeOf(e).getMessage();
    }
  }

  static void pause(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw MeridianException.of(Error.Code.UNAVAILABLE, "interrupted");
    }
  }
}
