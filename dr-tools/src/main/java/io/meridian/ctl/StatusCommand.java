package io.meridian.ctl;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.MemberListResponse;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.ShardStatus;
import io.meridian.api.v1.StatusRequest;
import io.meridian.api.v1.StatusResponse;
import io.meridian.client.Stubs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl status}: the health of the whole deployment in one table, and an exit code an
 * alert can use.
 */
@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    description = {
      "Every shard in every region (role, epoch, leader, revision, replication lag,"
          + " self-preservation, alarms), every member, and the routing-table version of each"
          + " router named by --endpoints.",
      "Exits 3 when anything is unhealthy, listing why: an alarm, a shard without a leader, a"
          + " member failing its health check, a standby lagging beyond --max-lag,"
          + " self-preservation on, an unreachable router, or routers serving different table"
          + " versions."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:healthy",
      "1:the status could not be read",
      "2:the command line is wrong",
      "3:unhealthy"
    })
final class StatusCommand implements Callable<Integer> {
  /** Exit code of a deployment that answered but is not healthy. */
  static final int UNHEALTHY = 3;

  @ParentCommand Meridianctl root;
  @Spec CommandSpec spec;

  @Option(
      names = "--max-lag",
      paramLabel = "DURATION",
      converter = Durations.class,
      description = "Replication lag of a standby beyond which it is unhealthy (default: 30s).")
  Duration maxLag = Duration.ofSeconds(30);

  @Override
  public Integer call() {
    Stubs stubs = root.client().stubs();
    long ms = root.timeout().toMillis();
    StatusResponse status =
        Stubs.call(
                stubs.cluster().withDeadlineAfter(ms, TimeUnit.MILLISECONDS)::status,
                StatusRequest.getDefaultInstance(),
                true)
            .join();
    MemberListResponse members =
        Stubs.call(
                stubs.cluster().withDeadlineAfter(ms, TimeUnit.MILLISECONDS)::memberList,
                MemberListRequest.getDefaultInstance(),
                true)
            .join();
    List<RoutingCommand.Served> routers =
        RoutingCommand.served(root.endpoints(), root.timeout(), root.factory());

    List<String> problems = new ArrayList<>();
    Output.Table shards =
        new Output.Table(
            "SHARD",
            "REGION",
            "ROLE",
            "EPOCH",
            "LEADER",
            "REVISION",
            "APPLIED",
            "LAG_MS",
            "SELF_PRESERVATION",
            "ALARMS");
    for (ShardStatus s : status.getShardsList()) {
      var h = s.getHeader();
      String where = "shard " + h.getShard() + " in " + h.getRegion();
      s.getAlarmsList().forEach(a -> problems.add(where + ": alarm " + a));
      boolean unreachable = s.getAlarmsList().stream().anyMatch(a -> a.startsWith("UNREACHABLE"));
      if (!unreachable && h.getLeader().isEmpty()) {
        problems.add(where + ": no leader");
      }
      if (h.getRole() == Role.STANDBY && s.getReplicationLagMs() > maxLag.toMillis()) {
        problems.add(
            where + ": replication lag " + s.getReplicationLagMs() + " ms (over " + maxLag + ")");
      }
      if (s.getSelfPreservation()) {
        problems.add(where + ": registry self-preservation is on (renewals fell below expected)");
      }
      shards.row(
          h.getShard(),
          h.getRegion(),
          h.getRole(),
          h.getEpoch(),
          h.getLeader().isEmpty() ? "-" : h.getLeader(),
          h.getRevision(),
          s.getAppliedIndex(),
          h.getRole() == Role.STANDBY ? s.getReplicationLagMs() : "-",
          s.getSelfPreservation() ? "ON" : "off",
          s.getAlarmsList().isEmpty() ? "-" : String.join("; ", s.getAlarmsList()));
    }

    // A region that missed a failover (unreachable then) still calls itself PRIMARY.
    Map<Integer, List<String>> primaries = new java.util.TreeMap<>();
    for (ShardStatus s : status.getShardsList()) {
      if (s.getHeader().getRole() == Role.PRIMARY) {
        primaries
            .computeIfAbsent(s.getHeader().getShard(), k -> new ArrayList<>())
            .add(s.getHeader().getRegion() + " at epoch " + s.getHeader().getEpoch());
      }
    }
    // A standby that applied revisions the promoted region never had (the failover's lost tail)
    // cannot follow the new epoch: its sink stops at the first batch of it.
    for (ShardStatus p : status.getShardsList()) {
      if (p.getHeader().getRole() != Role.PRIMARY || p.getEpochHistoryCount() == 0) {
        continue;
      }
      var newest = p.getEpochHistory(p.getEpochHistoryCount() - 1);
      for (ShardStatus s : status.getShardsList()) {
        var h = s.getHeader();
        if (h.getShard() == p.getHeader().getShard()
            && h.getRole() == Role.STANDBY
            && h.getEpoch() < newest.getEpoch()
            && h.getRevision() >= newest.getStartRevision()) {
          problems.add(
              "shard "
                  + h.getShard()
                  + " in "
                  + h.getRegion()
                  + ": applied revisions "
                  + newest.getStartRevision()
                  + ".."
                  + h.getRevision()
                  + " of epoch "
                  + h.getEpoch()
                  + ", which the primary in "
                  + p.getHeader().getRegion()
                  + " (epoch "
                  + newest.getEpoch()
                  + " from revision "
                  + newest.getStartRevision()
                  + ") does not have: it cannot follow; run meridianctl rejoin --region "
                  + h.getRegion());
        }
      }
    }
    primaries.forEach(
        (shard, claims) -> {
          if (claims.size() > 1) {
            problems.add(
                "shard "
                    + shard
                    + ": "
                    + claims.size()
                    + " regions claim its PRIMARY ("
                    + String.join(", ", claims)
                    + "): rejoin the older one as a standby");
          }
        });

    // Leadership is per shard: each member's Raft role in every shard, e.g. "0:LEADER 1:FOLLOWER".
    Map<String, String> health =
        MemberHealth.of(
            members.getMembersList().stream().map(m -> m.getClientUrl()).toList(),
            root.timeout(),
            root.factory());
    Output.Table memberTable =
        new Output.Table("REGION", "MEMBER", "HEALTH", "ROLES", "CLIENT_URL", "PEER");
    for (var m : members.getMembersList()) {
      String h = health.get(m.getClientUrl());
      if (!MemberHealth.SERVING.equals(h)) {
        problems.add("member " + m.getId() + " in " + m.getRegion() + ": " + h);
      }
      memberTable.row(
          m.getRegion(),
          m.getId(),
          h,
          String.join(
              " ",
              m.getShardsList().stream().map(sh -> sh.getShard() + ":" + sh.getRole()).toList()),
          m.getClientUrl(),
          m.getPeerAddress());
    }

    Output.Table routerTable = new Output.Table("ROUTER", "REGION", "TABLE_VERSION");
    TreeSet<Long> versions = new TreeSet<>();
    for (RoutingCommand.Served r : routers) {
      if (r.table() == null) {
        problems.add("router " + r.url() + ": " + r.problem());
        routerTable.row(r.url(), "-", "unreachable");
      } else {
        versions.add(r.table().getVersion());
        routerTable.row(r.url(), r.table().getRegion(), r.table().getVersion());
      }
    }
    if (versions.size() > 1) {
      problems.add("routers serve different routing-table versions " + versions);
    }

    Output out = root.output(spec.commandLine().getOut());
    ObjectNode json = JsonNodeFactory.instance.objectNode();
    json.put("healthy", problems.isEmpty());
    ArrayNode why = json.putArray("problems");
    problems.forEach(why::add);
    json.set("status", Output.tree(status));
    json.set("members", Output.tree(members));
    ArrayNode routerJson = json.putArray("routers");
    for (RoutingCommand.Served r : routers) {
      ObjectNode o = routerJson.addObject();
      o.put("url", r.url());
      o.put("region", r.table() == null ? "" : r.table().getRegion());
      o.put("table_version", r.table() == null ? 0 : r.table().getVersion());
      o.put("problem", r.problem() == null ? "" : r.problem());
    }
    Output.Table verdict = new Output.Table(problems.isEmpty() ? "HEALTHY" : "UNHEALTHY");
    problems.forEach(verdict::row);
    out.print(json, shards, memberTable, routerTable, verdict);
    return problems.isEmpty() ? 0 : UNHEALTHY;
  }
}
