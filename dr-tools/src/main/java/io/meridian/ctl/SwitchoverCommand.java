package io.meridian.ctl;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Operation;
import io.meridian.api.v1.RecordOperationResponse;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.router.RoutingTable;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl switchover}: the planned move of a shard's primary to a standby region, with
 * no revision lost: the old primary is fenced first, and the standby promoted only once it applied
 * the old primary's last revision.
 */
@Command(
    name = "switchover",
    mixinStandardHelpOptions = true,
    description = {
      "Moves shard --shard's PRIMARY to the STANDBY region --to with no revision lost. Both"
          + " regions must answer. --endpoints names the routers (every region's).",
      "Steps: detect, fence-routers (writes stop), fence-primary (the old primary commits FENCED:"
          + " its head is final), catch-up (the standby applies through that head), promote,"
          + " redirect, verify, notify. If catch-up does not finish within --catch-up-timeout, the"
          + " switchover aborts: the old primary is PRIMARY again (at a new epoch) and the routers"
          + " send it writes.",
      "Recorded like failover: a rerun resumes, a second run is refused.",
      "Asks for confirmation on a terminal; --yes runs unattended."
    })
final class SwitchoverCommand implements Callable<Integer> {
  static final int STEPS = 8;

  @ParentCommand Meridianctl root;
  @Spec CommandSpec spec;
  @Mixin RegionMove move;

  @Option(
      names = "--catch-up-timeout",
      paramLabel = "DURATION",
      converter = Durations.class,
      description =
          "How long the standby may take to apply the old primary's last revision before the"
              + " switchover aborts (default: 30s).")
  Duration catchUpTimeout = Duration.ofSeconds(30);

  @Override
  public Integer call() {
    int shard = move.shard(root, spec);
    PrintWriter out = spec.commandLine().getOut();
    ShardRegions regions = ShardRegions.of(root.endpoints(), shard, root.timeout(), root.factory());
    RoutingTable.Region to = regions.region(move.to);
    RecordOperationResponse record = RegionOperation.read(regions, to);
    Operation open = record.hasOpen() ? record.getOpen() : null;
    RoutingTable.Region primary =
        regions.described().regions().stream()
            .filter(r -> r.role() == Role.PRIMARY)
            .findFirst()
            .orElse(null);
    if (open == null && primary != null && primary.region().equals(to.region())) {
      out.println("shard " + shard + ": " + to.region() + " is its primary already: nothing to do");
      out.flush();
      return 0;
    }
    RegionOperation.require(
        open != null || (primary != null && to.role() == Role.STANDBY),
        "shard %d: routing table version %d has %s and %s %s (expected: a PRIMARY, and a STANDBY"
            + " to promote)",
        shard,
        regions.table.version(),
        primary == null ? "no PRIMARY" : "PRIMARY " + primary.region(),
        to.region(),
        to.role());
    RoutingTable.Region old =
        regions.region(open != null ? open.getFromRegion() : primary.region());
    long epoch = open != null ? open.getEpoch() : FailoverCommand.nextEpoch(regions, to);
    FailoverCommand.Detected probe = FailoverCommand.detect(regions, old, root.timeout());
    if (move.dryRun) {
      out.println("detect: " + probe.line());
      out.println(
          "dry run: would fence "
              + old.region()
              + ", wait for "
              + to.region()
              + " to apply its last revision, promote "
              + to.region()
              + " to PRIMARY at epoch "
              + epoch
              + " and redirect; nothing changed");
      out.flush();
      return 0;
    }
    Confirmation.require(
        root,
        spec,
        move.yes,
        "switch shard "
            + shard
            + " over from "
            + old.region()
            + " to "
            + to.region()
            + " at epoch "
            + epoch);
    Operation wanted =
        Operation.newBuilder()
            .setKind("switchover")
            .setFromRegion(old.region())
            .setToRegion(to.region())
            .setEpoch(epoch)
            .build();
    long started = System.nanoTime();
    try (RegionOperation op = RegionOperation.begin(regions, to, wanted, STEPS, out)) {
      long e = op.operation().getEpoch();
      op.step(
          "detect",
          () -> {
            RegionOperation.require(
                probe.reachable(),
                "%s (a switchover needs the old primary; use failover when it is lost)",
                probe.line());
            return new RegionOperation.Done(probe.line());
          });
      move.fenceRouters(op, regions, old, e);
      op.step(
          "fence-primary",
          () -> {
            regions.setRole(
                old, SetRoleRequest.newBuilder().setRole(Role.FENCED).setEpoch(e).build());
            long head = regions.replication(old, root.timeout()).getState().getRevision();
            return new RegionOperation.Done(
                old.region() + " committed FENCED at epoch " + e + "; its last revision is " + head,
                Map.of("old_primary_fenced", "true", "old_primary_revision", Long.toString(head)));
          });
      long head = Long.parseLong(op.fact("old_primary_revision"));
      try {
        op.step("catch-up", () -> catchUp(regions, to, head));
      } catch (MeridianException failed) {
        abort(op, regions, old, e + 1, out);
        throw MeridianException.of(
            Error.Code.FAILED_PRECONDITION,
            "switchover aborted: %s; %s is PRIMARY again at epoch %d",
            failed.getMessage(),
            old.region(),
            e + 1);
      }
      move.promote(op, regions, to, e, true);
      move.redirect(op, regions, old, to, e);
      move.verify(op, regions, shard);
      move.notify(op, regions, to, started, out);
      op.finish("done");
    }
    return 0;
  }

  private RegionOperation.Done catchUp(ShardRegions regions, RoutingTable.Region to, long head) {
    long deadline = System.nanoTime() + catchUpTimeout.toNanos();
    long t0 = System.nanoTime();
    while (true) {
      long applied = regions.replication(to, root.timeout()).getState().getRevision();
      if (applied >= head) {
        return new RegionOperation.Done(
            to.region()
                + " applied through revision "
                + applied
                + " in "
                + (System.nanoTime() - t0) / 1_000_000
                + " ms: nothing is lost");
      }
      if (System.nanoTime() > deadline) {
        throw MeridianException.of(
            Error.Code.DEADLINE_EXCEEDED,
            "%s applied through revision %d of %d within %d ms",
            to.region(),
            applied,
            head,
            catchUpTimeout.toMillis());
      }
      RegionMove.pause(Duration.ofMillis(50));
    }
  }

  /** Gives the old primary its role back at a new epoch and the routers their old primary. */
  private static void abort(
      RegionOperation op,
      ShardRegions regions,
      RoutingTable.Region old,
      long epoch,
      PrintWriter out) {
    regions.setRole(old, SetRoleRequest.newBuilder().setRole(Role.PRIMARY).setEpoch(epoch).build());
    Map<String, Role> roles = new LinkedHashMap<>();
    roles.put(old.region(), Role.PRIMARY);
    RoutingTable next = regions.next(roles, epoch);
    out.println(
        "abort: "
            + old.region()
            + " is PRIMARY again at epoch "
            + epoch
            + "; "
            + String.join("; ", regions.apply(next)));
    out.flush();
    op.finish("aborted");
  }
}
