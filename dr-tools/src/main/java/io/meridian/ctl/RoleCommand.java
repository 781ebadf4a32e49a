package io.meridian.ctl;

import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.StatusRuntimeException;
import io.meridian.api.MeridianException;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Member;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.MemberListResponse;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.api.v1.SetRoleResponse;
import io.meridian.client.Stubs;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code meridianctl role set}: a shard's replication role and epoch in one region cluster. */
@Command(
    name = "role",
    mixinStandardHelpOptions = true,
    description = "A shard's replication role (PRIMARY, STANDBY, FENCED) in one region cluster.",
    subcommands = {RoleCommand.Set.class})
final class RoleCommand {
  @ParentCommand Meridianctl root;

  @Command(
      name = "set",
      mixinStandardHelpOptions = true,
      description = {
        "Commits ROLE at --epoch for shard --shard in region --region, through that cluster's Raft"
            + " log. The epoch may only grow; PRIMARY needs an epoch above the current one (the same"
            + " promotion again changes nothing). Routers are not told: see routing apply.",
        "Asks for confirmation on a terminal; --yes runs unattended (without a terminal and without"
            + " --yes it refuses, exit 2).",
        "--shard and --region may be left out when the endpoints reach only one."
      })
  static final class Set implements Callable<Integer> {
    @ParentCommand RoleCommand role;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ROLE", description = "PRIMARY, STANDBY or FENCED.")
    Role to;

    @Option(names = "--epoch", required = true, paramLabel = "N", description = "The new epoch.")
    long epoch;

    @Option(names = "--region", paramLabel = "R", description = "The region whose cluster it is.")
    String region;

    @Option(names = "--yes", description = "Do not ask for confirmation.")
    boolean yes;

    @Override
    public Integer call() {
      if (to != Role.PRIMARY && to != Role.STANDBY && to != Role.FENCED) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "ROLE: " + to + " (expected: PRIMARY, STANDBY or FENCED)");
      }
      Meridianctl root = role.root;
      MemberListResponse listed =
          Stubs.call(
                  root.client()
                          .stubs()
                          .cluster()
                          .withDeadlineAfter(root.timeout().toMillis(), TimeUnit.MILLISECONDS)
                      ::memberList,
                  MemberListRequest.getDefaultInstance(),
                  true)
              .join();
      TreeSet<String> regions = new TreeSet<>();
      listed.getMembersList().forEach(m -> regions.add(m.getRegion()));
      String in = MemberCommand.pick(spec, region, regions, "--region");
      List<Member> cluster =
          listed.getMembersList().stream().filter(m -> m.getRegion().equals(in)).toList();
      TreeSet<String> shards = new TreeSet<>(java.util.Comparator.comparingInt(Integer::parseInt));
      cluster.forEach(
          m -> m.getShardsList().forEach(s -> shards.add(Integer.toString(s.getShard()))));
      Integer named = root.shard();
      int shard =
          Integer.parseInt(
              MemberCommand.pick(spec, named == null ? null : named.toString(), shards, "--shard"));
      Confirmation.require(
          root, spec, yes, "set shard " + shard + " in " + in + " to " + to + " at epoch " + epoch);
      SetRoleResponse set = null;
      MeridianException last = null;
      // Any member proposes it through the log; the next one is tried if one does not answer.
      for (Member m : cluster) {
        try {
          set =
              GrpcClients.builder(m.getClientUrl())
                  .factory(root.factory())
                  .responseTimeout(root.timeout())
                  .addHeader(ShardHeader.NAME, Integer.toString(shard))
                  .build(ClusterGrpc.ClusterBlockingStub.class)
                  .setRole(SetRoleRequest.newBuilder().setRole(to).setEpoch(epoch).build());
          break;
        } catch (StatusRuntimeException e) {
          last = Stubs.failure(e);
          if (last.code() != Error.Code.UNAVAILABLE) {
            throw last;
          }
        }
      }
      if (set == null) {
        throw last != null
            ? last
            : MeridianException.of(Error.Code.UNAVAILABLE, "region %s has no members", in);
      }
      root.output(spec.commandLine().getOut())
          .print(
              set,
              new Output.Table("REGION", "SHARD", "ROLE", "EPOCH", "REVISION")
                  .row(
                      in,
                      shard,
                      set.getHeader().getRole(),
                      set.getHeader().getEpoch(),
                      set.getHeader().getRevision()));
      return 0;
    }
  }
}
