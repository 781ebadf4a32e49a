package io.meridian.ctl;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Operation;
import io.meridian.api.v1.Position;
import io.meridian.api.v1.RecordOperationResponse;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.api.v1.StatusRequest;
import io.meridian.api.v1.StatusResponse;
import io.meridian.bridge.BridgeConfig;
import io.meridian.bridge.ChangeArchive;
import io.meridian.bridge.SourceFence;
import io.meridian.router.RoutingTable;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl failover}: the unplanned move of a shard's primary to a standby region, as a
 * recorded operation: detect, decide, fence (routers, the old primary, its bridge source), drain,
 * promote, redirect, verify, notify.
 */
@Command(
    name = "failover",
    mixinStandardHelpOptions = true,
    description = {
      "Moves shard --shard's PRIMARY to region --to, which must be a STANDBY, when the primary"
          + " region is lost or must be given up at once. --endpoints names the routers (every"
          + " region's).",
      "Steps: detect (probe the old primary), decide (the revisions at risk; refused without"
          + " --accept-data-loss unless none), fence-routers (the table names no primary: writes"
          + " stop), fence-primary (the old primary commits FENCED, if it answers), fence-source"
          + " (its bridge's Kafka producer is fenced), drain (the standby applies what the change"
          + " topic holds), promote (the standby commits PRIMARY at a new epoch), redirect (the"
          + " routers' table names the new primary), verify (a probe write and read through every"
          + " router), notify.",
      "Each step is recorded in the new primary's cluster: running the same command again resumes"
          + " at the first step not done, and a second run while one is going is refused.",
      "Asks for confirmation on a terminal; --yes runs unattended (without a terminal and without"
          + " --yes it refuses, exit 2)."
    })
final class FailoverCommand implements Callable<Integer> {
  /** The failover's steps, in order. */
  static final int STEPS = 10;

  /** The fence step's fact when the operator vouched that the old primary takes no write. */
  private static final String ISOLATED = "isolated";

  @ParentCommand Meridianctl root;
  @Spec CommandSpec spec;
  @Mixin RegionMove move;

  @Option(
      names = "--accept-data-loss",
      description =
          "Go on although revisions the old primary committed may not reach the new one (the"
              + " decide step prints which).")
  boolean acceptDataLoss;

  @Option(
      names = "--old-primary-isolated",
      description =
          "You have made sure the old primary region takes no client write (its members are"
              + " powered off, or firewalled from every client and router): if it does not"
              + " answer, the new primary takes writes at once instead of waiting out the old"
              + " one's write authority (replication.write-authority-ms). If you are wrong, what"
              + " the old primary acknowledges in that time is lost.")
  boolean oldPrimaryIsolated;

  @Option(
      names = "--drain-timeout",
      paramLabel = "DURATION",
      converter = Durations.class,
      description =
          "How long the standby may take to apply what the change topic holds (default: 60s).")
  Duration drainTimeout = Duration.ofSeconds(60);

  @Option(
      names = "--detect-timeout",
      paramLabel = "DURATION",
      converter = Durations.class,
      description = "How long to wait for the old primary's answer (default: 3s).")
  Duration detectTimeout = Duration.ofSeconds(3);

  @Override
  public Integer call() {
    int shard = move.shard(root, spec);
    PrintWriter out = spec.commandLine().getOut();
    ShardRegions regions = ShardRegions.of(root.endpoints(), shard, root.timeout(), root.factory());
    RoutingTable.Region to = regions.region(move.to);
    Optional<RecordOperationResponse> record = Optional.of(RegionOperation.read(regions, to));
    Operation open = record.get().hasOpen() ? record.get().getOpen() : null;
    String from = open != null ? open.getFromRegion() : primaryName(regions);
    if (open == null && from.equals(to.region())) {
      out.println("shard " + shard + ": " + to.region() + " is its primary already: nothing to do");
      out.flush();
      return 0;
    }
    RegionOperation.require(
        open != null || to.role() == Role.STANDBY,
        "region %s: %s in routing table version %d (expected: a STANDBY to promote)",
        to.region(),
        to.role(),
        regions.table.version());
    RoutingTable.Region old = regions.region(from);
    long epoch = open != null ? open.getEpoch() : nextEpoch(regions, to);
    if (move.dryRun) {
      Detected d = detect(regions, old);
      out.println("detect: " + d.line());
      out.println("decide: " + decide(regions, old, to, d, shard).result());
      out.println(
          "dry run: would fence "
              + from
              + ", promote "
              + to.region()
              + " to PRIMARY at epoch "
              + epoch
              + " and redirect routing table version "
              + regions.table.version()
              + "; nothing changed");
      out.flush();
      return 0;
    }
    Confirmation.require(
        root,
        spec,
        move.yes,
        "fail shard " + shard + " over from " + from + " to " + to.region() + " at epoch " + epoch);
    Operation wanted =
        Operation.newBuilder()
            .setKind("failover")
            .setFromRegion(from)
            .setToRegion(to.region())
            .setEpoch(epoch)
            .build();
    long started = System.nanoTime();
    try (RegionOperation op = RegionOperation.begin(regions, to, wanted, STEPS, out)) {
      long e = op.operation().getEpoch();
      Detected[] detected = new Detected[1];
      op.step(
          "detect",
          () -> {
            detected[0] = detect(regions, old);
            return new RegionOperation.Done(
                detected[0].line(),
                Map.of(
                    "old_primary_reachable",
                    Boolean.toString(detected[0].reachable()),
                    "old_primary_revision",
                    Long.toString(detected[0].revision())));
          });
      op.step(
          "decide",
          () -> {
            Detected d =
                detected[0] != null
                    ? detected[0]
                    : new Detected(
                        Boolean.parseBoolean(op.fact("old_primary_reachable")),
                        Long.parseLong(op.fact("old_primary_revision")),
                        "");
            RegionOperation.Done decided = decide(regions, old, to, d, shard);
            boolean zero = "0".equals(decided.facts().get("at_risk"));
            if (!zero && !acceptDataLoss) {
              throw MeridianException.of(
                  Error.Code.FAILED_PRECONDITION,
                  "%s; refused without --accept-data-loss",
                  decided.result());
            }
            return decided;
          });
      move.fenceRouters(op, regions, old, e);
      op.step(
          "fence-primary",
          () -> {
            try {
              regions.setRole(
                  old, SetRoleRequest.newBuilder().setRole(Role.FENCED).setEpoch(e).build());
              return new RegionOperation.Done(
                  old.region() + " committed FENCED at epoch " + e,
                  Map.of("old_primary_fenced", "true"));
            } catch (MeridianException m) {
              if (m.code() != Error.Code.UNAVAILABLE && m.code() != Error.Code.DEADLINE_EXCEEDED) {
                throw m;
              }
              if (oldPrimaryIsolated) {
                return new RegionOperation.Done(
                    old.region()
                        + " did not answer ("
                        + m.getMessage()
                        + "): isolated by the operator (--old-primary-isolated), so the promotion"
                        + " does not wait out its write authority",
                    Map.of("old_primary_fenced", ISOLATED));
              }
              return new RegionOperation.Done(
                  old.region()
                      + " did not answer ("
                      + m.getMessage()
                      + "): not fenced; it loses its write authority once its changes stop"
                      + " reaching Kafka",
                  Map.of("old_primary_fenced", "false"));
            }
          });
      op.step(
          "fence-source",
          () -> {
            move.kafka.requireBootstrap(root, spec);
            SourceFence.fence(
                move.kafka.bootstrap(root),
                move.kafka.transactionalIdPrefix,
                shard,
                e,
                move.kafka.properties);
            return new RegionOperation.Done(
                "transactional id "
                    + SourceFence.transactionalId(move.kafka.transactionalIdPrefix, shard)
                    + " fenced and the change topic marked fenced below epoch "
                    + e
                    + ": nothing more from "
                    + old.region()
                    + " reaches it");
          });
      op.step("drain", () -> drain(regions, to, shard));
      // The fact, not this run's flag: a rerun resumes with what the fence step decided.
      String fenced = op.fact("old_primary_fenced");
      move.promote(op, regions, to, e, "true".equals(fenced) || ISOLATED.equals(fenced));
      move.redirect(op, regions, old, to, e);
      move.verify(op, regions, shard);
      move.notify(op, regions, to, started, out);
      op.finish("done");
    }
    return 0;
  }

  /** What probing the old primary found. */
  record Detected(boolean reachable, long revision, String line) {}

  static Detected detect(ShardRegions regions, RoutingTable.Region old, Duration timeout) {
    long t0 = System.nanoTime();
    try {
      StatusResponse status =
          regions.call(
              old,
              io.meridian.api.v1.ClusterGrpc.ClusterBlockingStub.class,
              timeout,
              s -> s.status(StatusRequest.getDefaultInstance()));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      var shard =
          status.getShardsList().stream()
              .filter(s -> s.getHeader().getShard() == regions.shard)
              .findFirst()
              .orElseThrow(
                  () ->
                      MeridianException.of(
                          Error.Code.NOT_FOUND,
                          "region %s does not serve shard %d",
                          old.region(),
                          regions.shard));
      return new Detected(
          true,
          shard.getHeader().getRevision(),
          old.region()
              + " answers in "
              + ms
              + " ms: "
              + shard.getHeader().getRole()
              + " at epoch "
              + shard.getHeader().getEpoch()
              + ", revision "
              + shard.getHeader().getRevision());
    } catch (MeridianException e) {
      return new Detected(
          false, 0, old.region() + " does not answer: " + e.code() + ": " + e.getMessage());
    }
  }

  private Detected detect(ShardRegions regions, RoutingTable.Region old) {
    return detect(regions, old, detectTimeout);
  }

  /**
   * The revisions at risk: those the old primary has and the standby has not applied. Of them, what
   * the change topic holds is drained before promotion; what it does not hold is lost.
   */
  private RegionOperation.Done decide(
      ShardRegions regions,
      RoutingTable.Region old,
      RoutingTable.Region to,
      Detected d,
      int shard) {
    long applied = regions.replication(to, root.timeout()).getState().getRevision();
    Optional<Position> topicLast = move.kafka.topicLast(root, shard);
    long inKafka = topicLast.map(Position::getRevision).orElse(0L);
    String kafkaPart =
        topicLast.isEmpty()
            ? "the change topic is unknown (no --kafka) or empty"
            : "the change topic holds through revision " + inKafka;
    Map<String, String> facts = new LinkedHashMap<>();
    facts.put("standby_applied", Long.toString(applied));
    facts.put("topic_last", Long.toString(inKafka));
    String result;
    if (d.reachable()) {
      long atRisk = Math.max(0, d.revision() - applied);
      facts.put("at_risk", Long.toString(atRisk));
      long lost = Math.max(0, d.revision() - Math.max(applied, inKafka));
      facts.put("lost", Long.toString(lost));
      result =
          atRisk == 0
              ? "no revision at risk: "
                  + to.region()
                  + " applied through revision "
                  + applied
                  + ", "
                  + old.region()
                  + "'s head"
              : "revisions "
                  + (applied + 1)
                  + ".."
                  + d.revision()
                  + " ("
                  + atRisk
                  + ") at risk: "
                  + to.region()
                  + " applied through "
                  + applied
                  + ", "
                  + kafkaPart
                  + (lost == 0
                      ? " (all of them: none is lost once drained)"
                      : "; revisions "
                          + (Math.max(applied, inKafka) + 1)
                          + ".."
                          + d.revision()
                          + " ("
                          + lost
                          + ") never reached it and are lost");
    } else {
      facts.put("at_risk", "unknown");
      facts.put("lost", "unknown");
      result =
          "revisions after "
              + Math.max(applied, inKafka)
              + " at risk, how many is unknown ("
              + old.region()
              + " does not answer): "
              + to.region()
              + " applied through "
              + applied
              + ", "
              + kafkaPart
              + "; anything "
              + old.region()
              + " committed after "
              + Math.max(applied, inKafka)
              + " is lost";
    }
    return new RegionOperation.Done(result, facts);
  }

  /** Waits until the standby applied everything the change topic holds. */
  private RegionOperation.Done drain(ShardRegions regions, RoutingTable.Region to, int shard) {
    Optional<Position> last = move.kafka.topicLast(root, shard);
    long target = last.map(Position::getRevision).orElse(0L);
    long deadline = System.nanoTime() + drainTimeout.toNanos();
    long applied;
    while (true) {
      applied = regions.replication(to, root.timeout()).getState().getRevision();
      if (applied >= target) {
        break;
      }
      if (System.nanoTime() > deadline) {
        throw MeridianException.of(
            Error.Code.DEADLINE_EXCEEDED,
            "%s applied through revision %d, the change topic holds through %d: not drained within"
                + " %s (is the bridge's sink to %s running? see its /v1/bridge/status)",
            to.region(),
            applied,
            target,
            drainTimeout.toMillis() + " ms",
            to.region());
      }
      RegionMove.pause(Duration.ofMillis(100));
    }
    return new RegionOperation.Done(
        to.region()
            + " applied through revision "
            + applied
            + (last.isEmpty() ? " (the change topic is empty)" : ", the change topic's last"),
        Map.of("promoted_after", Long.toString(applied)));
  }

  private static String primaryName(ShardRegions regions) {
    return regions.described().regions().stream()
        .filter(r -> r.role() == Role.PRIMARY)
        .map(RoutingTable.Region::region)
        .findFirst()
        .orElseThrow(
            () ->
                MeridianException.of(
                    Error.Code.FAILED_PRECONDITION,
                    "shard %d has no PRIMARY in routing table version %d and no operation is open"
                        + " in the region given (expected: --to the region the failover began"
                        + " with)",
                    regions.shard,
                    regions.table.version()));
  }

  /** One above every epoch the table and the target's cluster know. */
  static long nextEpoch(ShardRegions regions, RoutingTable.Region to) {
    long standby = regions.replication(to, Duration.ofSeconds(10)).getHeader().getEpoch();
    return Math.max(regions.tableEpoch(), standby) + 1;
  }

  /** The change topic's name for {@code shard}. */
  static String topic(int shard) {
    return BridgeConfig.topic(shard);
  }

  static Optional<Position> last(String bootstrap, int shard, Map<String, String> properties) {
    try (ChangeArchive archive = ChangeArchive.open(bootstrap, topic(shard), properties)) {
      return archive.last();
    } catch (MeridianException e) {
      if (e.code() == Error.Code.NOT_FOUND) {
        return Optional.empty();
      }
      throw e;
    }
  }

  static CommandLine.ParameterException usage(CommandSpec spec, String message) {
    return new CommandLine.ParameterException(spec.commandLine(), message);
  }
}
